"""First reads of a parameterless query text, read on the connection's own stream:
Parse, Bind, Describe and Execute of the unnamed statement in one round trip, the
schema taken from the RowDescription and the DataRows decoded in blocks. The independent
reference is the same text read over PostgreSQL's Unix socket, whose connections have no
tapped stream: tokio-postgres reads those rows and they are decoded one by one.
Every read here uses a text its connection has not run before (a distinct comment),
unless the test says otherwise."""

from __future__ import annotations

import itertools
import time

import pyarrow as pa
import pytest

import sqlarrow
from conftest import run_in_threads, stream_table
from sqlarrow.exceptions import (
    DataError,
    ParameterError,
    QueryTimeoutError,
    SqlArrowError,
    SqlSyntaxError,
    UndefinedObjectError,
    UnsupportedTypeError,
)

_n = itertools.count()

WIDE = """
SELECT g AS id,
       CASE WHEN g % 5 = 0 THEN NULL ELSE g * 3 END AS maybe_int,
       (g % 7)::int2 AS small,
       g::float4 / 3 AS f4,
       g::float8 / 3 AS f8,
       round(g::numeric / 7, 6) AS num,
       'text-' || g AS t,
       repeat('x', g % 300) AS long_t,
       (g % 2 = 0) AS b,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' AS ts,
       timestamp '2024-01-01 00:00:00' + g * interval '1 second' AS ts_naive,
       date '2020-01-01' + g AS d,
       time '00:00' + g * interval '1 second' AS tm,
       md5(g::text)::uuid AS u,
       jsonb_build_object('k', g) AS j,
       ARRAY[g, g + 1] AS arr,
       make_interval(secs => g) AS iv,
       decode(lpad(to_hex(g), 8, '0'), 'hex') AS bytes
FROM generate_series(1, {n}) g
"""


def fresh(sql: str) -> str:
    """`sql` with a comment that makes its text new to every connection."""
    return f"/* first read {next(_n)} {time.monotonic_ns()} */ {sql}"


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 70_000])
def test_a_first_read_matches_the_reference_and_the_prepared_read(
    pg_url: str, pg_unix: sqlarrow.Connector, n: int
) -> None:
    sql = WIDE.format(n=n)
    want = stream_table(pg_unix, sql)
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        first = conn.query(fresh(sql)).to_arrow()
        assert first.schema == want.schema
        assert first.num_rows == n
        assert first.combine_chunks().equals(want.combine_chunks())
        # A stream of the text (prepared, read on the connection's own stream).
        assert stream_table(conn, sql).combine_chunks().equals(want.combine_chunks())
        # The same text twice: the second run is prepared and cached.
        again_sql = fresh(sql)
        conn.query(again_sql)
        again = conn.query(again_sql).to_arrow()
        assert again.combine_chunks().equals(first.combine_chunks())
        assert conn.pool_stats().created == 1


def test_first_reads_respect_the_batch_size(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        raw = conn._raw.query(fresh(WIDE.format(n=1000)), None, batch_size=300)
        assert raw.num_rows == 1000
        assert raw.num_batches == 4


def typed_table(admin: sqlarrow.Connector, schema: str, rows: int) -> str:
    """A table of `rows` rows in `schema` whose columns have types of the database: an
    enum (`m`: ok, happy, sad, ok, ...), a domain over int (`p` = id) and text (`x`,
    NULL every fourth row). Returns its qualified name."""
    s = f'"{schema}"'
    admin.execute(f"CREATE TYPE {s}.mood AS ENUM ('sad', 'ok', 'happy')")
    admin.execute(f"CREATE DOMAIN {s}.positive AS int CHECK (VALUE > 0)")
    admin.execute(f"CREATE TABLE {s}.t (id int, m {s}.mood, p {s}.positive, x text)")
    admin.execute(
        f"INSERT INTO {s}.t SELECT g, (ARRAY['sad','ok','happy'])[g % 3 + 1]::{s}.mood, "
        f"g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'v' || g END FROM generate_series(1, {rows}) g"
    )
    return f"{s}.t"


def test_types_of_the_database_are_looked_up_after_the_rows(
    pg_url: str, pg_admin: sqlarrow.Connector, pg_schema: str, pg_unix: sqlarrow.Connector
) -> None:
    t = typed_table(pg_admin, pg_schema, 3000)
    sql = f"SELECT * FROM {t} ORDER BY id"
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        first = conn.query(fresh(sql)).to_arrow()
        want = stream_table(pg_unix, sql)
        assert first.schema == want.schema
        assert first.combine_chunks().equals(want.combine_chunks())
        assert stream_table(conn, sql).combine_chunks().equals(want.combine_chunks())
        rows = first.slice(0, 4).to_pylist()
        assert [r["m"] for r in rows] == ["ok", "happy", "sad", "ok"]
        assert [r["p"] for r in rows] == [1, 2, 3, 4]
        assert [r["x"] for r in rows] == ["v1", "v2", "v3", None]
        empty = conn.query(fresh(f"SELECT m FROM {t} WHERE false")).to_arrow()
        assert empty.num_rows == 0 and empty.schema.names == ["m"]
        assert conn.pool_stats().created == 1


def test_an_empty_first_read_keeps_its_schema(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        t = conn.query(
            fresh("SELECT 1::int4 AS a, 'x'::text AS b, 1.5::numeric(10, 2) AS c WHERE false")
        ).to_arrow()
        assert t.num_rows == 0
        assert t.schema.names == ["a", "b", "c"]
        assert t.schema.field("a").type == pa.int32()
        assert t.schema.field("c").type == pa.decimal128(10, 2)


def test_a_first_read_that_returns_no_rows_at_all(
    pg_url: str, pg_admin: sqlarrow.Connector, pg_schema: str
) -> None:
    pg_admin.execute(f'CREATE TABLE "{pg_schema}".t (a int)')
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        # Starts like a query, but its main statement has no RETURNING: NoData.
        r = conn.query(
            fresh(f'WITH v AS (SELECT 7 AS a) INSERT INTO "{pg_schema}".t SELECT a FROM v')
        )
        assert r.num_rows == 0 and r.column_names == []
        assert conn.query(f'SELECT a FROM "{pg_schema}".t').to_pylist() == [{"a": 7}]
        assert conn.pool_stats().created == 1


def test_errors_of_first_reads_leave_the_connection_usable(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        for _ in range(3):
            with pytest.raises(SqlSyntaxError):
                conn.query(fresh("SELEC 1"))
            with pytest.raises(UndefinedObjectError):
                conn.query(fresh("SELECT * FROM no_such_table_anywhere"))
            # In the middle of the rows, after many have been decoded.
            with pytest.raises(DataError, match="division by zero"):
                conn.query(fresh("SELECT g, 1 / (g - 40000) AS x FROM generate_series(1, 50000) g"))
            with pytest.raises(SqlArrowError, match="multiple commands"):
                conn.query(fresh("SELECT 1; SELECT 2"))
            assert conn.query(fresh("SELECT 41 + 1 AS x")).to_pylist() == [{"x": 42}]
        assert conn.pool_stats().created == 1


def test_a_nul_character_in_a_first_read_is_a_typed_error(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        with pytest.raises((ParameterError, DataError)):
            conn.query(fresh("SELECT 'a\x00b' AS x"))
        assert conn.query(fresh("SELECT 1 AS x")).to_pylist() == [{"x": 1}]


def test_an_unsupported_type_in_a_large_first_read_fails_fast(pg_url: str) -> None:
    sql = "SELECT g, '=r/postgres'::aclitem AS p FROM generate_series(1, 3000000) g"
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        start = time.monotonic()
        with pytest.raises(UnsupportedTypeError, match="p"):
            conn.query(fresh(sql))
        # The server is not left sending three million rows to a reader that stopped.
        assert time.monotonic() - start < 30
        assert conn.query(fresh("SELECT 2 AS x")).to_pylist() == [{"x": 2}]
        # Cast, it reads.
        t = conn.query(fresh("SELECT '=r/postgres'::aclitem::text AS p")).to_pylist()
        assert t == [{"p": "=r/postgres"}]


def test_a_timeout_in_the_middle_of_a_first_read(pg_url: str) -> None:
    sql = (
        "SELECT g, pg_sleep(CASE WHEN g = 15000 THEN 30 ELSE 0 END) AS s "
        "FROM generate_series(1, 20000) g"
    )
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        start = time.monotonic()
        with pytest.raises(QueryTimeoutError):
            conn.query(fresh(sql), timeout=0.5)
        assert time.monotonic() - start < 20
        assert conn.query(fresh("SELECT 3 AS x")).to_pylist() == [{"x": 3}]


def test_first_reads_from_many_threads(pg_url: str, pg_unix: sqlarrow.Connector) -> None:
    sql = "SELECT g, g * {k} AS m, repeat('y', g % 50) AS s FROM generate_series(1, 3000) g"
    want = {k: stream_table(pg_unix, sql.format(k=k)) for k in range(8)}
    with sqlarrow.connect(pg_url, pool_size=4) as conn:

        def body(k: int) -> None:
            for i in range(25):
                j = (k + i) % 8
                got = conn.query(fresh(sql.format(k=j))).to_arrow()
                assert got.combine_chunks().equals(want[j].combine_chunks())

        run_in_threads(6, body)


def test_a_value_arrow_cannot_hold_fails_the_first_read_and_the_next_one_works(
    pg_url: str,
) -> None:
    # The reader stops in the middle of the answer, so the connection is replaced.
    sql = (
        "SELECT g, CASE WHEN g = 9000 THEN 'infinity'::date ELSE date '2024-01-01' END AS d "
        "FROM generate_series(1, 10000) g"
    )
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        for _ in range(2):
            with pytest.raises(DataError, match="infinite date"):
                conn.query(fresh(sql))
            with pytest.raises(DataError, match="NaN"):
                conn.query(fresh("SELECT 'NaN'::numeric(10, 2) AS x"))
            assert conn.query(fresh("SELECT 5 AS x")).to_pylist() == [{"x": 5}]
