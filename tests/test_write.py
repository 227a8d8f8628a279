"""Bulk writes from Arrow (PostgreSQL binary COPY, SQLite inserts), against real servers."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import sqlarrow
from sqlarrow.exceptions import (
    ConfigError,
    DataError,
    NotNullViolation,
    QueryError,
    UndefinedObjectError,
    UniqueViolation,
)

UTC = dt.timezone.utc


def sample() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "small": pa.array([-32768, 32767, None], pa.int16()),
            "amount": pa.array(
                [decimal.Decimal("12345678901234.5678"), decimal.Decimal("-0.0001"), None],
                pa.decimal128(18, 4),
            ),
            "name": pa.array(["plain", "ñ 😀 'quoted' \"x\" ;-- \\", None]),
            "at": pa.array(
                [
                    dt.datetime(2024, 2, 29, 12, 0, 0, 123456, tzinfo=UTC),
                    None,
                    dt.datetime(1970, 1, 1, tzinfo=UTC),
                ],
                pa.timestamp("us", "UTC"),
            ),
            "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1, 1, 1)]),
            "flag": pa.array([True, False, None]),
            "ratio": pa.array([1.5, None, -2.25]),
            "blob": pa.array([b"\x00\x01\xff", None, b""]),
        }
    )


@pytest.fixture
def pgw(pg: sqlarrow.Connector, pg_schema: str) -> Iterator[tuple[sqlarrow.Connector, str]]:
    yield pg, pg_schema


@pytest.fixture
def litew(tmp_path: Path) -> Iterator[sqlarrow.Connector]:
    with sqlarrow.connect(f"sqlite:///{tmp_path / 'w.db'}") as conn:
        yield conn


def test_pg_round_trip_every_type(pgw: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = pgw
    data = sample()
    res = conn.write(f"{schema}.t", data)
    assert res.rows_written == 3
    back = conn.query(f"select * from {schema}.t").to_arrow()
    # Created from the Arrow schema with exact types: numeric(18,4), timestamptz, ...
    assert back.schema.field("small").type == pa.int16()
    assert back.schema.field("amount").type == pa.decimal128(18, 4)
    assert back.schema.field("at").type == pa.timestamp("us", "UTC")
    assert back.to_pylist() == data.to_pylist()


def test_pg_uuid_and_json_extension_columns(pgw: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = pgw
    conn.execute(f"create table {schema}.u (id uuid, doc jsonb, label text)")
    ids = [uuid.uuid4(), uuid.uuid4()]
    data = pa.table(
        {"id": [str(i) for i in ids], "doc": ['{"a": 1}', '{"b": [1, 2]}'], "label": [1, 2]}
    )
    assert conn.write(f"{schema}.u", data).rows_written == 2
    rows = conn.query(f"select id, doc, label from {schema}.u order by label").to_pylist()
    assert [r["id"] for r in rows] == ids
    assert rows[0]["doc"] == '{"a": 1}'
    assert [r["label"] for r in rows] == ["1", "2"]  # ints cast to the text column


def test_pg_modes(pgw: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = pgw
    data = pa.table({"x": [1, 2, 3]})
    conn.write(f"{schema}.m", data, mode="create")
    with pytest.raises(QueryError, match="already exists"):
        conn.write(f"{schema}.m", data, mode="create")
    conn.write(f"{schema}.m", data)  # append
    assert conn.query(f"select count(*) as n from {schema}.m").to_pylist() == [{"n": 6}]
    conn.write(f"{schema}.m", pa.table({"x": [9]}), mode="replace")
    assert conn.query(f"select x from {schema}.m").to_pylist() == [{"x": 9}]
    with pytest.raises(UndefinedObjectError):
        conn.write(f"{schema}.missing", data, create_if_missing=False)


def test_pg_errors_before_any_row(pgw: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = pgw
    conn.execute(f"create table {schema}.k (id int primary key, v text not null)")
    with pytest.raises(ConfigError, match="nope"):
        conn.write(f"{schema}.k", pa.table({"nope": [1]}))
    with pytest.raises(ConfigError, match='"v"'):
        conn.write(f"{schema}.k", pa.table({"id": [1]}))
    with pytest.raises(DataError, match="3000000000"):
        conn.write(f"{schema}.k", pa.table({"id": [3_000_000_000], "v": ["a"]}))
    assert conn.query(f"select count(*) as n from {schema}.k").to_pylist() == [{"n": 0}]
    # column_map renames input columns
    conn.write(f"{schema}.k", pa.table({"key": [5], "v": ["x"]}), column_map={"key": "id"})
    assert conn.query(f"select id, v from {schema}.k").to_pylist() == [{"id": 5, "v": "x"}]


def test_pg_constraint_violation_is_all_or_nothing(pgw: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = pgw
    conn.execute(f"create table {schema}.k (id int primary key, v text)")
    data = pa.table({"id": [1, 2, 3, 2, 4], "v": ["a", "b", "c", "d", "e"]})
    with pytest.raises(UniqueViolation) as info:
        conn.write(f"{schema}.k", data)
    assert info.value.constraint == "k_pkey"
    assert info.value.row_index == 3
    assert conn.query(f"select count(*) as n from {schema}.k").to_pylist() == [{"n": 0}]
    with pytest.raises(NotNullViolation):
        conn.execute(f"alter table {schema}.k alter v set not null")
        conn.write(f"{schema}.k", pa.table({"id": [1], "v": pa.array([None], pa.string())}))
    # the pool is healthy afterwards
    assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]


def test_pg_streaming_input_in_batches(pgw: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = pgw
    batches = [
        pa.record_batch({"n": pa.array(range(i * 1000, (i + 1) * 1000), pa.int64())})
        for i in range(50)
    ]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    assert conn.write(f"{schema}.s", reader).rows_written == 50_000
    assert conn.query(f"select sum(n) as s from {schema}.s").to_pylist() == [
        {"s": sum(range(50_000))}
    ]


def test_pg_identifiers_that_need_quoting(pgw: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = pgw
    data = pa.table({'we"ird col': [1], "select": ["kw"], "ñ": [True]})
    conn.write(f'{schema}."Tab le.1"', data)
    assert conn.query(f'select * from {schema}."Tab le.1"').to_pylist() == [
        {'we"ird col': 1, "select": "kw", "ñ": True}
    ]


def test_pg_text_with_nul_is_refused(pgw: tuple[sqlarrow.Connector, str]) -> None:
    conn, schema = pgw
    with pytest.raises(DataError, match="NUL"):
        conn.write(f"{schema}.n", pa.table({"s": ["a\x00b"]}))


def test_sqlite_round_trip(litew: sqlarrow.Connector) -> None:
    data = sample()
    assert litew.write("t", data).rows_written == 3
    back = litew.query("select * from t").to_arrow()
    assert back.schema.field("amount").type == pa.decimal128(18, 4)
    assert back.schema.field("at").type == pa.timestamp("us", "UTC")
    assert back.schema.field("day").type == pa.date32()
    # SQLite has no 16-bit integer type: int16 comes back as int64 (documented).
    assert back.schema.field("small").type == pa.int64()
    expected = data.to_pylist()
    assert back.to_pylist() == expected


def test_sqlite_modes_and_errors(litew: sqlarrow.Connector) -> None:
    litew.execute("create table k (id integer primary key, v text not null)")
    with pytest.raises(UniqueViolation) as info:
        litew.write("k", pa.table({"id": [1, 1], "v": ["a", "b"]}))
    assert info.value.row_index == 1
    assert litew.query("select count(*) as n from k").to_pylist() == [{"n": 0}]
    with pytest.raises(ConfigError):
        litew.write("k", pa.table({"id": [1]}))
    litew.write("k", pa.table({"id": [1, 2], "v": ["a", "b"]}))
    litew.write("k", pa.table({"id": [3], "v": ["c"]}), mode="replace")
    assert litew.query("select id from k").to_pylist() == [{"id": 3}]


def test_pg_write_is_retried_after_a_transient_failure(
    pg_url: str, pg_admin: sqlarrow.Connector, pg_schema: str
) -> None:
    """The backend is terminated while the COPY runs: with a RetryPolicy a re-readable
    input (a pyarrow Table) is written again from the start, and the table ends with
    every row exactly once."""
    import threading
    import time

    app = f"sqlarrow-wretry-{uuid.uuid4().hex[:8]}"
    n = 3_000_000
    data = pa.table({"n": pa.array(range(n), pa.int64()), "s": pa.array(["x" * 20] * n)})
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            rows = pg_admin.query(
                "select pg_terminate_backend(pid) as k from pg_stat_activity "
                "where application_name = $1 and query ilike 'copy%'",
                [app],
            ).to_pylist()
            if rows:
                killed.append(len(rows))
            time.sleep(0.01)

    conn = sqlarrow.connect(
        pg_url,
        application_name=app,
        retry=sqlarrow.RetryPolicy(max_attempts=3, initial_delay=0.05, jitter=False),
    )
    with conn:
        t = threading.Thread(target=killer)
        t.start()
        res = conn.write(f"{pg_schema}.r", data)
        t.join()
        assert res.rows_written == n
        got = conn.query(f"select count(*) as c, count(distinct n) as d from {pg_schema}.r")
        assert got.to_pylist() == [{"c": n, "d": n}]
    assert killed, "the COPY was never seen running; the test did not exercise a retry"


def test_streams_are_not_retried() -> None:
    from sqlarrow._write import rereadable

    batch = pa.record_batch({"n": [1]})
    assert rereadable(pa.table({"n": [1]})) and rereadable(batch)
    assert not rereadable(pa.RecordBatchReader.from_batches(batch.schema, [batch]))


def test_pg_writes_lists_into_array_columns(pgw: tuple[sqlarrow.Connector, str]) -> None:
    """Lists write into existing array columns (before, every array column was refused)
    and into new ones, and read back as the same lists."""
    conn, schema = pgw
    conn.execute(
        f"CREATE DOMAIN {schema}.pos AS int4 CHECK (VALUE > 0);"
        f"CREATE TYPE {schema}.mood AS ENUM ('sad', 'ok');"
        f"CREATE TABLE {schema}.arr (id int4, ints int4[], words text[], nums numeric(10,2)[],"
        f" days date[], ids uuid[], moods {schema}.mood[], ps {schema}.pos[], grid int8[][])"
    )
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    data = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int32()),
            "ints": pa.array([[1, None, 3], [], None], pa.list_(pa.int64())),
            "words": pa.array([["a", "it's", 'q"t', "{x,}", None], ["ñ"], None]),
            "nums": pa.array(
                [[decimal.Decimal("1.50"), None], [decimal.Decimal("-0.01")], None],
                pa.list_(pa.decimal128(10, 2)),
            ),
            "days": pa.array([[dt.date(2024, 2, 29)], None, []], pa.list_(pa.date32())),
            "ids": pa.array([[str(u)], None, None], pa.large_list(pa.string())),
            "moods": pa.array([["ok", "sad"], None, None]),
            "ps": pa.array([[1, 2], None, None], pa.list_(pa.int16(), 2)),
            "grid": pa.array([[[1, 2], [3, 4]], [[None, 5]], [[]]], pa.list_(pa.list_(pa.int64()))),
        }
    )
    res = conn.write(f"{schema}.arr", data)
    assert res.rows_written == 3
    rows = conn.query(
        f"SELECT ints, words, nums, days, ids, moods::text[] AS moods, ps::int4[] AS ps,"
        f" grid::text AS grid FROM {schema}.arr ORDER BY id"
    ).to_pylist()
    assert [r["ints"] for r in rows] == [[1, None, 3], [], None]
    assert rows[0]["words"] == ["a", "it's", 'q"t', "{x,}", None]
    assert rows[0]["nums"] == [decimal.Decimal("1.50"), None]
    assert rows[1]["nums"] == [decimal.Decimal("-0.01")]
    assert [r["days"] for r in rows] == [[dt.date(2024, 2, 29)], None, []]
    assert rows[0]["ids"] == [u]
    assert rows[0]["moods"] == ["ok", "sad"]
    assert rows[0]["ps"] == [1, 2]
    assert [r["grid"] for r in rows] == ["{{1,2},{3,4}}", "{{NULL,5}}", "{}"]
    # The domain's CHECK holds inside arrays too.
    with pytest.raises(sqlarrow.exceptions.CheckViolation, match="pos"):
        conn.write(f"{schema}.arr", pa.table({"ps": pa.array([[0]], pa.list_(pa.int32()))}))
    # A new table from list columns gets array columns, and reads back the same lists.
    conn.write(f"{schema}.fresh", data.select(["id", "ints", "words", "nums", "days"]))
    types = conn.query(
        "SELECT column_name AS c, udt_name AS t FROM information_schema.columns"
        f" WHERE table_schema = '{schema}' AND table_name = 'fresh' ORDER BY ordinal_position"
    ).to_pylist()
    assert [r["t"] for r in types] == ["int4", "_int8", "_text", "_numeric", "_date"]
    back = conn.query(f"SELECT id, ints, words, nums, days FROM {schema}.fresh ORDER BY id")
    assert (
        back.to_pylist()
        == conn.query(
            f"SELECT id, ints::int8[] AS ints, words, nums, days FROM {schema}.arr ORDER BY id"
        ).to_pylist()
    )


def test_pg_array_writes_refuse_what_postgres_cannot_hold(
    pgw: tuple[sqlarrow.Connector, str],
) -> None:
    """Ragged or NULL sub-arrays, a scalar into an array column, a list of the wrong
    element type, lost precision in elements: typed errors, and nothing lands."""
    conn, schema = pgw
    conn.execute(f"CREATE TABLE {schema}.a (v int4[], t timestamp[], s int4)")
    t = f"{schema}.a"
    nested = pa.list_(pa.list_(pa.int32()))
    with pytest.raises(DataError, match="rectangular"):
        conn.write(t, pa.table({"v": pa.array([[[1], [2]], [[1, 2], [3]]], nested)}))
    with pytest.raises(DataError, match="NULL sub-array"):
        conn.write(t, pa.table({"v": pa.array([[[1], None]], nested)}))
    with pytest.raises(sqlarrow.UnsupportedTypeError, match=r"int4\[\]"):
        conn.write(t, pa.table({"v": pa.array([1], pa.int32())}))
    with pytest.raises(DataError, match="cannot convert"):
        conn.write(t, pa.table({"v": pa.array([[b"x"]], pa.list_(pa.binary()))}))
    with pytest.raises(sqlarrow.UnsupportedTypeError, match="int4"):
        conn.write(t, pa.table({"s": pa.array([[1]], pa.list_(pa.int32()))}))
    with pytest.raises(DataError, match="v"):
        conn.write(t, pa.table({"v": pa.array([[2**40]], pa.list_(pa.int64()))}))
    ns = pa.array([[dt.datetime(2024, 1, 1)]], pa.list_(pa.timestamp("ns")))
    ns = pc.add(ns.flatten(), pa.scalar(1, pa.duration("ns")))
    with pytest.raises(DataError, match="finer than the database stores"):
        conn.write(t, pa.table({"t": pa.ListArray.from_arrays([0, 1], ns)}))
    deep = pa.array([1], pa.int32())
    for _ in range(7):
        deep = pa.ListArray.from_arrays([0, 1], deep)
    with pytest.raises(sqlarrow.UnsupportedTypeError, match="at most 6 dimensions"):
        conn.write(t, pa.table({"v": deep}))
    assert conn.query(f"SELECT count(*) AS n FROM {t}").to_pylist() == [{"n": 0}]


def test_data_that_fails_its_own_arrow_export_is_a_data_error(litew: sqlarrow.Connector) -> None:
    # A pandas object column of mixed types cannot become Arrow. Before, that was a
    # ConfigError saying the data "must be an Arrow table" (which a DataFrame is).
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataError, match="could not be exported to Arrow") as info:
        litew.write("mixed", pd.DataFrame({"o": [1, "x"]}))
    assert "column o" in str(info.value)
    with pytest.raises(ConfigError, match="must be an Arrow table"):
        litew.write("mixed", object())


@pytest.mark.parametrize("engine", ["postgres", "sqlite"])
def test_writes_never_change_a_value_silently(
    engine: str, pgw: tuple[sqlarrow.Connector, str], litew: sqlarrow.Connector
) -> None:
    """Arrow's casts truncate and round without an error; before, 1.5 into an integer
    column was stored as 1, 1e300 into a float4 as infinity, 5 into a date as 1970-01-06
    and 1.234 into numeric(10,2) as 1.23 (PostgreSQL); SQLite stored 'abc' in an INTEGER
    column, which sqlarrow then refused to read."""
    if engine == "postgres":
        conn, schema = pgw
        t = f'"{schema}".strict'
        conn.execute(
            f"create table {t} (i int4, n numeric(10,2), b boolean, d date, r real, ts timestamp)"
        )
    else:
        conn, t = litew, "strict"
        conn.execute(
            f"create table {t} (i integer, n decimal(10,2), b boolean, d date, r real,"
            " ts timestamp)"
        )

    def refused(column: str, values: pa.Array, match: str) -> None:
        with pytest.raises(DataError, match=match):
            conn.write(t, pa.table({column: values}))

    refused("i", pa.array([2.0, 1.5]), "1.5 .input row 1. is not a whole number")
    refused("i", pa.array([decimal.Decimal("2.50")], pa.decimal128(5, 2)), "not a whole number")
    # The column's scale, not the (38, s) decimal PostgreSQL's numeric is cast to.
    refused(
        "n",
        pa.array([1.234]),
        r"1.234 .* has more digits after the point than the column's scale \(2\)",
    )
    refused("n", pa.array([decimal.Decimal("1.234")], pa.decimal128(10, 3)), "more digits")
    refused("b", pa.array([0, 2]), "neither 0 nor 1")
    refused("d", pa.array([5]), "a number .* is not a")
    refused("d", pa.array([dt.datetime(2024, 1, 1, 12)]), "has a time of day")
    refused("i", pa.array([dt.date(2024, 1, 1)]), "is not a number")
    refused("n", pa.array(["1.234"]), "more digits")
    if engine == "postgres":
        refused("r", pa.array([1e300]), "beyond the range")
    else:
        refused("i", pa.array(["abc"]), "abc")
        refused("b", pa.array(["maybe"]), "maybe")
        refused("d", pa.array(["not a date"]), "not a date")
    assert conn.query(f"select count(*) as n from {t}").to_pylist() == [{"n": 0}]
    # What converts exactly still writes: whole floats, float noise at the scale,
    # text that parses, 0/1 as booleans, midnight timestamps as dates.
    conn.write(
        t,
        pa.table(
            {
                "i": pa.array([3.0, None]),
                "n": pa.array([0.1 + 0.2, 12.5]),
                "b": pa.array([1, 0]),
                "d": pa.array([dt.datetime(2024, 2, 29), None]),
                "ts": pa.array(["2024-02-29 10:00:00", None]),
            }
        ),
    )
    got = conn.query(f"select i, n, b, d, ts from {t}").to_pylist()
    assert got == [
        {
            "i": 3,
            "n": decimal.Decimal("0.30"),
            "b": True,
            "d": dt.date(2024, 2, 29),
            "ts": dt.datetime(2024, 2, 29, 10),
        },
        {"i": None, "n": decimal.Decimal("12.50"), "b": False, "d": None, "ts": None},
    ]


def test_sqlite_uuid_and_text_columns_get_what_reads_back(litew: sqlarrow.Connector) -> None:
    # A UUID into a UUID column was stored as a 16-byte blob, and bytes into a TEXT
    # column as a blob: both then failed to read ("declared Text holds a BLOB").
    litew.execute("create table u (id uuid, t text)")
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    litew.write("u", pa.table({"id": pa.array([u.bytes, None], pa.binary(16)), "t": [b"ok", None]}))
    assert litew.query("select id, t from u").to_pylist() == [
        {"id": str(u), "t": "ok"},
        {"id": None, "t": None},
    ]
    with pytest.raises(DataError, match="t"):
        litew.write("u", pa.table({"t": [b"\xff\xfe"]}))
    # A table created from an arrow.uuid column: a UUID column holding the text (it
    # was a BLOB, and the values read back as 16 raw bytes).
    uu = pa.ExtensionArray.from_storage(pa.uuid(), pa.array([u.bytes, None], pa.binary(16)))
    litew.write("u2", pa.table({"id": uu}))
    assert litew.query("select id, typeof(id) as ty from u2").to_pylist() == [
        {"id": str(u), "ty": "text"},
        {"id": None, "ty": "null"},
    ]
    assert litew.get_schema("u2").columns[0].type == "UUID"


def test_names_the_engine_would_truncate_are_refused(
    pg: sqlarrow.Connector, pg_schema: str
) -> None:
    """PostgreSQL cuts identifiers beyond 63 bytes with only a NOTICE: a long column
    was created cut and then matched no input column; a long table name wrote into a
    table of another name. Both are a ConfigError before anything is created."""
    long_col = "c" * 64
    with pytest.raises(sqlarrow.ConfigError, match="63 bytes"):
        pg.write(f'"{pg_schema}".t', pa.table({long_col: [1]}))
    with pytest.raises(sqlarrow.ConfigError, match="63 bytes"):
        pg.write(f'"{pg_schema}".{"t" * 64}', pa.table({"a": [1]}))
    # A long input name mapped to a short column is fine; 63 bytes of UTF-8 too.
    res = pg.write(f'"{pg_schema}".t', pa.table({long_col: [1]}), column_map={long_col: "a"})
    assert res.rows_written == 1
    ok = "é" * 31  # 62 bytes
    assert pg.write(f'"{pg_schema}".t2', pa.table({ok: [1]})).rows_written == 1
    assert pg.query(f'select * from "{pg_schema}".t2').column_names == [ok]
    assert pg.query(
        "select count(*) as n from pg_tables where schemaname = $1", [pg_schema]
    ).to_pylist() == [{"n": 2}]


def test_value_errors_name_the_input_row_across_batches(
    pg: sqlarrow.Connector, pg_schema: str
) -> None:
    """The row number was the row's place in its batch: a bad value in the second
    batch of a stream was reported at the wrong row, and not as ``row_index``."""
    good = pa.record_batch({"s": ["a", "b", "c"]})
    bad = pa.record_batch({"s": ["d", "e\x00f"]})
    for mode in ("append", "upsert"):
        reader = pa.RecordBatchReader.from_batches(good.schema, [good, bad])
        with pytest.raises(sqlarrow.DataError, match="input row 4") as info:
            pg.write(f'"{pg_schema}".nul', reader, mode, key=["s"] if mode == "upsert" else None)
        assert info.value.row_index == 4  # type: ignore[attr-defined]
        assert info.value.column == "s"  # type: ignore[attr-defined]


def test_unknown_extension_types_are_refused(
    any_conn: tuple[sqlarrow.Connector, str],
) -> None:
    """pandas' period column arrives as extension type pandas.period over int64: its
    storage was written (2024-01 became 648). Extension types sqlarrow does not know
    are refused, naming the column and the type; known ones (JSON, UUID) still write."""
    pd = pytest.importorskip("pandas")
    conn, p = any_conn
    periods = pd.DataFrame({"p": pd.period_range("2024-01", periods=2, freq="M")})
    with pytest.raises(sqlarrow.UnsupportedTypeError, match=r"pandas\.period") as info:
        conn.write(f"{p}ext_t", periods)
    assert info.value.column == "p"  # type: ignore[attr-defined]
    assert info.value.type_name == "pandas.period"  # type: ignore[attr-defined]
    intervals = pd.DataFrame({"i": pd.arrays.IntervalArray.from_breaks([0, 1, 2])})
    with pytest.raises(sqlarrow.UnsupportedTypeError, match=r"pandas\.interval"):
        conn.write(f"{p}ext_t", intervals)
    # Inside a list too.
    item = pa.field("item", pa.int64(), metadata={"ARROW:extension:name": "my.ext"})
    nested = pa.table({"l": pa.array([[1]], pa.list_(pa.int64()))})
    with pytest.raises(sqlarrow.UnsupportedTypeError, match=r"my\.ext"):
        conn.write(f"{p}ext_t", nested.cast(pa.schema([pa.field("l", pa.list_(item))])))
    with conn.transaction() as tx, pytest.raises(sqlarrow.UnsupportedTypeError):
        tx.write(f"{p}ext_t", periods)
    # Converted first, it writes; the extension types sqlarrow reads back still write.
    periods["p"] = periods["p"].dt.to_timestamp()
    assert conn.write(f"{p}ext_t", periods).rows_written == 2
    back = conn.query("select cast('{\"a\": 1}' as json) as j").to_arrow()
    assert conn.write(f"{p}ext_j", back).rows_written == 1
