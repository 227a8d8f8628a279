"""The query builder: rendering per dialect, and select/insert/update/delete against
PostgreSQL, SQLite and MySQL/MariaDB with injection-shaped values and identifiers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import sqlarrow
from sqlarrow._builder import render_delete, render_insert, render_select, render_update
from sqlarrow.exceptions import ConfigError

MY_HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))

EVIL = "x'); drop table t;-- \\ \" `"


def test_render_postgres() -> None:
    sql, params = render_select(
        "postgres",
        "s.t",
        ["a", 'we"ird'],
        {"a": 1, "b": None, "c": [1, 2], "d": ()},
        ["-a", ("b", "asc")],
        5,
    )
    assert sql == (
        'SELECT "a", "we""ird" FROM "s"."t" WHERE "a" = $1 AND "b" IS NULL AND "c" IN ($2, $3) '
        'AND 1 = 0 ORDER BY "a" DESC, "b" ASC LIMIT $4'
    )
    assert params == [1, 1, 2, 5]
    assert render_select("postgres", '"a.b"."c"') == ('SELECT * FROM "a.b"."c"', [])
    assert (
        render_insert("postgres", ("s", "t"), ["a", "b"])
        == 'INSERT INTO "s"."t" ("a", "b") VALUES ($1, $2)'
    )


def test_render_mysql_and_sqlite() -> None:
    assert render_update("mysql", "t", {"a`b": EVIL}, {"k": [1]}) == (
        "UPDATE `t` SET `a``b` = ? WHERE `k` IN (?)",
        [EVIL, 1],
    )
    # SQLite names are in backticks: a double-quoted name matching no column would be a
    # string literal there, not an error.
    assert render_delete("sqlite", "t", {"k": None}) == ("DELETE FROM `t` WHERE `k` IS NULL", [])
    # values never reach the SQL text
    sql, _ = render_select("sqlite", "t", where={"v": EVIL})
    assert EVIL not in sql


def test_render_refusals() -> None:
    with pytest.raises(ConfigError, match="NUL"):
        render_select("postgres", "t", ["a\x00b"])
    with pytest.raises(ConfigError, match="where"):
        render_delete("postgres", "t", None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="where"):
        render_update("postgres", "t", {"a": 1}, None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="set"):
        render_update("postgres", "t", {}, {})
    with pytest.raises(ConfigError, match="limit"):
        render_select("postgres", "t", limit=-1)
    with pytest.raises(ConfigError, match="table"):
        render_select("postgres", "a.b.c")
    with pytest.raises(ConfigError, match="quote"):
        render_select("postgres", 'we"ird')
    with pytest.raises(ConfigError, match="order_by"):
        render_select("postgres", "t", order_by=[("a", "sideways")])
    with pytest.raises(ConfigError, match="engine"):
        render_select("oracle", "t")


@pytest.fixture(params=["postgres", "sqlite", "mysql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sqlarrow.Connector, str]]:
    if request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")
        yield request.getfixturevalue("pg"), schema
    elif request.param == "sqlite":
        with sqlarrow.connect(f"sqlite:///{tmp_path / 'b.db'}") as conn:
            yield conn, ""
    else:
        name = f"sqlarrow_t_{uuid.uuid4().hex}"
        admin = sqlarrow.MySQLConnector(MY_HOST, port=MY_PORT, user="root", ssl_mode="disabled")
        admin.execute(f"CREATE DATABASE `{name}`")
        conn = sqlarrow.MySQLConnector(
            MY_HOST, port=MY_PORT, user="root", ssl_mode="disabled", database=name
        )
        try:
            yield conn, ""
        finally:
            conn.close()
            admin.execute(f"DROP DATABASE IF EXISTS `{name}`")
            admin.close()


def test_crud_round_trip(db: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = db
    # a str is parsed ("schema.name", double-quoted parts); a tuple is taken verbatim
    table = (schema, 'ta"b`le; --') if schema else ('ta"b`le; --',)
    if conn.engine == "mysql":
        conn.execute(
            "create table `ta\"b``le; --` (id int primary key, `na'me` varchar(100), flag boolean)"
        )
    else:
        t = f'"{schema}".' if schema else ""
        conn.execute(
            f'create table {t}"ta""b`le; --" '
            '(id int primary key, "na\'me" varchar(100), flag boolean)'
        )
    assert conn.insert(table, {"id": 1, "na'me": EVIL, "flag": True}) == 1
    assert (
        conn.insert(
            table, [{"id": 2, "na'me": None, "flag": False}, {"id": 3, "na'me": "c", "flag": None}]
        )
        == 2
    )
    rows = conn.select(table, order_by="id").to_pylist()
    assert [r["na'me"] for r in rows] == [EVIL, None, "c"]
    assert conn.select(table, ["id"], where={"na'me": EVIL}).to_pylist() == [{"id": 1}]
    assert conn.select(table, ["id"], where={"na'me": None}).to_pylist() == [{"id": 2}]
    assert conn.select(table, ["id"], where={"id": [3, 1]}, order_by="-id").to_pylist() == [
        {"id": 3},
        {"id": 1},
    ]
    assert conn.select(table, ["id"], where={"id": []}).to_pylist() == []
    assert conn.select(table, ["id"], order_by=[("id", "desc")], limit=1).to_pylist() == [{"id": 3}]
    assert conn.update(table, set={"na'me": "' or '1'='1"}, where={"id": 2}) == 1
    assert conn.select(table, ["na'me"], where={"id": 2}).to_pylist() == [{"na'me": "' or '1'='1"}]
    # an injection-shaped value matches nothing instead of everything
    assert conn.delete(table, where={"na'me": "x' or '1'='1"}) == 0
    assert conn.delete(table, where={"id": [1, 2]}) == 2
    assert conn.delete(table, where={}) == 1
    assert conn.select(table).to_pylist() == []


def test_a_misspelled_column_is_an_error_on_every_engine(
    db: tuple[sqlarrow.Connector, str],
) -> None:
    # On SQLite, select(columns=["nmae"]) returned the text 'nmae' in every row and
    # where={"nmae": ...} compared that text (SQLite takes a double-quoted name that is
    # no column for a string literal).
    conn, schema = db
    t = f"{schema}.people" if schema else "people"
    conn.execute(f"create table {t} (id int primary key, name varchar(10))")
    conn.insert(t, {"id": 1, "name": "a"})
    with pytest.raises(sqlarrow.UndefinedObjectError):
        conn.select(t, columns=["nmae"]).to_pylist()
    with pytest.raises(sqlarrow.UndefinedObjectError):
        conn.select(t, where={"nmae": "a"}).to_pylist()
    with pytest.raises(sqlarrow.UndefinedObjectError):
        conn.select(t, order_by=["nmae"]).to_pylist()
    with pytest.raises(sqlarrow.UndefinedObjectError):
        conn.update(t, set={"name": "b"}, where={"nmae": "a"})


def test_collections_in_where_rows_in_any_key_order_and_a_bare_order_tuple(
    db: tuple[sqlarrow.Connector, str],
) -> None:
    """A range, numpy array or pandas Series in ``where`` is ``IN``: it was bound as one
    value, its JSON text, which on MySQL and SQLite silently matched nothing. Rows whose
    keys come in another order are inserted by key (they were refused), and a bare
    ``order_by=("id", "desc")`` sorts descending (it was read as the columns "id" and
    "desc")."""
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    conn, schema = db
    t = f"{schema}.nums" if schema else "nums"
    conn.execute(f"create table {t} (id int primary key, name varchar(10))")
    assert conn.insert(t, [{"id": 1, "name": "a"}, {"name": "b", "id": 2}, {"name": "c", "id": 3}])
    assert conn.select(t, order_by="id").to_pylist() == [
        {"id": 1, "name": "a"},
        {"id": 2, "name": "b"},
        {"id": 3, "name": "c"},
    ]
    for ids in (range(2, 10), np.array([2, 3]), pd.Series([3, 2]), pd.Index([2, 3])):
        got = conn.select(t, ["id"], where={"id": ids}, order_by=("id", "desc")).to_pylist()
        assert got == [{"id": 3}, {"id": 2}], ids
    assert conn.select(t, ["id"], where={"id": range(0)}).to_pylist() == []
    assert conn.delete(t, where={"id": np.array([1])}) == 1
    with pytest.raises(ConfigError, match=r"row 1 has \['id'\]"):
        conn.insert(t, [{"id": 4, "name": "d"}, {"id": 5}])
    with pytest.raises(ConfigError, match="row 1 has"):
        conn.insert(t, [{"id": 4, "name": "d"}, {"id": 5, "nmae": "e"}])
    assert conn.select(t, ["id"], order_by="id").to_pylist() == [{"id": 2}, {"id": 3}]
