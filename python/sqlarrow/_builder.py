"""A small query builder: SELECT / INSERT / UPDATE / DELETE rendered per dialect with
quoted identifiers and bound parameters. Values are never interpolated into the SQL.

``where`` is a mapping of column -> value: ``None`` renders ``col IS NULL``, a list,
tuple, set, frozenset, range, or one-dimensional numpy array or pandas Series/Index
renders ``col IN (...)`` (an empty one matches nothing), any other value
``col = <marker>``. Conditions are joined with AND.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

from .exceptions import ConfigError

__all__ = ["Statement", "render_delete", "render_insert", "render_select", "render_update"]

#: (SQL text, positional parameters)
Statement = tuple[str, list[Any]]
TableName = Union[str, Sequence[str]]
OrderBy = Union[str, Sequence[Union[str, tuple[str, str]]], None]

_DIALECTS = {"postgres": "pg", "redshift": "pg", "sqlite": "lite", "mysql": "my", "mariadb": "my"}


class _Renderer:
    def __init__(self, engine: str) -> None:
        kind = _DIALECTS.get(engine)
        if kind is None:
            raise ConfigError(f"the query builder does not know engine {engine!r}")
        self.kind = kind
        self.params: list[Any] = []

    def ident(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"identifiers must be non-empty strings, not {name!r}")
        if "\x00" in name:
            raise ConfigError(f"identifier {name!r} contains a NUL character")
        if self.kind in ("my", "lite"):
            # SQLite too: a double-quoted name that matches no column silently becomes a
            # string literal there (select("t", columns=["nmae"]) returned the text
            # 'nmae' in every row); a name in backticks is always an identifier.
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def table(self, table: TableName) -> str:
        parts = _split_table(table) if isinstance(table, str) else list(table)
        if not 1 <= len(parts) <= 2:
            raise ConfigError(
                f"table must be 'name', 'schema.name' or (schema, name), not {table!r}"
            )
        return ".".join(self.ident(p) for p in parts)

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}" if self.kind == "pg" else "?"

    def where(self, where: Mapping[str, Any] | None) -> str:
        if where is None:
            return ""
        if not isinstance(where, Mapping):
            raise ConfigError(
                f"where must be a mapping of column -> value, not {type(where).__name__}"
            )
        conds = []
        for col, value in where.items():
            c = self.ident(col)
            if value is None:
                conds.append(f"{c} IS NULL")
            elif (items := _in_items(value)) is not None:
                if not items:
                    conds.append("1 = 0")
                else:
                    conds.append(f"{c} IN ({', '.join(self.bind(v) for v in items)})")
            else:
                conds.append(f"{c} = {self.bind(value)}")
        return f" WHERE {' AND '.join(conds)}" if conds else ""


def _in_items(value: Any) -> list[Any] | None:
    """The values of ``col IN (...)`` when ``value`` is a collection of them, else None.
    A range, a numpy array or a pandas Series bound as one value compared the column
    with its JSON text (on MySQL and SQLite, silently matching nothing)."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (list, tuple, range)):
        return list(value)
    module = type(value).__module__.split(".")[0]
    if module in ("numpy", "pandas") and getattr(value, "ndim", None) == 1:
        return list(value.tolist())
    return None


def _split_table(s: str) -> list[str]:
    """``name``, ``schema.name``, double-quoted parts may contain dots (``"a.b".c``)."""
    parts: list[str] = []
    cur = ""
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == '"':
            end = i + 1
            buf = ""
            while True:
                if end >= len(s):
                    raise ConfigError(f"unterminated quote in table name {s!r}")
                if s[end] == '"':
                    if end + 1 < len(s) and s[end + 1] == '"':
                        buf += '"'
                        end += 2
                        continue
                    break
                buf += s[end]
                end += 1
            cur += buf
            i = end + 1
        elif ch == ".":
            parts.append(cur)
            cur = ""
            i += 1
        else:
            cur += ch
            i += 1
    parts.append(cur)
    if any(not p for p in parts):
        raise ConfigError(f"invalid table name {s!r}")
    return parts


def _order(r: _Renderer, order_by: OrderBy) -> str:
    if order_by is None:
        return ""
    # A bare (col, "desc") is one item, not the columns col and "desc".
    one = isinstance(order_by, str) or (
        isinstance(order_by, tuple)
        and len(order_by) == 2
        and str(order_by[1]).lower() in ("asc", "desc")
    )
    items: Sequence[str | tuple[str, str]] = [order_by] if one else order_by  # type: ignore[list-item]
    out = []
    for item in items:
        if isinstance(item, tuple):
            if len(item) != 2 or str(item[1]).lower() not in ("asc", "desc"):
                raise ConfigError(
                    f"order_by items are 'col', '-col' or (col, 'asc'|'desc'), not {item!r}"
                )
            out.append(f"{r.ident(item[0])} {str(item[1]).upper()}")
        elif isinstance(item, str) and item.startswith("-") and len(item) > 1:
            out.append(f"{r.ident(item[1:])} DESC")
        else:
            out.append(r.ident(item))
    return f" ORDER BY {', '.join(out)}" if out else ""


def render_select(
    engine: str,
    table: TableName,
    columns: Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    order_by: OrderBy = None,
    limit: int | None = None,
) -> Statement:
    r = _Renderer(engine)
    if isinstance(columns, str):
        raise ConfigError("columns must be a sequence of names, not a str")
    cols = "*" if columns is None else ", ".join(r.ident(c) for c in columns)
    if columns is not None and not columns:
        raise ConfigError("columns must not be empty (None selects every column)")
    sql = f"SELECT {cols} FROM {r.table(table)}{r.where(where)}{_order(r, order_by)}"
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"limit must be a non-negative int, not {limit!r}")
        sql += f" LIMIT {r.bind(limit)}"
    return sql, r.params


def render_insert(engine: str, table: TableName, columns: Sequence[str]) -> str:
    """``INSERT INTO table (cols) VALUES (markers)`` for one row of ``columns``."""
    r = _Renderer(engine)
    if not columns:
        raise ConfigError("insert needs at least one column")
    cols = ", ".join(r.ident(c) for c in columns)
    marks = ", ".join(r.bind(None) for _ in columns)
    return f"INSERT INTO {r.table(table)} ({cols}) VALUES ({marks})"


def rows_by_key(rows: Any) -> tuple[list[str], list[list[Any]]]:
    """The columns of a non-empty sequence of mappings with the same keys (in any
    order), and each row's values in that column order."""
    batch = list(rows) if not isinstance(rows, (str, bytes)) else []
    if not batch or not all(isinstance(r, Mapping) for r in batch):
        raise ConfigError("rows must be a mapping or a non-empty sequence of mappings")
    cols = list(batch[0])
    keys = set(cols)
    for i, r in enumerate(batch):
        if len(r) != len(cols) or set(r) != keys:
            raise ConfigError(
                f"every row must have the same keys: row 0 has {sorted(keys, key=str)}, "
                f"row {i} has {sorted(r, key=str)}"
            )
    return cols, [[r[c] for c in cols] for r in batch]


def render_update(
    engine: str, table: TableName, set: Mapping[str, Any], where: Mapping[str, Any]
) -> Statement:
    r = _Renderer(engine)
    if not isinstance(set, Mapping) or not set:
        raise ConfigError("set must be a non-empty mapping of column -> new value")
    if where is None or not isinstance(where, Mapping):
        raise ConfigError("update needs where= (a mapping; pass {} to update every row)")
    assigns = ", ".join(f"{r.ident(c)} = {r.bind(v)}" for c, v in set.items())
    return f"UPDATE {r.table(table)} SET {assigns}{r.where(where)}", r.params


def render_delete(engine: str, table: TableName, where: Mapping[str, Any]) -> Statement:
    r = _Renderer(engine)
    if where is None or not isinstance(where, Mapping):
        raise ConfigError("delete needs where= (a mapping; pass {} to delete every row)")
    return f"DELETE FROM {r.table(table)}{r.where(where)}", r.params
