"""The canonical schema: engine-neutral table shapes, type mapping, DDL and diffs.

A :class:`CanonicalSchema` is what introspection returns (``conn.get_schema(table)``),
what DDL is rendered from (:meth:`CanonicalSchema.to_ddl`, ``conn.create_table``) and
what :func:`diff` compares. Column types are canonical type strings:

``BOOL``, ``INT8``/``INT16``/``INT32``/``INT64``, ``UINT8``..``UINT64``, ``FLOAT32``,
``FLOAT64``, ``DECIMAL(p,s)``, ``STRING`` / ``STRING(n)``, ``BINARY`` / ``BINARY(n)``,
``DATE``, ``TIME``, ``TIMESTAMP``, ``TIMESTAMP_TZ``, ``INTERVAL``, ``UUID``, ``JSON``,
``ARRAY<T>``, ``ENUM('a','b')``, ``GEOMETRY``.

The JSON form is lossless (``CanonicalSchema.from_json(s.to_json()) == s``)::

    {"columns": [{"name": "id", "type": "INT64", "nullable": false}], "primary_key": ["id"]}

See ``docs/types.md`` for how each engine's types map to these, to Arrow, and back
to each dialect's DDL. A type without an equivalent in a dialect raises
:class:`~sqlarrow.exceptions.UnsupportedTypeError` instead of being changed silently,
unless ``widen_unsigned=True`` (UINT64 → NUMERIC(20,0)) or ``text_fallback=True``
(UUID/ENUM/ARRAY/JSON → the dialect's text type) allows the nearest type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from . import _core

__all__ = [
    "DIALECTS",
    "CanonicalSchema",
    "Change",
    "Column",
    "Index",
    "SchemaDiff",
    "UniqueConstraint",
    "diff",
    "from_arrow",
    "normalize_type",
]

#: Dialects :meth:`CanonicalSchema.to_ddl` renders.
DIALECTS = ("postgres", "redshift", "mysql", "sqlite", "snowflake", "bigquery", "mssql")

#: A table name: ``"table"``, ``"schema.table"`` (double-quote a part to keep a dot in
#: it: ``'"my.schema".t'``) or a sequence of parts ``("schema", "table")``.
TableName = Union[str, Sequence[str]]


def normalize_type(type_str: str) -> str:
    """Validate a canonical type string and return its normal form.

    >>> normalize_type("decimal(18, 4)")
    'DECIMAL(18,4)'
    """
    return _core.schema_parse_type(type_str)


@dataclass
class Column:
    """One column. ``type`` is a canonical type string (normalized on creation);
    ``default`` is SQL expression text as the engine reports it."""

    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        self.type = normalize_type(str(self.type))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.default is not None:
            d["default"] = self.default
        if self.comment is not None:
            d["comment"] = self.comment
        return d


@dataclass
class UniqueConstraint:
    columns: list[str]
    name: str | None = None


@dataclass
class Index:
    name: str
    columns: list[str]
    unique: bool = False


def _as_dataclass(cls: type, value: Any) -> Any:
    return value if isinstance(value, cls) else cls(**value)


@dataclass
class CanonicalSchema:
    """A table's shape: columns, primary key, unique constraints, indexes and the row
    estimate from catalog statistics (``None`` when unknown)."""

    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    primary_key_name: str | None = None
    unique: list[UniqueConstraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    estimated_rows: int | None = None

    def __post_init__(self) -> None:
        self.columns = [_as_dataclass(Column, c) for c in self.columns]
        self.unique = [_as_dataclass(UniqueConstraint, u) for u in self.unique]
        self.indexes = [_as_dataclass(Index, i) for i in self.indexes]
        self.primary_key = list(self.primary_key)

    # -- access ---------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    # -- JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"columns": [c.to_dict() for c in self.columns]}
        if self.primary_key:
            d["primary_key"] = list(self.primary_key)
        if self.primary_key_name is not None:
            d["primary_key_name"] = self.primary_key_name
        if self.unique:
            d["unique"] = [
                {"columns": list(u.columns), **({"name": u.name} if u.name is not None else {})}
                for u in self.unique
            ]
        if self.indexes:
            d["indexes"] = [
                {"name": i.name, "columns": list(i.columns), "unique": i.unique}
                for i in self.indexes
            ]
        if self.estimated_rows is not None:
            d["estimated_rows"] = self.estimated_rows
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CanonicalSchema:
        """Build from the JSON shape (validated: types, duplicate names, key columns)."""
        return cls.from_json(json.dumps(d))

    def to_json(self, indent: int | None = None) -> str:
        """Lossless JSON (validated first; raises ``ConfigError`` when invalid)."""
        normalized = _core.schema_normalize(json.dumps(self.to_dict()))
        if indent is None:
            return normalized
        return json.dumps(json.loads(normalized), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> CanonicalSchema:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        d = json.loads(_core.schema_normalize(text))
        return cls(
            columns=[Column(**c) for c in d["columns"]],
            primary_key=d.get("primary_key", []),
            primary_key_name=d.get("primary_key_name"),
            unique=[UniqueConstraint(**u) for u in d.get("unique", [])],
            indexes=[Index(**i) for i in d.get("indexes", [])],
            estimated_rows=d.get("estimated_rows"),
        )

    # -- Arrow --------------------------------------------------------------------------

    @classmethod
    def from_arrow(cls, obj: Any) -> CanonicalSchema:
        """Infer from any Arrow-compatible object: a pyarrow Schema/Table/RecordBatch, a
        polars or pandas DataFrame, a sqlarrow result... (``__arrow_c_schema__`` or
        ``__arrow_c_stream__``). Arrow types without a canonical equivalent (null,
        struct, map, union) raise ``UnsupportedTypeError`` naming the column."""
        return cls.from_json(_core.schema_from_arrow(obj))

    def to_arrow(self) -> Any:
        """The Arrow schema sqlarrow reads this table as: a ``pyarrow.Schema`` when
        pyarrow is installed, else an object exposing ``__arrow_c_schema__``."""
        holder = _core.schema_to_arrow(self.to_json())
        try:
            import pyarrow
        except ImportError:
            return holder
        return pyarrow.schema(holder)

    # -- DDL ----------------------------------------------------------------------------

    def to_ddl(
        self,
        dialect: str,
        table: TableName,
        if_not_exists: bool = False,
        *,
        widen_unsigned: bool = False,
        text_fallback: bool = False,
    ) -> str:
        """``CREATE TABLE`` (plus indexes and comments) for ``dialect``, one of
        :data:`DIALECTS`, with every identifier quoted for that dialect."""
        return _core.schema_to_ddl(
            self.to_json(), dialect, _table(table), if_not_exists, widen_unsigned, text_fallback
        )


def _table(table: TableName) -> Any:
    if isinstance(table, str):
        return table
    return list(table)


def from_arrow(obj: Any) -> CanonicalSchema:
    """Shorthand for :meth:`CanonicalSchema.from_arrow`."""
    return CanonicalSchema.from_arrow(obj)


def _as_schema(obj: Any) -> CanonicalSchema:
    if isinstance(obj, CanonicalSchema):
        return obj
    if isinstance(obj, dict):
        return CanonicalSchema.from_dict(obj)
    if isinstance(obj, (str, bytes)):
        return CanonicalSchema.from_json(obj)
    return CanonicalSchema.from_arrow(obj)


@dataclass(frozen=True)
class Change:
    """One change of a :class:`SchemaDiff`. ``op`` is one of ``add_column``,
    ``drop_column``, ``rename_candidate`` (informational), ``rename_column``,
    ``alter_type``, ``set_nullable``, ``set_default``, ``set_primary_key``; ``details``
    holds its fields (``column``, ``from``, ``to``, ``widening``, ``nullable``, ...)."""

    op: str
    destructive: bool
    description: str
    details: dict[str, Any]

    def __str__(self) -> str:
        return self.description + (" [destructive]" if self.destructive else "")


class SchemaDiff:
    """The ordered changes turning one schema into another (see :func:`diff`)."""

    def __init__(self, diff_json: str) -> None:
        self._json = diff_json
        d = json.loads(diff_json)
        self.changes: list[Change] = [
            Change(
                op=c["op"],
                destructive=c["destructive"],
                description=c["description"],
                details={
                    k: v for k, v in c.items() if k not in ("op", "destructive", "description")
                },
            )
            for c in d["changes"]
        ]
        self.old = CanonicalSchema.from_dict(d["old"])
        self.new = CanonicalSchema.from_dict(d["new"])

    @property
    def destructive(self) -> bool:
        """True if applying it loses data (a dropped column, a narrowing type change)."""
        return any(c.destructive for c in self.changes)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __repr__(self) -> str:
        body = "".join(f"\n  {c}" for c in self.changes)
        return f"<SchemaDiff {len(self.changes)} change(s){body}>"

    def accept_rename(self, old_name: str, new_name: str) -> SchemaDiff:
        """A copy where dropping ``old_name`` and adding ``new_name`` is a rename (keeps
        the data)."""
        return SchemaDiff(_core.diff_accept_rename(self._json, old_name, new_name))

    def to_sql(
        self,
        dialect: str,
        table: TableName,
        *,
        widen_unsigned: bool = False,
        text_fallback: bool = False,
    ) -> list[str]:
        """The ``ALTER TABLE`` statements (SQLite: a table rebuild where ALTER cannot)."""
        return _core.diff_to_sql(self._json, dialect, _table(table), widen_unsigned, text_fallback)

    def to_json(self) -> str:
        return self._json


def diff(old: Any, new: Any) -> SchemaDiff:
    """Compare two schemas (``CanonicalSchema``, schema dicts/JSON, or Arrow objects).

    Order: dropped columns, rename candidates, added columns, type changes,
    nullability, defaults, primary key. Columns are matched by name; a dropped and an
    added column of the same type are reported as a rename candidate.
    """
    return SchemaDiff(_core.schema_diff(_as_schema(old).to_json(), _as_schema(new).to_json()))
