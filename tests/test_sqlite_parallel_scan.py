"""Automatic parallel scans of large SQLite tables: the same rows in the same (rowid)
order as one connection, taken only where the readers can share one snapshot, and
every connection back in autocommit afterwards. Each test uses its own database file.

Whether a read was split shows in ``pool_stats().created``: a split read opens more
than one connection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import sqlarrow

SPAN = 1_000  # rowid step: 3,000 rows span 3M rowids, above the 1M-rowid threshold
ROWS = 3_000


def _make(path: Path, *, wal: bool = False, extra: str = "") -> None:
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE t (k INTEGER, name TEXT, x REAL, b BLOB{extra})")
    db.executemany(
        "INSERT INTO t (rowid, k, name, x, b) VALUES (?, ?, ?, ?, ?)",
        [
            (i * SPAN, i, None if i % 11 == 0 else f"n{i}", i / 7, bytes([i % 256]))
            for i in range(1, ROWS + 1)
        ],
    )
    db.commit()
    db.close()


def _read(path: Path, sql: str, **kw: object) -> tuple[list[dict[str, object]], int]:
    conn = sqlarrow.SQLiteConnector(str(path), pool_size=kw.pop("pool_size", 4), **kw)  # type: ignore[arg-type]
    try:
        rows = conn.query(sql).to_pylist()
        return rows, conn.pool_stats().created
    finally:
        conn.close()


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
def test_split_read_equals_one_connection(tmp_path: Path, wal: bool) -> None:
    path = tmp_path / "s.db"
    _make(path, wal=wal)
    split, created = _read(path, "SELECT k, name, x, b FROM t;")
    single, one = _read(path, "SELECT k, name, x, b FROM t", pool_size=1)
    assert one == 1
    assert created >= (3 if wal else 2), "the read was not split"
    assert split == single
    assert [r["k"] for r in split] == list(range(1, ROWS + 1))
    # Every connection went back to the pool out of its read transaction: a write
    # through a fresh connection succeeds at once.
    db = sqlite3.connect(path, timeout=0.1)
    db.execute("INSERT INTO t (k) VALUES (-1)")
    db.commit()
    db.close()


def test_read_only_connector_splits_only_without_wal(tmp_path: Path) -> None:
    plain, wal = tmp_path / "p.db", tmp_path / "w.db"
    _make(plain)
    _make(wal, wal=True)
    rows, created = _read(plain, "SELECT k FROM t", read_only=True)
    assert len(rows) == ROWS and created >= 2
    rows, created = _read(wal, "SELECT k FROM t", read_only=True)
    assert len(rows) == ROWS and created == 1


@pytest.mark.parametrize(
    ("setup", "sql"),
    [
        ("", "SELECT k FROM t WHERE k > 10"),  # filtered
        ("", "SELECT k FROM t ORDER BY k"),
        ("", "SELECT count(*) FROM t"),
        ("", "SELECT upper(name) FROM t"),
        ("CREATE VIEW v AS SELECT * FROM t", "SELECT k FROM v"),
        (
            "CREATE TABLE w (k INTEGER PRIMARY KEY, name TEXT) WITHOUT ROWID; "
            "INSERT INTO w SELECT rowid, name FROM t",
            "SELECT k, name FROM w",
        ),
        (
            "CREATE TABLE r (rowid TEXT, k INTEGER); INSERT INTO r SELECT 'x', k FROM t",
            "SELECT k FROM r",
        ),
        (
            "CREATE TABLE u (k, name); INSERT INTO u (rowid, k, name) SELECT rowid, k, name FROM t",
            "SELECT k, name FROM u",
        ),  # undeclared column types
        (
            "CREATE TABLE small (k INTEGER); INSERT INTO small SELECT k FROM t",
            "SELECT k FROM small",
        ),  # rowids 1..3000: below the threshold
    ],
)
def test_not_split(tmp_path: Path, setup: str, sql: str) -> None:
    path = tmp_path / "n.db"
    _make(path)
    if setup:
        db = sqlite3.connect(path)
        db.executescript(setup)
        db.commit()
        db.close()
    rows, created = _read(path, sql)
    assert created == 1, sql
    single, _ = _read(path, sql, pool_size=1)
    assert rows == single


def test_busy_writer_lock_falls_back_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    _make(path, wal=True)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t (k) VALUES (-5)")
    try:
        rows, _ = _read(path, "SELECT k FROM t")
        # The uncommitted row is invisible; the read did not wait for the writer.
        assert len(rows) == ROWS
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_timeout_leaves_no_transaction_open(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (k INTEGER, s TEXT)")
    db.execute(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000) "
        "INSERT INTO t SELECT x, printf('%08d-some-text', x) FROM c"
    )
    db.commit()
    db.close()
    conn = sqlarrow.SQLiteConnector(str(path), pool_size=4)
    try:
        with pytest.raises((sqlarrow.QueryTimeoutError, sqlarrow.QueryCancelledError)):
            conn.query("SELECT k, s, s AS s2, s AS s3 FROM t", timeout=0.05)
        # Writers are not blocked by a reader left inside a transaction.
        assert conn.execute("INSERT INTO t VALUES (0, 'after')") == 1
        assert conn.query("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 1_500_001}]
    finally:
        conn.close()


def test_bundled_sqlite_keeps_a_page_cache_per_connection(tmp_path: Path) -> None:
    """The bundled SQLite is built so that pooled connections do not serialize on
    global mutexes (.cargo/config.toml: no SQLITE_ENABLE_MEMORY_MANAGEMENT, which
    shares one page cache between all connections, and no memory statistics, which
    lock on every allocation); parallel scans and threaded small queries rely on it."""
    conn = sqlarrow.connect(f"sqlite:///{tmp_path / 'opts.db'}")
    try:
        opts = {r["compile_options"] for r in conn.query("PRAGMA compile_options").to_pylist()}
    finally:
        conn.close()
    assert "ENABLE_MEMORY_MANAGEMENT" not in opts
    assert "DEFAULT_MEMSTATUS=0" in opts
