"""Configuration files: YAML, interpolation, .env, secret files, profiles, validation, CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import sqlarrow
from sqlarrow.config import build_config, parse_env_file

SECRET = f"S3cr3t-{uuid.uuid4().hex[:8]}"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, SQLARROW_NO_DEBUG_WARNING="1", **env)
    return subprocess.run(
        [sys.executable, "-m", "sqlarrow", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    write(tmp_path / "pw.txt", SECRET + "\n")
    write(tmp_path / ".env", f"# comment\nexport PG_USER=postgres\nPG_PASSWORD='{SECRET}'\n")
    return write(
        tmp_path / "connections.yaml",
        f"""
target: warehouse
connections:
  warehouse:
    engine: postgres
    host: ${{PG_HOST:-127.0.0.1}}
    port: ${{PG_PORT:-5432}}
    database: postgres
    user: ${{PG_USER}}
    password_file: pw.txt
    pool_size: 2
  lite: "sqlite:///{tmp_path}/lite.db"
  lite2:
    type: sqlite
    path: {tmp_path}/lite2.db
    read_only: "false"
  maria:
    url: mysql://root@127.0.0.1:3306/
    pool_size: 2
  with_env_password:
    engine: postgres
    host: 127.0.0.1
    user: postgres
    password: ${{PG_PASSWORD}}
profiles:
  dev:
    target: lite
    connections:
      warehouse:
        database: template1
""",
    )


def test_load_and_connect(cfg_file: Path) -> None:
    cfg = sqlarrow.load_config(cfg_file, env_file=cfg_file.parent / ".env")
    assert cfg.target == "warehouse"
    assert set(cfg.connections) == {"warehouse", "lite", "lite2", "maria", "with_env_password"}
    wh = cfg.connections["warehouse"]
    assert wh.engine == "postgres"
    assert wh.options["port"] == 5432 and wh.options["host"] == "127.0.0.1"
    assert wh.options["password"] == SECRET  # newline stripped
    assert cfg.connections["with_env_password"].options["password"] == SECRET
    assert cfg.connections["lite2"].options["read_only"] is False
    assert cfg.connections["maria"].engine == "mysql"
    for text in (repr(cfg), str(cfg), repr(wh), str(wh), repr(cfg.connections)):
        assert SECRET not in text
    with sqlarrow.connect(name="warehouse", config=cfg) as conn:
        assert conn.query("select current_database() as d").to_pylist() == [{"d": "postgres"}]
        assert SECRET not in repr(conn)
    with sqlarrow.get_connection(config=cfg) as conn:
        assert conn.engine == "postgres"
    with sqlarrow.connect(name="maria", config=str(cfg_file)) as conn:
        assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]
    with sqlarrow.get_connection("lite", config=cfg) as conn:
        assert conn.query("select 2 as two").to_pylist() == [{"two": 2}]


def test_real_environment_wins_over_env_file(
    cfg_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_USER", "from_env")
    monkeypatch.setenv("PG_PORT", "6543")
    cfg = sqlarrow.load_config(cfg_file, env_file=cfg_file.parent / ".env")
    assert cfg.connections["warehouse"].options["user"] == "from_env"
    assert cfg.connections["warehouse"].options["port"] == 6543
    assert "PG_PASSWORD" not in os.environ  # the process environment is untouched


def test_profiles(cfg_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = sqlarrow.load_config(cfg_file, env_file=cfg_file.parent / ".env", env="dev")
    assert cfg.target == "lite"
    wh = cfg.connections["warehouse"].options
    assert wh["database"] == "template1" and wh["user"] == "postgres"
    monkeypatch.setenv("SQLARROW_ENV", "dev")
    cfg = sqlarrow.load_config(cfg_file, env_file=cfg_file.parent / ".env")
    assert cfg.env == "dev" and cfg.target == "lite"
    with pytest.raises(sqlarrow.ConfigError, match="no environment named 'prod'"):
        sqlarrow.load_config(cfg_file, env_file=cfg_file.parent / ".env", env="prod")


def test_every_problem_listed_without_secrets(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.yaml",
        f"""
target: nope
colour: blue
connections:
  a:
    engine: postgres
    host: 127.0.0.1
    port: "not a port"
    password: {SECRET}
    pasword: {SECRET}
    pool_size: true
  b:
    engine: oracle
  c:
    host: x
  d:
    engine: sqlite
  e:
    engine: mysql
    host: ${{UNSET_VAR_{uuid.uuid4().hex}}}
    password: ${{ALSO_UNSET_{uuid.uuid4().hex}}}
  f: "ftp://{SECRET}@host"
  g: 42
  h:
    engine: postgres
    host: h
    password_file: missing.txt
""",
    )
    with pytest.raises(sqlarrow.ConfigError) as info:
        sqlarrow.load_config(path)
    err = info.value
    text = str(err)
    problems = err.problems  # type: ignore[attr-defined]
    assert SECRET not in text and all(SECRET not in p for p in problems)
    expected = [
        "colour: unknown top-level key",
        "connections.a.port: expected an integer",
        "connections.a.pasword: unknown option for postgres",
        "connections.a.pool_size: expected an integer, got bool",
        "connections.b.engine: unknown engine 'oracle'",
        "connections.c: missing required field 'engine'",
        "connections.d: missing required field 'path'",
        "connections.e.host: environment variable UNSET_VAR_",
        "connections.e.password: environment variable ALSO_UNSET_",
        "connections.f: unsupported URL scheme 'ftp'",
        "connections.g: expected a URL string or a mapping, got int",
        "connections.h.password_file: cannot read",
        "target: no connection named 'nope'",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(expected)


def test_yaml_errors_do_not_echo_text(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.yaml", f"connections:\n  a: [{SECRET}\n")
    with pytest.raises(sqlarrow.ConfigError) as info:
        sqlarrow.load_config(path)
    assert SECRET not in str(info.value)
    with pytest.raises(sqlarrow.ConfigError, match="cannot read configuration file"):
        sqlarrow.load_config(tmp_path / "missing.yaml")


def test_interpolation_details() -> None:
    env = {"A": "x", "EMPTY": ""}
    cfg = build_config(
        {
            "connections": {
                "s": {
                    "engine": "sqlite",
                    "path": "${A}/${B:-dflt}/${EMPTY:-e}/${EMPTY-keep}/$${A}",
                }
            }
        },
        environ=env,
    )
    assert cfg.connections["s"].options["path"] == "x/dflt/e//${A}"


@pytest.mark.parametrize("password", ["p@ss/w:rd#?%x", "plain", "pre%40encoded", "sp ace"])
def test_a_password_variable_in_a_url_is_escaped(password: str) -> None:
    # 'postgresql://app:${PW}@db/x' with PW='p@ss/w...' put 'ss' in the host (and so in
    # the connection error). The value is escaped where it lands in user:password; a
    # value already percent-encoded is left as it is.
    cfg = build_config(
        {
            "connections": {
                "u": {"url": "postgresql://${USER}:${PW}@db.example:5432/${DB}?sslmode=disable"}
            }
        },
        environ={"PW": password, "USER": "a@b", "DB": "x"},
    )
    opts = cfg.connections["u"].options
    decoded = password.replace("%40", "@")
    assert (opts["host"], opts["port"], opts["user"]) == ("db.example", 5432, "a@b")
    assert opts["password"] == decoded
    assert password not in repr(cfg) and "ss/w" not in repr(cfg)


def test_env_file_parser(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".env",
        'A=1\nexport B = two words \nC="q\\"uoted\\nline"\n'
        "D='lit ${X}'\nE=val # comment\n\n# x\nF=\n",
    )
    assert parse_env_file(path) == {
        "A": "1",
        "B": "two words",
        "C": 'q"uoted\nline',
        "D": "lit ${X}",
        "E": "val",
        "F": "",
    }
    write(tmp_path / "bad.env", "not a line\n")
    with pytest.raises(sqlarrow.ConfigError, match=":1: not a KEY=value"):
        parse_env_file(tmp_path / "bad.env")


def test_no_name_no_target_and_unknown_name(tmp_path: Path) -> None:
    cfg = build_config({"connections": {"s": "sqlite://:memory:"}}, environ={})
    with pytest.raises(sqlarrow.ConfigError, match="no 'target'"):
        cfg.get()
    with pytest.raises(sqlarrow.ConfigError, match="no connection named 'x'"):
        sqlarrow.connect(name="x", config=cfg)
    with pytest.raises(sqlarrow.ConfigError, match="either a URL"):
        sqlarrow.connect("sqlite://:memory:", name="s", config=cfg)


def test_missing_pyyaml_names_the_extra(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "connections: {}\n")
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "import sqlarrow\n"
        "try:\n"
        f"    sqlarrow.load_config({str(path)!r})\n"
        "except sqlarrow.MissingDependencyError as e:\n"
        "    print('MISSING', e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, SQLARROW_NO_DEBUG_WARNING="1"),
        timeout=60,
    )
    assert "MISSING" in proc.stdout and "sqlarrow[config]" in proc.stdout, proc.stderr


def test_logging_has_no_secret(cfg_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = sqlarrow.load_config(cfg_file, env_file=cfg_file.parent / ".env")
    with cfg.connect("with_env_password") as conn:
        conn.query("select 1")
    assert caplog.records, "expected sqlarrow log records"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in caplog.text


def test_cli_test_and_inspect(cfg_file: Path, pg_admin: sqlarrow.Connector) -> None:
    schema = f"sqlarrow_t_{uuid.uuid4().hex}"
    pg_admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        pg_admin.execute(f'CREATE TABLE "{schema}".cfg_table (id int)')
        proc = cli("test", "warehouse", "--config", str(cfg_file), cwd=cfg_file.parent)
        assert proc.returncode == 0, proc.stderr
        assert "ok: warehouse (postgres)" in proc.stdout
        proc = cli("inspect", "--config", str(cfg_file), "--schema", schema, cwd=cfg_file.parent)
        assert proc.returncode == 0, proc.stderr
        assert "cfg_table" in proc.stdout
        # the dev profile's target is the SQLite entry
        proc = cli("test", "--config", str(cfg_file), "--env", "dev", cwd=cfg_file.parent)
        assert proc.returncode == 0, proc.stderr
        assert "ok: lite (sqlite)" in proc.stdout
        # SQLARROW_CONFIG is used without --config
        proc = cli("test", "maria", SQLARROW_CONFIG=str(cfg_file))
        assert proc.returncode == 0, proc.stderr + proc.stdout
        # a URL still works, shown masked
        proc = cli("test", f"postgresql://postgres:{SECRET}@127.0.0.1:5432/postgres")
        assert proc.returncode == 0 and "postgres:***@" in proc.stdout
        for p in (proc,):
            assert SECRET not in p.stdout + p.stderr
        # a broken configuration: every problem, exit 1, no traceback, no secret
        bad = write(
            cfg_file.parent / "bad.yaml",
            f"connections:\n  x:\n    engine: postgres\n    host: h\n    passwd: {SECRET}\n",
        )
        proc = cli("test", "x", "--config", str(bad))
        assert proc.returncode == 1
        assert "connections.x.passwd: unknown option" in proc.stderr
        assert "Traceback" not in proc.stderr and SECRET not in proc.stdout + proc.stderr
    finally:
        pg_admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
