"""The `sqlarrow` command line."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import sqlarrow
from conftest import AUTH_ROLE, PG_URL


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SQLARROW_NO_DEBUG_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "sqlarrow", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_demo(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    proc = cli("demo", "--rows", "1000", "--path", str(db))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "1,000 rows" in out
    for word in ("region", "revenue", "stream", "batches", "pyarrow", "pandas", "polars"):
        assert word in out, word
    assert "Traceback" not in proc.stderr
    with sqlarrow.SQLiteConnector(str(db)) as conn:
        result = conn.query("select * from orders")
        assert result.num_rows == 1000
        assert result.column_names == [
            "id",
            "customer",
            "amount",
            "created_at",
            "is_paid",
            "region",
            "notes",
        ]
        schema = result.to_arrow().schema
        assert str(schema.field("amount").type) == "decimal128(12, 2)"
        assert str(schema.field("created_at").type) == "timestamp[us]"
        assert str(schema.field("is_paid").type) == "bool"
        assert result.to_arrow().column("notes").null_count > 0


def test_demo_default_temp_path() -> None:
    proc = cli("demo", "--rows", "200")
    assert proc.returncode == 0, proc.stderr
    assert "200 rows" in proc.stdout


def test_console_script_installed() -> None:
    script = Path(sys.executable).parent / "sqlarrow"
    assert script.exists(), "the `sqlarrow` entry point is not installed"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert sqlarrow.__version__ in proc.stdout


def _sqlite_db(tmp_path: Path) -> Path:
    db = tmp_path / "q.db"
    with sqlarrow.SQLiteConnector(str(db)) as conn:
        conn.execute("create table t (id INTEGER, name TEXT, amount DECIMAL(6,2), raw BLOB)")
        conn.executemany(
            "insert into t values (?, ?, ?, ?)",
            [[i, f"n,{i}" if i else None, f"{i}.25", b"\x01"] for i in range(5)],
        )
    return db


def test_query_table(tmp_path: Path) -> None:
    db = _sqlite_db(tmp_path)
    proc = cli("query", f"sqlite:///{db}", "select id, name, amount from t order by id")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["id", "|", "name", "|", "amount"]
    assert "NULL" in lines[2]
    assert len(lines) == 2 + 5


def test_query_csv_and_limit(tmp_path: Path) -> None:
    db = _sqlite_db(tmp_path)
    proc = cli(
        "query", f"sqlite:///{db}", "select * from t order by id", "--format", "csv", "--limit", "3"
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert rows[0] == ["id", "name", "amount", "raw"]
    assert rows[1:] == [
        ["0", "", "0.25", "\\x01"],
        ["1", "n,1", "1.25", "\\x01"],
        ["2", "n,2", "2.25", "\\x01"],
    ]


def test_query_json(tmp_path: Path) -> None:
    db = _sqlite_db(tmp_path)
    proc = cli(
        "query",
        f"sqlite:///{db}",
        "select id, amount from t where id < 2 order by id",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"id": 0, "amount": "0.25"}, {"id": 1, "amount": "1.25"}]


def test_query_json_is_strict_json_for_nan_and_infinity() -> None:
    # Python's json wrote a bare NaN, which jq and JavaScript refuse.
    proc = cli(
        "query",
        PG_URL,
        "select 'NaN'::float8 as n, 'Infinity'::float8 as i, '-Infinity'::float8 as m, "
        "array['NaN'::float8, 1.5] as a",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr

    def refuse(name: str) -> None:
        raise AssertionError(f"not JSON: {name}")

    assert json.loads(proc.stdout, parse_constant=refuse) == [
        {"n": "NaN", "i": "Infinity", "m": "-Infinity", "a": ["NaN", 1.5]}
    ]


NESTED_SQL = (
    "select array[1, null, 3] as arr, array['a\"b'] as sa, "
    '\'{"k": [1, {"z": null}]}\'::jsonb as j, '
    "interval '1 year 2 mon 3 days 04:05:06.5' as iv, interval '-1 mon 2 days -3 hours' as iv2, "
    "interval '3 days' as iv3, interval '0' as iv4"
)


def test_query_json_embeds_documents_and_writes_iso_intervals() -> None:
    """JSON columns are documents in the output, not quoted strings; intervals are
    ISO 8601 (they were [months, days, ns] lists or a number of seconds, by value)."""
    for extra in ([], ["--limit", "5"]):
        proc = cli("query", PG_URL, NESTED_SQL, "--format", "json", *extra)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == [
            {
                "arr": [1, None, 3],
                "sa": ['a"b'],
                "j": {"k": [1, {"z": None}]},
                "iv": "P1Y2M3DT4H5M6.5S",
                "iv2": "P-1M2DT-3H",
                "iv3": "P3D",
                "iv4": "PT0S",
            }
        ]


def test_query_table_and_csv_show_lists_as_json() -> None:
    """Lists were Python reprs (``[1, None, 3]``), intervals tuples (``(1, 2, 0)``)."""
    proc = cli("query", PG_URL, NESTED_SQL, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert rows[1] == [
        "[1, null, 3]",
        '["a\\"b"]',
        '{"k": [1, {"z": null}]}',
        "P1Y2M3DT4H5M6.5S",
        "P-1M2DT-3H",
        "P3D",
        "PT0S",
    ]
    proc = cli("query", PG_URL, NESTED_SQL)
    assert proc.returncode == 0, proc.stderr
    assert "[1, null, 3]" in proc.stdout and "None" not in proc.stdout
    assert "P1Y2M3DT4H5M6.5S" in proc.stdout


def test_iso_intervals() -> None:
    import datetime as dt

    from sqlarrow.cli import _iso_interval, _timedelta_parts

    assert _iso_interval((0, 0, 0)) == "PT0S"
    assert _iso_interval((14, 0, 0)) == "P1Y2M"
    assert _iso_interval((-14, -1, -1_500_000_000)) == "P-1Y-2M-1DT-1.5S"
    assert _iso_interval((0, 0, 3_600_000_000_001)) == "PT1H0.000000001S"
    assert _iso_interval(_timedelta_parts(-dt.timedelta(hours=25))) == "P-1DT-1H"
    assert _iso_interval(_timedelta_parts(dt.timedelta(microseconds=1))) == "PT0.000001S"


def test_table_format_keeps_columns_aligned() -> None:
    """A tab or other control character in a value broke the table's alignment (only
    newlines were escaped), and East Asian wide characters, two terminal columns each,
    were padded as one."""
    from sqlarrow.cli import _width, format_table

    rows = [{"s": "a\tb\x01", "j": "日本語", "n": 12}, {"s": "é", "j": "x", "n": 3}]
    lines = format_table(rows, ["s", "j", "n"]).splitlines()
    assert lines[2].startswith("a\\tb\\x01 | 日本語 | 12")

    # Every line's " | " separators sit at the same terminal columns.
    def bars(line: str) -> list[int]:
        return [_width(line[:i]) for i in range(len(line)) if line.startswith(" | ", i)]

    assert bars(lines[0]) == bars(lines[2]) == bars(lines[3])
    assert _width("日本語") == 6 and _width("e\u0301") == 1


def test_query_postgres(pg_admin: sqlarrow.Connector) -> None:
    proc = cli(
        "query",
        PG_URL,
        "select g, now() as t from generate_series(1, 100) g",
        "--limit",
        "2",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["g"] for r in json.loads(proc.stdout)] == [1, 2]


def test_query_error_exit_code(tmp_path: Path) -> None:
    proc = cli("query", f"sqlite:///{tmp_path / 'e.db'}", "selec 1")
    assert proc.returncode == 1
    assert "SqlSyntaxError" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_test_ok(pg_admin: sqlarrow.Connector) -> None:
    proc = cli("test", PG_URL)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout
    assert "latency" in proc.stdout
    assert "server version: 1" in proc.stdout


def test_test_wrong_password_exits_1_without_password(pg_admin: sqlarrow.Connector) -> None:
    secret = "Wr0ng-CLI-secret"
    proc = cli("test", f"postgresql://{AUTH_ROLE}:{secret}@127.0.0.1:5432/postgres")
    assert proc.returncode == 1
    assert secret not in proc.stdout + proc.stderr
    assert "***" in proc.stdout


def test_test_unreachable_exits_1() -> None:
    secret = "another-secret-9"
    proc = cli("test", f"postgresql://u:{secret}@127.0.0.1:1/db?connect_timeout=2", timeout=60)
    assert proc.returncode == 1
    assert secret not in proc.stdout + proc.stderr


def test_bad_url_exits_nonzero_without_password() -> None:
    secret = "url-secret-7"
    proc = cli("test", f"mysqlx://u:{secret}@h/db")
    assert proc.returncode == 1
    assert secret not in proc.stdout + proc.stderr
    assert "mysqlx" in proc.stderr


def test_usage_errors() -> None:
    assert cli().returncode == 2
    assert cli("demo", "--rows", "-5").returncode == 2
    assert cli("query", "sqlite://", "select 1", "--format", "xml").returncode == 2


def test_query_prints_server_warnings_to_stderr() -> None:
    host = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
    port = os.environ.get("SQLARROW_MYSQL_PORT", "3306")
    url = f"mysql://root@{host}:{port}/?ssl_mode=disabled"
    for extra in ([], ["--limit", "5"]):
        proc = cli("query", url, "select cast('abc' as signed) as v", "--format", "csv", *extra)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == ["v", "0"]
        assert "warning: Warning 1292: Truncated incorrect INTEGER value: 'abc'" in proc.stderr
        assert "DatabaseWarning" not in proc.stderr
