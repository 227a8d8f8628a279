"""TLS to the local PostgreSQL (Debian enables ssl with its self-signed snakeoil cert)."""

from __future__ import annotations

import os

import pytest

import sqlarrow
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
