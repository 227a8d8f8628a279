"""Transactions on a pinned connection (PostgreSQL, SQLite, MySQL/MariaDB)."""

from __future__ import annotations

import gc
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

import sqlarrow
from conftest import MY_HOST, MY_PORT, mysql_database, pg_scalar
from sqlarrow.exceptions import ConfigError, InterfaceError, UniqueViolation


@contextmanager
def mysql_connector(pool_size: int) -> Iterator[tuple[sqlarrow.MySQLConnector, str]]:
    """A connector on a new MySQL/MariaDB database of a unique name, and that name."""
    with mysql_database() as name:
        conn = sqlarrow.MySQLConnector(
            MY_HOST, port=MY_PORT, user="root", ssl_mode="disabled", database=name,
            pool_size=pool_size,
        )  # fmt: skip
        try:
            yield conn, name
        finally:
            conn.close()


@pytest.fixture(params=["postgres", "sqlite", "mysql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sqlarrow.Connector, str]]:
    """(connector, table prefix); a fresh schema / file / database per test."""
    if request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")
        conn = request.getfixturevalue("pg")
        yield conn, f'"{schema}".'
    elif request.param == "sqlite":
        with sqlarrow.connect(f"sqlite:///{tmp_path / 'tx.db'}", pool_size=4) as conn:
            yield conn, ""
    else:
        with mysql_connector(pool_size=4) as (conn, _):
            yield conn, ""


def count(conn: sqlarrow.Connector, table: str) -> int:
    return int(conn.query(f"select count(*) as n from {table}").to_pylist()[0]["n"])


def test_commit_on_success_and_isolation_from_others(db: tuple[sqlarrow.Connector, str]) -> None:
    conn, p = db
    conn.execute(f"create table {p}t (id int primary key, v varchar(20))")
    with conn.transaction() as tx:
        assert tx.execute(f"insert into {p}t (id, v) values (1, 'a')") == 1
        tx.write(f"{p}t", pa.table({"id": [2, 3], "v": ["b", "c"]}))
        # the transaction sees its own rows ...
        assert tx.query(f"select count(*) as n from {p}t").to_pylist()[0]["n"] == 3
        if conn.engine != "sqlite":  # (SQLite: another reader would wait on the file lock)
            # ... other connections do not, until commit
            assert count(conn, f"{p}t") == 0
    assert not tx.active
    assert count(conn, f"{p}t") == 3


def test_rollback_on_exception(db: tuple[sqlarrow.Connector, str]) -> None:
    conn, p = db
    conn.execute(f"create table {p}t (id int primary key)")
    with pytest.raises(RuntimeError, match="boom"), conn.transaction() as tx:
        tx.execute(f"insert into {p}t (id) values (1)")
        tx.write(f"{p}t", pa.table({"id": [2, 3]}))
        raise RuntimeError("boom")
    assert count(conn, f"{p}t") == 0
    with pytest.raises(InterfaceError, match="finished"):
        tx.execute("select 1")


def test_savepoints(db: tuple[sqlarrow.Connector, str]) -> None:
    conn, p = db
    conn.execute(f"create table {p}t (id int primary key)")
    with conn.transaction() as tx:
        tx.execute(f"insert into {p}t (id) values (1)")
        with pytest.raises(UniqueViolation), tx.savepoint():
            tx.execute(f"insert into {p}t (id) values (2)")
            tx.execute(f"insert into {p}t (id) values (1)")
        # only the savepoint's work is undone; the transaction goes on
        with tx.savepoint() as inner:
            inner.execute(f"insert into {p}t (id) values (3)")
            with inner.savepoint("nested"):
                inner.execute(f"insert into {p}t (id) values (4)")
    assert conn.query(f"select id from {p}t order by id").to_pylist() == [
        {"id": 1},
        {"id": 3},
        {"id": 4},
    ]


def test_failed_write_inside_transaction_is_undone_alone(
    db: tuple[sqlarrow.Connector, str],
) -> None:
    conn, p = db
    conn.execute(f"create table {p}t (id int primary key, v varchar(10))")
    with conn.transaction() as tx:
        tx.write(f"{p}t", pa.table({"id": [1], "v": ["a"]}))
        with pytest.raises(UniqueViolation):
            tx.write(f"{p}t", pa.table({"id": [2, 1], "v": ["b", "dup"]}))
        res = tx.write(
            f"{p}t", pa.table({"id": [1, 5], "v": ["A", "e"]}), mode="upsert", key=["id"]
        )
        assert res.rows_written == 1
    assert conn.query(f"select id, v from {p}t order by id").to_pylist() == [
        {"id": 1, "v": "A"},
        {"id": 5, "v": "e"},
    ]


def test_explicit_commit_rollback_and_dropped_transaction(
    db: tuple[sqlarrow.Connector, str],
) -> None:
    conn, p = db
    conn.execute(f"create table {p}t (id int primary key)")
    tx = conn.transaction()
    tx.execute(f"insert into {p}t (id) values (1)")
    tx.rollback()
    tx = conn.transaction()
    tx.execute(f"insert into {p}t (id) values (2)")
    tx.commit()
    with pytest.raises(InterfaceError):
        tx.commit()
    # dropped while open: rolled back, connection back in the pool
    tx = conn.transaction()
    tx.execute(f"insert into {p}t (id) values (3)")
    del tx
    gc.collect()
    for _ in range(8):  # every pooled connection is usable and clean
        assert conn.query(f"select id from {p}t").to_pylist() == [{"id": 2}]
    conn.execute(f"insert into {p}t (id) values (4)")
    assert count(conn, f"{p}t") == 2


def test_isolation_and_read_only(db: tuple[sqlarrow.Connector, str]) -> None:
    conn, p = db
    conn.execute(f"create table {p}t (id int)")
    with pytest.raises(ConfigError, match="isolation"):
        conn.transaction(isolation="chaos")
    if conn.engine == "sqlite":
        with pytest.raises(ConfigError, match="serializable"):
            conn.transaction(isolation="read committed")
        iso = "serializable"
    else:
        iso = "repeatable_read"
    with conn.transaction(isolation=iso) as tx:
        tx.execute(f"insert into {p}t (id) values (1)")
    with pytest.raises(sqlarrow.ReadOnlyViolation), conn.transaction(read_only=True) as tx:
        assert tx.query(f"select count(*) as n from {p}t").to_pylist()[0]["n"] == 1
        tx.execute(f"insert into {p}t (id) values (2)")
    assert count(conn, f"{p}t") == 1
    # read-only mode is cleared afterwards on every connection
    for i in range(5):
        conn.execute(f"insert into {p}t (id) values ({10 + i})")


def test_builder_inside_transaction(db: tuple[sqlarrow.Connector, str]) -> None:
    conn, p = db
    conn.execute(f"create table {p}t (id int primary key, v varchar(10))")
    table = (p.strip(".").strip('"'), "t") if p else "t"
    with pytest.raises(RuntimeError), conn.transaction() as tx:
        assert tx.insert(table, {"id": 1, "v": "a"}) == 1
        assert tx.update(table, set={"v": "b"}, where={"id": 1}) == 1
        assert tx.select(table, ["v"], where={"id": [1]}).to_pylist() == [{"v": "b"}]
        assert tx.delete(table, where={"v": None}) == 0
        raise RuntimeError("undo")
    assert count(conn, f"{p}t") == 0


@pytest.mark.parametrize("sql", ["", "   \n", ";", "-- only a comment", "/* a */ ; -- b"])
def test_a_text_without_a_statement_is_named_the_same_everywhere(
    db: tuple[sqlarrow.Connector, str], sql: str
) -> None:
    # PostgreSQL answered such a text with an empty result, MySQL with "Query was
    # empty", SQLite with "bad parameter or other API misuse".
    conn, _ = db
    calls = [
        lambda: conn.query(sql),
        lambda: conn.execute(sql),
        lambda: conn.stream(sql),
        lambda: conn.executemany(sql, [[], []]),
    ]
    for call in calls:
        with pytest.raises(sqlarrow.QueryError, match="holds no statement"):
            call()
    with conn.transaction() as tx:
        with pytest.raises(sqlarrow.QueryError, match="holds no statement"):
            tx.query(sql)
        with pytest.raises(sqlarrow.QueryError, match="holds no statement"):
            tx.execute(sql)
        assert tx.query("select 1 as one").to_pylist() == [{"one": 1}]
    if conn.engine == "mysql":
        with pytest.raises(sqlarrow.QueryError, match="holds no statement"):
            conn.query("# a MySQL comment")
    assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]


def test_several_statements_where_one_runs_are_named_the_same_everywhere(
    db: tuple[sqlarrow.Connector, str],
) -> None:
    # PostgreSQL said "cannot insert multiple commands into a prepared statement", MySQL
    # gave a syntax error "near" the second statement, SQLite "run them one at a time".
    conn, p = db
    conn.execute(f"create table {p}ms (x int)")
    marker = "$1" if conn.engine == "postgres" else "?"
    two = "select 1 as a; select 2 as b"
    with_params = f"insert into {p}ms values ({marker}); insert into {p}ms values (3)"
    calls = [
        lambda: conn.query(two),
        lambda: conn.query(two, timeout=5),
        lambda: conn.stream(two).read_all(),
        lambda: conn.execute(with_params, [1]),
        lambda: conn.executemany(with_params, [[1], [2]]),
    ]
    for call in calls:
        with pytest.raises(sqlarrow.QueryError, match="several statements were given") as e:
            call()
        assert not isinstance(e.value, sqlarrow.SqlSyntaxError)
    with conn.transaction() as tx:
        for call in (
            lambda: tx.query(two),
            lambda: tx.stream(two).read_all(),
            lambda: tx.execute(with_params, [1]),
        ):
            with pytest.raises(sqlarrow.QueryError, match="several statements were given"):
                call()
            if conn.engine == "postgres":
                tx.rollback()
                break
    # A script without parameters still runs every statement, and one statement with
    # a syntax error keeps the server's own error.
    conn.execute(f"insert into {p}ms values (1); insert into {p}ms values (2)")
    assert count(conn, f"{p}ms") == 2
    with pytest.raises(sqlarrow.SqlSyntaxError):
        conn.query("selec 1;")


@pytest.fixture(params=["postgres", "sqlite-memory", "sqlite-file", "mysql"])
def one_conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sqlarrow.Connector]:
    """A connector whose pool holds one connection (a long pool_timeout: a call that
    waited for itself would hang for minutes instead of failing)."""
    if request.param == "postgres":
        conn = sqlarrow.PostgreSQLConnector(
            "127.0.0.1",
            user="postgres",
            database="postgres",
            sslmode="disable",
            pool_size=1,
            pool_timeout=60,
        )
    elif request.param == "sqlite-memory":
        conn = sqlarrow.SQLiteConnector(":memory:", pool_timeout=60)
    elif request.param == "sqlite-file":
        conn = sqlarrow.SQLiteConnector(str(tmp_path / "one.db"), pool_size=1, pool_timeout=60)
    else:
        conn = sqlarrow.MySQLConnector(
            MY_HOST,
            port=MY_PORT,
            user="root",
            ssl_mode="disabled",
            pool_size=1,
            pool_timeout=60,
        )
    with conn:
        yield conn


def test_a_call_that_would_wait_for_its_own_thread_fails_at_once(
    one_conn: sqlarrow.Connector,
) -> None:
    conn = one_conn
    assert conn.pool_stats().max_size == 1
    with conn.transaction() as tx:
        calls = [lambda: conn.execute("select 1"), lambda: conn.transaction()]
        # (MySQL reads results on connections of their own: reads still run)
        if conn.engine != "mysql":
            calls += [lambda: conn.query("select 1 as x"), lambda: conn.stream("select 1")]
        for call in calls:
            with pytest.raises(sqlarrow.exceptions.PoolTimeoutError, match="this thread") as e:
                call()
            assert "tx.query" in str(e.value)
            assert not e.value.transient
        assert tx.query("select 1 as x").to_pylist() == [{"x": 1}]
    # the transaction's end gives the connection back
    assert conn.query("select 1 as x").to_pylist() == [{"x": 1}]
    if conn.engine == "mysql":
        return
    # an unfinished stream holds its connection too, until it ends or is closed
    long = (
        "select generate_series(1, 1000000) as x"
        if conn.engine == "postgres"
        else "with recursive c(x) as (select 1 union all select x + 1 from c limit 1000000) "
        "select x from c"
    )
    s = conn.stream(long, batch_size=10)
    next(iter(s))
    with pytest.raises(sqlarrow.exceptions.PoolTimeoutError, match="this thread"):
        conn.execute("select 1")
    s.close()
    assert conn.execute("select 1") >= 0
    # a stream left unfinished and dropped gives its connection back on its own
    for i, _ in enumerate(conn.stream(long, batch_size=10)):
        if i == 2:
            break
    assert conn.query("select 1 as x").to_pylist() == [{"x": 1}]


def test_a_connection_held_by_another_thread_is_waited_for(
    one_conn: sqlarrow.Connector,
) -> None:
    import threading

    conn = one_conn
    tx = conn.transaction()
    tx.query("select 1 as x")
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(conn.execute("select 1")))
    t.start()
    t.join(0.5)
    assert t.is_alive(), "waits for the transaction of another thread"
    tx.commit()
    t.join(60)
    assert not t.is_alive() and len(out) == 1


def test_pg_a_refused_copy_keeps_the_transaction(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """A write whose COPY the server refuses before it starts (a read-only transaction,
    no INSERT privilege) made tokio-postgres drop the connection, losing the caller's
    transaction: the next statement raised DatabaseConnectionError."""
    t = f'"{pg_schema}".rc'
    pg.execute(f"create table {t} (id int primary key, v text)")
    data = pa.table({"id": [5], "v": ["z"]})
    with pg.transaction(read_only=True) as tx:
        for kw in ({}, {"mode": "upsert", "key": ["id"]}):
            with pytest.raises(sqlarrow.ReadOnlyViolation, match="read-only transaction"):
                tx.write(t, data, **kw)  # type: ignore[arg-type]
        assert tx.query("select count(*) as n from " + t).to_pylist() == [{"n": 0}]
    role = f"sqlarrow_r_{uuid.uuid4().hex[:12]}"
    pg.execute(f"create role {role}")
    try:
        pg.execute(f'grant usage on schema "{pg_schema}" to {role}')
        pg.execute(f"grant select on {t} to {role}")
        with pg.transaction() as tx:
            tx.execute(f"insert into {t} values (1, 'a')")
            tx.execute(f"set local role {role}")
            with pytest.raises(sqlarrow.QueryError, match="permission denied") as e:
                tx.write(t, data)
            assert e.value.sqlstate == "42501"
            tx.execute("reset role")
            assert tx.query(f"select id from {t}").to_pylist() == [{"id": 1}]
        assert pg.query(f"select id from {t}").to_pylist() == [{"id": 1}]
    finally:
        pg.execute(f'revoke all on schema "{pg_schema}" from {role}')
        pg.execute(f"revoke all on {t} from {role}")
        pg.execute(f"drop role {role}")


def test_execute_counts_the_rows_a_select_returns_on_every_engine(
    db: tuple[sqlarrow.Connector, str],
) -> None:
    """execute() of a statement that returns rows gives the rows it returned, as
    PostgreSQL's command tag does: MySQL gave a stale 1, SQLite 0. In and out of a
    transaction, with and without parameters; DML still counts rows changed."""
    c, p = db
    m = "$1" if c.engine == "postgres" else "?"
    t = f"{p}ex"
    c.execute(f"create table {t} (a int)")
    assert c.execute(f"insert into {t} values (1), (2), (3)") == 3
    assert c.execute(f"select a from {t}") == 3
    assert c.execute(f"select a from {t} where a > {m}", [1]) == 2
    assert c.execute(f"select a from {t} where a > 5") == 0
    with c.transaction() as tx:
        assert tx.execute(f"select a from {t}") == 3
        assert tx.execute(f"select a from {t} where a > {m}", [2]) == 1
        assert tx.execute(f"update {t} set a = a + 1 where a > {m}", [1]) == 2


def test_transaction_control_that_would_outlive_a_call_is_refused(
    db: tuple[sqlarrow.Connector, str],
) -> None:
    """`execute("BEGIN")` left one pooled connection inside a transaction: later calls
    ran in it or not depending on which connection they got, its rows were invisible
    to others and lost at close, and a later `COMMIT` could land elsewhere. Such texts
    are refused before they run, on the connector and (for COMMIT/ROLLBACK/BEGIN) in a
    transaction object; a text that opens and ends its own transaction still runs."""
    conn, p = db
    conn.execute(f"create table {p}t (id int)")
    begin = "start transaction" if conn.engine == "mysql" else "begin"
    for sql in [begin, f"insert into {p}t values (1); {begin}", "commit", "rollback"]:
        with pytest.raises(InterfaceError, match=r"conn\.transaction\(\)"):
            conn.execute(sql)
        with pytest.raises(InterfaceError, match=r"conn\.transaction\(\)"):
            conn.query(sql)
    assert count(conn, f"{p}t") == 0  # the refused texts ran nothing
    conn.execute(f"{begin}; insert into {p}t values (1); insert into {p}t values (2); commit")
    assert count(conn, f"{p}t") == 2
    with conn.transaction() as tx:
        for sql in ["commit", "rollback", begin, f"insert into {p}t values (3); commit"]:
            with pytest.raises(InterfaceError, match=r"tx\.commit\(\) or tx\.rollback\(\)"):
                tx.execute(sql)
        tx.execute("savepoint s1")
        tx.execute(f"insert into {p}t values (4)")
        tx.execute("rollback to savepoint s1")
        tx.execute(f"insert into {p}t values (5)")
    assert sorted(r["id"] for r in conn.query(f"select id from {p}t").to_pylist()) == [1, 2, 5]


def test_pg_a_refused_copy_outside_a_transaction_leaves_a_usable_pool(
    pg_url: str, pg_admin: sqlarrow.Connector, pg_schema: str
) -> None:
    """Outside a transaction the same refusals discarded the connection, and the next
    call could get it while it was still closing: `execute` then raised "connection
    closed". No privilege is now a plain error that keeps the connection. Views and
    tables under row-level security, which COPY refuses (losing the connection), are
    written through INSERT from a staged copy, as a user's INSERT would be."""
    t = f'"{pg_schema}".rc'
    pg_admin.execute(f"create table {t} (id int)")
    pg_admin.execute(f'create view "{pg_schema}".rv as select id from {t}')
    pg_admin.execute(f'create view "{pg_schema}".agg as select count(*) as id from {t}')
    role = f"sqlarrow_r_{uuid.uuid4().hex[:12]}"
    pg_admin.execute(f"create role {role} login")
    try:
        pg_admin.execute(f'grant usage on schema "{pg_schema}" to {role}')
        pg_admin.execute(f"grant select on {t} to {role}")
        u = urllib.parse.urlsplit(pg_url)
        url = urllib.parse.urlunsplit(u._replace(netloc=f"{role}@{u.hostname}:{u.port or 5432}"))
        with sqlarrow.connect(url, pool_size=1) as conn:
            for _ in range(3):
                with pytest.raises(sqlarrow.QueryError, match="permission denied") as e:
                    conn.write(t, pa.table({"id": [1]}))
                assert e.value.sqlstate == "42501"
                assert conn.query(f"select count(*) as n from {t}").to_pylist() == [{"n": 0}]
            stats = conn.pool_stats()
            assert (stats.created, stats.closed) == (1, 0), stats
        # Column-level grants: an input column the role may not insert into.
        pg_admin.execute(f"alter table {t} add column secret text")
        pg_admin.execute(f"grant insert (id) on {t} to {role}")
        with sqlarrow.connect(url, pool_size=1) as conn:
            with pytest.raises(sqlarrow.QueryError, match=r"column\(s\) secret") as e:
                conn.write(t, pa.table({"id": [1], "secret": ["x"]}))
            assert e.value.sqlstate == "42501"
            with conn.transaction() as tx:
                with pytest.raises(sqlarrow.QueryError, match="secret"):
                    tx.write(t, pa.table({"id": [1], "secret": ["x"]}))
                assert tx.write(t, pa.table({"id": [9]})).rows_written == 1
            stats = conn.pool_stats()
            assert (stats.created, stats.closed) == (1, 0), stats
        pg_admin.execute(f"delete from {t}")
        pg_admin.execute(f"revoke insert (id) on {t} from {role}")
        pg_admin.execute(f"alter table {t} drop column secret")
        with sqlarrow.connect(pg_url, pool_size=1) as conn:
            # An automatically updatable view takes the rows; one that is not says so.
            assert conn.write(f'"{pg_schema}".rv', pa.table({"id": [1, 2]})).rows_written == 2
            with conn.transaction() as tx:
                tx.execute(f"insert into {t} values (8)")
                with pytest.raises(sqlarrow.SqlArrowError, match="agg"):
                    tx.write(f'"{pg_schema}".agg', pa.table({"id": [1]}))
                assert tx.write(f'"{pg_schema}".rv', pa.table({"id": [3]})).rows_written == 1
            assert conn.query(f"select count(*) as n from {t}").to_pylist() == [{"n": 4}]
            stats = conn.pool_stats()
            assert (stats.created, stats.closed) == (1, 0), stats
            # A view with an INSTEAD OF INSERT trigger.
            conn.execute(
                f'create function "{pg_schema}".rv_ins() returns trigger language plpgsql as '
                f"$$ begin insert into {t} values (new.id * 10); return new; end $$"
            )
            conn.execute(
                f'create trigger rv_ins instead of insert on "{pg_schema}".rv '
                f'for each row execute function "{pg_schema}".rv_ins()'
            )
            assert conn.write(f'"{pg_schema}".rv', pa.table({"id": [5]})).rows_written == 1
            assert conn.query(f"select max(id) as m from {t}").to_pylist() == [{"m": 50}]
        # Row-level security: COPY FROM is refused for a role the policy applies to.
        pg_admin.execute(f"grant insert on {t} to {role}")
        pg_admin.execute(f"alter table {t} enable row level security")
        pg_admin.execute(f"create policy small on {t} for all using (true) with check (id < 100)")
        with sqlarrow.connect(url, pool_size=1) as conn:
            assert conn.write(t, pa.table({"id": [60, 61]})).rows_written == 2
            with pytest.raises(sqlarrow.SqlArrowError, match="row-level security"):
                conn.write(t, pa.table({"id": [62, 600]}))
            n = conn.query(f"select count(*) as n from {t} where id between 60 and 69")
            assert n.to_pylist() == [{"n": 2}]  # the refused write left nothing
            # on_error="skip" sets aside the rows the policy refuses.
            res = conn.write(t, pa.table({"id": [63, 700, 64]}), on_error="skip")
            assert (res.rows_written, res.rows_failed) == (2, 1)
            failed = pa.table(res.failed).to_pylist()
            assert failed[0]["id"] == 700
            assert "row-level security" in failed[0]["_sqlarrow_error"]
            stats = conn.pool_stats()
            assert (stats.created, stats.closed) == (1, 0), stats
        assert pg_scalar(pg_admin, f"select count(*) from {t} where id between 60 and 69") == 4
    finally:
        pg_admin.execute(f'revoke all on schema "{pg_schema}" from {role}')
        pg_admin.execute(f"drop policy if exists small on {t}")
        pg_admin.execute(f"revoke all on {t} from {role}")
        pg_admin.execute(f"drop role {role}")


_SLOW = {
    "postgres": "select pg_sleep(5)",
    "mysql": "select sleep(5)",
    "sqlite": (
        "with recursive r(i) as (select 1 union all select i + 1 from r where i < 100000000) "
        "select count(*) from r"
    ),
}


def test_timeouts_apply_inside_a_transaction(db: tuple[sqlarrow.Connector, str]) -> None:
    """A per-call ``timeout=`` (and the connector's statement_timeout, below) bound a
    statement in a transaction as outside one: they were ignored there, so a
    transaction's query ran as long as it liked."""
    conn, p = db
    conn.execute(f"create table {p}t (id int primary key)")
    slow = _SLOW[conn.engine]
    with conn.transaction() as tx:
        tx.execute(f"insert into {p}t values (1)")
        for call in (tx.query, tx.execute):
            with pytest.raises(sqlarrow.QueryTimeoutError, match="timeout"):
                call(slow, timeout=0.3)
            if conn.engine == "postgres":
                break  # the statement's error aborted the transaction
            # MySQL and SQLite roll back only the statement: the transaction goes on.
            assert tx.query(f"select count(*) as n from {p}t").to_pylist() == [{"n": 1}]
        if conn.engine != "postgres":
            assert tx.executemany(f"insert into {p}t values (?)", [[2], [3]]) == 2
            assert tx.insert(f"{p}t", [{"id": 4}, {"id": 5}]) == 2
        else:
            tx.rollback()
    assert count(conn, f"{p}t") == (0 if conn.engine == "postgres" else 5)
    with pytest.raises(ConfigError, match="timeout"):
        conn.transaction().query("select 1", timeout=0)


@pytest.mark.parametrize("engine", ["postgres", "mysql", "sqlite"])
def test_the_connectors_statement_timeout_applies_inside_a_transaction(
    engine: str, pg_url: str, tmp_path: Path
) -> None:
    url = {
        "postgres": pg_url,
        "mysql": f"mysql://root@{MY_HOST}:{MY_PORT}/?ssl_mode=disabled",
        "sqlite": f"sqlite:///{tmp_path / 't.db'}",
    }[engine]
    with sqlarrow.connect(url, statement_timeout=0.3) as conn:
        with conn.transaction() as tx:
            with pytest.raises(sqlarrow.QueryTimeoutError):
                tx.query(_SLOW[engine])
            tx.rollback()
        with conn.transaction() as tx:
            # A per-call timeout overrides it, as outside a transaction.
            assert tx.query("select 1 as x", timeout=10).to_pylist() == [{"x": 1}]


def _series(engine: str, n: int) -> str:
    if engine == "postgres":
        return f"select g as i from generate_series(1, {n}) g"
    # (MariaDB stops a recursive CTE after 1000 iterations by default: cross joins.)
    digits = " union all ".join(f"select {k} as x" for k in range(10))
    return (
        f"select a.x + 10 * b.x + 100 * c.x + 1000 * d.x + 10000 * e.x + 100000 * f.x as i "
        f"from ({digits}) a, ({digits}) b, ({digits}) c, ({digits}) d, ({digits}) e, "
        f"({digits}) f limit {n}"
    )


def test_stream_inside_a_transaction(db: tuple[sqlarrow.Connector, str]) -> None:
    """``tx.stream`` reads on the transaction's connection, in batches; the stream holds
    the connection until read or closed (the next statement before then is a typed
    error, not a wait for itself), and closing early leaves the transaction usable."""
    conn, p = db
    conn.execute(f"create table {p}t (id int primary key)")
    with conn.transaction() as tx:
        tx.insert(f"{p}t", [{"id": 1}, {"id": 2}])
        with tx.stream(f"select id from {p}t order by id", batch_size=1) as s:
            assert [b.to_pylist() for b in s] == [[{"id": 1}], [{"id": 2}]]
        big = tx.stream(_series(conn.engine, 300_000), batch_size=1000)
        first = next(iter(big))
        assert first.num_rows == 1000
        assert tx.active
        with pytest.raises(InterfaceError, match="stream of this transaction is still open"):
            tx.query("select 1 as x")
        big.close()
        # Closed early, the rest was drained (PostgreSQL/MySQL) or the statement stopped
        # (SQLite): the transaction goes on, its changes intact.
        assert tx.query(f"select count(*) as n from {p}t").to_pylist() == [{"n": 2}]
        whole = tx.stream(_series(conn.engine, 5000), batch_size=700).read_all()
        assert whole.num_rows == 5000
        tx.execute(f"insert into {p}t values (3)")
        # A stream left open when the block ends is closed before the commit.
        left = tx.stream(_series(conn.engine, 100_000), batch_size=10)
        next(iter(left))
    assert left.closed
    assert count(conn, f"{p}t") == 3
    with conn.transaction() as tx:
        with pytest.raises(sqlarrow.UndefinedObjectError):
            tx.stream(f"select * from {p}missing")
        with pytest.raises(ConfigError, match="batch_size"):
            tx.stream("select 1", batch_size=0)
        tx.rollback()
    with pytest.raises(InterfaceError, match="finished"):
        tx.stream("select 1")


def test_stream_inside_a_transaction_obeys_timeouts(db: tuple[sqlarrow.Connector, str]) -> None:
    conn, _ = db
    with conn.transaction() as tx:
        with pytest.raises(sqlarrow.QueryTimeoutError):
            tx.stream(_SLOW[conn.engine], timeout=0.3).read_all()
        tx.rollback()
    with conn.transaction() as tx:
        pa_reader = pa.RecordBatchReader.from_stream(tx.stream(_series(conn.engine, 10)))
        assert pa_reader.read_all().num_rows == 10
        assert tx.query("select 2 as y").to_pylist() == [{"y": 2}]


def test_mysql_transaction_starts_on_a_live_connection_after_a_server_kill() -> None:
    # A pooled connection the server closed within the last second (before the pool's
    # ping interval) failed the next transaction's START with "connection closed".
    admin = sqlarrow.MySQLConnector(MY_HOST, port=MY_PORT, user="root", ssl_mode="disabled")
    with mysql_connector(pool_size=4) as (conn, database), admin:
        for _ in range(3):
            with conn.transaction() as tx:
                tx.execute("select 1")
            ids = admin.query(
                "select id from information_schema.processlist where db = ? "
                "and id <> connection_id()",
                [database],
            ).to_pylist()
            assert len(ids) >= 1
            for row in ids:
                admin.execute(f"kill {int(row['id'])}")
            with conn.transaction() as tx:
                assert tx.query("select 1 as x").to_pylist() == [{"x": 1}]


@pytest.mark.parametrize("engine", ["postgres", "mysql", "sqlite"])
def test_session_state_set_in_a_transaction_never_reaches_the_pool(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A `SET`, a temporary table or MySQL's `USE` run in a transaction stayed on the
    connection when it went back to the pool, and reached whichever later call got it:
    a search_path or sql_mode nobody asked for, another default database."""
    with ExitStack() as stack:
        if engine == "postgres":
            conn = stack.enter_context(
                sqlarrow.connect(request.getfixturevalue("pg_url"), pool_size=1)
            )
            change = ["set search_path = pg_catalog", "create temp table tt (x int)"]
            probe = "select current_setting('search_path') as v"
        elif engine == "mysql":
            conn, _ = stack.enter_context(mysql_connector(pool_size=1))
            other = stack.enter_context(mysql_database())
            change = ["set @v = 7", f"use `{other}`", "create temporary table tt (x int)"]
            probe = "select concat_ws('/', @v, database()) as v"
        else:
            conn = stack.enter_context(
                sqlarrow.connect(f"sqlite:///{tmp_path / 's.db'}", pool_size=1)
            )
            change = ["create temp table tt (x int)"]
            probe = "select count(*) as v from temp.sqlite_master"
        with conn.transaction() as tx:
            before = tx.query(probe).to_pylist()
        for sql in change:
            for end in ("commit", "rollback", "drop"):
                tx = conn.transaction()
                tx.execute(sql)
                if end == "commit":
                    tx.commit()
                elif end == "rollback":
                    tx.rollback()
                else:
                    del tx
                    gc.collect()
                with conn.transaction() as tx:
                    assert tx.query(probe).to_pylist() == before, (sql, end)
                    assert tx.execute("create temporary table tt (x int)") == 0
                    tx.rollback()
        # State that ends with the transaction keeps the connection.
        with conn.transaction() as tx:
            tx.execute("set local search_path = pg_catalog" if engine == "postgres" else "select 1")
        # One connection per transaction that left state (each probe creates a temp table).
        assert conn.pool_stats().created == 1 + 2 * 3 * len(change)
