"""Partitioned reads (``query(sql, partition_on=..., partitions=...)``) on PostgreSQL,
MariaDB/MySQL and SQLite: the same rows as one statement, joined in range order, with
the bad inputs refused by name. Each test works in its own schema/database/file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import sqlarrow
from sqlarrow._mysql import MySQLConnector

MY_HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))
MY_USER = os.environ.get("SQLARROW_MYSQL_USER", "root")
MY_PASSWORD = os.environ.get("SQLARROW_MYSQL_PASSWORD") or None
ROWS = 3000


def _mysql(database: str | None, **kw: Any) -> MySQLConnector:
    return MySQLConnector(
        MY_HOST,
        MY_PORT,
        user=MY_USER,
        password=MY_PASSWORD,
        database=database,
        ssl_mode="disabled",
        **kw,
    )


@pytest.fixture(params=["postgres", "mysql", "sqlite"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """(connector, table name) with ``ROWS`` rows: id 1..ROWS (negative for every
    tenth), a NULL ``grp`` for every seventh row, text and float columns."""
    engine = request.param
    if engine == "postgres":
        schema = request.getfixturevalue("pg_schema")
        conn = request.getfixturevalue("pg")
        table = f'"{schema}".items'
        conn.execute(f"CREATE TABLE {table} (id bigint, grp int, name text, x float8)")
        conn.execute(
            f"INSERT INTO {table} SELECT CASE WHEN g % 10 = 0 THEN -g ELSE g END, "
            f"CASE WHEN g % 7 = 0 THEN NULL ELSE g % 50 END, 'n' || g, g / 3.0 "
            f"FROM generate_series(1, {ROWS}) g"
        )
        yield conn, table
    elif engine == "mysql":
        admin = _mysql(None, pool_size=1)
        db = f"sqlarrow_t_{uuid.uuid4().hex}"
        admin.execute(f"CREATE DATABASE `{db}`")
        conn = _mysql(db, pool_size=4)
        try:
            conn.execute("CREATE TABLE items (id bigint, grp int, name text, x double)")
            conn.execute(
                "INSERT INTO items SELECT IF(seq % 10 = 0, -seq, seq), "
                "IF(seq % 7 = 0, NULL, seq % 50), CONCAT('n', seq), seq / 3.0 "
                f"FROM seq_1_to_{ROWS}"
            )
            yield conn, "items"
        finally:
            conn.close()
            admin.execute(f"DROP DATABASE IF EXISTS `{db}`")
            admin.close()
    else:
        conn = sqlarrow.SQLiteConnector(str(tmp_path / "p.db"), pool_size=4)
        conn.execute("CREATE TABLE items (id INTEGER, grp INTEGER, name TEXT, x REAL)")
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?)",
            [
                (-g if g % 10 == 0 else g, None if g % 7 == 0 else g % 50, f"n{g}", g / 3.0)
                for g in range(1, ROWS + 1)
            ],
        )
        yield conn, "items"
        conn.close()


def _sorted(t: pa.Table) -> list[dict[str, Any]]:
    return sorted(t.to_pylist(), key=lambda r: r["id"])


def _range_index(values: list[Any], n: int) -> list[int]:
    """Which of the ``n`` contiguous ranges over [min, max] each value falls in (NULL:
    the first), as the connector cuts them: the first ``span % n`` ranges one longer."""
    present = [v for v in values if v is not None]
    lo, hi = min(present), max(present)
    span = hi - lo + 1
    n = min(n, span)
    step, extra = divmod(span, n)
    starts = []
    a = lo
    for k in range(n):
        starts.append(a)
        a += step + (1 if k < extra else 0)
    out = []
    for v in values:
        if v is None:
            out.append(0)
        else:
            out.append(max(k for k, s0 in enumerate(starts) if s0 <= v))
    return out


def test_same_rows_as_one_statement(target: tuple[Any, str]) -> None:
    conn, table = target
    sql = f"SELECT id, grp, name, x FROM {table}"
    whole = conn.query(sql).to_arrow()
    for n in (1, 2, 3, 7, 64):
        part = conn.query(sql, partition_on="id", partitions=n).to_arrow()
        assert part.schema == whole.schema
        assert part.num_rows == ROWS
        assert _sorted(part) == _sorted(whole)
        # Range order: every row of range k comes before any row of range k + 1.
        idx = _range_index(part.column("id").to_pylist(), n)
        assert idx == sorted(idx)


def test_nulls_in_the_partition_column_go_with_the_first_range(target: tuple[Any, str]) -> None:
    conn, table = target
    sql = f"SELECT id, grp FROM {table}"
    part = conn.query(sql, partition_on="grp", partitions=4).to_arrow()
    assert part.num_rows == ROWS
    grp = part.column("grp").to_pylist()
    assert sum(1 for g in grp if g is None) == ROWS // 7
    # NULLs are read with the first range.
    idx = _range_index(grp, 4)
    assert idx == sorted(idx)
    assert all(idx[i] == 0 for i, g in enumerate(grp) if g is None)


def test_filters_parameters_and_trailing_comment(target: tuple[Any, str]) -> None:
    conn, table = target
    marker = "$1" if conn.engine == "postgres" else "?"
    sql = f"SELECT id, name FROM {table} WHERE id > {marker} -- only positives\n;"
    part = conn.query(sql, [100], partition_on="id", partitions=3).to_arrow()
    assert part.column("id").to_pylist() == sorted(
        r["id"] for r in conn.query(f"SELECT id FROM {table}").to_pylist() if r["id"] > 100
    )
    named = conn.query(
        f"SELECT id FROM {table} WHERE id BETWEEN :lo AND :hi",
        {"lo": 10, "hi": 19},
        partition_on="id",
        partitions=4,
    ).to_arrow()
    assert named.column("id").to_pylist() == [11, 12, 13, 14, 15, 16, 17, 18, 19]


def test_empty_and_all_null_results_keep_the_schema(target: tuple[Any, str]) -> None:
    conn, table = target
    empty = conn.query(f"SELECT id, name FROM {table} WHERE id > 10000000", partition_on="id")
    t = empty.to_arrow()
    assert t.num_rows == 0
    assert t.column_names == ["id", "name"]
    nulls = conn.query(
        f"SELECT id, grp FROM {table} WHERE grp IS NULL", partition_on="grp", partitions=3
    ).to_arrow()
    assert nulls.num_rows == ROWS // 7


def test_bad_arguments_are_refused_by_name(target: tuple[Any, str]) -> None:
    conn, table = target
    sql = f"SELECT id, name, x FROM {table}"
    with pytest.raises(sqlarrow.ConfigError, match="integer column"):
        conn.query(sql, partition_on="name", partitions=2)
    with pytest.raises(sqlarrow.ConfigError, match="integer column"):
        conn.query(sql, partition_on="x", partitions=2)
    with pytest.raises(sqlarrow.ConfigError, match="partitions needs partition_on"):
        conn.query(sql, partitions=2)
    for bad in (0, -1, True, 2.5, "2"):
        with pytest.raises(sqlarrow.ConfigError, match="partitions"):
            conn.query(sql, partition_on="id", partitions=bad)
    with pytest.raises(sqlarrow.ConfigError, match="between 1 and 1024"):
        conn.query(sql, partition_on="id", partitions=5000)
    with pytest.raises(sqlarrow.ConfigError, match="column name"):
        conn.query(sql, partition_on="")
    with pytest.raises(sqlarrow.SqlArrowError) as info:
        conn.query(sql, partition_on="no_such_column", partitions=2)
    assert "no_such_column" in str(info.value)
    # A quote in the name is quoted, never injected.
    with pytest.raises(sqlarrow.SqlArrowError):
        conn.query(sql, partition_on='id" OR 1=1 --', partitions=2)
    # The connector is still fine.
    assert conn.query(sql, partition_on="id", partitions=2).to_arrow().num_rows == ROWS
    # An ORDER BY of the query would hold within each range only: the rows came back
    # ascending by range, descending inside each, with no error.
    with pytest.raises(sqlarrow.ConfigError, match="cannot keep the query's ORDER BY"):
        conn.query(f"{sql} ORDER BY id DESC", partition_on="id", partitions=2)
    inner = f"SELECT * FROM (SELECT id FROM {table} ORDER BY id DESC LIMIT 10) AS top"
    assert conn.query(inner, partition_on="id", partitions=2).to_arrow().num_rows == 10


def test_read_only_connector_still_refuses_writes(pg_url: str, pg_schema: str) -> None:
    ro = sqlarrow.connect(pg_url, read_only=True)
    try:
        with pytest.raises(sqlarrow.ReadOnlyViolation):
            ro.query(f'DELETE FROM "{pg_schema}".x RETURNING id', partition_on="id", partitions=2)
    finally:
        ro.close()


def test_timeout_cancels_every_partition(pg: sqlarrow.Connector) -> None:
    sql = (
        "SELECT g AS id, pg_sleep(CASE WHEN g % 2 = 0 THEN 30 ELSE 0 END) "
        "FROM generate_series(1, 4) g"
    )
    with pytest.raises(sqlarrow.QueryTimeoutError):
        pg.query(sql, partition_on="id", partitions=4, timeout=1.0)
    # No statement is left running, and the pool serves the next query.
    left = pg.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(CASE%' "
        "AND pid <> pg_backend_pid() AND state = 'active'"
    ).to_pylist()[0]["n"]
    assert left == 0
    assert pg.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]
