"""Ctrl-C cancellation and bounded-memory streaming, each measured in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable

import pytest

import sqlarrow
from conftest import PG_URL, pg_scalar, run_python

pytestmark = pytest.mark.slow


def _spawn(code: str) -> subprocess.Popen[str]:
    env = dict(os.environ, SQLARROW_NO_DEBUG_WARNING="1")
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _wait_line(proc: subprocess.Popen[str], expected: str, timeout: float) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.strip() == expected:
            return
    proc.kill()
    raise AssertionError(f"subprocess never printed {expected!r}: {proc.communicate()}")


def _active_queries(admin: sqlarrow.Connector, marker: str) -> int:
    return int(
        pg_scalar(
            admin,
            "select count(*) as n from pg_stat_activity "
            "where query like $1 and state = 'active' and pid <> pg_backend_pid()",
            [f"%{marker}%"],
        )
    )


@pytest.mark.parametrize("mode", ["query", "stream", "execute"])
def test_ctrl_c_cancels_postgres_query(pg_admin: sqlarrow.Connector, mode: str) -> None:
    marker = f"sqlarrow_cancel_{uuid.uuid4().hex}"
    call = {
        "query": f'conn.query("select pg_sleep(60) /* {marker} */")',
        "stream": f'list(conn.stream("select pg_sleep(60) /* {marker} */"))',
        "execute": f'conn.execute("select pg_sleep(60) /* {marker} */")',
    }[mode]
    proc = _spawn(
        f"""
        import time, sqlarrow
        conn = sqlarrow.connect({PG_URL!r}, pool_size=1)
        conn.query("select 1")
        print("ready", flush=True)
        start = time.monotonic()
        try:
            {call}
            print("not interrupted", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted {{time.monotonic() - start:.2f}}", flush=True)
        print("after", conn.query("select 1 as one").to_pylist()[0]["one"], flush=True)
        """
    )
    try:
        _wait_line(proc, "ready", 60)
        # wait until the query is really running on the server
        deadline = time.monotonic() + 15
        while _active_queries(pg_admin, marker) == 0:
            assert time.monotonic() < deadline, "pg_sleep never started"
            time.sleep(0.1)
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    elapsed = time.monotonic() - sent
    assert proc.returncode == 0, (out, err)
    assert "interrupted" in out, (out, err)
    assert "after 1" in out, (out, err)
    assert elapsed < 15, (elapsed, out)
    deadline = time.monotonic() + 5
    while _active_queries(pg_admin, marker):
        assert time.monotonic() < deadline, "the query still runs on the server"
        time.sleep(0.1)


SLOW_SQLITE = (
    "with recursive s(n) as (select 1 union all select n + 1 from s) select count(*) from s"
)


def _interrupt_child(
    setup: str, call: str, started: Callable[[], bool] | None = None, delay: float = 1.0
) -> str:
    """Run `setup` (which binds `conn`) then `call` in a child interpreter, send it
    SIGINT once `started()` says the statement runs (else after `delay` seconds), and
    return its output; the child prints whether `call` was interrupted, then runs one
    more query on `conn`."""
    lines = [
        "import sqlarrow",
        setup,
        'print("ready", flush=True)',
        "try:",
        f"    {call}",
        '    print("not interrupted", flush=True)',
        "except KeyboardInterrupt:",
        '    print("interrupted", flush=True)',
        'print("after", conn.query("select 1 as one").to_pylist()[0]["one"], flush=True)',
    ]
    proc = _spawn("\n".join(lines))
    try:
        _wait_line(proc, "ready", 60)
        if started is None:
            time.sleep(delay)
        else:
            deadline = time.monotonic() + 15
            while not started():
                assert time.monotonic() < deadline, "the statement never started"
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "interrupted" in out and "not interrupted" not in out, (out, err)
    assert "after 1" in out, (out, err)
    return out


def test_ctrl_c_cancels_sqlite_query() -> None:
    _interrupt_child(
        'conn = sqlarrow.connect("sqlite://:memory:")', f"conn.query({SLOW_SQLITE!r})", delay=1.5
    )


def test_ctrl_c_cancels_sqlite_query_on_the_calling_thread() -> None:
    """With an idle connection in the pool, a SQLite query runs on the calling thread;
    Ctrl-C reaches it through SQLite's progress handler."""
    _interrupt_child(
        # An idle connection: the next query runs in place.
        'conn = sqlarrow.connect("sqlite://:memory:"); conn.query("select 1")',
        f"conn.query({SLOW_SQLITE!r})",
    )


def _mysql_running(tag: str) -> int:
    with sqlarrow.connect("mysql://root@127.0.0.1:3306/?ssl_mode=disabled") as admin:
        rows = admin.query(
            "select count(*) as n from information_schema.processlist where info like ?",
            [f"%{tag}%"],
        ).to_pylist()
    return int(rows[0]["n"])


def test_ctrl_c_cancels_mysql_query_on_the_calling_thread() -> None:
    """With an idle connection in the pool, a MySQL query's socket is driven from the
    calling thread; Ctrl-C stops it there and KILL QUERY stops it on the server."""
    tag = f"sqlarrow_cancel_{uuid.uuid4().hex}"
    _interrupt_child(
        'conn = sqlarrow.connect("mysql://root@127.0.0.1:3306/?ssl_mode=disabled", '
        'pool_size=1); conn.query("select 1")',
        f'conn.query("select sleep(60) as s /* {tag} */")',
        started=lambda: _mysql_running(tag) > 0,
    )
    deadline = time.monotonic() + 5
    while _mysql_running(tag):
        assert time.monotonic() < deadline, "the statement still runs on the server"
        time.sleep(0.1)


def _mysql_writing(db: str) -> int:
    """Connections of database `db` whose transaction has inserted rows."""
    with sqlarrow.connect("mysql://root@127.0.0.1:3306/?ssl_mode=disabled") as admin:
        rows = admin.query(
            "select count(*) as n from information_schema.processlist p "
            "join information_schema.innodb_trx t on t.trx_mysql_thread_id = p.id "
            "where p.db = ? and t.trx_rows_modified > 0",
            [db],
        ).to_pylist()
    return int(rows[0]["n"])


@pytest.mark.parametrize("fast_reader", ["1", "0"], ids=["bulk", "load_data"])
def test_ctrl_c_stops_mysql_write_with_stalled_input(
    fast_reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while a write's input stalls mid-stream (MariaDB's bulk path is then
    between two commands, with no statement running for KILL QUERY to stop; LOAD DATA
    is mid-statement): nothing is committed and the connector serves the next call."""
    monkeypatch.setenv("SQLARROW_MYSQL_FAST_READER", fast_reader)
    db = f"sqlarrow_t_{uuid.uuid4().hex}"
    url = "mysql://root@127.0.0.1:3306/?ssl_mode=disabled"
    with sqlarrow.connect(url) as admin:
        admin.execute(f"create database `{db}`")
        admin.execute(f"create table `{db}`.t (id bigint, v text)")
    try:
        setup = f"""
import time
import pyarrow as pa
conn = sqlarrow.connect("mysql://root@127.0.0.1:3306/{db}?ssl_mode=disabled")
schema = pa.schema([("id", pa.int64()), ("v", pa.string())])
def gen():
    for i in range(40):
        if i == 4:
            time.sleep(5)
        base = i * 100_000
        ids = pa.array(range(base, base + 100_000), pa.int64())
        yield pa.record_batch([ids, pa.array(["v"] * 100_000)], schema=schema)
reader = pa.RecordBatchReader.from_batches(schema, gen())
"""
        _interrupt_child(setup, 'conn.write("t", reader)', started=lambda: _mysql_writing(db) > 0)
        with sqlarrow.connect(url) as admin:
            n = admin.query(f"select count(*) as n from `{db}`.t").to_pylist()[0]["n"]
        assert n == 0
    finally:
        with sqlarrow.connect(url) as admin:
            admin.execute(f"drop database if exists `{db}`")


def test_stream_5m_rows_bounded_memory(pg_admin: sqlarrow.Connector) -> None:
    proc = run_python(
        f"""
        import resource, sqlarrow
        import pyarrow  # imported before the baseline: only the stream's growth counts
        conn = sqlarrow.connect({PG_URL!r})
        with conn.stream("select 1 as x") as warmup:
            list(warmup)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows = 0
        total = 0
        batches = 0
        sql = "select g, g * 2 as d, 'x' || g as s from generate_series(1, 5000000) g"
        with conn.stream(sql, batch_size=65536) as stream:
            for batch in stream:
                rows += batch.num_rows
                batches += 1
                total += batch.column(0)[batch.num_rows - 1].as_py()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(rows, batches, before // 1024, peak // 1024)
        """,
        timeout=600,
    )
    rows, batches, before_mb, peak_mb = (int(x) for x in proc.stdout.split())
    assert rows == 5_000_000
    assert batches == -(-5_000_000 // 65536)
    # The whole result as Arrow is ~135 MB: streaming must not hold it all.
    assert peak_mb < 400, f"peak RSS {peak_mb} MB (before streaming: {before_mb} MB)"
    assert peak_mb - before_mb < 100, f"streaming grew RSS by {peak_mb - before_mb} MB"


def test_sqlite_stream_5m_rows_bounded_memory(tmp_path: object) -> None:
    proc = run_python(
        """
        import resource, sqlarrow
        import pyarrow
        conn = sqlarrow.connect("sqlite://:memory:")
        with conn.stream("select 1 as x") as warmup:
            list(warmup)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows = 0
        sql = ("with recursive s(g) as (select 1 union all select g + 1 from s "
               "where g < 5000000) select g, g * 2 as d, 'x' || g as t from s")
        with conn.stream(sql, batch_size=65536) as stream:
            for batch in stream:
                rows += batch.num_rows
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(rows, before // 1024, peak // 1024)
        """,
        timeout=600,
    )
    rows, before_mb, peak_mb = (int(x) for x in proc.stdout.split())
    assert rows == 5_000_000
    assert peak_mb - before_mb < 100, f"streaming grew RSS by {peak_mb - before_mb} MB"


def test_mysql_stream_5m_rows_bounded_memory() -> None:
    # MariaDB's SEQUENCE engine makes the 5M rows on the fly (no table to load).
    proc = run_python(
        """
        import resource, sqlarrow
        import pyarrow
        conn = sqlarrow.connect("mysql://root@127.0.0.1:3306/")
        with conn.stream("select 1 as x") as warmup:
            list(warmup)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows = 0
        sql = "select seq, seq * 2 as d, concat('x', seq) as s from mysql.seq_1_to_5000000"
        with conn.stream(sql, batch_size=65536) as stream:
            for batch in stream:
                rows += batch.num_rows
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(rows, before // 1024, peak // 1024)
        """,
        timeout=900,
    )
    rows, before_mb, peak_mb = (int(x) for x in proc.stdout.split())
    assert rows == 5_000_000
    assert peak_mb - before_mb < 100, f"streaming grew RSS by {peak_mb - before_mb} MB"
