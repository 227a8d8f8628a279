"""Retries (transient errors, idempotent work only), statement timeouts (server-side
cancellation) and a pool that survives its server connections being killed."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import sqlarrow
from conftest import free_port
from sqlarrow import RetryPolicy

MY_HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))
SECRET = f"pw-{uuid.uuid4().hex}"


# -- RetryPolicy ----------------------------------------------------------------------
def test_policy_delays_and_validation() -> None:
    p = RetryPolicy(max_attempts=5, initial_delay=0.1, max_delay=0.3, multiplier=2, jitter=False)
    assert [p.delay(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.3]
    j = RetryPolicy(initial_delay=1.0, max_delay=10)
    for _ in range(50):
        assert 0.5 <= j.delay(1) <= 1.0
    for bad in ({"max_attempts": 0}, {"initial_delay": -1}, {"jitter": "yes"}):
        with pytest.raises(sqlarrow.ConfigError):
            RetryPolicy(**bad)  # type: ignore[arg-type]
    with pytest.raises(sqlarrow.ConfigError):
        sqlarrow.SQLiteConnector(retry=3)  # type: ignore[arg-type]


def test_policy_run() -> None:
    p = RetryPolicy(max_attempts=3, initial_delay=0.01, jitter=False)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise sqlarrow.DatabaseConnectionError("reset")
        return "ok"

    assert p.run(flaky, "query") == "ok" and len(calls) == 3
    calls.clear()

    def fatal() -> str:
        calls.append(1)
        raise sqlarrow.SqlSyntaxError("bad")

    with pytest.raises(sqlarrow.SqlSyntaxError):
        p.run(fatal, "query")
    assert len(calls) == 1
    calls.clear()

    def timeout() -> str:
        calls.append(1)
        raise sqlarrow.QueryTimeoutError("slow")

    with pytest.raises(sqlarrow.QueryTimeoutError):
        p.run(timeout, "query")
    assert len(calls) == 1


def test_connect_retried_and_logged_without_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sqlarrow")
    port = free_port()
    policy = RetryPolicy(max_attempts=3, initial_delay=0.05, jitter=False)
    with sqlarrow.connect(
        f"postgresql://postgres:{SECRET}@127.0.0.1:{port}/postgres", retry=policy
    ) as conn:
        start = time.monotonic()
        with pytest.raises(sqlarrow.DatabaseConnectionError) as info:
            conn.query("select 1")
        assert time.monotonic() - start >= 0.15  # 0.05 + 0.1 of backoff
        assert SECRET not in str(info.value)
        retries = [r for r in caplog.records if "retrying" in r.getMessage()]
        assert len(retries) == 2
        assert "attempt 1 of 3" in retries[0].getMessage()
        assert SECRET not in caplog.text
        caplog.clear()
        # DML is never retried; a read through execute is
        with pytest.raises(sqlarrow.DatabaseConnectionError):
            conn.execute("delete from t")
        assert not [r for r in caplog.records if "retrying" in r.getMessage()]
        with pytest.raises(sqlarrow.DatabaseConnectionError):
            conn.execute("select 1")
        assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2
        caplog.clear()
        with pytest.raises(sqlarrow.DatabaseConnectionError):
            conn.executemany("insert into t values ($1)", [[1]])
        assert not [r for r in caplog.records if "retrying" in r.getMessage()]
        # Nor is a statement that writes through query() or stream(): after a dropped
        # connection nobody can tell whether it committed.
        for call in (
            lambda: conn.query("insert into t values (1) returning 1"),
            lambda: conn.query("select nextval('s')"),
            lambda: conn.stream("delete from t returning *"),
            lambda: conn.query("insert into t values (1) returning 1", partition_on="x"),
        ):
            with pytest.raises(sqlarrow.DatabaseConnectionError):
                call()
        assert not [r for r in caplog.records if "retrying" in r.getMessage()]
        with pytest.raises(sqlarrow.DatabaseConnectionError):
            conn.stream("select 1")
        assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2


def test_retry_from_config(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "connections:\n  w:\n    engine: sqlite\n    path: ':memory:'\n"
        "    statement_timeout: 2\n    retry:\n      max_attempts: 4\n      max_delay: 1\n"
    )
    with sqlarrow.connect(name="w", config=str(cfg)) as conn:
        assert conn.retry == RetryPolicy(max_attempts=4, max_delay=1)
        assert conn.statement_timeout == 2.0
    cfg.write_text("connections:\n  w:\n    engine: sqlite\n    path: x\n    retry: {tries: 2}\n")
    with pytest.raises(sqlarrow.ConfigError, match=r"connections\.w\.retry\.tries"):
        sqlarrow.load_config(cfg)


def test_ctrl_c_interrupts_retry_sleep() -> None:
    code = (
        "import sqlarrow, time, sys\n"
        f"c = sqlarrow.connect('postgresql://postgres@127.0.0.1:{free_port()}/postgres',\n"
        "    retry=sqlarrow.RetryPolicy(max_attempts=5, initial_delay=60, jitter=False))\n"
        "print('ready', flush=True)\n"
        "t = time.monotonic()\n"
        "try:\n"
        "    c.query('select 1')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after %.1f' % (time.monotonic() - t), flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, SQLARROW_NO_DEBUG_WARNING="1"),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - start < 5
    assert "interrupted after" in out, err


# -- statement timeouts ------------------------------------------------------------------
def _pg_active(admin: sqlarrow.Connector, app: str) -> list[str]:
    """Statements of `app` still running on the server (polled: the backend reports
    the end of a cancelled statement a moment after the client has seen it)."""
    deadline = time.monotonic() + 3
    while True:
        rows = admin.query(
            "select query from pg_stat_activity where application_name = $1 and state = 'active'",
            [app],
        ).to_pylist()
        if not rows or time.monotonic() > deadline:
            return [str(r["query"]) for r in rows]
        time.sleep(0.05)


def test_postgres_statement_timeout(pg_admin: sqlarrow.Connector) -> None:
    app = f"sqlarrow_to_{uuid.uuid4().hex[:8]}"
    with sqlarrow.PostgreSQLConnector(
        "127.0.0.1",
        user="postgres",
        database="postgres",
        application_name=app,
        statement_timeout=0.5,
        sslmode="disable",
    ) as conn:
        start = time.monotonic()
        with pytest.raises(sqlarrow.QueryTimeoutError) as info:
            conn.query("select pg_sleep(30)")
        assert time.monotonic() - start < 5
        assert "timeout" in str(info.value)
        assert _pg_active(pg_admin, app) == []  # cancelled on the server
        with pytest.raises(sqlarrow.QueryTimeoutError):
            conn.execute("select pg_sleep(30)")
        with pytest.raises(sqlarrow.QueryTimeoutError):  # noqa: SIM117
            with conn.stream("select pg_sleep(30)") as stream:
                for _ in stream:
                    pass
        # the per-call timeout overrides the connector's
        assert conn.query("select pg_sleep(0.8) is null as x", timeout=5).to_pylist() == [
            {"x": False}
        ]
        with pytest.raises(sqlarrow.QueryTimeoutError):
            conn.query("select pg_sleep(30)", timeout=0.2)
        assert _pg_active(pg_admin, app) == []
        # the connection is usable afterwards
        assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]


def test_mysql_statement_timeout() -> None:
    with (
        sqlarrow.MySQLConnector(
            MY_HOST, MY_PORT, user="root", ssl_mode="disabled", statement_timeout=0.5
        ) as conn,
        sqlarrow.MySQLConnector(MY_HOST, MY_PORT, user="root", ssl_mode="disabled") as admin,
    ):
        start = time.monotonic()
        with pytest.raises(sqlarrow.QueryTimeoutError):
            conn.query("select sleep(30) as s")
        assert time.monotonic() - start < 5
        rows = admin.query(
            "select count(*) as n from information_schema.processlist "
            "where info like 'select sleep(30)%'"
        ).to_pylist()
        assert rows == [{"n": 0}]
        assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]


def test_sqlite_statement_timeout() -> None:
    slow = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    with sqlarrow.SQLiteConnector(":memory:", statement_timeout=0.3) as conn:
        start = time.monotonic()
        with pytest.raises(sqlarrow.QueryTimeoutError):
            conn.query(slow)
        assert time.monotonic() - start < 5
        assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]
    with pytest.raises(sqlarrow.ConfigError):
        sqlarrow.SQLiteConnector(statement_timeout=0)
    with sqlarrow.connect("sqlite://:memory:?statement_timeout=0.25") as conn:
        assert conn.statement_timeout == 0.25


# -- the pool survives its connections being killed ----------------------------------------
@pytest.mark.parametrize("with_retry", [False, True])
def test_pool_survives_terminated_backends(pg_admin: sqlarrow.Connector, with_retry: bool) -> None:
    app = f"sqlarrow_kill_{uuid.uuid4().hex[:8]}"
    retry = RetryPolicy(max_attempts=3, initial_delay=0.05) if with_retry else None
    with sqlarrow.PostgreSQLConnector(
        "127.0.0.1",
        user="postgres",
        database="postgres",
        application_name=app,
        pool_size=3,
        sslmode="disable",
        retry=retry,
    ) as conn:
        import concurrent.futures as cf

        with cf.ThreadPoolExecutor(3) as ex:
            list(ex.map(lambda _: conn.query("select pg_sleep(0.2)"), range(3)))
        assert conn.pool_stats().idle == 3
        killed = pg_admin.query(
            "select pg_terminate_backend(pid) as k from pg_stat_activity "
            "where application_name = $1",
            [app],
        ).to_pylist()
        assert len(killed) == 3
        if not with_retry:
            time.sleep(0.5)  # let the client notice the closed sockets
        for _ in range(5):
            assert conn.query("select 42 as x").to_pylist() == [{"x": 42}]
        stats = conn.pool_stats()
        assert stats.closed >= 1
        assert conn.test_connection().ok
