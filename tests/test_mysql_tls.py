"""MySQL / MariaDB over TLS, against a MariaDB server of the test's own.

The machine's MariaDB (127.0.0.1:3306) has no TLS, so this module starts a second
server: a fresh data directory (``mariadb-install-db``) and ``mariadbd`` on a free
loopback port with a certificate made here, signed by a test CA and valid only for the
name ``localhost``. It is stopped and removed at the end of the module.
"""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import sqlarrow
from conftest import free_port, make_test_certs, mysql_global_status, stream_table
from sqlarrow._mysql import MySQLConnector
from sqlarrow.exceptions import AuthenticationError, DatabaseConnectionError

TLS_PASSWORD = "tls-Pa55-" + uuid.uuid4().hex[:8]
PLAIN_PASSWORD = "plain-Pa55-" + uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class TlsServer:
    port: int
    ca: str
    other_ca: str


def _tool(name: str, *fallbacks: str) -> str:
    found = shutil.which(name) or next((f for f in fallbacks if Path(f).exists()), None)
    if found is None:
        pytest.fail(
            f"{name} not found: the MariaDB server package is needed "
            "(scripts/ensure_services.sh installs it)",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    install = _tool("mariadb-install-db", "/usr/bin/mariadb-install-db")
    mariadbd = _tool("mariadbd", "/usr/sbin/mariadbd")
    client = _tool("mariadb", "/usr/bin/mariadb")
    d = tmp_path_factory.mktemp("mariadb-tls")
    certs = make_test_certs(d, "DNS:localhost")
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={d / 'data'}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    port = free_port()
    sock = d / "mysqld.sock"
    log = d / "error.log"
    proc = subprocess.Popen(
        [
            mariadbd,
            "--no-defaults",
            f"--datadir={d / 'data'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={sock}",
            f"--pid-file={d / 'mysqld.pid'}",
            "--user=root",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            f"--log-error={log}",
            "--skip-name-resolve",
            "--lc-messages-dir=/usr/share/mysql",
            f"--ssl-ca={certs.ca}",
            f"--ssl-cert={certs.server_cert}",
            f"--ssl-key={certs.server_key}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        setup = (
            f"CREATE USER 'tls'@'%' IDENTIFIED BY '{TLS_PASSWORD}' REQUIRE SSL;"
            "GRANT ALL ON *.* TO 'tls'@'%';"
            f"CREATE USER 'plain'@'%' IDENTIFIED BY '{PLAIN_PASSWORD}';"
            "GRANT ALL ON *.* TO 'plain'@'%';"
        )
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mariadbd exited ({proc.returncode}): {log.read_text()[-2000:]}")
            r = subprocess.run(
                [client, "--no-defaults", f"--socket={sock}", "-uroot", "-e", setup],
                capture_output=True,
                text=True,
                timeout=30,
            )
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the TLS MariaDB did not start: {r.stderr}\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield TlsServer(port=port, ca=str(certs.ca), other_ca=str(certs.other_ca))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _conn(
    server: TlsServer, host: str = "127.0.0.1", user: str = "tls", **kw: Any
) -> MySQLConnector:
    kw.setdefault("password", TLS_PASSWORD if user == "tls" else PLAIN_PASSWORD)
    return MySQLConnector(host, port=server.port, user=user, **kw)


def _cipher(conn: sqlarrow.Connector) -> str:
    rows = conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'").to_pylist()
    return str(rows[0]["Value"])


def _no_secret(e: BaseException) -> None:
    for pw in (TLS_PASSWORD, PLAIN_PASSWORD):
        assert pw not in str(e) and pw not in repr(e)


@pytest.mark.parametrize("mode", ["preferred", "required"])
def test_preferred_and_required_encrypt(tls_server: TlsServer, mode: str) -> None:
    with _conn(tls_server, ssl_mode=mode) as conn:
        assert _cipher(conn).startswith("TLS_")
        assert TLS_PASSWORD not in repr(conn)
    url = f"mysql://tls:{TLS_PASSWORD}@127.0.0.1:{tls_server.port}/?ssl_mode={mode}"
    with sqlarrow.connect(url) as conn:
        assert _cipher(conn).startswith("TLS_")


def test_disabled_connects_in_the_clear_and_cannot_log_in_where_tls_is_required(
    tls_server: TlsServer,
) -> None:
    with _conn(tls_server, user="plain", ssl_mode="disabled") as conn:
        assert _cipher(conn) == ""
    conn = _conn(tls_server, ssl_mode="disabled")
    with pytest.raises(AuthenticationError) as ei:
        conn.query("SELECT 1")
    _no_secret(ei.value)
    conn.close()


def test_verify_ca_checks_the_chain_and_not_the_host_name(tls_server: TlsServer) -> None:
    # The certificate names only "localhost"; 127.0.0.1 is not in it.
    with _conn(tls_server, ssl_mode="verify_ca", ssl_ca=tls_server.ca, pool_size=3) as conn:
        assert _cipher(conn).startswith("TLS_")
        # More connections of the pool reuse the name found by the first.
        with conn.transaction() as tx:
            assert tx.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]
            assert _cipher(conn).startswith("TLS_")
        assert conn.pool_stats().size >= 2
    with _conn(tls_server, host="localhost", ssl_mode="verify_ca", ssl_ca=tls_server.ca) as conn:
        assert _cipher(conn).startswith("TLS_")


@pytest.mark.parametrize("ca", ["other", "none"])
def test_verify_ca_rejects_a_chain_it_does_not_trust(tls_server: TlsServer, ca: str) -> None:
    ssl_ca = tls_server.other_ca if ca == "other" else None
    conn = _conn(tls_server, ssl_mode="verify_ca", ssl_ca=ssl_ca)
    with pytest.raises(DatabaseConnectionError, match="invalid peer certificate") as ei:
        conn.query("SELECT 1")
    assert "UnknownIssuer" in str(ei.value)
    _no_secret(ei.value)
    conn.close()


def test_verify_identity_checks_the_host_name(tls_server: TlsServer) -> None:
    with _conn(tls_server, host="localhost", ssl_mode="verify_identity", ssl_ca=tls_server.ca) as c:
        assert _cipher(c).startswith("TLS_")
    conn = _conn(tls_server, ssl_mode="verify_identity", ssl_ca=tls_server.ca)
    with pytest.raises(DatabaseConnectionError, match="not valid for name") as ei:
        conn.query("SELECT 1")
    _no_secret(ei.value)
    conn.close()


def test_verify_ca_against_a_server_without_tls_says_so() -> None:
    conn = MySQLConnector("127.0.0.1", port=3306, user="root", ssl_mode="verify_ca")
    with pytest.raises(DatabaseConnectionError, match="does not support TLS"):
        conn.query("SELECT 1")
    conn.close()


def test_reads_and_writes_over_tls_match_the_clear_connection(tls_server: TlsServer) -> None:
    db = f"sqlarrow_t_{uuid.uuid4().hex}"
    n = 30_000
    data = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "name": pa.array([None if i % 10 == 3 else f"row {i} é" for i in range(n)]),
            "amount": pa.array([decimal.Decimal(i) / 100 for i in range(n)], pa.decimal128(12, 2)),
            "at": pa.array(
                [dt.datetime(2024, 1, 1) + dt.timedelta(seconds=i) for i in range(n)],
                pa.timestamp("us"),
            ),
        }
    )
    with _conn(tls_server, ssl_mode="verify_ca", ssl_ca=tls_server.ca) as admin:
        admin.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4")
    try:
        with _conn(tls_server, database=db, ssl_mode="verify_ca", ssl_ca=tls_server.ca) as tls:
            res = tls.write("t", data)
            assert res.rows_written == n
            over_tls = tls.query("SELECT * FROM t ORDER BY id").to_arrow()
            streamed = stream_table(tls, "SELECT * FROM t ORDER BY id", batch_size=7_000)
        with _conn(tls_server, user="plain", database=db, ssl_mode="disabled") as clear:
            in_clear = clear.query("SELECT * FROM t ORDER BY id").to_arrow()
        assert over_tls.num_rows == n
        assert over_tls.equals(in_clear)
        assert streamed.equals(in_clear)
        assert over_tls.column("name").to_pylist() == data.column("name").to_pylist()
        assert over_tls.column("amount").to_pylist() == data.column("amount").to_pylist()
    finally:
        with _conn(tls_server, ssl_mode="required") as admin:
            admin.execute(f"DROP DATABASE IF EXISTS `{db}`")


@pytest.mark.parametrize("mode", ["required", "verify_ca"])
def test_the_fast_reader_and_parameter_arrays_run_over_tls(
    tls_server: TlsServer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads over TLS through sqlarrow's own reader equal mysql_async's, and appends go
    out as parameter arrays on the reader's TLS connection (no LOAD DATA), as in the
    clear; with the reader turned off they fall back to LOAD DATA."""
    db = f"sqlarrow_t_{uuid.uuid4().hex}"
    kw: dict[str, Any] = {"ssl_mode": mode, "ssl_ca": tls_server.ca}
    n = 20_000
    data = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "v": pa.array([None if i % 7 == 0 else f"v{i}" * (i % 5) for i in range(n)]),
            "f": pa.array([i / 3 for i in range(n)], pa.float64()),
        }
    )
    with _conn(tls_server, **kw) as admin:
        admin.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4")
    try:
        with _conn(tls_server, database=db, **kw) as fast:
            before = mysql_global_status(fast, "Com_load")
            assert fast.write("t", data).rows_written == n
            loads = mysql_global_status(fast, "Com_load") - before
            assert loads == 0, "the append went through LOAD DATA"
            a = fast.query("SELECT * FROM t ORDER BY id").to_arrow()
            s = stream_table(fast, "SELECT * FROM t ORDER BY id", batch_size=3_000)
            p = fast.query("SELECT * FROM t WHERE id >= ? ORDER BY id", [n - 10]).to_arrow()
        monkeypatch.setenv("SQLARROW_MYSQL_FAST_READER", "0")
        with _conn(tls_server, database=db, **kw) as slow:
            before = mysql_global_status(slow, "Com_load")
            assert slow.write("t2", data).rows_written == n
            loads = mysql_global_status(slow, "Com_load") - before
            assert loads == 1, "without the reader, appends use LOAD DATA"
            b = slow.query("SELECT * FROM t ORDER BY id").to_arrow()
            assert slow.query("SELECT * FROM t2 ORDER BY id").to_arrow().equals(b)
            assert _cipher(slow).startswith("TLS_")
        monkeypatch.delenv("SQLARROW_MYSQL_FAST_READER")
        assert a.num_rows == n
        assert a.equals(b)
        assert s.equals(b)
        assert p.equals(b.slice(n - 10))
        assert a.column("v").to_pylist() == data.column("v").to_pylist()
    finally:
        with _conn(tls_server, ssl_mode="required") as admin:
            admin.execute(f"DROP DATABASE IF EXISTS `{db}`")
