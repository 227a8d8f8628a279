"""Canonical schema: JSON/Arrow round trips, DDL per dialect, introspection, diff/apply.

Integration tests run against the real PostgreSQL at 127.0.0.1:5432 (each test in its
own schema ``sqlarrow_t_<hex>``, dropped afterwards) and SQLite files in tmp_path. They
use ``sqlarrow._core.RawConnector`` directly so they do not depend on the public
connector classes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from sqlarrow import _core
from sqlarrow.exceptions import (
    ConfigError,
    InterfaceError,
    SqlArrowError,
    UndefinedObjectError,
    UnsupportedTypeError,
)
from sqlarrow.schema import (
    DIALECTS,
    CanonicalSchema,
    Column,
    Index,
    UniqueConstraint,
    diff,
    from_arrow,
)

PG_HOST = os.environ.get("SQLARROW_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SQLARROW_PG_PORT", "5432"))

WEIRD = ["my col", 'we"ird', "select", "ñandú ✓", "a.b", "`back`", "[br]"]


def pg_raw(redshift: bool = False) -> Any:
    return _core.RawConnector.postgres(
        host=PG_HOST,
        port=PG_PORT,
        database="postgres",
        user="postgres",
        password=None,
        pool_size=2,
        pool_timeout=10,
        sslmode="disable",
        connect_timeout=5,
        application_name="sqlarrow-test-schema",
        redshift=redshift,
    )


@pytest.fixture
def pg() -> Iterator[Any]:
    conn = pg_raw()
    yield conn
    conn.close()


@pytest.fixture
def pg_schema(pg: Any) -> Iterator[str]:
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    pg.execute(f'CREATE SCHEMA "{name}"')
    yield name
    pg.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def lite(tmp_path: Any) -> Iterator[Any]:
    conn = _core.RawConnector.sqlite(
        path=str(tmp_path / "t.db"), pool_size=2, pool_timeout=10, read_only=False
    )
    yield conn
    conn.close()


def get_schema(conn: Any, table: Any, schema: str | None = None) -> CanonicalSchema:
    return CanonicalSchema.from_json(conn.get_schema(table, schema))


def read(conn: Any, sql: str) -> pa.Table:
    return pa.table(conn.query(sql))


# --------------------------------------------------------------------------------------
# Pure (no server)
# --------------------------------------------------------------------------------------

ALL_TYPES = [
    "BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
    "FLOAT32", "FLOAT64", "DECIMAL(18,4)", "DECIMAL(50,10)", "STRING", "STRING(255)",
    "BINARY", "BINARY(16)", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_TZ", "INTERVAL",
    "UUID", "JSON", "ARRAY<INT32>", "ARRAY<STRING>", "ENUM('a','it''s')", "GEOMETRY",
]  # fmt: skip


def full_schema() -> CanonicalSchema:
    cols = [Column(f"c{i}", t, nullable=i % 3 != 0) for i, t in enumerate(ALL_TYPES)]
    cols[1].default = "1"
    cols[2].comment = "a 'comment'"
    return CanonicalSchema(
        cols,
        primary_key=["c0", "c3"],
        unique=[UniqueConstraint(["c4"], name="u4")],
        indexes=[Index("ix5", ["c5", "c6"])],
        estimated_rows=10,
    )


def test_json_round_trip_is_lossless() -> None:
    s = full_schema()
    assert CanonicalSchema.from_json(s.to_json()) == s
    assert CanonicalSchema.from_json(s.to_json(indent=2)) == s
    d = json.loads(s.to_json())
    assert d["columns"][0] == {"name": "c0", "type": "BOOL", "nullable": False}
    assert d["primary_key"] == ["c0", "c3"]
    minimal = CanonicalSchema.from_json(
        '{"columns": [{"name": "id", "type": "int64", "nullable": false}]}'
    )
    assert minimal.columns[0] == Column("id", "INT64", False)
    assert Column("x", "decimal( 10 , 2)").type == "DECIMAL(10,2)"


@pytest.mark.parametrize(
    "bad",
    [
        '{"columns": [{"name": "a", "type": "INT"}]}',
        '{"columns": [{"name": "a", "type": "DECIMAL(80,2)"}]}',
        '{"columns": [{"name": "a", "type": "INT8"}, {"name": "a", "type": "INT8"}]}',
        '{"columns": [{"name": "a", "type": "INT8"}], "primary_key": ["zz"]}',
        '{"columns": [{"name": "a", "type": "INT8", "typo": true}]}',
    ],
)
def test_invalid_schemas_raise_config_error(bad: str) -> None:
    with pytest.raises(ConfigError):
        CanonicalSchema.from_json(bad)


def test_arrow_round_trip_and_exact_types() -> None:
    s = full_schema()
    a = s.to_arrow()
    assert isinstance(a, pa.Schema)
    f = {n: a.field(n) for n in a.names}
    assert f["c12"].type == pa.decimal256(50, 10)
    assert f["c11"].type == pa.decimal128(18, 4)
    assert f["c20"].type == pa.timestamp("us", tz="UTC")
    assert f["c19"].type == pa.timestamp("us")
    assert f["c18"].type == pa.time64("us")
    assert f["c21"].type == pa.month_day_nano_interval()
    assert f["c22"].type.extension_name == "arrow.uuid"
    assert f["c22"].type.storage_type == pa.binary(16)
    c23 = f["c23"]
    assert getattr(c23.type, "extension_name", None) == "arrow.json" or (
        (c23.metadata or {}).get(b"ARROW:extension:name") == b"arrow.json"
    )
    assert f["c24"].type == pa.list_(pa.int32())
    assert f["c26"].type == pa.dictionary(pa.int32(), pa.string())
    assert not f["c0"].nullable
    back = CanonicalSchema.from_arrow(a)
    assert back.columns == s.columns
    assert back.primary_key == s.primary_key


def test_from_arrow_infers_from_tables_and_dataframes() -> None:
    t = pa.table(
        {
            "i": pa.array([1], pa.int16()),
            "u": pa.array([1], pa.uint64()),
            "s": pa.array(["x"], pa.large_string()),
            "ts": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("ns", tz="Europe/Paris")),
            "d": pa.array([decimal.Decimal("1.5")], pa.decimal128(10, 2)),
            "l": pa.array([[1.0]], pa.large_list(pa.float64())),
            "cat": pa.array(["a"]).dictionary_encode(),
            "dur": pa.array([dt.timedelta(1)], pa.duration("us")),
        }
    )
    s = from_arrow(t)
    assert [c.type for c in s.columns] == [
        "INT16", "UINT64", "STRING", "TIMESTAMP_TZ", "DECIMAL(10,2)",
        "ARRAY<FLOAT64>", "STRING", "INTERVAL",
    ]  # fmt: skip
    assert from_arrow(t.schema) == s
    assert from_arrow(t.to_reader()) == s  # only __arrow_c_stream__
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    assert [c.type for c in from_arrow(pa.Table.from_pandas(df, preserve_index=False))] == [
        "INT64",
        "STRING",
    ]
    with pytest.raises(UnsupportedTypeError) as ei:
        from_arrow(pa.schema([pa.field("n", pa.null())]))
    assert ei.value.column == "n"
    with pytest.raises(UnsupportedTypeError):
        from_arrow(pa.schema([pa.field("st", pa.struct([pa.field("x", pa.int8())]))]))
    with pytest.raises(InterfaceError):
        from_arrow(42)


def test_to_arrow_without_pyarrow_shape() -> None:
    holder = _core.schema_to_arrow(full_schema().to_json())
    assert holder.names[0] == "c0"
    assert pa.schema(holder) == full_schema().to_arrow()


def test_ddl_every_dialect_quotes_identifiers() -> None:
    s = CanonicalSchema([Column(n, "INT32") for n in WEIRD], primary_key=[WEIRD[1]])
    expected_quote = {
        "postgres": '"we""ird"',
        "redshift": '"we""ird"',
        "sqlite": '"we""ird"',
        "snowflake": '"we""ird"',
        "mysql": '`we"ird`',
        "bigquery": '`we"ird`',
        "mssql": '[we"ird]',
    }
    for d in DIALECTS:
        ddl = s.to_ddl(d, ("sch ema", 'ta"ble'), if_not_exists=True)
        assert expected_quote[d] in ddl, (d, ddl)
    assert "[[br]]]" in s.to_ddl("mssql", "t")
    assert "```back```" in s.to_ddl("mysql", "t")
    assert "`\\`back\\``" in s.to_ddl("bigquery", "t")
    with pytest.raises(ConfigError):
        CanonicalSchema([Column("a\0b", "INT32")]).to_ddl("postgres", "t")
    with pytest.raises(ConfigError):
        CanonicalSchema([Column("x" * 64, "INT32")]).to_ddl("postgres", "t")


def test_ddl_types_without_equivalent_are_errors() -> None:
    s = CanonicalSchema([Column("u", "UINT64")])
    with pytest.raises(UnsupportedTypeError, match="widen_unsigned"):
        s.to_ddl("postgres", "t")
    assert "NUMERIC(20,0)" in s.to_ddl("postgres", "t", widen_unsigned=True)
    assert "BIGINT UNSIGNED" in s.to_ddl("mysql", "t")
    with pytest.raises(UnsupportedTypeError, match="no equivalent in mysql"):
        CanonicalSchema([Column("i", "INTERVAL")]).to_ddl("mysql", "t")
    with pytest.raises(UnsupportedTypeError, match="text_fallback"):
        CanonicalSchema([Column("u", "UUID")]).to_ddl("mysql", "t")
    assert "CHAR(36)" in CanonicalSchema([Column("u", "UUID")]).to_ddl(
        "mysql", "t", text_fallback=True
    )
    assert "CHECK" in CanonicalSchema([Column("e", "ENUM('a')")]).to_ddl("sqlite", "t")
    with pytest.raises(ConfigError):
        s.to_ddl("oracle", "t")


def test_types_md_is_generated() -> None:
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "types.md")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert "Generated from" in text
    for t in ["UINT64", "TIMESTAMP_TZ", "ENUM(...)"]:
        assert t in text


def test_diff_changes_and_flags() -> None:
    a = CanonicalSchema(
        [Column("id", "INT32", False), Column("old", "DATE"), Column("s", "STRING(10)")],
        primary_key=["id"],
    )
    b = CanonicalSchema(
        [Column("id", "INT64", False), Column("new", "DATE"), Column("s", "STRING(5)", False)],
        primary_key=["id", "s"],
    )
    d = diff(a, b)
    assert [c.op for c in d] == [
        "drop_column", "rename_candidate", "add_column", "alter_type", "alter_type",
        "set_nullable", "set_primary_key",
    ]  # fmt: skip
    assert [c.destructive for c in d] == [True, False, False, False, True, False, False]
    assert d.destructive
    r = d.accept_rename("old", "new")
    assert r.changes[0].op == "rename_column"
    assert [c.destructive for c in r] == [False, False, True, False, False]
    assert not diff(a, a)
    with pytest.raises(InterfaceError):
        d.accept_rename("nope", "new")
    assert any("MODIFY COLUMN" in s for s in d.to_sql("mysql", "t"))


# --------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------

#: Canonical types PostgreSQL can create here (no PostGIS: GEOMETRY is left out).
PG_TYPES = [t for t in ALL_TYPES if t not in ("UINT64", "GEOMETRY")]

#: How the current decoder returns each canonical type created on PostgreSQL.
PG_READ = {
    "BOOL": pa.bool_(),
    "INT8": pa.int16(),  # SMALLINT
    "INT16": pa.int16(),
    "INT32": pa.int32(),
    "INT64": pa.int64(),
    "UINT8": pa.int16(),
    "UINT16": pa.int32(),
    "UINT32": pa.int64(),
    "FLOAT32": pa.float32(),
    "FLOAT64": pa.float64(),
    "DECIMAL(18,4)": pa.decimal128(18, 4),
    "DECIMAL(50,10)": pa.decimal256(50, 10),
    "STRING": pa.string(),
    "STRING(255)": pa.string(),
    "BINARY": pa.binary(),
    "BINARY(16)": pa.binary(),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMP_TZ": pa.timestamp("us", tz="UTC"),
    "INTERVAL": pa.month_day_nano_interval(),
    "JSON": pa.string(),
}

#: What introspection returns for each created type (widened ones read back wider).
PG_INTROSPECTED = {
    "INT8": "INT16",
    "UINT8": "INT16",
    "UINT16": "INT32",
    "UINT32": "INT64",
    "BINARY(16)": "BINARY",
}


def test_pg_introspection_returns_declared_types(pg: Any, pg_schema: str) -> None:
    cols = [Column(f"c {t}", t, nullable=i != 0) for i, t in enumerate(PG_TYPES)]
    cols[1].default = "7"
    cols[2].comment = "it's a comment"
    s = CanonicalSchema(
        cols,
        primary_key=[cols[0].name],
        unique=[UniqueConstraint([cols[4].name], name="u_c4")],
        indexes=[Index("ix c5", [cols[5].name, cols[6].name])],
    )
    stmts = pg.create_table((pg_schema, "all types"), s.to_json())
    assert stmts[0].startswith(f'CREATE TABLE "{pg_schema}"."all types"')
    got = get_schema(pg, "all types", pg_schema)
    want = [
        Column(c.name, PG_INTROSPECTED.get(c.type, c.type), c.nullable, c.default, c.comment)
        for c in cols
    ]
    assert got.columns == want
    assert got.primary_key == [cols[0].name]
    assert got.primary_key_name == "all types_pkey"
    assert got.unique == [UniqueConstraint([cols[4].name], name="u_c4")]
    assert got.indexes == [Index("ix c5", [cols[5].name, cols[6].name])]
    assert got.estimated_rows is None or got.estimated_rows == 0
    assert pg.table_exists("all types", pg_schema)
    assert not pg.table_exists("nope", pg_schema)
    assert not pg.table_exists("all types")  # not on the search path
    assert pg_schema in pg.list_schemas()
    pg.execute(f'CREATE VIEW "{pg_schema}".v AS SELECT 1 AS x')
    assert pg.list_tables(pg_schema) == [
        {"schema": pg_schema, "name": "all types", "kind": "table"},
        {"schema": pg_schema, "name": "v", "kind": "view"},
    ]
    assert get_schema(pg, "v", pg_schema).columns == [Column("x", "INT32")]
    with pytest.raises(UndefinedObjectError):
        pg.get_schema("nope", pg_schema)
    # Row estimate from pg_class.reltuples after ANALYZE (not COUNT(*)).
    pg.execute(f'INSERT INTO "{pg_schema}"."all types" ("{cols[0].name}") SELECT true')
    pg.execute(f'ANALYZE "{pg_schema}"."all types"')
    assert get_schema(pg, "all types", pg_schema).estimated_rows == 1


def test_pg_real_enum_types_introspect_as_enum(pg: Any, pg_schema: str) -> None:
    pg.execute(f"CREATE TYPE \"{pg_schema}\".mood AS ENUM ('sad', 'ok', 'it''s')")
    pg.execute(f'CREATE TABLE "{pg_schema}".t (m "{pg_schema}".mood, ms "{pg_schema}".mood[])')
    got = get_schema(pg, "t", pg_schema)
    assert got.columns == [
        Column("m", "ENUM('sad','ok','it''s')"),
        Column("ms", "ARRAY<ENUM('sad','ok','it''s')>"),
    ]


def test_pg_type_matrix_values(pg: Any, pg_schema: str) -> None:
    scalar = [t for t in PG_READ]
    s = CanonicalSchema([Column(f"c{i}", t) for i, t in enumerate(scalar)])
    pg.create_table(f'"{pg_schema}".m', s.to_json())
    edge = {
        "BOOL": "true",
        "INT8": "-128",
        "INT16": "-32768",
        "INT32": "2147483647",
        "INT64": "-9223372036854775808",
        "UINT8": "255",
        "UINT16": "65535",
        "UINT32": "4294967295",
        "FLOAT32": "1.5",
        "FLOAT64": "-1e300",
        "DECIMAL(18,4)": "99999999999999.9999",
        "DECIMAL(50,10)": "-1234567890123456789012345678901234567890.0123456789",
        "STRING": "'ñ ✓ \"x\"'",
        "STRING(255)": "''",
        "BINARY": "'\\x00ff'::bytea",
        "BINARY(16)": "''::bytea",
        "DATE": "'0001-01-01'",
        "TIME": "'23:59:59.999999'",
        "TIMESTAMP": "'9999-12-31 23:59:59.999999'",
        "TIMESTAMP_TZ": "'2024-02-29 12:00:00+02'",
        "INTERVAL": "'1 year 2 days 00:00:00.000003'",
        "JSON": '\'{"b": 1, "a": [true, null]}\'',
    }
    values = ", ".join(edge[t] for t in scalar)
    pg.execute(f'INSERT INTO "{pg_schema}".m VALUES ({values})')
    pg.execute(f'INSERT INTO "{pg_schema}".m DEFAULT VALUES')
    t = read(pg, f'SELECT * FROM "{pg_schema}".m')
    for i, ty in enumerate(scalar):
        got_type = t.schema.field(i).type
        assert getattr(got_type, "storage_type", got_type) == PG_READ[ty], ty
        assert t.column(i)[1].as_py() is None, ty
    row = t.slice(0, 1).to_pylist()[0]
    assert row["c3"] == 2147483647
    assert row["c4"] == -9223372036854775808
    assert row["c7"] == 4294967295
    assert row["c10"] == decimal.Decimal("99999999999999.9999")
    assert row["c11"] == decimal.Decimal("-1234567890123456789012345678901234567890.0123456789")
    assert row["c12"] == 'ñ ✓ "x"'
    assert row["c14"] == b"\x00\xff"
    assert row["c16"] == dt.date(1, 1, 1)
    assert row["c17"] == dt.time(23, 59, 59, 999999)
    assert row["c18"] == dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
    assert row["c19"] == dt.datetime(2024, 2, 29, 10, 0, tzinfo=dt.timezone.utc)
    assert json.loads(row["c21"]) == {"b": 1, "a": [True, None]}
    # UUID arrives as the arrow.uuid extension.
    pg.execute(f'CREATE TABLE "{pg_schema}".u (u uuid)')
    pg.execute(
        f"INSERT INTO \"{pg_schema}\".u VALUES ('00000000-0000-0000-0000-000000000001'), (NULL)"
    )
    ut = read(pg, f'SELECT u FROM "{pg_schema}".u')
    assert ut.schema.field(0).type.extension_name == "arrow.uuid"
    # The Arrow schema of the canonical schema matches what the engine returns.
    want = CanonicalSchema([Column("u", "UUID")]).to_arrow()
    assert ut.schema.field(0).type == want.field(0).type


def test_pg_identifiers_needing_quotes(pg: Any, pg_schema: str) -> None:
    s = CanonicalSchema(
        [Column(n, "INT32", nullable=False) for n in WEIRD],
        primary_key=[WEIRD[0], WEIRD[1]],
        indexes=[Index('ix "q" ✓', [WEIRD[3]])],
    )
    for table in ["select", 'ta"ble ✓', "a.b"]:
        pg.create_table((pg_schema, table), s.to_json(), if_not_exists=True)
        pg.create_table((pg_schema, table), s.to_json(), if_not_exists=True)
        got = get_schema(pg, table, pg_schema)
        assert got.columns == s.columns
        assert got.primary_key == s.primary_key
        s.indexes = []  # index names are per schema


def test_pg_ddl_for_redshift_runs_on_postgres(pg: Any, pg_schema: str) -> None:
    # The Redshift DDL of types PostgreSQL also has runs here (the wire stand-in).
    s = CanonicalSchema(
        [
            Column("b", "BOOL"),
            Column("i", "INT64", False),
            Column("d", "DECIMAL(38,6)"),
            Column("s", "STRING(100)"),
            Column("t", "TIMESTAMP_TZ"),
            Column("dt", "DATE"),
            Column("f", "FLOAT64"),
            Column("select", "INT16"),
        ],
        primary_key=["i"],
    )
    ddl = s.to_ddl("redshift", (pg_schema, "rs"))
    pg.execute(ddl)
    got = get_schema(pg, "rs", pg_schema)
    assert got.columns == s.columns
    # Introspection through the Redshift mode of the engine (no constraints query).
    rs = pg_raw(redshift=True)
    try:
        assert get_schema(rs, "rs", pg_schema).columns == s.columns
    finally:
        rs.close()


@pytest.mark.parametrize("renamed", [False, True])
def test_pg_diff_apply_round_trip(pg: Any, pg_schema: str, renamed: bool) -> None:
    a = CanonicalSchema(
        [
            Column("id", "INT32", False),
            Column("name", "STRING(10)"),
            Column("old col", "DATE"),
            Column("amount", "DECIMAL(10,2)", default="0"),
            Column("gone", "BOOL"),
        ],
        primary_key=["id"],
    )
    b = CanonicalSchema(
        [
            Column("id", "INT64", False),
            Column("name", "STRING(20)", False),
            Column("new col", "DATE"),
            Column("amount", "DECIMAL(12,2)"),
            Column("extra ✓", "JSON"),
        ],
        primary_key=["id", "name"],
    )
    table = (pg_schema, "tbl")
    pg.create_table(table, a.to_json())
    pg.execute(f"INSERT INTO \"{pg_schema}\".tbl VALUES (1, 'x', '2024-01-01', 5, true)")
    d = diff(get_schema(pg, "tbl", pg_schema), b)
    if renamed:
        d = d.accept_rename("old col", "new col")
    with pytest.raises(InterfaceError, match="destructive"):
        pg.apply(d.to_json(), table)
    dry = pg.apply(d.to_json(), table, allow_destructive=True, dry_run=True)
    assert dry == d.to_sql("postgres", table)
    pg.apply(d.to_json(), table, allow_destructive=True)
    got = get_schema(pg, "tbl", pg_schema)
    # ALTER TABLE appends added columns: compare by name (a rename keeps the position).
    assert sorted(got.columns, key=lambda c: c.name) == sorted(b.columns, key=lambda c: c.name)
    if renamed:
        assert got.columns == b.columns
    assert got.primary_key == b.primary_key
    assert not diff(got, b)
    rows = pg.query(f'SELECT * FROM "{pg_schema}".tbl').to_pylist()
    assert rows[0]["id"] == 1
    assert rows[0]["new col"] == (dt.date(2024, 1, 1) if renamed else None)


def test_pg_apply_is_transactional(pg: Any, pg_schema: str) -> None:
    a = CanonicalSchema([Column("id", "INT32", False)])
    pg.create_table((pg_schema, "t"), a.to_json())
    pg.execute(f'INSERT INTO "{pg_schema}".t VALUES (1), (1)')
    b = CanonicalSchema([Column("id", "INT32", False), Column("x", "INT32")], primary_key=["id"])
    with pytest.raises(SqlArrowError):
        pg.apply(diff(a, b).to_json(), (pg_schema, "t"))  # duplicate key: ADD PRIMARY KEY fails
    assert get_schema(pg, "t", pg_schema).columns == a.columns  # the ADD COLUMN was rolled back


def test_pg_migrate_from_sqlite(pg: Any, pg_schema: str, lite: Any) -> None:
    lite.execute(
        'CREATE TABLE src (id INTEGER PRIMARY KEY NOT NULL, "na me" VARCHAR(30), '
        "amount DECIMAL(10,2), "
        "ts TIMESTAMP, e TEXT CHECK (e IN ('a','b')))"
    )
    s = get_schema(lite, "src")
    pg.create_table((pg_schema, "dst"), s.to_json())
    got = get_schema(pg, "dst", pg_schema)
    assert got.columns == s.columns
    assert got.primary_key == ["id"]
    # No silent loss: a type PostgreSQL lacks is an error.
    with pytest.raises(UnsupportedTypeError):
        pg.create_table((pg_schema, "bad"), CanonicalSchema([Column("u", "UINT64")]).to_json())


# Decoder gaps (owned by the PostgreSQL engine): kept visible as expected failures.
PG_DECODER_GAPS = {
    "int4[]": ("ARRAY[1, NULL, 3]::int4[]", pa.list_(pa.int32())),
    "text[]": ("ARRAY['a', NULL]::text[]", pa.list_(pa.string())),
    "enum": ("'ok'::{schema}.mood", pa.dictionary(pa.int32(), pa.string())),
    "inet": ("'10.0.0.1/8'::inet", pa.string()),
    "cidr": ("'10.0.0.0/8'::cidr", pa.string()),
    "macaddr": ("'08:00:2b:01:02:03'::macaddr", pa.string()),
    "money": ("'12.34'::money", pa.string()),
    "tsvector": ("'a b'::tsvector", pa.string()),
}


@pytest.mark.parametrize("name", sorted(PG_DECODER_GAPS))
def test_pg_decoder_type_fidelity(pg: Any, pg_schema: str, name: str) -> None:
    expr, want = PG_DECODER_GAPS[name]
    pg.execute(f"CREATE TYPE \"{pg_schema}\".mood AS ENUM ('sad', 'ok')")
    try:
        t = read(pg, f"SELECT {expr.format(schema=pg_schema)} AS v")
    except Exception as e:
        pytest.xfail(f"{name}: {type(e).__name__}: {e}")
    if t.schema.field(0).type != want and not (
        name == "money" and pa.types.is_decimal(t.schema.field(0).type)
    ):
        pytest.xfail(f"{name}: read as {t.schema.field(0).type}, want {want}")


# --------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------

SQLITE_TYPES = [
    t
    for t in ALL_TYPES
    if t not in ("UINT64", "INTERVAL", "GEOMETRY", "ARRAY<INT32>", "ARRAY<STRING>")
]

#: How the SQLite decoder reads each declared type.
SQLITE_READ = {
    "BOOL": pa.bool_(),
    "INT8": pa.int64(),
    "INT16": pa.int64(),
    "INT32": pa.int64(),
    "INT64": pa.int64(),
    "UINT8": pa.int64(),
    "UINT16": pa.int64(),
    "UINT32": pa.int64(),
    "FLOAT32": pa.float64(),
    "FLOAT64": pa.float64(),
    "DECIMAL(18,4)": pa.decimal128(18, 4),
    "STRING": pa.string(),
    "STRING(255)": pa.string(),
    "BINARY": pa.binary(),
    "BINARY(16)": pa.binary(),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMP_TZ": pa.timestamp("us", tz="UTC"),
    "UUID": pa.string(),
    "JSON": pa.string(),
    "ENUM('a','it''s')": pa.string(),
}


def test_sqlite_introspection_returns_declared_types(lite: Any) -> None:
    types = [t for t in SQLITE_TYPES if t != "DECIMAL(50,10)"]
    s = CanonicalSchema(
        [Column(f"c {t}", t, nullable=i != 0) for i, t in enumerate(types)],
        primary_key=[f"c {types[0]}"],
        indexes=[Index("ix", [f"c {types[3]}"])],
    )
    lite.create_table("all types", s.to_json())
    got = get_schema(lite, "all types")
    assert got.columns == s.columns
    assert got.primary_key == s.primary_key
    assert got.indexes == s.indexes
    assert got.estimated_rows is None
    t = read(lite, 'SELECT * FROM "all types"')
    assert t.num_rows == 0
    for i, ty in enumerate(types):
        got_type = t.schema.field(i).type
        assert getattr(got_type, "storage_type", got_type) == SQLITE_READ[ty], ty
    assert lite.list_tables() == [{"schema": "main", "name": "all types", "kind": "table"}]
    assert lite.list_schemas() == ["main"]
    assert lite.table_exists("all types") and not lite.table_exists("x")
    # DECIMAL above 38 digits cannot be read exactly by SQLite: an error, not a float.
    with pytest.raises(UnsupportedTypeError):
        CanonicalSchema([Column("d", "DECIMAL(50,10)")]).to_ddl("sqlite", "t")
    lite.execute("ANALYZE")
    lite.execute('INSERT INTO "all types" ("c BOOL") VALUES (1)')
    lite.execute("ANALYZE")
    assert get_schema(lite, "all types").estimated_rows == 1


def test_sqlite_type_matrix_values(lite: Any) -> None:
    s = CanonicalSchema(
        [
            Column("b", "BOOL"),
            Column("i64", "INT64"),
            Column("f", "FLOAT64"),
            Column("d", "DECIMAL(18,4)"),
            Column("s", "STRING(10)"),
            Column("bin", "BINARY"),
            Column("dt", "DATE"),
            Column("tm", "TIME"),
            Column("ts", "TIMESTAMP"),
            Column("j", "JSON"),
            Column("e", "ENUM('a','b')"),
        ]
    )
    lite.create_table("m", s.to_json())
    lite.execute(
        "INSERT INTO m VALUES (1, -9223372036854775808, 1e300, '1234567890.1235', 'ñ✓', x'00ff', "
        "'2024-02-29', '23:59:59.5', '2024-01-01 10:00:00.000001', '{\"a\": 1}', 'b')"
    )
    lite.execute("INSERT INTO m DEFAULT VALUES")
    with pytest.raises(SqlArrowError):
        lite.execute("INSERT INTO m (e) VALUES ('zzz')")  # the ENUM's CHECK
    t = read(lite, "SELECT * FROM m")
    row, nulls = t.to_pylist()
    assert all(v is None for v in nulls.values())
    assert row == {
        "b": True,
        "i64": -9223372036854775808,
        "f": 1e300,
        "d": decimal.Decimal("1234567890.1235"),
        "s": "ñ✓",
        "bin": b"\x00\xff",
        "dt": dt.date(2024, 2, 29),
        "tm": dt.time(23, 59, 59, 500000),
        "ts": dt.datetime(2024, 1, 1, 10, 0, 0, 1),
        "j": '{"a": 1}',
        "e": "b",
    }


@pytest.mark.parametrize("renamed", [False, True])
def test_sqlite_diff_apply_round_trip(lite: Any, renamed: bool) -> None:
    a = CanonicalSchema(
        [
            Column("id", "INT64", False),
            Column("old", "DATE"),
            Column("n", "STRING(5)"),
            Column(WEIRD[1], "INT32"),
        ],
        primary_key=["id"],
        indexes=[Index("ix n", ["n"])],
    )
    b = CanonicalSchema(
        [
            Column("id", "INT64", False),
            Column("new", "DATE"),
            Column("n", "STRING(50)", False),
            Column("x", "BOOL"),
        ],
        primary_key=["id", "n"],
    )
    lite.create_table("t t", a.to_json())
    lite.execute("INSERT INTO \"t t\" VALUES (1, '2024-01-01', 'x', 3)")
    d = diff(get_schema(lite, "t t"), b)
    if renamed:
        d = d.accept_rename("old", "new")
    lite.apply(d.to_json(), "t t", allow_destructive=True)
    got = get_schema(lite, "t t")
    assert got.columns == b.columns
    assert got.primary_key == b.primary_key
    assert got.indexes == [Index("ix n", ["n"])]  # kept through the rebuild
    rows = lite.query('SELECT * FROM "t t"').to_pylist()
    assert rows == [{"id": 1, "new": dt.date(2024, 1, 1) if renamed else None, "n": "x", "x": None}]
    # Adding a nullable column is a plain ALTER TABLE.
    c = CanonicalSchema([*b.columns, Column("more", "STRING")], primary_key=b.primary_key)
    assert lite.apply(diff(got, c).to_json(), "t t") == ['ALTER TABLE "t t" ADD COLUMN "more" TEXT']


def test_sqlite_identifiers_needing_quotes(lite: Any) -> None:
    s = CanonicalSchema([Column(n, "STRING") for n in WEIRD], primary_key=[WEIRD[2]])
    for table in WEIRD:
        name = table if "." not in table else [table]
        lite.create_table(name, s.to_json())
        assert get_schema(lite, name).columns == s.columns
        assert lite.table_exists(name)
    # A str with a dot names schema.table, as write() takes it; quoted, one name.
    assert get_schema(lite, "main.select").columns == s.columns
    assert get_schema(lite, '"a.b"').columns == s.columns
    assert not lite.table_exists("a.b")


def test_connector_methods_reject_unsupported_engines() -> None:
    # Every engine compiled here (PostgreSQL, SQLite, MySQL) supports introspection; the
    # error path is for engines that do not yet: it must be an InterfaceError, never a crash.
    assert "sqlite" in _core.ENGINES


def test_pg_defaults_copy_to_mysql_sqlite_and_the_same_schema(pg: Any, pg_schema: str) -> None:
    """A PostgreSQL table's schema creates working tables elsewhere: defaults are
    translated (now() → CURRENT_TIMESTAMP(6) on MySQL, casts on literals dropped, a
    serial → AUTO_INCREMENT), the same default reads back equal on every engine, and
    generated constraint names do not collide with the source's."""
    import sqlarrow

    pg.execute(
        f'CREATE TABLE "{pg_schema}".src (id bigserial PRIMARY KEY, '
        "code varchar(12) NOT NULL UNIQUE, price numeric(12,3) DEFAULT 0, "
        "label text DEFAULT 'n/a', n integer DEFAULT -1, "
        "created timestamptz DEFAULT now(), day date DEFAULT CURRENT_DATE)"
    )
    src = get_schema(pg, "src", pg_schema)
    defaults = {c.name: c.default for c in src.columns}
    assert defaults["price"] == "0" and defaults["label"] == "'n/a'" and defaults["n"] == "-1"
    assert defaults["created"] == "CURRENT_TIMESTAMP" and defaults["day"] == "CURRENT_DATE"
    assert defaults["id"].startswith("nextval(")

    # the same schema: a second table beside the first (its own constraint names)
    pg.create_table((pg_schema, "copy"), src.to_json())
    pg.execute(f"INSERT INTO \"{pg_schema}\".copy (code) VALUES ('a')")

    # MySQL: the serial becomes AUTO_INCREMENT, now() CURRENT_TIMESTAMP(6)
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    admin = sqlarrow.MySQLConnector(
        os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1"),
        port=int(os.environ.get("SQLARROW_MYSQL_PORT", "3306")),
        user="root",
        ssl_mode="disabled",
    )
    admin.execute(f"CREATE DATABASE `{name}`")
    try:
        my = sqlarrow.MySQLConnector(
            os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1"),
            port=int(os.environ.get("SQLARROW_MYSQL_PORT", "3306")),
            user="root",
            ssl_mode="disabled",
            database=name,
        )
        ddl = my.create_table("dst", src)
        assert "AUTO_INCREMENT" in ddl[0] and "CURRENT_TIMESTAMP(6)" in ddl[0]
        my.execute("INSERT INTO dst (code) VALUES ('a'), ('b')")
        got = my.query("SELECT id, price, label, n, created, day FROM dst ORDER BY id").to_pylist()
        assert [r["id"] for r in got] == [1, 2]
        assert got[0]["label"] == "n/a" and got[0]["n"] == -1
        assert got[0]["created"] is not None and got[0]["day"] is not None
        back = {c.name: c.default for c in my.get_schema("dst").columns}
        for col in ("price", "label", "n", "created", "day"):
            assert back[col] == defaults[col], col
        my.close()
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()

    # SQLite: no sequences; the error names the column, and without that default the
    # rest of the defaults work
    with sqlarrow.SQLiteConnector(":memory:") as lite:
        with pytest.raises(ConfigError, match=r'column "id".*PostgreSQL sequence'):
            lite.create_table("dst", src)
        src.columns[0].default = None
        lite.create_table("dst", src)
        lite.execute("INSERT INTO dst (id, code) VALUES (1, 'a')")
        row = lite.query("SELECT price, label, n, created, day FROM dst").to_pylist()[0]
        assert row["label"] == "n/a" and row["n"] == -1
        assert row["created"] is not None and row["day"] is not None
        back = {c.name: c.default for c in lite.get_schema("dst").columns}
        for col in ("price", "label", "n", "created", "day"):
            assert back[col] == defaults[col], col
