"""QueryResult API and hand-off to pyarrow, pandas, polars and DuckDB (both engines)."""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from decimal import Decimal

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import sqlarrow
from conftest import run_python

UTC = dt.timezone.utc

PG_SQL = """
select g as id, 'name ' || g as name, (g * 1.25)::numeric(12,2) as amount,
       g % 2 = 0 as even, case when g % 3 = 0 then null else g end as maybe,
       case when g % 4 = 0 then null else 'n' || g end as note,
       (g * 0.5)::float8 as f,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour' as at
from generate_series(1, 10) g order by g
"""

SQLITE_SETUP = [
    "create table r (id INTEGER, name TEXT, amount DECIMAL(12,2), even BOOLEAN, maybe INTEGER, "
    "note TEXT, f REAL, at TIMESTAMP)",
    "insert into r with recursive s(g) as (select 1 union all select g + 1 from s where g < 10) "
    "select g, 'name ' || g, g * 1.25, g % 2 = 0, case when g % 3 = 0 then null else g end, "
    "case when g % 4 = 0 then null else 'n' || g end, g * 0.5, "
    "datetime('2024-01-01 00:00:00', '+' || g || ' hours') from s",
]


@pytest.fixture
def result(any_conn: tuple[sqlarrow.Connector, str]) -> sqlarrow.QueryResult:
    conn, _ = any_conn
    if conn.engine == "postgres":
        return conn.query(PG_SQL)
    for stmt in SQLITE_SETUP:
        conn.execute(stmt)
    return conn.query("select * from r order by id")


COLUMNS = ["id", "name", "amount", "even", "maybe", "note", "f", "at"]


def test_result_metadata(result: sqlarrow.QueryResult) -> None:
    assert result.num_rows == 10 == len(result)
    assert result.column_names == COLUMNS
    assert result.nbytes > 0
    assert result.execution_time_ms >= 0
    text = repr(result)
    assert "10" in text and "id" in text and "ms" in text
    assert result.schema.names == COLUMNS
    assert isinstance(result.schema, pa.Schema)


def test_to_pylist(result: sqlarrow.QueryResult) -> None:
    rows = result.to_pylist()
    assert rows[0]["name"] == "name 1"
    assert rows[2]["maybe"] is None and rows[3]["note"] is None
    assert rows[3]["amount"] == Decimal("5.00")
    assert rows[1]["even"] is True and rows[0]["even"] is False
    at = rows[0]["at"]
    assert at.replace(tzinfo=None) == dt.datetime(2024, 1, 1, 1)


def test_to_pylist_refuses_to_drop_a_column_of_a_repeated_name(
    any_conn: tuple[sqlarrow.Connector, str],
) -> None:
    # `select *` over a join often repeats a name; dicts kept only the last column.
    conn, _ = any_conn
    r = conn.query("select 1 as id, 2 as id, 3 as other")
    with pytest.raises(sqlarrow.InterfaceError, match=r"more than one column named 'id'|\"id\""):
        r.to_pylist()
    assert r.to_arrow().column_names == ["id", "id", "other"]  # every column is still there
    assert list(r.to_pandas().columns) == ["id", "id", "other"]
    # polars cannot hold both: said as sqlarrow says it, not as polars' DuplicateError.
    with pytest.raises(sqlarrow.InterfaceError, match="'id', which a polars DataFrame cannot"):
        r.to_polars()
    assert conn.stream("select 1 as id, 2 as id").read_all().to_arrow().num_columns == 2


def test_pyarrow_table(result: sqlarrow.QueryResult) -> None:
    table = pa.table(result)
    assert table.num_rows == 10
    assert table.column_names == COLUMNS
    assert table.column("amount").type == pa.decimal128(12, 2)
    # exporting twice works
    assert pa.table(result).equals(table)
    assert result.to_arrow().equals(table)


def test_pyarrow_schema_capsule(result: sqlarrow.QueryResult) -> None:
    assert pa.schema(result).names == COLUMNS


def test_polars(result: sqlarrow.QueryResult) -> None:
    df = result.to_polars()
    assert isinstance(df, pl.DataFrame)
    assert df.shape == (10, 8)
    assert df["id"].to_list() == list(range(1, 11))
    assert df["maybe"].null_count() == 3
    df2 = pl.DataFrame(result)
    assert df2.equals(df)
    df3 = pl.from_arrow(result.to_arrow())
    assert isinstance(df3, pl.DataFrame) and df3.equals(df)


def test_duckdb(result: sqlarrow.QueryResult) -> None:
    con = duckdb.connect()
    rel = con.sql("select count(*) as n, sum(id) as s, count(maybe) as m from result")
    assert rel.fetchall() == [(10, 55, 7)]
    via_from_arrow = con.from_arrow(result).aggregate("sum(id)").fetchall()
    assert via_from_arrow == [(55,)]


def test_pandas_numpy_nullable(result: sqlarrow.QueryResult) -> None:
    df = result.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert str(df["id"].dtype) in ("Int32", "Int64")
    assert str(df["maybe"].dtype) in ("Int32", "Int64")
    assert df["maybe"].isna().sum() == 3
    assert str(df["even"].dtype) == "boolean"
    assert isinstance(df["name"].dtype, pd.StringDtype)
    assert str(df["f"].dtype) == "Float64"
    assert df["note"].isna().sum() == 2
    assert df["amount"].iloc[3] == Decimal("5.00")


def test_pandas_pyarrow_backend(result: sqlarrow.QueryResult) -> None:
    df = result.to_pandas(dtype_backend="pyarrow")
    for name in COLUMNS:
        assert isinstance(df[name].dtype, pd.ArrowDtype), name
    assert df["amount"].dtype.pyarrow_dtype == pa.decimal128(12, 2)
    assert df["maybe"].isna().sum() == 3


def test_pandas_bad_backend(result: sqlarrow.QueryResult) -> None:
    with pytest.raises(sqlarrow.ConfigError):
        result.to_pandas(dtype_backend="numpy")


def test_repr_html_escapes_and_limits(any_conn: tuple[sqlarrow.Connector, str]) -> None:
    conn, _ = any_conn
    if conn.engine == "postgres":
        r = conn.query("select g, '<b>&x</b>' as h from generate_series(1, 50) g")
    else:
        r = conn.query(
            "with recursive s(g) as (select 1 union all select g + 1 from s where g < 50) "
            "select g, '<b>&x</b>' as h from s"
        )
    html = r._repr_html_()
    assert "<b>&x</b>" not in html
    assert "&lt;b&gt;&amp;x&lt;/b&gt;" in html
    assert html.count("<tr>") == 21  # header + 20 rows
    assert "50" in html


def test_stream_iter_yields_record_batches(any_conn: tuple[sqlarrow.Connector, str]) -> None:
    conn, _ = any_conn
    sql = (
        "select g from generate_series(1, 7) g order by g"
        if conn.engine == "postgres"
        else "with recursive s(g) as (select 1 union all select g + 1 from s where g < 7) "
        "select g from s"
    )
    with conn.stream(sql, batch_size=2) as s:
        batches = list(s)
    assert [b.num_rows for b in batches] == [2, 2, 2, 1]
    assert isinstance(batches[0], pa.RecordBatch)
    with conn.stream(sql, batch_size=5) as s:
        df = pl.DataFrame(s)
    assert df["g"].to_list() == list(range(1, 8))


def test_uuid_and_json_handoff_pg(pg: sqlarrow.Connector) -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    r = pg.query(f"select '{u}'::uuid as u, '{{\"a\": 1}}'::jsonb as j")
    table = r.to_arrow()
    assert table.num_rows == 1
    # polars and duckdb must accept extension types (as their storage or natively)
    df = r.to_polars()
    assert df.height == 1
    assert duckdb.sql("select count(*) from r").fetchall() == [(1,)]


def test_polars_gets_intervals_as_durations_and_a_clear_error_for_the_rest(
    pg: sqlarrow.Connector,
) -> None:
    # polars has no interval type; importing one panicked (PanicException, which
    # `except Exception` does not catch).
    r = pg.query(
        "select '1 day 02:00:00.000005'::interval as iv, null::interval as n, "
        "array['-1 second'::interval, null] as ivs, 7 as x"
    )
    df = r.to_polars()
    assert df.schema["iv"] == pl.Duration("ns") and df.schema["x"] == pl.Int32
    assert df["iv"][0] == dt.timedelta(days=1, hours=2, microseconds=5)
    assert df["n"][0] is None
    assert df["ivs"][0].to_list() == [dt.timedelta(seconds=-1), None]
    # to_arrow keeps the interval type.
    assert str(r.to_arrow().schema.field("iv").type) == "month_day_nano_interval"
    with pytest.raises(sqlarrow.UnsupportedTypeError, match=r'column "m" .*1 month'):
        pg.query("select '1 month'::interval as m").to_polars()
    with pytest.raises(sqlarrow.UnsupportedTypeError, match=r'column "w" is decimal256'):
        pg.query("select 1.5::numeric(60, 2) as w").to_polars()


def test_lazy_imports() -> None:
    proc = run_python(
        """
        import sys
        import sqlarrow
        conn = sqlarrow.connect("sqlite://:memory:")
        r = conn.query("select 1 as x")
        r.to_pylist()
        repr(r)
        for mod in ("pyarrow", "pandas", "polars", "duckdb", "numpy"):
            assert mod not in sys.modules, mod
        print("lazy-ok")
        """
    )
    assert "lazy-ok" in proc.stdout


def test_debug_build_warning() -> None:
    proc = run_python(
        """
        import warnings
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            import sqlarrow
        debug = sqlarrow._core.DEBUG_BUILD
        hits = [w for w in caught if issubclass(w.category, sqlarrow.DebugBuildWarning)]
        assert issubclass(sqlarrow.DebugBuildWarning, UserWarning)
        assert bool(hits) == debug, (hits, debug)
        if hits:
            assert "debug build" in str(hits[0].message)
        print("warn-ok", debug)
        """,
        env={"SQLARROW_NO_DEBUG_WARNING": ""},
    )
    assert "warn-ok" in proc.stdout


def test_version_and_engines() -> None:
    assert isinstance(sqlarrow.__version__, str) and sqlarrow.__version__[0].isdigit()
    assert {"postgres", "sqlite"} <= set(sqlarrow.ENGINES)
    assert sys.modules["sqlarrow"] is sqlarrow


def test_repr_html_large_result(pg: sqlarrow.Connector) -> None:
    r = pg.query("select g, 'x' || g as s from generate_series(1, 5000) g order by g")
    html = r._repr_html_()
    assert html.count("<tr>") == 21
    assert "<td>20</td>" in html and "<td>21</td>" not in html
    assert "4980 more" in html


def test_polars_intervals_from_a_collected_stream(pg: sqlarrow.Connector) -> None:
    sql = "select make_interval(days => g) as iv from generate_series(1, 5) g"
    with pg.stream(sql, batch_size=2) as s:
        df = s.read_all().to_polars()
    assert df["iv"].to_list() == [dt.timedelta(days=d) for d in range(1, 6)]


def test_polars_null_columns_write(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """polars exports a Null-typed column with a buffer the C data interface does not
    have; the core refused the whole frame with a C Data interface error."""
    df = pl.DataFrame({"a": [1, 2], "n": pl.Series([None, None], dtype=pl.Null)})
    pg.execute(f'create table "{pg_schema}".pn (a int, n date)')
    assert pg.write(f'"{pg_schema}".pn', df).rows_written == 2
    assert pg.query(f'select * from "{pg_schema}".pn order by a').to_pylist() == [
        {"a": 1, "n": None},
        {"a": 2, "n": None},
    ]


def test_polars_128_bit_integers_write_as_decimal(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """polars exports Int128/UInt128 in a format of its own (`_pli128`) that the C data
    interface does not define: the write failed with "The datatype _pli128 is still not
    supported". They now write as DECIMAL(38, 0); a value past 38 digits is a DataError
    naming the column, and nothing lands."""
    t = f'"{pg_schema}".wide'
    df = pl.DataFrame(
        {
            "i": pl.Series([2**100, -(2**100), None], dtype=pl.Int128),
            "u": pl.Series([2**120, 0, 1], dtype=pl.UInt128),
            "n": [1, 2, 3],
        }
    )
    assert pg.write(t, df).rows_written == 3
    assert pg.get_schema("wide", pg_schema).columns[0].type == "DECIMAL(38,0)"
    assert pg.query(f"select i, u from {t} order by n").to_pylist() == [
        {"i": Decimal(2**100), "u": Decimal(2**120)},
        {"i": Decimal(-(2**100)), "u": Decimal(0)},
        {"i": None, "u": Decimal(1)},
    ]
    too_big = pl.DataFrame({"i": pl.Series([1, 2**127 - 1], dtype=pl.Int128), "n": [4, 5]})
    with pytest.raises(sqlarrow.DataError, match=r"'i': a 128-bit integer column .* 38 digits"):
        pg.write(t, too_big)
    assert pg.query(f"select count(*) as c from {t}").to_pylist() == [{"c": 3}]
