"""Reads of prepared statements, decoded from the connection's own stream (the raw
DataRow path): a query text seen before, or any query with parameters. The first run
of a parameterless text is unprepared (Parse, Bind, Describe, Execute in one round
trip; tests/test_pg_first_reads.py), so running a text twice compares both requests."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

import sqlarrow
from conftest import run_in_threads
from sqlarrow.exceptions import DataError, QueryTimeoutError, UndefinedObjectError

WIDE = """
SELECT g AS id,
       CASE WHEN g % 5 = 0 THEN NULL ELSE g * 3 END AS maybe_int,
       round(g::numeric / 7, 6) AS num,
       'text-' || g AS t,
       repeat('x', g % 300) AS long_t,
       (g % 2 = 0) AS b,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' AS ts,
       date '2020-01-01' + g AS d,
       md5(g::text)::uuid AS u,
       jsonb_build_object('k', g) AS j,
       ARRAY[g, g + 1] AS arr,
       make_interval(secs => g) AS iv,
       decode(lpad(to_hex(g), 8, '0'), 'hex') AS bytes
FROM generate_series(1, 20000) g
"""


def _one(conn: sqlarrow.Connector, sql: str, params: list[object] | None = None) -> pa.Table:
    return conn.query(sql, params).to_arrow() if params else conn.query(sql).to_arrow()


def test_a_repeated_read_decodes_exactly_like_the_first(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        first = _one(conn, WIDE)
        for _ in range(3):
            again = _one(conn, WIDE)
            assert again.schema == first.schema
            assert again.equals(first)
        # Parameters are bound in the raw Bind message; NULL and text-format ones too.
        p = conn.query(
            "SELECT $1::int AS a, $2::text AS b, $3::numeric AS c, $4::int AS n, "
            "$5::date AS d FROM generate_series(1, 3)",
            [7, "hé", "12.50", None, "2024-02-29"],
        ).to_pylist()
        assert [r["a"] for r in p] == [7, 7, 7] and p[0]["b"] == "hé"
        assert float(p[0]["c"]) == 12.5 and p[0]["n"] is None
        assert str(p[0]["d"]) == "2024-02-29"
        assert conn.query("SELECT $1::bigint AS x", [2**40]).to_pylist() == [{"x": 2**40}]


def test_an_error_in_the_middle_of_a_prepared_read_leaves_the_connection_usable(
    pg_url: str,
) -> None:
    sql = "SELECT g, 1 / (g - $1) AS x FROM generate_series(1, 50000) g"
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        assert conn.query(sql, [0]).num_rows == 50000
        for _ in range(3):
            with pytest.raises(DataError, match="division by zero"):
                conn.query(sql, [40000])
            assert conn.query(sql, [0]).num_rows == 50000
        assert conn.pool_stats().created == 1


def test_a_timeout_in_the_middle_of_a_prepared_read(pg_url: str) -> None:
    sql = (
        "SELECT g, pg_sleep(CASE WHEN g = $1 THEN 30 ELSE 0 END) AS s "
        "FROM generate_series(1, 20000) g"
    )
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        assert conn.query(sql, [0]).num_rows == 20000
        start = time.monotonic()
        with pytest.raises(QueryTimeoutError):
            conn.query(sql, [15000], timeout=0.5)
        assert time.monotonic() - start < 20
        assert conn.query(sql, [0]).num_rows == 20000
        assert conn.query("SELECT 1 AS x").to_pylist() == [{"x": 1}]


def test_a_table_changed_under_a_cached_statement(pg_url: str, pg_schema: str) -> None:
    t = f'"{pg_schema}".changing'
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        conn.execute(f"CREATE TABLE {t} (a int, b text)")
        conn.execute(f"INSERT INTO {t} VALUES (1, 'x'), (2, NULL)")
        sql = f"SELECT * FROM {t} ORDER BY a"
        assert conn.query(sql).num_rows == 2
        assert conn.query(sql).to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
        conn.execute(f"ALTER TABLE {t} ALTER COLUMN a TYPE bigint, ADD COLUMN c bool")
        got = conn.query(sql).to_arrow()
        assert got.schema.field("a").type == pa.int64()
        assert got.column_names == ["a", "b", "c"]
        conn.execute(f"DROP TABLE {t}")
        with pytest.raises(UndefinedObjectError):
            conn.query(sql)


def test_a_table_changed_under_a_cached_statement_inside_transactions(
    pg_url: str, pg_schema: str
) -> None:
    """Inside a transaction a stale cached statement cannot be prepared again: the
    server's refusal ("cached plan must not change result type") aborts it. Before, a
    statement prepared before an ALTER TABLE failed every later transaction on that
    connection, and one the transaction's own DDL had changed failed the rest of it."""
    t = f'"{pg_schema}".changing_tx'
    sql = f"SELECT * FROM {t} ORDER BY a"
    with sqlarrow.connect(pg_url, pool_size=2) as conn, sqlarrow.connect(pg_url) as other:
        conn.execute(f"CREATE TABLE {t} (a int)")
        conn.execute(f"INSERT INTO {t} VALUES (1)")

        def cache_on_both_connections() -> None:
            with conn.transaction() as t1, conn.transaction() as t2:
                for tx in (t1, t2):
                    for _ in range(3):
                        assert tx.query(sql).column_names == ["a"]

        cache_on_both_connections()
        # The transaction's own DDL: the statements prepared before it are dropped.
        with conn.transaction() as tx:
            assert tx.query(sql).column_names == ["a"]
            tx.execute(f"ALTER TABLE {t} ADD COLUMN b int")
            assert tx.query(sql).column_names == ["a", "b"]
            tx.rollback()
        # The rollback undid the ALTER that the last statements were prepared against.
        cache_on_both_connections()
        with conn.transaction() as tx:
            with pytest.raises(ZeroDivisionError), tx.savepoint():
                tx.execute(f"ALTER TABLE {t} ADD COLUMN b int")
                assert tx.query(sql).column_names == ["a", "b"]
                assert tx.query(sql).column_names == ["a", "b"]
                _ = 1 / 0
            assert tx.query(sql).column_names == ["a"]
        # DDL run through the connector, outside a transaction, reaches every connection.
        cache_on_both_connections()
        conn.execute(f"ALTER TABLE {t} ADD COLUMN b int")
        with conn.transaction() as t1, conn.transaction() as t2:
            assert t1.query(sql).column_names == ["a", "b"]
            assert t2.query(sql).column_names == ["a", "b"]
        # Another session's DDL: the server's refusal aborts the first transaction that
        # meets it, which says so; every connection then prepares afresh.
        other.execute(f"ALTER TABLE {t} ADD COLUMN c int")
        failed = 0
        for _ in range(3):
            try:
                with conn.transaction() as t1, conn.transaction() as t2:
                    assert t1.query(sql).column_names == ["a", "b", "c"]
                    assert t2.query(sql).column_names == ["a", "b", "c"]
            except sqlarrow.QueryError as e:
                assert "run the transaction again" in str(e)
                failed += 1
        assert failed <= 1
        with conn.transaction() as tx:
            assert tx.execute(f"UPDATE {t} SET c = $1", [5]) == 1
            assert tx.query(sql, timeout=5).to_pylist() == [{"a": 1, "b": None, "c": 5}]
        assert conn.query(sql).column_names == ["a", "b", "c"]


def test_a_stream_of_a_table_changed_under_its_cached_statement(
    pg_url: str, pg_schema: str
) -> None:
    """A stream hands its schema to the reader before the statement runs, so a stale
    cached statement could not be prepared again: after another session's ALTER TABLE
    the stream failed with "cached plan must not change result type", outside a
    transaction as inside one."""
    t = f'"{pg_schema}".changing_stream'
    sql = f"SELECT * FROM {t}"
    with sqlarrow.connect(pg_url, pool_size=1) as conn, sqlarrow.connect(pg_url) as other:
        conn.execute(f"CREATE TABLE {t} (a int)")
        conn.execute(f"INSERT INTO {t} SELECT generate_series(1, 1000)")
        for _ in range(3):
            assert conn.stream(sql, batch_size=100).read_all().column_names == ["a"]
            assert conn.query(sql).column_names == ["a"]
        other.execute(f"ALTER TABLE {t} ADD COLUMN b text")
        got = conn.stream(sql, batch_size=100).read_all()
        assert (got.num_rows, got.column_names) == (1000, ["a", "b"])
        other.execute(f"ALTER TABLE {t} ADD COLUMN c text")
        with conn.transaction() as tx:
            assert tx.stream(sql, batch_size=100).read_all().column_names == ["a", "b", "c"]
            assert tx.query(sql).column_names == ["a", "b", "c"]


def test_streams_dropped_early_never_confuse_the_next_read(pg_url: str) -> None:
    # The server is still sending the dropped stream's rows when the connection goes
    # back to the pool: the next read must not start until that answer has ended.
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        sql = "SELECT g AS v FROM generate_series(1, $1::int) g"
        assert conn.query(sql, [3]).num_rows == 3
        for n in range(20):
            s = conn.stream("SELECT g FROM generate_series(1, 2000000) g", batch_size=500)
            next(iter(s))
            s.close()
            got = conn.query(sql, [n + 1]).to_arrow().column("v").to_pylist()
            assert got == list(range(1, n + 2))


def test_prepared_reads_from_many_threads(pg_url: str) -> None:
    sql = "SELECT g, g * $1 AS m, repeat('y', g % 50) AS s FROM generate_series(1, 3000) g"
    with sqlarrow.connect(pg_url, pool_size=4) as conn:
        want = {k: conn.query(sql, [k]).to_arrow() for k in range(8)}

        def body(k: int) -> None:
            for i in range(25):
                got = conn.query(sql, [(k + i) % 8]).to_arrow()
                assert got.equals(want[(k + i) % 8])

        run_in_threads(6, body)
