"""SQLite queries run on the calling thread (no hand-off to the async runtime) once the
pool holds an idle connection: every test warms the connector up with one query, so
the queries after it take that path. Results, errors, timeouts and Ctrl-C must behave
exactly as on the async path (which ``stream`` and the first query still use). Ctrl-C
on this path is tested in test_cancel_memory.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import sqlarrow

SLOW = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"


def _warm(conn: sqlarrow.Connector) -> None:
    assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]


def _make(path: Path) -> sqlarrow.Connector:
    conn = sqlarrow.SQLiteConnector(str(path), pool_size=4)
    conn.execute(
        "create table t (k integer primary key, name text, x real, b blob, d date, flag boolean)"
    )
    conn.executemany(
        "insert into t values (?, ?, ?, ?, ?, ?)",
        [
            (i, None if i % 7 == 0 else f"n{i}", i / 3, bytes([i % 256]), "2026-01-02", i % 2)
            for i in range(1, 5001)
        ],
    )
    return conn


def test_results_match_the_async_path(tmp_path: Path) -> None:
    conn = _make(tmp_path / "d.db")
    try:
        _warm(conn)
        sql = "select k, name, x, b, d, flag from t where k > ? order by k"
        direct = conn.query(sql, [10]).to_arrow()
        with conn.stream(sql, [10]) as s:
            streamed = [b for b in s]
        import pyarrow as pa

        assert direct.num_rows == 4990
        assert direct.schema == streamed[0].schema
        assert direct.equals(pa.Table.from_batches(streamed))
        # Batches keep their size (through the compiled core, which takes batch_size).
        raw = conn._raw.query(sql, [10], batch_size=1000)  # type: ignore[attr-defined]
        assert raw.num_rows == 4990 and raw.num_batches == 5
        # An empty result still has its schema.
        empty = conn.query("select k, name from t where k < 0").to_arrow()
        assert empty.num_rows == 0 and empty.schema.names == ["k", "name"]
    finally:
        conn.close()


def test_errors_are_typed_and_the_connection_survives(tmp_path: Path) -> None:
    conn = _make(tmp_path / "e.db")
    try:
        _warm(conn)
        with pytest.raises(sqlarrow.QueryError, match="no such table"):
            conn.query("select * from missing")
        with pytest.raises(sqlarrow.ParameterError):
            conn.query("select * from t where k = ?", [1, 2])
        assert conn.query("select count(*) as n from t").to_pylist() == [{"n": 5000}]
    finally:
        conn.close()
    with pytest.raises(sqlarrow.InterfaceError):
        conn.query("select 1")


def test_read_only_is_enforced(tmp_path: Path) -> None:
    _make(tmp_path / "r.db").close()
    conn = sqlarrow.SQLiteConnector(str(tmp_path / "r.db"), read_only=True)
    try:
        _warm(conn)
        with pytest.raises(sqlarrow.ReadOnlyViolation):
            conn.query("delete from t returning k")
        assert conn.query("select count(*) as n from t").to_pylist() == [{"n": 5000}]
    finally:
        conn.close()


def test_timeouts_interrupt_the_statement() -> None:
    with sqlarrow.SQLiteConnector(":memory:", statement_timeout=0.3) as conn:
        _warm(conn)
        start = time.monotonic()
        with pytest.raises(sqlarrow.QueryTimeoutError, match="timeout"):
            conn.query(SLOW)
        assert time.monotonic() - start < 5
        assert conn.query("select 2 as two").to_pylist() == [{"two": 2}]
        # A per-call timeout overrides the connector's.
        with pytest.raises(sqlarrow.QueryTimeoutError, match=r"0\.100"):
            conn.query(SLOW, timeout=0.1)
        assert conn.query("select 3 as three").to_pylist() == [{"three": 3}]


def test_many_threads_share_the_pool(tmp_path: Path) -> None:
    conn = _make(tmp_path / "m.db")
    errors: list[BaseException] = []
    try:
        _warm(conn)

        def work(seed: int) -> None:
            try:
                for i in range(50):
                    k = (seed * 50 + i) % 5000 + 1
                    rows = conn.query("select k, x from t where k = ?", [k]).to_pylist()
                    assert rows == [{"k": k, "x": k / 3}]
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert not errors, errors
        assert conn.pool_stats().created <= 4
    finally:
        conn.close()
