"""URL parsing and argument validation (no server needed: connectors connect lazily)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sqlarrow
from sqlarrow._url import mask_url, parse_url

SECRET = "s3cr3t-pw-Xy9"


def test_postgres_url_full() -> None:
    url = (
        "postgresql://alice:s3cr3t@db.example.com:6543/sales"
        "?sslmode=require&application_name=etl&connect_timeout=3"
    )
    engine, kw = parse_url(url)
    assert engine == "postgres"
    assert kw == {
        "host": "db.example.com",
        "port": 6543,
        "database": "sales",
        "user": "alice",
        "password": "s3cr3t",
        "sslmode": "require",
        "application_name": "etl",
        "connect_timeout": 3.0,
    }
    conn = sqlarrow.connect(url, sslmode="disable")
    try:
        assert isinstance(conn, sqlarrow.PostgreSQLConnector)
        assert isinstance(conn, sqlarrow.Connector)
        assert conn.engine == "postgres"
        assert (conn.host, conn.port, conn.database, conn.user) == (
            "db.example.com",
            6543,
            "sales",
            "alice",
        )
        assert conn.sslmode == "disable"
        assert conn.application_name == "etl"
        assert conn.connect_timeout == 3.0
        assert "s3cr3t" not in repr(conn)
        assert "db.example.com" in repr(conn) and "6543" in repr(conn)
        assert "sales" in repr(conn) and "alice" in repr(conn)
    finally:
        conn.close()


def test_postgres_alias_and_defaults() -> None:
    with sqlarrow.connect("postgres://localhost") as conn:
        assert isinstance(conn, sqlarrow.PostgreSQLConnector)
        assert conn.host == "localhost"
        assert conn.port == 5432
        assert conn.database is None
        assert conn.user is None
        assert conn.sslmode == "prefer"
        assert conn.pool_size == 10
        assert conn.application_name == "sqlarrow"


def test_scheme_is_case_insensitive() -> None:
    engine, _ = parse_url("PostgreSQL://h/db")
    assert engine == "postgres"


def test_percent_decoding() -> None:
    engine, kw = parse_url("postgresql://us%40er:p%40ss%2Fw%3Ard@h/my%20db")
    assert engine == "postgres"
    assert kw["user"] == "us@er"
    assert kw["password"] == "p@ss/w:rd"
    assert kw["database"] == "my db"


def test_unencoded_at_in_password_uses_last_at() -> None:
    _, kw = parse_url("postgresql://u:p@ss@host:5433/db")
    assert kw["password"] == "p@ss"
    assert kw["host"] == "host"
    assert kw["port"] == 5433


def test_ipv6_host() -> None:
    _, kw = parse_url("postgresql://u@[::1]:5433/db")
    assert kw["host"] == "::1"
    assert kw["port"] == 5433


def test_empty_password() -> None:
    _, kw = parse_url("postgresql://u:@h/db")
    assert kw["password"] == ""


def test_keyword_options_override_url() -> None:
    with sqlarrow.connect(
        "postgresql://u@h:5433/db?sslmode=prefer&application_name=a&connect_timeout=3",
        sslmode="disable",
        application_name="b",
        port=5434,
        pool_size=2,
    ) as conn:
        assert conn.sslmode == "disable"
        assert conn.application_name == "b"
        assert conn.port == 5434
        assert conn.pool_size == 2
        assert conn.connect_timeout == 3.0


def test_pool_options_in_url() -> None:
    with sqlarrow.connect("postgresql://h/db?pool_size=3&pool_timeout=1.5") as conn:
        assert conn.pool_size == 3
        assert conn.pool_timeout == 1.5


@pytest.mark.parametrize(
    "url",
    [
        f"mssql://root:{SECRET}@h/db",
        f"oracle://root:{SECRET}@h/db",
        f"http://root:{SECRET}@h/db",
    ],
)
def test_unknown_scheme(url: str) -> None:
    with pytest.raises(sqlarrow.ConfigError) as info:
        sqlarrow.connect(url)
    scheme = url.split(":", 1)[0]
    assert scheme in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert "***" in str(info.value)


def test_unknown_url_option_named_without_password() -> None:
    with pytest.raises(sqlarrow.ConfigError) as info:
        sqlarrow.connect(f"postgresql://u:{SECRET}@h/db?sslmode=disable&fancy=1&other=2")
    msg = str(info.value)
    assert "fancy" in msg and "other" in msg
    assert SECRET not in msg and SECRET not in repr(info.value)


def test_unknown_keyword_option() -> None:
    with pytest.raises(sqlarrow.ConfigError, match="bogus"):
        sqlarrow.connect("postgresql://h/db", bogus=1)
    with pytest.raises(sqlarrow.ConfigError, match="sslmode"):
        sqlarrow.connect("sqlite://:memory:", sslmode="require")


def test_config_error_is_value_error() -> None:
    assert issubclass(sqlarrow.ConfigError, ValueError)
    assert issubclass(sqlarrow.ConfigError, sqlarrow.SqlArrowError)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{SECRET}@h:99999/db",
        f"postgresql://u:{SECRET}@h:0/db",
        f"postgresql://u:{SECRET}@h:abc/db",
        f"postgresql://u:{SECRET}@h/db?sslmode=bogus",
        f"postgresql://u:{SECRET}@h/db?connect_timeout=soon",
        f"postgresql://u:{SECRET}@h/db?pool_size=0",
        f"postgresql://u:{SECRET}@h/db?pool_size=many",
        "not a url",
        "",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(sqlarrow.ConfigError) as info:
        sqlarrow.connect(url)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


def test_no_url_and_no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SQLARROW_URL", raising=False)
    with pytest.raises(sqlarrow.ConfigError):
        sqlarrow.connect()


def test_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLARROW_URL", "sqlite://:memory:")
    with sqlarrow.connect() as conn:
        assert conn.engine == "sqlite"


def test_mask_url() -> None:
    assert mask_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert mask_url("postgresql://u:p@w@h:1/db?x=1") == "postgresql://u:***@h:1/db?x=1"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"


# -- SQLite URLs ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative/path.db", "relative/path.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
        ("sqlite:///with%20space.db", "with space.db"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    engine, kw = parse_url(url)
    assert engine == "sqlite"
    assert kw["path"] == path


def test_sqlite_url_options(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with sqlarrow.connect(f"sqlite:///{db}?pool_size=2&pool_timeout=2") as conn:
        assert isinstance(conn, sqlarrow.SQLiteConnector)
        assert conn.path == str(db)
        assert conn.pool_size == 2
        assert conn.pool_timeout == 2.0
        assert conn.read_only is False
    _, kw = parse_url("sqlite:///x.db?mode=ro")
    assert kw["read_only"] is True
    _, kw = parse_url("sqlite:///x.db?read_only=true")
    assert kw["read_only"] is True


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://host/file.db",
        "sqlite:///x.db?sslmode=require",
        "sqlite:///x.db?read_only=maybe",
        "sqlite:///x.db?mode=bogus",
        "sqlite:relative.db",
    ],
)
def test_bad_sqlite_urls(url: str) -> None:
    with pytest.raises(sqlarrow.ConfigError):
        sqlarrow.connect(url)


# -- constructor validation ----------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"port": 0},
        {"port": 65536},
        {"port": "5432"},
        {"port": True},
        {"port": 5432.0},
        {"pool_size": 0},
        {"pool_size": -1},
        {"pool_size": True},
        {"pool_size": "4"},
        {"pool_timeout": 0},
        {"pool_timeout": -1.0},
        {"pool_timeout": "30"},
        {"connect_timeout": 0},
        {"connect_timeout": float("nan")},
        {"sslmode": "bogus"},
        {"sslmode": None},
        {"host": ""},
        {"host": 127},
        {"database": 5},
        {"user": b"bytes"},
        {"password": 1234},
    ],
)
def test_postgres_constructor_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(sqlarrow.ConfigError):
        sqlarrow.PostgreSQLConnector(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sslmode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
)
def test_all_sslmodes_accepted(sslmode: str) -> None:
    sqlarrow.PostgreSQLConnector(sslmode=sslmode).close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pool_size": 0},
        {"pool_size": 1.5},
        {"pool_timeout": -1},
        {"read_only": "yes"},
        {"path": 42},
        {"path": ""},
    ],
)
def test_sqlite_constructor_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(sqlarrow.ConfigError):
        sqlarrow.SQLiteConnector(**kwargs)  # type: ignore[arg-type]


def test_sqlite_accepts_pathlike(tmp_path: Path) -> None:
    with sqlarrow.SQLiteConnector(tmp_path / "p.db") as conn:
        assert conn.path == os.fspath(tmp_path / "p.db")
        assert conn.query("select 1 as x").to_pylist() == [{"x": 1}]


def test_repr_never_shows_password() -> None:
    conn = sqlarrow.PostgreSQLConnector(
        host="db.internal", port=5433, database="prod", user="bob", password=SECRET
    )
    text = repr(conn)
    assert SECRET not in text
    for part in ("PostgreSQLConnector", "db.internal", "5433", "prod", "bob"):
        assert part in text
    assert SECRET not in str(conn)
    assert SECRET not in repr(vars(conn)) if hasattr(conn, "__dict__") else True
    conn.close()
    assert "closed" in repr(conn)


def test_connector_is_abstract() -> None:
    with pytest.raises(TypeError):
        sqlarrow.Connector()  # type: ignore[abstract]


def test_tls_file_options() -> None:
    _, kw = parse_url(
        "postgresql://u@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        "&sslcert=/c/client.pem&sslkey=/c/client.key"
    )
    assert kw["sslrootcert"] == "/etc/ca.pem"
    assert kw["sslcert"] == "/c/client.pem" and kw["sslkey"] == "/c/client.key"
    # a missing CA file is a configuration error naming the file
    with pytest.raises(sqlarrow.ConfigError, match=r"no-such-ca\.pem"):
        sqlarrow.connect(
            "postgresql://h/db?sslmode=verify-ca&sslrootcert=/nonexistent/no-such-ca.pem"
        )
    with pytest.raises(sqlarrow.ConfigError, match="together"):
        sqlarrow.PostgreSQLConnector(sslcert="/c/client.pem")


def test_redshift_url() -> None:
    with sqlarrow.connect(f"redshift://u:{SECRET}@cluster.example:5439/dev") as conn:
        assert isinstance(conn, sqlarrow.RedshiftConnector)
        assert isinstance(conn, sqlarrow.PostgreSQLConnector)
        assert conn.engine == "redshift"
        assert conn.port == 5439 and conn.sslmode == "require"
        assert SECRET not in repr(conn)
    with sqlarrow.RedshiftConnector(host="h") as conn2:
        assert conn2.port == 5439


def test_sqlite_url_missing_slash_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sqlite:///tmp/…/x.db` is relative (SQLAlchemy's rule). When that relative path
    cannot be opened but the absolute one's directory exists, the error says where it
    looked and that an absolute path takes four slashes; the path is named once."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    rel = str(tmp_path).lstrip("/") + "/x.db"
    with (
        sqlarrow.connect(f"sqlite:///{rel}") as c,
        pytest.raises(sqlarrow.DatabaseConnectionError) as e,
    ):
        c.query("select 1")
    msg = str(e.value)
    assert f"working directory {work}" in msg, msg
    assert f"four slashes: sqlite:////{rel}" in msg, msg
    assert msg.count(rel) == 2, msg  # the path, and the four-slash URL
    # A relative path whose directory exists opens, and no hint is needed.
    with sqlarrow.connect("sqlite:///here.db") as c:
        assert c.query("select 1 as one").to_pylist() == [{"one": 1}]
    assert (work / "here.db").exists()
    # An absolute path that cannot be opened gets no guess.
    with (
        sqlarrow.connect(f"sqlite:///{tmp_path}/no/such/dir/x.db") as c,
        pytest.raises(sqlarrow.DatabaseConnectionError) as e,
    ):
        c.query("select 1")
    assert "four slashes" not in str(e.value) and "working directory" not in str(e.value)
