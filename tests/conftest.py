"""Shared fixtures. Integration tests run against real servers and FAIL (never skip)
when a server is missing: `make test` (scripts/test.sh) starts and configures them.

Environment:
    SQLARROW_PG_URL          superuser URL with trust auth (default below)
    SQLARROW_AUTH_PASSWORD   password of the `sqlarrow_auth` role (scripts/ensure_services.sh)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# A debug build warns at import (DebugBuildWarning); pytest turns warnings into errors,
# so import sqlarrow once here with that warning silenced (the module is cached after).
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sqlarrow

PG_URL = os.environ.get("SQLARROW_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AUTH_ROLE = "sqlarrow_auth"
AUTH_PASSWORD = os.environ.get("SQLARROW_AUTH_PASSWORD", "sqlarrow-auth-test-pw")
ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore::sqlarrow.DebugBuildWarning")


@pytest.fixture(scope="session")
def pg_url() -> str:
    return PG_URL


@pytest.fixture(scope="session")
def pg_admin(pg_url: str) -> Iterator[sqlarrow.Connector]:
    """A session-wide superuser connector; fails (not skips) when PostgreSQL is down."""
    conn = sqlarrow.connect(pg_url, pool_size=4)
    status = conn.test_connection()
    if not status.ok:
        pytest.fail(
            f"PostgreSQL is not reachable at {sqlarrow._url.mask_url(pg_url)}: {status.error}. "
            "Run `make test` (scripts/ensure_services.sh) to start it.",
            pytrace=False,
        )
    yield conn
    conn.close()


@pytest.fixture
def pg_schema(pg_admin: sqlarrow.Connector) -> Iterator[str]:
    """A fresh schema for one test, dropped (CASCADE) afterwards."""
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    pg_admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        pg_admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def pg(pg_url: str, pg_admin: sqlarrow.Connector) -> Iterator[sqlarrow.Connector]:
    """A fresh PostgreSQL connector per test (closed afterwards)."""
    conn = sqlarrow.connect(pg_url, pool_size=8)
    yield conn
    conn.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "test.db"


@pytest.fixture
def lite(sqlite_path: Path) -> Iterator[sqlarrow.Connector]:
    conn = sqlarrow.SQLiteConnector(str(sqlite_path))
    yield conn
    conn.close()


@pytest.fixture(params=["postgres", "sqlite"])
def any_conn(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[sqlarrow.Connector, str]]:
    """(connector, table prefix) for tests that run on both engines."""
    if request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")
        conn = request.getfixturevalue("pg")
        yield conn, f'"{schema}".'
    else:
        conn = sqlarrow.SQLiteConnector(str(tmp_path / "any.db"))
        yield conn, ""
        conn.close()


def run_python(
    code: str,
    *,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a Python snippet in a fresh interpreter (same venv)."""
    full_env = dict(os.environ)
    full_env.setdefault("SQLARROW_NO_DEBUG_WARNING", "1")
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"subprocess failed with {proc.returncode}\n--- stdout\n{proc.stdout}\n"
            f"--- stderr\n{proc.stderr}"
        )
    return proc


def pg_scalar(conn: sqlarrow.Connector, sql: str, params: Any = None) -> Any:
    rows = conn.query(sql, params).to_pylist()
    assert len(rows) == 1, rows
    return next(iter(rows[0].values()))


PG_SOCKET_DIR = "/var/run/postgresql"


@pytest.fixture
def pg_unix(pg_url: str) -> Iterator[sqlarrow.Connector]:
    """A connector to the test database over the server's Unix socket. Its connections
    have no tapped stream, so reads go through tokio-postgres and are decoded row by
    row: the reference that reads on the connection's own stream are checked against."""
    u = urllib.parse.urlsplit(pg_url)
    port = u.port or 5432
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip(f"the test server ({u.hostname}) is not local: no Unix socket to it")
    if not os.path.exists(f"{PG_SOCKET_DIR}/.s.PGSQL.{port}"):
        pytest.fail(f"no Unix socket of the local test server in {PG_SOCKET_DIR} (port {port})")
    conn = sqlarrow.PostgreSQLConnector(
        PG_SOCKET_DIR,
        port,
        urllib.parse.unquote(u.path.lstrip("/")) or "postgres",
        urllib.parse.unquote(u.username or "postgres"),
        urllib.parse.unquote(u.password) if u.password else None,
        pool_size=2,
    )
    yield conn
    conn.close()


def stream_table(
    conn: sqlarrow.Connector, sql: str, params: Any = None, batch_size: int = 4096
) -> Any:
    """``sql`` read on ``conn`` as a stream, joined into one ``pyarrow.Table``."""
    import pyarrow as pa

    with conn.stream(sql, params, batch_size=batch_size) as s:
        return pa.Table.from_batches(list(s), schema=pa.schema(s.schema))


def run_in_threads(n: int, body: Callable[[int], None]) -> None:
    """Run ``body(0)`` .. ``body(n - 1)`` on ``n`` threads at once; re-raise the first
    failure in the calling thread."""
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            body(k)
        except BaseException as e:  # surfaced below
            errors.append(e)

    ts = [threading.Thread(target=guarded, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


class TestCerts:
    """Files made by :func:`make_test_certs` in one directory."""

    __test__ = False  # not a test class

    def __init__(self, work: Path) -> None:
        self.ca = work / "ca.crt"
        self.other_ca = work / "other.crt"
        self.server_cert = work / "server.crt"
        self.server_key = work / "server.key"


def make_test_certs(work: Path, san: str) -> TestCerts:
    """A throwaway CA, a server certificate it signs for the subjectAltName ``san``
    (e.g. ``DNS:localhost``), and an unrelated CA, made with the openssl CLI in ``work``."""
    import shutil

    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test CA (apt-get install openssl)")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True, timeout=60)

    cas = (("ca.key", "ca.crt", "sqlarrow test CA"), ("other.key", "other.crt", "another CA"))
    for key, crt, cn in cas:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                "-days", "2", "-subj", f"/CN={cn}")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=localhost")  # fmt: skip
    (work / "san.ext").write_text(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2",
            "-extfile", "san.ext")  # fmt: skip
    return TestCerts(work)


def free_port() -> int:
    """A loopback TCP port that nothing listens on (when this returns)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mysql_global_status(conn: sqlarrow.Connector, name: str) -> int:
    """A MySQL/MariaDB server counter (``SHOW GLOBAL STATUS``), e.g. ``Com_load``."""
    rows = conn.query(f"SHOW GLOBAL STATUS LIKE '{name}'").to_pylist()
    return int(rows[0]["Value"])


MY_HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))
MY_USER = os.environ.get("SQLARROW_MYSQL_USER", "root")
MY_PASSWORD = os.environ.get("SQLARROW_MYSQL_PASSWORD") or None


@contextmanager
def mysql_database() -> Iterator[str]:
    """A new MySQL/MariaDB database of a unique name (utf8mb4), dropped afterwards."""
    admin = sqlarrow.MySQLConnector(
        MY_HOST, MY_PORT, user=MY_USER, password=MY_PASSWORD, ssl_mode="disabled"
    )
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    admin.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
