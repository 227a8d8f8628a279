"""Session settings for every pooled connection (``settings=``).

A ``SET`` run through ``execute()`` reaches only the pooled connection that ran it: on
PostgreSQL the next query may or may not see it, and on MySQL queries (the fast reader)
and ``execute`` (mysql_async) do not even share connections. ``settings=`` makes each
connection open with them, on every path.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import sqlarrow
from conftest import MY_HOST, MY_PASSWORD, MY_PORT, MY_USER, mysql_database
from sqlarrow import ConfigError

SHOW = (
    "select current_setting('search_path') as path, current_setting('work_mem') as mem, "
    "current_setting('enable_seqscan') as seq, pg_sleep(0.05)::text as z"
)


def _every_connection(conn: sqlarrow.Connector, sql: str, n: int) -> list[list[dict]]:
    """Run `sql` on `n` threads at once, so that `n` pooled connections answer."""
    with cf.ThreadPoolExecutor(n) as ex:
        return list(ex.map(lambda _: conn.query(sql).to_pylist(), range(2 * n)))


def test_postgres_settings_reach_every_path(pg_url: str, pg_schema: str) -> None:
    settings = {"search_path": f'"{pg_schema}", public', "work_mem": "7MB", "enable_seqscan": False}
    with sqlarrow.connect(pg_url, pool_size=3, settings=settings) as conn:
        want = [{"path": f'"{pg_schema}", public', "mem": "7MB", "seq": "off", "z": ""}]
        assert conn.pool_stats().max_size == 3
        for rows in _every_connection(conn, SHOW, 3):
            assert rows == want
        assert conn.pool_stats().created == 3
        assert conn.settings == settings
        # Unqualified names resolve in the schema, on every path.
        conn.execute("create table t (id int)")
        assert conn.write("t", pa.table({"id": [1, 2]})).rows_written == 2
        assert conn.query("select count(*) as n from t").to_pylist() == [{"n": 2}]
        with conn.stream("select id from t order by id") as s:
            assert s.read_all().to_pylist() == [{"id": 1}, {"id": 2}]
        with conn.transaction() as tx:
            assert tx.query("select current_setting('work_mem') as m").to_pylist() == [{"m": "7MB"}]
        assert [t["name"] for t in conn.list_tables(pg_schema)] == ["t"]


def test_postgres_settings_text_is_escaped_for_the_startup_packet(pg_url: str) -> None:
    """Spaces and backslashes inside a value are not taken for the next option."""
    value = "with space\\and back\\\\slash"
    with sqlarrow.connect(pg_url, settings={"my.first": value, "my.custom": "a b"}) as c:
        got = c.query(
            "select current_setting('my.first') as a, current_setting('my.custom') as b"
        ).to_pylist()
    assert got == [{"a": value, "b": "a b"}]


def test_postgres_settings_from_a_libpq_url_and_a_config_file(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sep = "&" if "?" in pg_url else "?"
    url = pg_url + sep + "options=-c%20work_mem%3D3MB%20-cstatement_mem%3D1%20--geqo%3Doff"
    with pytest.raises(sqlarrow.UndefinedObjectError, match="statement_mem"):
        sqlarrow.connect(url).query("select 1")
    url = pg_url + sep + "options=-c%20work_mem%3D3MB%20--geqo%3Doff%20-c%20search_path%3Da,%5C%20b"
    with sqlarrow.connect(url) as conn:
        assert conn.settings == {"work_mem": "3MB", "geqo": "off", "search_path": "a, b"}
        got = conn.query(
            "select current_setting('work_mem') as m, current_setting('geqo') as g"
        ).to_pylist()
        assert got == [{"m": "3MB", "g": "off"}]
    with pytest.raises(ConfigError, match="-c name=value"):
        sqlarrow.connect(pg_url + sep + "options=work_mem%3D3MB")
    with pytest.raises(ConfigError, match="not name=value"):
        sqlarrow.connect(pg_url + sep + "options=-c%20work_mem")

    monkeypatch.setenv("SQLARROW_TEST_MEM", "5MB")
    cfg = tmp_path / "connections.yaml"
    cfg.write_text(
        f"connections:\n  warehouse:\n    url: {pg_url}\n    settings:\n"
        "      work_mem: ${SQLARROW_TEST_MEM}\n      jit: false\n      geqo_threshold: 20\n"
    )
    with sqlarrow.connect(name="warehouse", config=str(cfg)) as conn:
        got = conn.query(
            "select current_setting('work_mem') as m, current_setting('jit') as j, "
            "current_setting('geqo_threshold') as t"
        ).to_pylist()
        assert got == [{"m": "5MB", "j": "off", "t": "20"}]
    cfg.write_text(f"connections:\n  warehouse:\n    url: {pg_url}\n    settings: [work_mem]\n")
    with pytest.raises(ConfigError, match="settings: expected a mapping"):
        sqlarrow.connect(name="warehouse", config=str(cfg))


def test_postgres_settings_that_are_refused(pg_url: str) -> None:
    for bad, needle in [
        ({"client_encoding": "LATIN1"}, "UTF-8"),
        ({"DateStyle": "SQL, DMY"}, "ISO"),
        ({"statement_timeout": 5}, "statement_timeout="),
        ({"application_name": "etl"}, "application_name="),
        ({"default_transaction_read_only": False}, "read_only=True"),
        ({"search_path; drop table x": "a"}, "not a setting name"),
        ({"work_mem": "1MB", "WORK_MEM": "2MB"}, "twice"),
        ({"work_mem": ["1MB"]}, "must be a str, int, float or bool"),
        ({"work_mem": float("inf")}, "not a finite number"),
        ({"search_path": "a\x00b"}, "NUL"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            sqlarrow.connect(pg_url, settings=bad)
    with pytest.raises(ConfigError, match="mapping of setting name"):
        sqlarrow.connect(pg_url, settings=[("work_mem", "1MB")])
    # The server judges names and values when a connection opens: a typed error that
    # names the setting, and nothing pooled.
    with sqlarrow.connect(pg_url, settings={"no_such_setting": "1"}) as conn:
        with pytest.raises(sqlarrow.UndefinedObjectError, match="no_such_setting"):
            conn.query("select 1")
        assert conn.pool_stats().idle == 0
    with (
        sqlarrow.connect(pg_url, settings={"work_mem": "lots"}) as conn,
        pytest.raises(sqlarrow.DataError, match="work_mem"),
    ):
        conn.query("select 1")


def test_read_only_cannot_be_undone_by_a_setting(pg_url: str) -> None:
    with pytest.raises(ConfigError, match="read_only"):
        sqlarrow.connect(pg_url, read_only=True, settings={"transaction_read_only": "off"})
    with sqlarrow.connect(pg_url, read_only=True, settings={"work_mem": "2MB"}) as conn:
        assert conn.query("show transaction_read_only").to_pylist() == [
            {"transaction_read_only": "on"}
        ]


def test_redshift_mode_sets_them_after_connecting(pg_url: str) -> None:
    """Redshift ignores the startup `options`: the settings are set after connecting,
    read as `options` reads them (a list setting's items stay items)."""
    conn = sqlarrow.RedshiftConnector(
        "127.0.0.1",
        5432,
        "postgres",
        "postgres",
        sslmode="disable",
        settings={"search_path": '"it\'s", public', "enable_seqscan": False},
    )
    with conn:
        got = conn.query(
            "select current_setting('search_path') as p, current_setting('enable_seqscan') as s"
        ).to_pylist()
        assert got == [{"p": '"it\'s", public', "s": "off"}]
    bad = sqlarrow.RedshiftConnector(
        "127.0.0.1", 5432, "postgres", "postgres", sslmode="disable", settings={"nope": 1}
    )
    with bad, pytest.raises(sqlarrow.SqlArrowError, match="connector's settings were refused"):
        bad.query("select 1")


# -- MySQL / MariaDB ---------------------------------------------------------------------
@pytest.fixture
def my_db() -> Iterator[str]:
    with mysql_database() as name:
        yield name


def _my(database: str, **kw: object) -> sqlarrow.MySQLConnector:
    return sqlarrow.MySQLConnector(
        MY_HOST,
        MY_PORT,
        database,
        user=MY_USER,
        password=MY_PASSWORD,
        ssl_mode="disabled",
        **kw,  # type: ignore[arg-type]
    )


def test_mysql_settings_reach_the_reader_execute_and_transactions(my_db: str) -> None:
    settings = {
        "sql_mode": "STRICT_ALL_TABLES,NO_ZERO_DATE",
        "div_precision_increment": 8,
        "group_concat_max_len": "123457",  # text that is a number: sent as a number
        "foreign_key_checks": False,
        "lc_time_names": "de_DE",
    }
    sql = (
        "select @@session.sql_mode as m, @@session.div_precision_increment as d, "
        "@@session.group_concat_max_len as g, @@session.foreign_key_checks as f, "
        "@@session.lc_time_names as l"
    )
    want = {
        "m": "STRICT_ALL_TABLES,NO_ZERO_DATE",
        "d": 8,
        "g": 123457,
        "f": 0,
        "l": "de_DE",
    }
    with _my(my_db, pool_size=2, settings=settings) as conn:
        for rows in _every_connection(conn, sql, 2):
            assert rows == [want]
        with conn.transaction() as tx:
            assert tx.query(sql).to_pylist() == [want]
        # execute() runs on mysql_async's connections: a strict sql_mode refuses there too.
        conn.execute("create table t (d date)")
        with pytest.raises(sqlarrow.SqlArrowError, match=r"(?i)incorrect date|invalid"):
            conn.execute("insert into t values ('0000-00-00')")
        assert conn.query("select 1/3 as x").to_pylist()[0]["x"].as_tuple().exponent == -8


def test_mysql_settings_that_are_refused(my_db: str) -> None:
    for bad, needle in [
        ({"time_zone": "+01:00"}, "UTC"),
        ({"character_set_results": "latin1"}, "utf8mb4"),
        ({"autocommit": 0}, "transaction"),
        ({"transaction_read_only": 1}, "read_only=True"),
        ({"max_statement_time": 1}, "statement_timeout="),
        ({"sql_mode": "TRADITIONAL,ANSI_QUOTES"}, "ANSI_QUOTES"),
        ({"sql_mode": "no_backslash_escapes"}, "NO_BACKSLASH_ESCAPES"),
        ({"sql_mode": "ORACLE"}, "ORACLE"),
        ({"innodb.x": 1}, "not a setting name"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            _my(my_db, settings=bad)
    with _my(my_db, settings={"no_such_variable": 1}) as conn:
        with pytest.raises(sqlarrow.SqlArrowError, match="no_such_variable"):
            conn.query("select 1")
        with pytest.raises(sqlarrow.SqlArrowError, match="no_such_variable"):
            conn.execute("select 1")


# -- SQLite: PRAGMAs -------------------------------------------------------------------
def test_sqlite_pragmas_on_every_connection(tmp_path: Path) -> None:
    settings = {
        "journal_mode": "WAL",
        "synchronous": "normal",
        "main.cache_size": -20000,
        "foreign_keys": False,
        "case_sensitive_like": True,
    }
    path = tmp_path / "p.db"
    with sqlarrow.SQLiteConnector(path, pool_size=3, settings=settings) as conn:
        sql = (
            "select j.journal_mode as j, s.synchronous as s, c.cache_size as c, "
            "f.foreign_keys as f, 'a' like 'A' as l from pragma_journal_mode j, "
            "pragma_synchronous s, pragma_cache_size c, pragma_foreign_keys f"
        )
        for rows in _every_connection(conn, sql, 3):
            assert rows == [{"j": "wal", "s": 1, "c": -20000, "f": 0, "l": 0}]
        assert conn.settings == settings
        with conn.transaction() as tx:
            assert tx.query("select cache_size as c from pragma_cache_size").to_pylist() == [
                {"c": -20000}
            ]
    with sqlarrow.connect(f"sqlite:///{path}", read_only=True, settings={"cache_size": 77}) as ro:
        # A PRAGMA statement is refused in read-only mode; the connector's own are not.
        assert ro.query("select cache_size as c from pragma_cache_size").to_pylist() == [{"c": 77}]


def test_sqlite_pragmas_sqlite_would_ignore_are_errors(tmp_path: Path) -> None:
    """SQLite ignores an unknown PRAGMA, and a journal mode it cannot use, silently."""
    path = tmp_path / "p.db"
    with sqlarrow.SQLiteConnector(path, settings={"synchronus": "off"}) as conn:
        with pytest.raises(ConfigError, match='SQLite has no PRAGMA "synchronus"'):
            conn.query("select 1")
        assert conn.pool_stats().idle == 0
    for where, bad in [(str(path), "bogus"), (":memory:", "wal")]:
        with (
            sqlarrow.SQLiteConnector(where, settings={"journal_mode": bad}) as conn,
            pytest.raises(ConfigError, match=f'cannot use "{bad}"'),
        ):
            conn.query("select 1")
    # A word SQLite does not know sets the PRAGMA to its default, silently.
    for bad, needle in [
        ({"synchronous": "normall"}, "synchronous takes one of off, normal, full, extra"),
        ({"temp_store": 7}, "temp_store takes one of"),
        ({"foreign_keys": "maybe"}, "foreign_keys takes on or off"),
    ]:
        with (
            sqlarrow.SQLiteConnector(path, settings=bad) as conn,
            pytest.raises(ConfigError, match=needle),
        ):
            conn.query("select 1")
    for bad, needle in [
        ({"query_only": True}, "read_only=True"),
        ({"busy_timeout": 100}, "pool_timeout"),
        ({"encoding": "UTF-16"}, "UTF-8"),
        ({"writable_schema": True}, "corrupt"),
        ({"a.b.c": 1}, "not a setting name"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            sqlarrow.SQLiteConnector(path, settings=bad)
