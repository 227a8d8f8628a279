"""Read-only mode against the real servers: an attack corpus (every statement refused,
the canary table unchanged, no file written), the session layer, and the API layer."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sqlarrow
from conftest import PG_URL

MY_HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))
MARKER = f"/tmp/sqlarrow_pwned_{uuid.uuid4().hex}"
CANARY_ROWS = [{"id": 1, "v": "one"}, {"id": 2, "v": "two"}]

# {t}: the canary table; {m}: a file path that must never be created.
COMMON = [
    "DELETE FROM {t}",
    "delete from {t}",
    "DeLeTe FrOm {t}",
    "/* harmless */ DELETE FROM {t}",
    "-- comment\nDELETE FROM {t}",
    "DELETE/**/FROM/**/{t}",
    "\tdelete\n\nfrom\r\n{t}",
    "SELECT 1; DELETE FROM {t}",
    "SELECT 1;DELETE FROM {t};",
    "SELECT * FROM {t}; DROP TABLE {t}",
    "SELECT 1 UNION SELECT 1; DELETE FROM {t}",
    "SELECT * FROM {t} WHERE id = 1 OR 1=1; UPDATE {t} SET v = 'pwned'",
    "SELECT 1 -- trailing\n; DELETE FROM {t}",
    "UPDATE {t} SET v = 'pwned'",
    "INSERT INTO {t} VALUES (99, 'pwned')",
    "INSERT INTO {t} SELECT id + 10, v FROM {t}",
    "DROP TABLE {t}",
    "TRUNCATE TABLE {t}",
    "ALTER TABLE {t} ADD COLUMN pwned INT",
    "CREATE TABLE pwned_table (a INT)",
    "CREATE TABLE pwned_table AS SELECT * FROM {t}",
    "CREATE VIEW pwned_view AS SELECT 1 AS a",
    "CREATE INDEX pwned_index ON {t} (v)",
    "SELECT * INTO pwned_table FROM {t}",
    "SELECT * FROM {t} FOR UPDATE",
    "SELECT * FROM {t} FOR SHARE",
    "WITH x AS (SELECT 1) DELETE FROM {t}",
    "EXPLAIN ANALYZE DELETE FROM {t}",
    "EXPLAIN DELETE FROM {t}",
    "\uff24\uff25\uff2c\uff25\uff34\uff25 FROM {t}",  # full-width DELETE
    "D\u0415LETE FROM {t}",  # Cyrillic E
    "SELECT 1\u037e DELETE FROM {t}",  # Greek question mark looks like ';'
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "",
    "   ;  ",
    "SELEC * FROM {t}",
    "SELECT * FROM {t} WHERE v = 'a\\'; DELETE FROM {t}; -- '",
    "VALUES (1); DELETE FROM {t}",
    "GRANT ALL ON {t} TO PUBLIC",
    "CALL pwned_proc()",
]

POSTGRES = [
    "WITH d AS (DELETE FROM {t} RETURNING *) SELECT * FROM d",
    "WITH u AS (UPDATE {t} SET v = 'pwned' RETURNING 1) SELECT * FROM u",
    "WITH i AS (INSERT INTO {t} VALUES (7, 'x') RETURNING 1) SELECT 1",
    "SELECT * FROM (SELECT 1) s, LATERAL (WITH d AS (DELETE FROM {t} RETURNING 1) "
    "SELECT * FROM d) x",
    "COPY {t} TO PROGRAM 'touch {m}'",
    "COPY (SELECT 1) TO '{m}'",
    "COPY {t} FROM '/etc/hostname'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT * FROM pg_catalog.pg_ls_dir('.')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1, '{m}')",
    "SELECT pg_sleep(5)",
    "SELECT PG_CATALOG.PG_SLEEP(5)",
    'SELECT "pg_sleep"(5)',
    "SELECT * FROM {t} WHERE pg_sleep(5) IS NULL",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT nextval('pwned_seq')",
    "SELECT setval('pwned_seq', 100)",
    "SELECT dblink_exec('dbname=postgres', 'DELETE FROM {t}')",
    "SELECT * FROM dblink('dbname=postgres', 'DELETE FROM {t} RETURNING 1') AS x(a int)",
    "SELECT query_to_xml('DELETE FROM {t} RETURNING *', true, true, '')",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT pg_notify('chan', 'msg')",
    "SELECT pg_advisory_lock(1)",
    "SELECT txid_current()",
    "DO $$BEGIN DELETE FROM {t}; END$$",
    "SET default_transaction_read_only = off",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "RESET ALL",
    "START TRANSACTION READ WRITE",
    "PREPARE p AS DELETE FROM {t}",
    "EXECUTE p",
    "LISTEN chan",
    "NOTIFY chan",
    "LOCK TABLE {t}",
    "SELECT * FROM {t} FOR NO KEY UPDATE",
    "EXPLAIN (ANALYZE) DELETE FROM {t}",
    "EXPLAIN (ANALYZE true) SELECT 1",
    "CREATE FUNCTION pwned() RETURNS int AS 'SELECT 1' LANGUAGE sql",
    "SELECT $$;$$; DELETE FROM {t}",
    "VACUUM",
    "ANALYZE {t}",
]

MYSQL = [
    "SELECT * FROM {t} INTO OUTFILE '{m}'",
    "SELECT * FROM {t} INTO DUMPFILE '{m}'",
    "SELECT * INTO OUTFILE '{m}' FROM {t}",
    "SELECT 1 INTO @x",
    "SELECT LOAD_FILE('/etc/passwd')",
    "SELECT load_file(0x2f6574632f706173737764)",
    "SELECT SLEEP(5)",
    "SELECT BENCHMARK(100000000, MD5('x'))",
    "SELECT GET_LOCK('x', 1)",
    "SELECT 1 /*!50000 , SLEEP(5) */",
    "SELECT 1 /*! ; DELETE FROM {t} */",
    "SELECT 1 /*M! ; DELETE FROM {t} */",
    "SET SESSION TRANSACTION READ WRITE",
    "SET @@session.transaction_read_only = 0",
    "SET autocommit = 0",
    "SELECT * FROM {t} LOCK IN SHARE MODE",
    "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE {t}",
    "SELECT 1 #\n; DELETE FROM {t}",
    "SELECT 1 --x; DELETE FROM {t}",
    "REPLACE INTO {t} VALUES (1, 'pwned')",
    "INSERT {t} VALUES (3, 'x')",
    "DO SLEEP(1)",
    "HANDLER {t} OPEN",
    "SELECT NEXTVAL(pwned_seq)",
    "SELECT @x := 1",
    "FLUSH TABLES",
    "KILL 1",
    "RENAME TABLE {t} TO pwned_table",
]

SQLITE = [
    "ATTACH DATABASE '{m}' AS pwned",
    "DETACH DATABASE main",
    "PRAGMA writable_schema = ON",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA user_version = 7",
    "SELECT load_extension('/tmp/x')",
    "SELECT writefile('{m}', 'x')",
    "VACUUM INTO '{m}'",
    "INSERT OR REPLACE INTO {t} VALUES (1, 'pwned')",
    "REPLACE INTO {t} VALUES (1, 'pwned')",
    "REINDEX",
    "SELECT * FROM {t}; PRAGMA user_version = 7",
    "CREATE TEMP TABLE pwned_table (a)",
    "CREATE TRIGGER pwned AFTER INSERT ON {t} BEGIN DELETE FROM {t}; END",
    "SAVEPOINT s",
]

READS = [
    "SELECT * FROM {t} ORDER BY id",
    "select id, v from {t} where v = 'x; delete from {t}' order by id",
    "WITH c AS (SELECT id FROM {t}) SELECT count(*) AS n FROM c",
    "SELECT * FROM {t} UNION ALL SELECT * FROM {t}",
    "/* comment */ SELECT 1 AS a -- trailing\n",
    "EXPLAIN SELECT * FROM {t}",
]


def corpus(engine: str) -> list[str]:
    extra = {"postgres": POSTGRES, "mysql": MYSQL, "sqlite": SQLITE}[engine]
    return COMMON + extra


def test_corpus_size() -> None:
    assert len(COMMON) >= 40
    for engine in ("postgres", "mysql", "sqlite"):
        assert len(corpus(engine)) >= 55


class Target:
    def __init__(self, engine: str, table: str, admin: sqlarrow.Connector, ro: sqlarrow.Connector):
        self.engine, self.table, self.admin, self.ro = engine, table, admin, ro

    def canary(self) -> list[dict[str, Any]]:
        return self.admin.query(f"SELECT id, v FROM {self.table} ORDER BY id").to_pylist()


@pytest.fixture(params=["postgres", "mysql", "sqlite"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    engine = request.param
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    if engine == "postgres":
        admin = sqlarrow.connect(PG_URL, pool_size=2)
        admin.execute(f'CREATE SCHEMA "{name}"')
        table = f'"{name}".canary'
        ro = sqlarrow.connect(PG_URL, read_only=True, pool_size=2)
        drop = f'DROP SCHEMA IF EXISTS "{name}" CASCADE'
    elif engine == "mysql":
        admin = sqlarrow.MySQLConnector(MY_HOST, MY_PORT, user="root", ssl_mode="disabled")
        admin.execute(f"CREATE DATABASE `{name}`")
        table = f"`{name}`.canary"
        ro = sqlarrow.MySQLConnector(
            MY_HOST, MY_PORT, database=name, user="root", ssl_mode="disabled", read_only=True
        )
        drop = f"DROP DATABASE IF EXISTS `{name}`"
    else:
        path = str(tmp_path / "ro.db")
        admin = sqlarrow.SQLiteConnector(path)
        table = "canary"
        drop = ""
    admin.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, v VARCHAR(20))")
    admin.execute(f"INSERT INTO {table} VALUES (1, 'one'), (2, 'two')")
    if engine == "sqlite":
        ro = sqlarrow.SQLiteConnector(path, read_only=True)
    try:
        yield Target(engine, table, admin, ro)
    finally:
        ro.close()
        if drop:
            admin.execute(drop)
        admin.close()


def test_attacks_refused_and_no_effect(target: Target) -> None:
    before = target.canary()
    assert before == CANARY_ROWS
    for template in corpus(target.engine):
        sql = template.format(t=target.table, m=MARKER)
        for call in (target.ro.query, target.ro.execute, target.ro.stream):
            with pytest.raises(sqlarrow.ReadOnlyViolation) as info:
                call(sql)
            assert "read-only" in str(info.value), sql
            assert info.value.transient is False
    assert target.canary() == before
    assert not os.path.exists(MARKER)
    # no table, view or index was created
    if target.engine == "sqlite":
        names = [
            r["name"] for r in target.admin.query("SELECT name FROM sqlite_master").to_pylist()
        ]
        assert not [n for n in names if "pwned" in n]
    else:
        schema = target.table.split(".")[0].strip('"`')
        rows = target.admin.query(
            "SELECT table_name AS n FROM information_schema.tables WHERE table_schema = "
            + ("$1" if target.engine == "postgres" else "?"),
            [schema],
        ).to_pylist()
        assert [str(r["n"]) for r in rows] == ["canary"]
    # the read-only connector still works after all that
    assert target.ro.query(f"SELECT id, v FROM {target.table} ORDER BY id").to_pylist() == before


def test_reads_pass(target: Target) -> None:
    for template in READS:
        sql = template.format(t=target.table)
        target.ro.query(sql)
        with target.ro.stream(sql) as stream:
            for _ in stream:
                pass
        target.ro.execute(sql)
    if target.engine == "postgres":
        target.ro.query("SHOW search_path")
    if target.engine == "mysql":
        target.ro.query("SHOW TABLES")


def test_api_level_writes_refused(target: Target) -> None:
    pa = pytest.importorskip("pyarrow")
    data = pa.table({"id": [5], "v": ["five"]})
    with pytest.raises(sqlarrow.ReadOnlyViolation):
        target.ro.write(target.table.replace("`", "").replace('"', ""), data)
    with pytest.raises(sqlarrow.ReadOnlyViolation):
        target.ro.executemany(f"INSERT INTO {target.table} VALUES (?, ?)", [[5, "x"]])
    with pytest.raises(sqlarrow.ReadOnlyViolation):
        target.ro.create_table("pwned_table", data.schema)
    assert target.canary() == CANARY_ROWS
    assert target.ro.read_only is True
    assert "read_only=True" in repr(target.ro)


def test_session_layer(target: Target) -> None:
    """Layer 1: the session itself is read-only."""
    if target.engine == "postgres":
        rows = target.ro.query("SHOW default_transaction_read_only").to_pylist()
        assert rows == [{"default_transaction_read_only": "on"}]
    elif target.engine == "mysql":
        rows = target.ro.query("SHOW VARIABLES LIKE '%read_only'").to_pylist()
        values = {r["Variable_name"]: r["Value"] for r in rows}
        assert values.get("tx_read_only", values.get("transaction_read_only")) == "ON", values
    else:
        rows = target.ro.query("PRAGMA query_only").to_pylist() if False else []
        with pytest.raises(sqlarrow.SqlArrowError):
            # SQLite opened read-only: even the raw core refuses to write
            sqlarrow._core.RawConnector.sqlite(
                path=target.ro.path,  # type: ignore[attr-defined]
                pool_size=1,
                pool_timeout=5,
                read_only=True,
            ).execute(f"DELETE FROM {target.table}")
        assert rows == []
    assert target.canary() == CANARY_ROWS


def test_url_and_config_read_only(tmp_path: Path) -> None:
    with sqlarrow.connect(PG_URL + "?read_only=true") as conn:
        assert conn.read_only
        with pytest.raises(sqlarrow.ReadOnlyViolation, match="Delete"):
            conn.execute("DELETE FROM nothing")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"connections:\n  r:\n    url: {PG_URL}\n    read_only: true\n")
    with sqlarrow.connect(name="r", config=str(cfg)) as conn:
        assert conn.read_only
        with pytest.raises(sqlarrow.ReadOnlyViolation, match=r"2 statements"):
            conn.query("select 1; select 2")
