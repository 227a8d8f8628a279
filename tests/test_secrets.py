"""Credentials never leak: repr/str, logging at every level, errors and tracebacks,
CLI output, pool_stats. Every check greps the captured text for the secret."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest

import sqlarrow
from conftest import AUTH_ROLE

SECRET = f"Tok-{uuid.uuid4().hex}"


def _formatted(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlarrow", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, SQLARROW_NO_DEBUG_WARNING="1", **env),
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlarrow")
    return caplog


def _assert_clean(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def test_connectors_repr_str_stats(debug_logs: pytest.LogCaptureFixture) -> None:
    connectors = [
        sqlarrow.PostgreSQLConnector(host="127.0.0.1", user="postgres", password=SECRET),
        sqlarrow.RedshiftConnector(host="127.0.0.1", user="postgres", password=SECRET),
        sqlarrow.MySQLConnector(host="127.0.0.1", user="root", password=SECRET),
        sqlarrow.connect(f"postgresql://postgres:{SECRET}@127.0.0.1/postgres"),
        sqlarrow.connect(f"mysql://root:{SECRET}@127.0.0.1/"),
    ]
    try:
        for conn in connectors:
            _assert_clean(repr(conn), str(conn), repr(conn.pool_stats()), repr(vars(conn)))
    finally:
        for conn in connectors:
            conn.close()
    assert any(r.name == "sqlarrow" for r in debug_logs.records)
    _assert_clean(debug_logs.text, *(r.getMessage() for r in debug_logs.records))


def test_auth_failure_everywhere(
    pg_admin: sqlarrow.Connector, debug_logs: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://{AUTH_ROLE}:{SECRET}@127.0.0.1:5432/postgres"
    with sqlarrow.connect(url) as conn:
        with pytest.raises(sqlarrow.AuthenticationError) as info:
            conn.query("select 1")
        err = info.value
        _assert_clean(str(err), repr(err), _formatted(err), repr(err.details))
        status = conn.test_connection()
        assert not status.ok
        _assert_clean(repr(status), str(status.error))
        _assert_clean(repr(conn.pool_stats()))
    _assert_clean(debug_logs.text)


def test_bad_url_and_options_do_not_echo_secret() -> None:
    for url in (
        f"postgresql://u:{SECRET}@h:notaport/db",
        f"postgresql://u:{SECRET}@h/db?bogus=1",
        f"nosuch://u:{SECRET}@h/db",
        f"mysql://u:{SECRET}@h/db?ssl_mode=weird",
    ):
        with pytest.raises(sqlarrow.ConfigError) as info:
            sqlarrow.connect(url).close()
        _assert_clean(str(info.value), _formatted(info.value))


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda v: sqlarrow.PostgreSQLConnector(v), "host"),
        (lambda v: sqlarrow.RedshiftConnector(host=v), "host"),
        (lambda v: sqlarrow.MySQLConnector(v, 3306), "host"),
        (lambda v: sqlarrow.SQLiteConnector(v), "path"),
    ],
    ids=["postgres", "redshift", "mysql", "sqlite"],
)
def test_a_url_where_a_host_or_path_belongs_is_refused_without_echoing_it(
    make: Any, what: str
) -> None:
    # A URL passed as the host was looked up as a host name: the connection error and
    # the connector's repr both quoted it, password included. For SQLite it named a
    # file that could not be opened, quoted the same way.
    for value in (
        f"postgresql://u:{SECRET}@127.0.0.1/db",
        f"mysql://u:{SECRET}@127.0.0.1:3306/db",
        "sqlite:///tmp/x.db",
    ):
        with pytest.raises(sqlarrow.ConfigError, match=rf"takes a {what}, not a URL") as info:
            make(value)
        _assert_clean(str(info.value), _formatted(info.value))
        assert "sqlarrow.connect(url" in str(info.value)
    if what == "host":
        # user:password@host without a scheme: refused, and never echoed.
        with pytest.raises(sqlarrow.ConfigError, match="host holds '@'") as info:
            make(f"u:{SECRET}@127.0.0.1")
        _assert_clean(str(info.value), _formatted(info.value))
    else:
        # SQLite's own URI filenames still open.
        conn = sqlarrow.SQLiteConnector("file::memory:?cache=shared")
        assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]
        conn.close()


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://app:pa/ss9@127.0.0.1/db", "pa/ss9"),
        ("postgresql://app:p@ss/w0rd@127.0.0.1:5432/db", "ss/w0rd"),
        ("mysql://root:se#cret9@127.0.0.1/test", "se#cret9"),
        ("postgresql://app:s?cret9@127.0.0.1/db", "s?cret9"),
        ("redshift://app:x/y9z@cluster.example:5439/dev", "x/y9z"),
    ],
)
def test_an_unescaped_password_is_refused_without_echoing_it(url: str, secret: str) -> None:
    # A '/', '?' or '#' in a raw password ended the authority early: the URL's masking
    # missed it, and the errors quoted the whole URL or a piece of the password as the
    # port ("invalid port 'pa' in URL 'postgresql://app:pa/ss9@...'").
    with pytest.raises(sqlarrow.ConfigError, match="must be percent-encoded") as info:
        sqlarrow.connect(url)
    text = str(info.value) + repr(info.value)
    assert secret not in text and secret[:2] + secret[-2:] not in text
    assert "***@" in text
    # Escaped, the same password is accepted and kept.
    escaped = url.replace(
        secret, secret.replace("/", "%2F").replace("#", "%23").replace("?", "%3F")
    )
    conn = sqlarrow.connect(escaped.replace("p@ss", "p%40ss"))
    assert secret not in repr(conn)
    conn.close()


def test_cli_never_prints_secret(pg_admin: sqlarrow.Connector, tmp_path: Path) -> None:
    url = f"postgresql://{AUTH_ROLE}:{SECRET}@127.0.0.1:5432/postgres"
    for args in (("test", url), ("query", url, "select 1"), ("inspect", url)):
        proc = _cli(*args)
        assert proc.returncode == 1, proc.stdout
        _assert_clean(proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
    cfg = tmp_path / "c.yaml"
    (tmp_path / "secret.txt").write_text(SECRET + "\n")
    cfg.write_text(
        "connections:\n  w:\n    engine: postgres\n    host: 127.0.0.1\n"
        f"    user: {AUTH_ROLE}\n    password_file: secret.txt\n"
        "  ok:\n    engine: postgres\n    host: 127.0.0.1\n    user: postgres\n"
        "    password: ${PW}\n"
    )
    proc = _cli("test", "w", "--config", str(cfg), PW=SECRET)
    assert proc.returncode == 1
    _assert_clean(proc.stdout, proc.stderr)
    proc = _cli("test", "ok", "--config", str(cfg), PW=SECRET)
    assert proc.returncode == 0, proc.stderr
    _assert_clean(proc.stdout, proc.stderr)


def test_logging_subprocess_debug_everything(pg_admin: sqlarrow.Connector) -> None:
    """Root logger at DEBUG in a fresh process (captures any library's records too)."""
    code = (
        "import logging, sys, sqlarrow\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)\n"
        f"c = sqlarrow.connect('postgresql://postgres:{SECRET}@127.0.0.1/postgres')\n"
        "print(c.query('select 1 as x').to_pylist())\n"
        f"b = sqlarrow.connect('postgresql://{AUTH_ROLE}:{SECRET}@127.0.0.1/postgres')\n"
        "try:\n"
        "    b.query('select 1')\n"
        "except sqlarrow.SqlArrowError as e:\n"
        "    logging.getLogger('sqlarrow').exception('failed: %s', e)\n"
        "raise RuntimeError('end')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, SQLARROW_NO_DEBUG_WARNING="1"),
    )
    assert "[{'x': 1}]" in proc.stdout, proc.stderr
    assert "INFO:sqlarrow" in proc.stdout
    _assert_clean(proc.stdout, proc.stderr)


def test_connectors_do_not_pickle_and_copy_as_themselves(tmp_path: Path) -> None:
    """pickle failed on the compiled pool with "cannot pickle 'sqlarrow._core.RawConnector'
    object"; a connector keeps no password to pickle, so the error now says what to do
    instead. copy and deepcopy (done by frameworks that hold a connector) give the same
    handle back."""
    import copy
    import pickle

    conns = [
        sqlarrow.PostgreSQLConnector("127.0.0.1", user="nobody", password=SECRET),
        sqlarrow.MySQLConnector("127.0.0.1", user="nobody", password=SECRET),
        sqlarrow.SQLiteConnector(str(tmp_path / "p.db")),
    ]
    for conn in conns:
        with pytest.raises(TypeError, match=r"cannot be pickled.*sqlarrow\.connect") as info:
            pickle.dumps(conn)
        _assert_clean(str(info.value), _formatted(info.value))
        assert copy.copy(conn) is conn
        assert copy.deepcopy({"c": conn})["c"] is conn
        conn.close()
