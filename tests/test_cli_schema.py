"""`sqlarrow schema inspect | diff | apply`, run as a user would (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SQLARROW_NO_DEBUG_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sqlarrow", "schema", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_inspect_diff_apply_round_trip(tmp_path: Path) -> None:
    import sqlarrow

    url = f"sqlite:///{tmp_path / 's.db'}"
    with sqlarrow.connect(url) as conn:
        conn.execute("create table a (id integer primary key, name text, amount decimal(10,2))")
        conn.execute(
            'create table "b b" (id integer primary key, name text, amount decimal(12,2), '
            "created timestamp)"
        )
        conn.execute("insert into a values (1, 'x', 1.5)")

    listing = run("inspect", url)
    assert listing.returncode == 0, listing.stderr
    assert "b b" in listing.stdout

    shown = run("inspect", url, "a", "--json")
    assert shown.returncode == 0, shown.stderr
    schema = json.loads(shown.stdout)
    assert [c["name"] for c in schema["columns"]] == ["id", "name", "amount"]
    assert schema["columns"][2]["type"] == "DECIMAL(10,2)"
    (tmp_path / "a.json").write_text(shown.stdout)

    d = run("diff", url, "a", url, "b b")
    assert d.returncode == 2, d.stderr  # they differ
    assert 'add column "created" TIMESTAMP' in d.stdout
    # A schema JSON file stands in for a live table.
    d2 = run("diff", str(tmp_path / "a.json"), url, "a")
    assert d2.returncode == 0 and "0 change(s)" in d2.stdout

    dry = run("apply", url, "a", url, "b b", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would run" in dry.stdout
    applied = run("apply", url, "a", url, "b b")
    assert applied.returncode == 0, applied.stderr
    assert run("diff", url, "a", url, "b b").returncode == 0
    with sqlarrow.connect(url) as conn:
        assert conn.query("select id, name from a").to_pylist() == [{"id": 1, "name": "x"}]


def test_destructive_apply_is_refused_without_the_flag(tmp_path: Path) -> None:
    import sqlarrow

    url = f"sqlite:///{tmp_path / 'd.db'}"
    with sqlarrow.connect(url) as conn:
        conn.execute("create table a (id integer primary key, gone text)")
        conn.execute("create table b (id integer primary key)")
    refused = run("apply", url, "a", url, "b")
    assert refused.returncode == 1
    assert "destructive" in refused.stderr
    assert run("apply", url, "a", url, "b", "--allow-destructive").returncode == 0
    assert run("diff", url, "a", url, "b").returncode == 0


def test_bad_arguments_give_a_clear_error(tmp_path: Path) -> None:
    bad = run("diff", "sqlite:///nope.db")
    assert bad.returncode == 1
    assert "SOURCE_A" in bad.stderr or "schema JSON" in bad.stderr
