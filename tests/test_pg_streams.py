"""PostgreSQL streams read on the connection's own stream: the statement is prepared,
its DataRows decoded in blocks into batches of `batch_size` rows, and a reader that
falls behind holds the reading back (and with it the server). A stream closed before
its end has its statement cancelled and the rest of the answer read and dropped, so
the connection goes back to the pool: the next statement runs on the same backend.
The reference for values is a read over the server's Unix socket, whose connections
have no tapped stream (tokio-postgres, rows decoded one by one)."""

from __future__ import annotations

import gc
import time

import pyarrow as pa
import pytest

import sqlarrow
from conftest import run_in_threads, stream_table
from sqlarrow.exceptions import DataError, QueryTimeoutError
from test_pg_first_reads import WIDE, typed_table

BIG = "SELECT g, repeat('z', 40) AS pad FROM generate_series(1, 3000000) g"


def backend(conn: sqlarrow.Connector) -> int:
    return int(conn.query("SELECT pg_backend_pid() AS p").to_pylist()[0]["p"])


@pytest.mark.parametrize("batch_size", [1, 999, 65_536])
def test_a_stream_matches_the_reference(
    pg_url: str, pg_unix: sqlarrow.Connector, batch_size: int
) -> None:
    n = 3000 if batch_size == 1 else 70_000
    sql = WIDE.format(n=n)
    want = stream_table(pg_unix, sql)
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        with conn.stream(sql, batch_size=batch_size) as s:
            batches = list(s)
            assert pa.schema(s.schema) == want.schema
        assert [b.num_rows for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
        assert 0 < batches[-1].num_rows <= batch_size
        got = pa.Table.from_batches(batches)
        assert got.combine_chunks().equals(want.combine_chunks())
        # With parameters, and once more (the statement cached by the first run).
        sql_p = f"SELECT * FROM ({sql}) q WHERE id > $1"
        for _ in range(2):
            got = stream_table(conn, sql_p, [n // 2], batch_size=batch_size)
            assert got.combine_chunks().equals(want.slice(n // 2).combine_chunks())
        assert conn.pool_stats().created == 1


def test_database_types_in_a_stream(
    pg_url: str, pg_admin: sqlarrow.Connector, pg_schema: str, pg_unix: sqlarrow.Connector
) -> None:
    sql = f"SELECT * FROM {typed_table(pg_admin, pg_schema, 5000)} ORDER BY id"
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        got = stream_table(conn, sql, batch_size=700)
    assert got.combine_chunks().equals(stream_table(pg_unix, sql).combine_chunks())
    assert got.column("m").to_pylist()[:3] == ["ok", "happy", "sad"]


def test_a_stream_closed_early_keeps_its_connection(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        pid = backend(conn)
        for how in ("close", "context", "drop"):
            start = time.monotonic()
            if how == "close":
                s = conn.stream(BIG, batch_size=1000)
                assert next(iter(s)).num_rows == 1000
                s.close()
            elif how == "context":
                with conn.stream(BIG, batch_size=1000) as s:
                    for i, b in enumerate(s):
                        assert b.column(0)[0].as_py() == i * 1000 + 1
                        if i == 3:
                            break
            else:
                s = conn.stream(BIG, batch_size=1000)
                next(iter(s))
                del s
                gc.collect()
            # The statement was cancelled, not read to its end.
            assert time.monotonic() - start < 10, how
            assert backend(conn) == pid, how
        assert conn.pool_stats().created == 1
        assert conn.pool_stats().in_use == 0


def test_a_stream_closed_after_its_last_row_came(pg_url: str) -> None:
    """The whole answer is already in (a small result in several batches): closing the
    stream has nothing to cancel, and no cancel may reach the next statement."""
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        pid = backend(conn)
        for _ in range(5):
            with conn.stream("SELECT g FROM generate_series(1, 5000) g", batch_size=1000) as s:
                next(iter(s))
            time.sleep(0.05)
            out = conn.query("SELECT pg_sleep(0.2), 1 AS x").to_arrow()
            assert out.column("x").to_pylist() == [1]
        assert backend(conn) == pid
        assert conn.pool_stats().created == 1


def test_a_server_error_in_the_middle_of_a_stream(pg_url: str) -> None:
    sql = "SELECT g, 1 / (g - 250000) AS boom FROM generate_series(1, 300000) g"
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        pid = backend(conn)
        got = 0
        with (
            pytest.raises(DataError, match="division by zero"),
            conn.stream(sql, batch_size=10_000) as s,
        ):
            for b in s:
                got += b.num_rows
        # Every row before the failing one may arrive, never one after it.
        assert got < 250_000
        assert backend(conn) == pid
        assert conn.pool_stats().created == 1


def test_a_stream_that_times_out_in_the_middle(pg_url: str) -> None:
    """Rows come slowly (pg_sleep per row): the statement's timeout fires after the
    first batches were read, the statement is cancelled, the error reaches the reader,
    and the connection is kept."""
    sql = "SELECT g, pg_sleep(0.002) FROM generate_series(1, 100000) g"
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        pid = backend(conn)
        got = 0
        start = time.monotonic()
        with pytest.raises(QueryTimeoutError), conn.stream(sql, batch_size=50, timeout=1.0) as s:
            for b in s:
                got += b.num_rows
        assert got > 0
        assert time.monotonic() - start < 10
        assert backend(conn) == pid


def test_slow_readers_get_every_row_in_order(pg_url: str) -> None:
    """A reader slower than the server: the reading waits for it (a bounded channel), and
    nothing is lost or reordered while the server's sends back up."""
    sql = "SELECT g, md5(g::text) AS h FROM generate_series(1, 200000) g"
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        seen = 0
        with conn.stream(sql, batch_size=5000) as s:
            for i, b in enumerate(s):
                if i % 8 == 0:
                    time.sleep(0.05)
                assert b.column(0)[0].as_py() == seen + 1
                seen += b.num_rows
        assert seen == 200_000


def test_streams_from_many_threads_some_closed_early(pg_url: str) -> None:
    sql = "SELECT g, g * {k} AS m FROM generate_series(1, 40000) g"
    with sqlarrow.connect(pg_url, pool_size=3) as conn:

        def body(k: int) -> None:
            for i in range(6):
                if i % 2:
                    with conn.stream(BIG, batch_size=2000) as s:
                        next(iter(s))
                    continue
                t = stream_table(conn, sql.format(k=k), batch_size=3000)
                assert t.num_rows == 40_000
                assert t.column("m").to_pylist()[-1] == 40_000 * k

        run_in_threads(6, body)
        # A closed stream's connection comes back once its statement is cancelled and
        # the rest of the answer dropped, in the background.
        deadline = time.monotonic() + 10
        while conn.pool_stats().in_use and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = conn.pool_stats()
        assert stats.in_use == 0
        # Streams closed early gave their connections back instead of ending them.
        assert stats.created <= 3
