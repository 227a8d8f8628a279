"""Automatic parallel scans of large InnoDB tables on MySQL/MariaDB: the same rows in
the same (primary-key) order as one connection, all ranges from one snapshot (taken
under a brief ``LOCK TABLES ... READ``), never a lock or an open transaction left
behind, and one connection whenever a table or query does not qualify.

``scan_min_rows=0`` lets small tables split. Whether a read was split shows in the
server's count of rows read through an index (see ``_read``). Each test works in its
own database, dropped after."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import sqlarrow
from conftest import mysql_global_status
from sqlarrow._mysql import MySQLConnector

HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))
ROOT_USER = os.environ.get("SQLARROW_MYSQL_USER", "root")
ROOT_PASSWORD = os.environ.get("SQLARROW_MYSQL_PASSWORD") or None


def _connector(database: str | None = None, **kw: Any) -> MySQLConnector:
    kw.setdefault("user", ROOT_USER)
    kw.setdefault("password", ROOT_PASSWORD)
    kw.setdefault("ssl_mode", "disabled")
    kw.setdefault("port", PORT)
    return MySQLConnector(HOST, database=database, **kw)


@pytest.fixture(scope="module")
def my_admin() -> Iterator[MySQLConnector]:
    conn = _connector(pool_size=2)
    if not conn.test_connection().ok:
        pytest.fail(f"MariaDB/MySQL is not reachable at {HOST}:{PORT}", pytrace=False)
    yield conn
    conn.close()


ROWS = 3_000


@pytest.fixture
def db(my_admin: MySQLConnector) -> Iterator[str]:
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    my_admin.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        my_admin.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _make(
    db: str,
    ddl: str = "k BIGINT PRIMARY KEY, name VARCHAR(20), x DOUBLE",
    *,
    engine: str = "InnoDB",
    keys: Any = None,
    nulls: bool = True,
) -> None:
    conn = _connector(db)
    try:
        conn.execute(f"CREATE TABLE t ({ddl}) ENGINE={engine}")
        keys = list(keys) if keys is not None else [i * 7 - 9000 for i in range(ROWS)]
        conn.executemany(
            "INSERT INTO t (k, name, x) VALUES (?, ?, ?)",
            [(k, None if nulls and i % 11 == 0 else f"n{i}", i / 7) for i, k in enumerate(keys)],
        )
        conn.execute("ANALYZE TABLE t")
    finally:
        conn.close()


def _index_rows(admin: MySQLConnector) -> int:
    """Rows the server has read by walking an index (``Handler_read_next``). Queries
    checked with it select more than the key (a key-only select walks the index even
    on one connection)."""
    return mysql_global_status(admin, "Handler_read_next")


def _read(db: str, sql: str, **kw: Any) -> tuple[list[dict[str, Any]], bool]:
    """The rows of `sql` and whether the read was split. A split read walks primary-key
    ranges (``Handler_read_next`` per row); a plain read of the same table scans it
    (``Handler_read_rnd_next``). The tests run one at a time, so the server-wide
    counter is theirs."""
    kw.setdefault("scan_min_rows", 0)
    kw.setdefault("scan_workers", 3)
    conn = _connector(db, pool_size=kw.pop("pool_size", 4), **kw)
    admin = _connector(scan_workers=1)
    try:
        before = _index_rows(admin)
        rows = conn.query(sql).to_pylist()
        walked = _index_rows(admin) - before
        return rows, walked >= len(rows) // 2 > 0
    finally:
        conn.close()
        admin.close()


def _no_lock_left(db: str) -> None:
    """A write from a new session goes through at once: no table lock, no open
    transaction holding the table."""
    conn = _connector(db)
    try:
        conn.execute("SET SESSION lock_wait_timeout = 1")
        with conn.transaction() as tx:
            tx.execute("SET SESSION innodb_lock_wait_timeout = 1")
            tx.execute("UPDATE t SET x = x WHERE k = (SELECT m FROM (SELECT MIN(k) m FROM t) s)")
    finally:
        conn.close()


def test_split_read_equals_one_connection(db: str) -> None:
    _make(db)
    split, was_split = _read(db, "SELECT k, name, x FROM t;")
    single, one = _read(db, "SELECT k, name, x FROM t", scan_workers=1)
    assert not one
    assert was_split, "the read was not split"
    assert split == single
    assert [r["k"] for r in split] == [i * 7 - 9000 for i in range(ROWS)]
    _no_lock_left(db)


def test_split_reads_keep_working_on_one_connector(db: str) -> None:
    _make(db)
    conn = _connector(db, pool_size=3, scan_workers=2, scan_min_rows=0)
    try:
        first = conn.query("SELECT * FROM t").to_pylist()
        for _ in range(5):
            assert conn.query("SELECT * FROM t").to_pylist() == first
        # The pool did not grow per read: the helper and readers were reused.
        assert conn.pool_stats().created <= 4
        assert conn.query("SELECT COUNT(*) AS n FROM t").to_pylist() == [{"n": ROWS}]
    finally:
        conn.close()
    _no_lock_left(db)


@pytest.mark.parametrize(
    ("ddl", "keys"),
    [
        # Unsigned keys above the signed 64-bit range.
        (
            "k BIGINT UNSIGNED PRIMARY KEY, name TEXT, x DOUBLE",
            [2**64 - 1 - i * 1_000_003 for i in reversed(range(ROWS))],
        ),
        # A composite key split on its first (integer) column, duplicates included.
        (
            "k INT NOT NULL, name VARCHAR(20) NOT NULL DEFAULT '', x DOUBLE, PRIMARY KEY (k, name)",
            [i // 3 for i in range(ROWS)],
        ),
        # A narrow key type with a small span.
        ("k SMALLINT PRIMARY KEY, name TEXT, x DOUBLE", list(range(-1500, 1500))),
    ],
    ids=["bigint-unsigned", "composite", "smallint"],
)
def test_key_types(db: str, ddl: str, keys: list[int]) -> None:
    _make(db, ddl, keys=keys, nulls="PRIMARY KEY (" not in ddl)
    split, was_split = _read(db, "SELECT k, name, x FROM t")
    single, _ = _read(db, "SELECT k, name, x FROM t", scan_workers=1)
    assert was_split
    assert sorted(r["k"] for r in split) == sorted(keys)
    assert split == single


def test_aliases_qualified_names_and_backquotes(db: str) -> None:
    _make(db)
    single, _ = _read(db, f"SELECT k, x FROM `{db}`.t", scan_workers=1)
    for sql in (
        f"SELECT s.k, s.x FROM `{db}`.`t` AS s",
        "SELECT `k`, x FROM `t` s",
        "select k, x from t",
    ):
        rows, was_split = _read(db, sql)
        assert was_split, sql
        assert rows == single, sql


@pytest.mark.parametrize(
    ("ddl", "engine", "sql"),
    [
        ("k BIGINT, name TEXT, x DOUBLE", "InnoDB", "SELECT * FROM t"),  # no key
        ("k BIGINT, name VARCHAR(20) PRIMARY KEY, x DOUBLE", "InnoDB", "SELECT * FROM t"),
        ("k BIGINT PRIMARY KEY, name TEXT, x DOUBLE", "MyISAM", "SELECT * FROM t"),
        ("k BIGINT PRIMARY KEY, name TEXT, x DOUBLE", "InnoDB", "SELECT * FROM v"),
        ("k BIGINT PRIMARY KEY, name TEXT, x DOUBLE", "InnoDB", "SELECT * FROM t WHERE x > 0"),
        ("k BIGINT PRIMARY KEY, name TEXT, x DOUBLE", "InnoDB", "SELECT * FROM t ORDER BY x"),
        ("k BIGINT PRIMARY KEY, name TEXT, x DOUBLE", "InnoDB", "SELECT * FROM t LIMIT 5000"),
        ("k BIGINT PRIMARY KEY, name TEXT, x DOUBLE", "InnoDB", "SELECT COUNT(*) FROM t"),
        ("k BIGINT PRIMARY KEY, name TEXT, x DOUBLE", "InnoDB", "SELECT UPPER(name) FROM t"),
        (
            "k BIGINT PRIMARY KEY, name TEXT, x DOUBLE",
            "InnoDB",
            "SELECT t.k FROM t JOIN t AS u ON u.x = t.x",
        ),
    ],
    ids=[
        "no-key",
        "text-key",
        "myisam",
        "view",
        "filtered",
        "order-by",
        "limit",
        "aggregate",
        "function",
        "join",
    ],
)
def test_not_split(db: str, ddl: str, engine: str, sql: str) -> None:
    _make(db, ddl, engine=engine, nulls="name VARCHAR(20) PRIMARY KEY" not in ddl)
    conn = _connector(db)
    conn.execute("CREATE VIEW v AS SELECT * FROM t")
    conn.close()
    rows, was_split = _read(db, sql)
    single, _ = _read(db, sql, scan_workers=1)
    assert not was_split
    assert rows == single


def test_small_tables_are_not_split_by_default(db: str) -> None:
    _make(db)
    rows, was_split = _read(db, "SELECT * FROM t", scan_min_rows=1_000_000)
    assert len(rows) == ROWS
    assert not was_split


def test_snapshot_is_shared_under_concurrent_transfers(db: str) -> None:
    """A writer keeps moving one unit between the first and the last row (which lie in
    different ranges) in transactions. Every split read must see the total intact:
    ranges read at different moments would see a unit twice or not at all."""
    _make(db)
    lo, hi = -9000, (ROWS - 1) * 7 - 9000
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        w = _connector(db)
        try:
            while not stop.is_set():
                with w.transaction() as tx:
                    tx.execute("UPDATE t SET x = x - 1 WHERE k = ?", [lo])
                    tx.execute("UPDATE t SET x = x + 1 WHERE k = ?", [hi])
        except BaseException as e:
            errors.append(e)
        finally:
            w.close()

    total = sum(r["x"] for r in _read(db, "SELECT x FROM t", scan_workers=1)[0])
    conn = _connector(db, pool_size=4, scan_workers=3, scan_min_rows=0)
    admin = _connector(scan_workers=1)
    th = threading.Thread(target=writer)
    th.start()
    try:
        before = _index_rows(admin)
        for _ in range(15):
            rows = conn.query("SELECT k, x FROM t").to_pylist()
            assert len(rows) == ROWS
            assert sum(r["x"] for r in rows) == pytest.approx(total)
        walked = _index_rows(admin) - before
    finally:
        stop.set()
        th.join(30)
        conn.close()
        admin.close()
    assert not errors, errors
    # Most reads were split (walked the key ranges rather than scanning the table).
    assert walked >= 10 * ROWS, walked
    _no_lock_left(db)


def test_open_writer_transaction_means_one_connection_not_a_wait(db: str) -> None:
    """A writer holding an open transaction on the table keeps the lock from being
    granted: the scan gives up after a second and reads on one connection, without
    the writer's uncommitted row."""
    _make(db)
    w = _connector(db)
    try:
        with w.transaction() as tx:
            tx.execute("INSERT INTO t (k, name, x) VALUES (999999999, 'uncommitted', 0)")
            t0 = time.monotonic()
            rows, was_split = _read(db, "SELECT k, name FROM t")
            elapsed = time.monotonic() - t0
            assert len(rows) == ROWS
            assert 999999999 not in {r["k"] for r in rows}
            assert not was_split
            assert elapsed < 30
    finally:
        w.close()
    _no_lock_left(db)


def test_read_only_connector_splits(db: str) -> None:
    _make(db)
    rows, was_split = _read(db, "SELECT * FROM t", read_only=True)
    single, _ = _read(db, "SELECT * FROM t", scan_workers=1)
    assert rows == single
    assert was_split
    _no_lock_left(db)


def test_user_without_lock_privilege_reads_on_one_connection(
    db: str, my_admin: MySQLConnector
) -> None:
    _make(db)
    user = f"sa_{uuid.uuid4().hex[:12]}"
    my_admin.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'")
    my_admin.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw-{user}'")
    try:
        for host in ("%", "localhost"):
            my_admin.execute(f"GRANT SELECT ON `{db}`.* TO '{user}'@'{host}'")
        conn = MySQLConnector(
            HOST,
            PORT,
            db,
            user,
            f"pw-{user}",
            ssl_mode="disabled",
            pool_size=4,
            scan_workers=3,
            scan_min_rows=0,
        )
        try:
            rows = conn.query("SELECT * FROM t").to_pylist()
            assert len(rows) == ROWS
            assert rows == _read(db, "SELECT * FROM t", scan_workers=1)[0]
        finally:
            conn.close()
    finally:
        my_admin.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        my_admin.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
    _no_lock_left(db)


def test_timeout_cancels_every_range(db: str) -> None:
    conn = _connector(db)
    conn.execute("CREATE TABLE t (k BIGINT PRIMARY KEY, name TEXT, x DOUBLE)")
    conn.execute("INSERT INTO t SELECT seq, REPEAT('x', 400), seq FROM seq_1_to_200000")
    conn.execute("ANALYZE TABLE t")
    conn.close()
    conn = _connector(db, pool_size=4, scan_workers=3, scan_min_rows=0)
    try:
        with pytest.raises(sqlarrow.QueryTimeoutError):
            conn.query("SELECT * FROM t", timeout=0.02)
        # The connector still works, and no statement of ours is left running.
        assert conn.query("SELECT COUNT(*) AS n FROM t").to_pylist() == [{"n": 200_000}]
        admin = _connector()
        try:
            running = admin.query(
                "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST "
                "WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE 'SELECT *%'",
                [db],
            ).to_pylist()
        finally:
            admin.close()
        assert running == [{"n": 0}]
    finally:
        conn.close()
    _no_lock_left(db)


def test_options_are_checked() -> None:
    with pytest.raises(sqlarrow.ConfigError, match="scan_workers"):
        _connector(scan_workers=0)
    with pytest.raises(sqlarrow.ConfigError, match="scan_min_rows"):
        _connector(scan_min_rows=-1)
    conn = sqlarrow.connect(
        f"mysql://{ROOT_USER}@{HOST}:{PORT}/?ssl_mode=disabled&scan_workers=3&scan_min_rows=5"
        + (f"&password={ROOT_PASSWORD}" if ROOT_PASSWORD else "")
    )
    try:
        assert isinstance(conn, MySQLConnector)
        assert conn.scan_workers == 3
    finally:
        conn.close()
