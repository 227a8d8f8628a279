"""TLS to the local PostgreSQL (Debian enables ssl with its self-signed snakeoil cert)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sqlarrow
from conftest import make_test_certs
from sqlarrow import _core
from sqlarrow.exceptions import DatabaseConnectionError

SSL_SQL = "select ssl from pg_stat_ssl where pid = pg_backend_pid()"


def _server_ssl() -> tuple[bool, str | None]:
    conn = sqlarrow.connect("postgresql://postgres@127.0.0.1:5432/postgres", sslmode="disable")
    with conn:
        rows = conn.query(
            "select current_setting('ssl') as ssl, current_setting('ssl_cert_file') as f"
        )
        row = rows.to_pylist()[0]
    return row["ssl"] == "on", row["f"]


def _raw(sslmode: str, root: str | None = None, host: str = "127.0.0.1") -> _core.RawConnector:
    return _core.RawConnector.postgres(
        host=host,
        port=5432,
        database="postgres",
        user="postgres",
        password=None,
        pool_size=1,
        pool_timeout=5,
        sslmode=sslmode,
        connect_timeout=5,
        application_name="sqlarrow-tls-test",
        sslrootcert=root,
    )


@pytest.fixture(scope="module")
def server_cert() -> str:
    on, cert = _server_ssl()
    if not on:
        pytest.fail("the local PostgreSQL has ssl=off; scripts/ensure_services.sh should enable it")
    assert cert
    if not os.path.isabs(cert):
        pytest.fail(f"ssl_cert_file is relative ({cert}); cannot locate it for verify-ca")
    return cert


@pytest.mark.parametrize(
    ("mode", "encrypted"), [("disable", False), ("prefer", True), ("require", True)]
)
def test_sslmodes_without_verification(server_cert: str, mode: str, encrypted: bool) -> None:
    assert _raw(mode).query(SSL_SQL).to_pylist() == [{"ssl": encrypted}]


def test_verify_ca_with_the_server_certificate_as_root(server_cert: str) -> None:
    assert _raw("verify-ca", root=server_cert).query(SSL_SQL).to_pylist() == [{"ssl": True}]


def test_verify_ca_fails_against_public_roots(server_cert: str) -> None:
    with pytest.raises(DatabaseConnectionError) as info:
        _raw("verify-ca").query(SSL_SQL)
    assert "TLS" in str(info.value)
    assert "UnknownIssuer" in str(info.value)
    assert info.value.transient is False


def test_verify_full_checks_the_host_name(server_cert: str) -> None:
    # The snakeoil certificate names a DNS host, never the IP address 127.0.0.1.
    with pytest.raises(DatabaseConnectionError) as info:
        _raw("verify-full", root=server_cert).query(SSL_SQL)
    assert "not valid for name" in str(info.value)


def test_bad_sslmode_and_missing_root_file() -> None:
    with pytest.raises(sqlarrow.ConfigError):
        _raw("sometimes")
    with pytest.raises(sqlarrow.ConfigError, match="cannot read certificate file"):
        _raw("verify-ca", root="/nonexistent/ca.pem")


# -- a CA made by the test ------------------------------------------------------------


@pytest.fixture
def test_ca(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A throwaway CA, a server certificate it signed (for localhost and 127.0.0.1), and
    the local PostgreSQL serving that certificate; the server's own certificate is put
    back afterwards. Yields (path of the CA certificate, path of an unrelated CA)."""
    certs = make_test_certs(tmp_path, "DNS:localhost,IP:127.0.0.1")
    # The server reads its key as the postgres user, from a directory it can reach.
    served = Path(tempfile.mkdtemp(prefix="sqlarrow-tls-", dir="/tmp"))
    for src in (certs.server_cert, certs.server_key):
        shutil.copy(src, served / src.name)
    try:
        shutil.chown(served, "postgres", "postgres")
        for name in ("server.crt", "server.key"):
            shutil.chown(served / name, "postgres", "postgres")
    except (LookupError, PermissionError) as exc:
        pytest.fail(f"cannot hand the test certificate to the postgres user: {exc}")
    os.chmod(served, 0o700)
    os.chmod(served / "server.key", 0o600)
    admin = _raw("disable")
    try:
        admin.execute(f"ALTER SYSTEM SET ssl_cert_file = '{served / 'server.crt'}'")
        admin.execute(f"ALTER SYSTEM SET ssl_key_file = '{served / 'server.key'}'")
        admin.query("select pg_reload_conf() as ok")
        time.sleep(1.0)
        yield str(certs.ca), str(certs.other_ca)
    finally:
        admin.execute("ALTER SYSTEM RESET ssl_cert_file")
        admin.execute("ALTER SYSTEM RESET ssl_key_file")
        admin.query("select pg_reload_conf() as ok")
        time.sleep(0.5)
        shutil.rmtree(served, ignore_errors=True)


def test_verify_full_with_a_ca_made_by_the_test(test_ca: tuple[str, str]) -> None:
    ca, other = test_ca
    # Chain and host name (the IP address is in the certificate's SAN) both check out.
    assert _raw("verify-full", root=ca).query(SSL_SQL).to_pylist() == [{"ssl": True}]
    assert _raw("verify-full", root=ca, host="localhost").query(SSL_SQL).to_pylist() == [
        {"ssl": True}
    ]
    assert _raw("verify-ca", root=ca).query(SSL_SQL).to_pylist() == [{"ssl": True}]
    # A CA that did not sign the server certificate is refused, not silently accepted.
    for mode in ("verify-ca", "verify-full"):
        with pytest.raises(DatabaseConnectionError) as info:
            _raw(mode, root=other).query(SSL_SQL)
        assert "UnknownIssuer" in str(info.value) or "certificate" in str(info.value)
        assert info.value.transient is False
    # Encryption without verification still works against the same server.
    assert _raw("require").query(SSL_SQL).to_pylist() == [{"ssl": True}]
