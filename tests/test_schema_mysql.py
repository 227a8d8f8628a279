"""MySQL/MariaDB introspection and DDL for the canonical schema.

Runs against the server at 127.0.0.1:3306 (root, no password); each test works in its
own database ``sqlarrow_t_<hex>``, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import sqlarrow
from sqlarrow import CanonicalSchema
from sqlarrow.exceptions import InterfaceError, SqlArrowError, UndefinedObjectError
from sqlarrow.schema import Column, Index, UniqueConstraint

MY_HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))

# Canonical types with a native MySQL equivalent (UUID needs text_fallback, INTERVAL and
# ARRAY have none).
MY_TYPES = [
    "BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
    "FLOAT32", "FLOAT64", "DECIMAL(18,4)", "DECIMAL(50,10)", "STRING", "STRING(255)",
    "BINARY", "BINARY(16)", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_TZ", "JSON",
    "ENUM('a','it''s')", "GEOMETRY",
]  # fmt: skip


@pytest.fixture
def db() -> Iterator[str]:
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    admin = sqlarrow.connect(f"mysql://root@{MY_HOST}:{MY_PORT}/")
    try:
        admin.execute(f"CREATE DATABASE `{name}`")
        yield name
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture
def my(db: str) -> Iterator[Any]:
    conn = sqlarrow.connect(f"mysql://root@{MY_HOST}:{MY_PORT}/{db}")
    yield conn
    conn.close()


def test_introspection_returns_declared_types(my: Any, db: str) -> None:
    cols = [Column(f"c{i}", t, nullable=i % 3 != 0) for i, t in enumerate(MY_TYPES)]
    cols[1].default = "1"
    cols[2].comment = "a 'comment' \\ here"
    s = CanonicalSchema(cols)
    stmts = my.create_table("all types", s)
    assert stmts[0].startswith("CREATE TABLE `all types`")
    got = my.get_schema("all types")
    assert got.columns == cols
    assert got.estimated_rows == 0
    assert my.get_schema("all types", db) == got
    assert my.table_exists("all types")
    assert my.table_exists("all types", db)
    assert not my.table_exists("nope")
    assert not my.table_exists("all types", "no_such_db")
    with pytest.raises(UndefinedObjectError):
        my.get_schema("nope")


def test_raw_mysql_types(my: Any) -> None:
    my.execute(
        "CREATE TABLE r (a TINYINT(1) NOT NULL DEFAULT 1, b INT UNSIGNED, c YEAR, d BIT(8), "
        "e MEDIUMINT, f CHAR(3), g TINYTEXT, h MEDIUMBLOB, i BINARY(4), j DATETIME, "
        "k TIMESTAMP NULL, l JSON, m ENUM('x','y''z') NOT NULL, n VARCHAR(10) DEFAULT 'q''r', "
        "o DECIMAL(10,2) DEFAULT 0, p TINYINT UNSIGNED, q SMALLINT UNSIGNED, "
        "r BIGINT UNSIGNED, s DOUBLE, t POINT)"
    )
    got = {c.name: (c.type, c.nullable, c.default) for c in my.get_schema("r").columns}
    assert got == {
        "a": ("BOOL", False, "1"),
        "b": ("UINT32", True, None),
        "c": ("INT16", True, None),
        "d": ("UINT64", True, None),
        "e": ("INT32", True, None),
        "f": ("STRING(3)", True, None),
        "g": ("STRING", True, None),
        "h": ("BINARY", True, None),
        "i": ("BINARY(4)", True, None),
        "j": ("TIMESTAMP", True, None),
        "k": ("TIMESTAMP_TZ", True, None),
        "l": ("JSON", True, None),
        "m": ("ENUM('x','y''z')", False, None),
        "n": ("STRING(10)", True, "'q''r'"),
        "o": ("DECIMAL(10,2)", True, "0"),
        "p": ("UINT8", True, None),
        "q": ("UINT16", True, None),
        "r": ("UINT64", True, None),
        "s": ("FLOAT64", True, None),
        "t": ("GEOMETRY", True, None),
    }


def test_keys_unique_and_indexes(my: Any, db: str) -> None:
    s = CanonicalSchema(
        [
            Column("id", "INT64", False),
            Column("k2", "STRING(20)", False),
            Column("email", "STRING(100)"),
            Column("a", "INT32"),
            Column("b", "DATE"),
        ],
        primary_key=["id", "k2"],
        unique=[UniqueConstraint(["email"], name="u_email")],
        indexes=[Index("ix ab", ["a", "b"])],
    )
    my.create_table("keys", s)
    got = my.get_schema("keys")
    assert got.primary_key == ["id", "k2"]
    assert got.unique == [UniqueConstraint(["email"], name="u_email")]
    assert got.indexes == [Index("ix ab", ["a", "b"])]
    # A unique index is a unique constraint in MySQL: it reads back as one.
    my.execute("CREATE UNIQUE INDEX u_ab ON `keys` (a, b)")
    got = my.get_schema("keys")
    assert got.unique == [
        UniqueConstraint(["a", "b"], name="u_ab"),
        UniqueConstraint(["email"], name="u_email"),
    ]
    assert not sqlarrow.diff(got, got)


def test_estimated_rows_and_listing(my: Any, db: str) -> None:
    my.create_table("t", CanonicalSchema([Column("x", "INT32", False)], primary_key=["x"]))
    my.execute("INSERT INTO t VALUES (1), (2), (3)")
    my.execute("ANALYZE TABLE t")
    est = my.get_schema("t").estimated_rows
    assert isinstance(est, int) and est >= 0
    my.execute("CREATE VIEW v AS SELECT x FROM t")
    assert my.get_schema("v").columns == [Column("x", "INT32", False)]
    assert my.get_schema("v").estimated_rows is None
    assert my.list_tables() == [
        {"schema": db, "name": "t", "kind": "table"},
        {"schema": db, "name": "v", "kind": "view"},
    ]
    assert my.list_tables(db) == my.list_tables()
    schemas = my.list_schemas()
    assert db in schemas
    assert not {"information_schema", "mysql", "performance_schema", "sys"} & set(schemas)


def test_create_table_round_trips(my: Any, db: str) -> None:
    s = CanonicalSchema(
        [
            Column("id", "UINT64", False),
            Column("name", "STRING(50)", False, default="'anon'"),
            Column("price", "DECIMAL(12,3)", comment="in EUR"),
            Column("tags", "JSON"),
            Column("state", "ENUM('new','done')", False, default="'new'"),
            Column("at", "TIMESTAMP"),
        ],
        primary_key=["id"],
        unique=[UniqueConstraint(["name"], name="u_name")],
        indexes=[Index("ix_state", ["state", "at"])],
    )
    my.create_table((db, "rt"), s)
    got = my.get_schema("rt", db)
    got.estimated_rows = None
    assert got == s
    assert not sqlarrow.diff(got, s)
    assert my.create_table("rt", s, if_not_exists=True)[0].startswith("CREATE TABLE IF NOT EXISTS")


def test_diff_apply_add_and_drop_column(my: Any, db: str) -> None:
    a = CanonicalSchema(
        [Column("id", "INT32", False), Column("gone", "BOOL"), Column("n", "STRING(10)")],
        primary_key=["id"],
    )
    b = CanonicalSchema(
        [Column("id", "INT32", False), Column("n", "STRING(20)"), Column("new ✓", "DATE")],
        primary_key=["id"],
    )
    my.create_table("tbl", a)
    my.execute("INSERT INTO tbl VALUES (1, true, 'x')")
    d = sqlarrow.diff(my.get_schema("tbl"), b)
    with pytest.raises(InterfaceError, match="destructive"):
        my.apply(d, "tbl")
    dry = my.apply(d, "tbl", allow_destructive=True, dry_run=True)
    ran = my.apply(d, "tbl", allow_destructive=True)
    assert ran == dry
    got = my.get_schema("tbl")
    assert [c.name for c in got.columns] == ["id", "n", "new ✓"]
    assert not sqlarrow.diff(got, b)
    rows = my.query("SELECT id, n FROM tbl").to_pylist()
    assert rows == [{"id": 1, "n": "x"}]


def test_apply_is_not_transactional_and_reports_progress(my: Any) -> None:
    a = CanonicalSchema([Column("id", "INT32", False)])
    my.create_table("t", a)
    my.execute("INSERT INTO t VALUES (1), (1)")
    b = CanonicalSchema([Column("id", "INT32", False), Column("x", "INT32")], primary_key=["id"])
    d = sqlarrow.diff(a, b)
    stmts = my.apply(d, "t", dry_run=True)
    assert len(stmts) >= 2
    with pytest.raises(SqlArrowError, match="already ran") as exc:
        my.apply(d, "t")  # duplicate key: ADD PRIMARY KEY fails after ADD COLUMN
    assert "not transactional" in str(exc.value)
    # The ADD COLUMN stayed applied.
    assert [c.name for c in my.get_schema("t").columns] == ["id", "x"]


def test_identifiers_needing_backticks(my: Any, db: str) -> None:
    weird = ["my col", "we`ird", "select", "ñandú ✓", "a.b", 'q"uote']
    s = CanonicalSchema(
        [Column(n, "INT32", i != 0) for i, n in enumerate(weird)],
        primary_key=[weird[0]],
        indexes=[Index("ix `x`", [weird[1], weird[2]])],
    )
    table = "tab`le.x"
    stmts = my.create_table((db, table), s)
    assert "`tab``le.x`" in stmts[0]
    got = my.get_schema(table, db)
    assert [c.name for c in got.columns] == weird
    assert got.indexes == [Index("ix `x`", [weird[1], weird[2]])]
    assert my.table_exists(table, db)
    assert {"schema": db, "name": table, "kind": "table"} in my.list_tables(db)
    more = CanonicalSchema([*s.columns, Column("new `c`", "STRING(5)")], primary_key=[weird[0]])
    my.apply(sqlarrow.diff(got, more), (db, table))
    assert my.get_schema(table, db).columns[-1] == Column("new `c`", "STRING(5)")
