"""PostgreSQL and MySQL/MariaDB queries whose socket I/O runs on the calling thread.

Once the pool holds an idle connection, ``query`` drives that connection's socket from
the calling thread (GIL released) instead of handing the statement to the async
runtime. Every test warms the connector with one query so the queries after it take
that path; results, errors, timeouts, broken connections and concurrency must behave
exactly as on the async path (which ``stream`` and a cold pool still use). Ctrl-C on
this path is tested in test_cancel_memory.py. Each test works in its own schema or
database."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sqlarrow
from conftest import PG_URL, stream_table

MY_HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))


class Engine:
    """One engine's connectors and SQL dialect for these tests."""

    def __init__(self, name: str, admin: sqlarrow.Connector, space: str) -> None:
        self.name = name
        self.admin = admin
        self.space = space  # schema (PostgreSQL) or database (MySQL)

    def connect(self, **kw: Any) -> sqlarrow.Connector:
        kw.setdefault("pool_size", 4)
        if self.name == "postgres":
            return sqlarrow.connect(PG_URL, **kw)
        return sqlarrow.MySQLConnector(
            MY_HOST, MY_PORT, user="root", ssl_mode="disabled", database=self.space, **kw
        )

    @property
    def t(self) -> str:
        return f'"{self.space}".t' if self.name == "postgres" else "t"

    def mark(self, n: int) -> str:
        return f"${n}" if self.name == "postgres" else "?"

    def sleep(self, seconds: int, tag: str) -> str:
        if self.name == "postgres":
            return f"select pg_sleep({seconds}) /* {tag} */"
        return f"select sleep({seconds}) as s /* {tag} */"

    def running(self, tag: str) -> int:
        if self.name == "postgres":
            sql = (
                "select count(*) as n from pg_stat_activity where query like $1 "
                "and state = 'active' and pid <> pg_backend_pid()"
            )
        else:
            sql = (
                "select count(*) as n from information_schema.processlist "
                "where info like ? and id <> connection_id()"
            )
        rows = self.admin.query(sql, [f"%{tag}%"]).to_pylist()
        return int(rows[0]["n"])

    def session_id(self, conn: sqlarrow.Connector) -> int:
        sql = (
            "select pg_backend_pid() as id"
            if self.name == "postgres"
            else "select connection_id() as id"
        )
        return int(conn.query(sql).to_pylist()[0]["id"])

    def kill(self, session: int) -> None:
        if self.name == "postgres":
            self.admin.query("select pg_terminate_backend($1::int) as ok", [session])
        else:
            self.admin.execute(f"KILL {session}")


@pytest.fixture(params=["postgres", "mysql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    space = f"sqlarrow_t_{uuid.uuid4().hex}"
    if request.param == "postgres":
        admin: sqlarrow.Connector = sqlarrow.connect(PG_URL, pool_size=2)
        admin.execute(f'CREATE SCHEMA "{space}"')
        drop = f'DROP SCHEMA IF EXISTS "{space}" CASCADE'
    else:
        admin = sqlarrow.MySQLConnector(
            MY_HOST, MY_PORT, user="root", ssl_mode="disabled", pool_size=2
        )
        admin.execute(f"CREATE DATABASE `{space}` CHARACTER SET utf8mb4")
        drop = f"DROP DATABASE IF EXISTS `{space}`"
    try:
        yield Engine(request.param, admin, space)
    finally:
        admin.execute(drop)
        admin.close()


def _fill(e: Engine, conn: sqlarrow.Connector, n: int = 5000) -> None:
    ts = "timestamptz" if e.name == "postgres" else "datetime(6)"
    conn.execute(
        f"create table {e.t} (k bigint primary key, name varchar(40), x double precision, "
        f"amount decimal(18, 4), at {ts}, d date, flag boolean)"
    )
    marks = ", ".join(e.mark(i) for i in range(1, 8))
    base = dt.datetime(2026, 1, 2, 3, 4, 5, 123456)
    conn.executemany(
        f"insert into {e.t} values ({marks})",
        [
            (
                i,
                None if i % 7 == 0 else f"n{i} é",
                i / 3,
                decimal.Decimal(i) / 7 if i % 5 else None,
                base + dt.timedelta(seconds=i),
                dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
                i % 2 == 0,
            )
            for i in range(1, n + 1)
        ],
    )


def test_results_match_the_streamed_path(engine: Engine) -> None:
    conn = engine.connect()
    try:
        _fill(engine, conn)
        conn.query("select 1 as one")  # an idle connection: the next queries run in place
        cols = "k, name, x, amount, at, d, flag"
        sql = f"select {cols} from {engine.t} where k > {engine.mark(1)} order by k"
        direct = conn.query(sql, [10]).to_arrow()
        streamed = stream_table(conn, sql, [10])
        assert direct.num_rows == 4990
        assert direct.schema == streamed.schema
        assert direct.equals(streamed)
        again = conn.query(sql, [10]).to_arrow()  # the statement cached by the first run
        assert again.equals(direct)
        raw = conn._raw.query(sql, [10], batch_size=1000)  # type: ignore[attr-defined]
        assert raw.num_rows == 4990 and raw.num_batches == 5
        empty = conn.query(f"select k, name from {engine.t} where k < 0").to_arrow()
        assert empty.num_rows == 0 and empty.schema.names == ["k", "name"]
        # Statements without a result set go through query too.
        conn.query(f"delete from {engine.t} where k <= 10")
        assert conn.query(f"select count(*) as n from {engine.t}").to_pylist() == [{"n": 4990}]
        # One connection did all of it: nothing leaked or was thrown away.
        stats = conn.pool_stats()
        assert stats.in_use == 0
    finally:
        conn.close()


def test_errors_are_typed_and_the_connection_survives(engine: Engine) -> None:
    cold = engine.connect()  # the async path: the same check
    with cold, pytest.raises(sqlarrow.ParameterError, match="2 value"):
        cold.query(f"select {engine.mark(1)} as a", [1, 2])
    conn = engine.connect(pool_size=1)
    try:
        _fill(engine, conn, 10)
        conn.query("select 1 as one")
        before = engine.session_id(conn)
        with pytest.raises(sqlarrow.QueryError):
            conn.query("selec nothing")
        with pytest.raises(sqlarrow.UndefinedObjectError):
            conn.query(f"select * from {engine.t}_missing")
        with pytest.raises(sqlarrow.ParameterError):
            conn.query(f"select * from {engine.t} where k = {engine.mark(1)}", [1, 2])
        if engine.name == "postgres":
            with pytest.raises(sqlarrow.DataError):
                conn.query("select 1 / 0 as x")
        assert conn.query(f"select count(*) as n from {engine.t}").to_pylist() == [{"n": 10}]
        # Errors reported by the server do not cost the connection.
        assert engine.session_id(conn) == before
    finally:
        conn.close()
    with pytest.raises(sqlarrow.InterfaceError):
        conn.query("select 1")


def test_timeout_stops_the_statement_on_the_server(engine: Engine) -> None:
    conn = engine.connect(pool_size=2)
    tag = f"sqlarrow_direct_{uuid.uuid4().hex}"
    try:
        conn.query("select 1 as one")
        start = time.monotonic()
        with pytest.raises(sqlarrow.QueryTimeoutError, match="timeout"):
            conn.query(engine.sleep(30, tag), timeout=0.4)
        assert time.monotonic() - start < 10
        deadline = time.monotonic() + 5
        while engine.running(tag):
            assert time.monotonic() < deadline, "the statement still runs on the server"
            time.sleep(0.1)
        # The connector's own statement_timeout applies the same way.
        with engine.connect(statement_timeout=0.3) as limited:
            limited.query("select 1 as one")
            with pytest.raises(sqlarrow.QueryTimeoutError):
                limited.query(engine.sleep(30, tag))
        assert conn.query("select 2 as two").to_pylist() == [{"two": 2}]
    finally:
        conn.close()


def test_a_connection_killed_while_idle_is_replaced(engine: Engine) -> None:
    conn = engine.connect(pool_size=1)
    try:
        conn.query("select 1 as one")
        engine.kill(engine.session_id(conn))
        time.sleep(0.2)
        # Before an idle connection is handed out, what the server sent meanwhile is
        # read: the pool sees the connection closed and opens a fresh one.
        assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]
        assert conn.query("select 3 as three").to_pylist() == [{"three": 3}]
    finally:
        conn.close()


def _in_threads(*work: Callable[[], None]) -> list[BaseException]:
    """Run each callable on its own thread; the exceptions they raised."""
    errors: list[BaseException] = []

    def run(fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in work]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


def test_a_timeout_while_waiting_for_the_pool_cancels_nothing(engine: Engine) -> None:
    """A call whose timeout fires while it waits for a pooled connection has nothing
    running when it gets one: no cancel (PostgreSQL cancel request, MySQL ``KILL QUERY``)
    may go out for it, since the server acts on one some time after it is sent and would
    hit whatever runs next. Here the next statement (the victim) waits in the pool too,
    so it starts the moment the timed-out call hands the connection back."""
    conn = engine.connect(pool_size=1, pool_timeout=10)
    sleep = "pg_sleep" if engine.name == "postgres" else "sleep"
    try:
        for _ in range(3):
            outcomes: dict[str, object] = {}

            def run(
                name: str, sql: str, timeout: float | None = None, out: dict[str, object] = outcomes
            ) -> None:
                try:
                    got = conn.query(sql, timeout=timeout).to_arrow()
                    out[name] = got.column(got.num_columns - 1).to_pylist()
                except BaseException as e:
                    out[name] = e

            threads = [
                threading.Thread(target=run, args=("holder", f"select {sleep}(0.6), 2 as y")),
                threading.Thread(target=run, args=("timed", "select 1 as one", 0.2)),
                threading.Thread(target=run, args=("victim", f"select {sleep}(0.3), 1 as x")),
            ]
            for th in threads:
                th.start()
                time.sleep(0.05)
            for th in threads:
                th.join(timeout=30)
                assert not th.is_alive()
            assert outcomes["holder"] == [2]
            assert isinstance(outcomes["timed"], sqlarrow.QueryTimeoutError), outcomes["timed"]
            assert outcomes["victim"] == [1], outcomes["victim"]
        assert conn.pool_stats().in_use == 0
        # The connection was kept: nothing ran on it that needed stopping.
        assert conn.pool_stats().created == 1
    finally:
        conn.close()


def _echo(conn: sqlarrow.Connector, engine: Engine, t: int, n: int) -> Callable[[], None]:
    """`n` queries returning values unique to thread `t`, each checked."""
    sql = f"select {engine.mark(1)} + 0 as v"

    def work() -> None:
        for i in range(n):
            v = t * 1000 + i
            assert conn.query(sql, [v]).to_pylist() == [{"v": v}]

    return work


def test_threads_share_the_pool(engine: Engine) -> None:
    conn = engine.connect(pool_size=4)
    try:
        conn.query("select 1 as one")
        assert _in_threads(*(_echo(conn, engine, t, 150) for t in range(8))) == []
        assert conn.pool_stats().in_use == 0
    finally:
        conn.close()


def test_large_result_and_large_statement(engine: Engine) -> None:
    """Results larger than the socket buffers, and a statement text larger than the
    send buffer, both cross the calling-thread path whole."""
    conn = engine.connect()
    try:
        _fill(engine, conn, 20000)
        conn.query("select 1 as one")
        ids = ", ".join(str(i) for i in range(1, 20001))  # ~110 KB of SQL
        got = conn.query(f"select k, name from {engine.t} where k in ({ids}) order by k").to_arrow()
        assert got.num_rows == 20000
        assert got.column("k").to_pylist()[:3] == [1, 2, 3]
        assert got.equals(stream_table(conn, f"select k, name from {engine.t} order by k"))
    finally:
        conn.close()


def test_postgres_execute_on_the_calling_thread(pg_admin: sqlarrow.Connector) -> None:
    """PostgreSQL ``execute`` takes the same path as ``query`` once a connection is idle:
    rows affected, scripts of several statements, typed errors, timeouts cancelled on
    the server, read-only mode. (Ctrl-C: test_cancel_memory.py.)"""
    schema = f"sqlarrow_t_{uuid.uuid4().hex}"
    tag = f"sqlarrow_direct_{uuid.uuid4().hex}"
    conn = sqlarrow.connect(PG_URL, pool_size=2)
    try:
        conn.execute(f'create schema "{schema}"')  # a cold pool: the async path
        t = f'"{schema}".t'
        assert conn.execute(f"create table {t} (k int primary key, v text)") == 0
        assert conn.execute(f"insert into {t} values ($1, $2)", [1, "a"]) == 1
        assert (
            conn.execute(f"insert into {t} values (2, 'b'); insert into {t} values (3, 'c')") == 2
        )
        assert conn.execute(f"update {t} set v = v || $1", ["!"]) == 3
        with pytest.raises(sqlarrow.UniqueViolation):
            conn.execute(f"insert into {t} values ($1, $2)", [1, "dup"])
        with pytest.raises(sqlarrow.SqlSyntaxError):
            conn.execute("updat nothing")
        with pytest.raises(sqlarrow.ParameterError):
            conn.execute(f"delete from {t} where k = $1", [1, 2])
        start = time.monotonic()
        with pytest.raises(sqlarrow.QueryTimeoutError, match="cancelled on the server"):
            conn.execute(f"select pg_sleep(30) /* {tag} */", timeout=0.3)
        assert time.monotonic() - start < 10
        deadline = time.monotonic() + 5
        while pg_admin.query(
            "select count(*) as n from pg_stat_activity where query like $1 "
            "and state = 'active' and pid <> pg_backend_pid()",
            [f"%{tag}%"],
        ).to_pylist() != [{"n": 0}]:
            assert time.monotonic() < deadline, "the statement still runs on the server"
            time.sleep(0.1)
        assert conn.query(f"select k, v from {t} order by k").to_pylist() == [
            {"k": 1, "v": "a!"},
            {"k": 2, "v": "b!"},
            {"k": 3, "v": "c!"},
        ]
        with sqlarrow.connect(PG_URL, read_only=True) as ro:
            ro.query("select 1")
            with pytest.raises(sqlarrow.ReadOnlyViolation):
                ro.execute(f"delete from {t}")
        assert conn.execute(f"delete from {t} where k > $1", [1]) == 2
    finally:
        conn.execute(f'drop schema if exists "{schema}" cascade')
        conn.close()


def test_timeouts_and_queries_interleaved_across_threads(engine: Engine) -> None:
    """Statements stopped at their deadline (cancelled on the server, connection
    discarded) while other threads keep querying through the same pool: no answer
    crosses to another call, and every thread ends with a working connector."""
    conn = engine.connect(pool_size=4)
    slow = "select pg_sleep(5)" if engine.name == "postgres" else "select sleep(5) as s"
    try:
        conn.query("select 1 as one")

        def slow_calls() -> None:
            for _ in range(3):
                with pytest.raises(sqlarrow.QueryTimeoutError):
                    conn.query(slow, timeout=0.2)

        fast = [_echo(conn, engine, t, 60) for t in range(4)]
        assert _in_threads(*fast, slow_calls, slow_calls) == []
        assert conn.query("select 7 as seven").to_pylist() == [{"seven": 7}]
        assert conn.pool_stats().in_use == 0
    finally:
        conn.close()
