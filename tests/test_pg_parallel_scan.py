"""Parallel scans: a plain read of one large table split into block ranges across
pooled connections that share one exported snapshot (PostgreSQLConnector.query)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest

import sqlarrow
from conftest import PG_URL
from sqlarrow.exceptions import ConfigError, DataError, QueryTimeoutError

ROWS = 60_000


def _connector(scan_workers: int, **kw: object) -> sqlarrow.PostgreSQLConnector:
    conn = sqlarrow.connect(
        PG_URL,
        scan_workers=scan_workers,
        scan_min_bytes=0,
        application_name=f"scan-{uuid.uuid4().hex[:12]}",
        **kw,
    )
    assert isinstance(conn, sqlarrow.PostgreSQLConnector)
    return conn


@pytest.fixture
def big(pg_admin: sqlarrow.Connector, pg_schema: str) -> Iterator[str]:
    table = f'"{pg_schema}".big'
    pg_admin.execute(
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, v int, name text, amount numeric(12,2), "
        "ts timestamptz, tags text[])"
    )
    pg_admin.execute(
        f"INSERT INTO {table} SELECT g, (g * 7919) % 1000, 'name-' || g, g / 100.0, "
        "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', "
        f"CASE WHEN g % 10 = 0 THEN NULL ELSE ARRAY['a', g::text] END "
        f"FROM generate_series(1, {ROWS}) g"
    )
    pg_admin.execute(f"ANALYZE {table}")
    yield table


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by("id")


def _created(conn: sqlarrow.PostgreSQLConnector) -> int:
    return conn.pool_stats().created


def test_split_read_equals_single_connection(big: str) -> None:
    single, split = _connector(1), _connector(3)
    try:
        for sql in (
            f"SELECT * FROM {big}",
            f"SELECT id, name, amount FROM {big} WHERE v < 300",
            f"select b.id, b.v::text AS v_text, b.id + 1 AS next from {big} b "
            "where b.name like '%7'",
            f"SELECT * FROM {big} WHERE lower(name) <> 'x' AND tags IS NULL",
        ):
            want = single.query(sql).to_arrow()
            got = split.query(sql).to_arrow()
            assert got.schema == want.schema, sql
            assert got.num_rows == want.num_rows > 0, sql
            assert _sorted(got).equals(_sorted(want)), sql
        # The split read really used several connections.
        assert _created(split) == 3
        assert _created(single) == 1
    finally:
        single.close()
        split.close()


def test_rows_in_block_order_without_duplicates(big: str) -> None:
    with _connector(4) as conn:
        t = conn.query(f"SELECT id FROM {big}").to_arrow()
        ids = t.column("id").to_pylist()
        assert len(ids) == ROWS and len(set(ids)) == ROWS
        # Ranges are joined in block order: the rows come in physical (ctid) order.
        physical = conn.query(f"SELECT id FROM {big} ORDER BY ctid").to_arrow()
        assert ids == physical.column("id").to_pylist()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) AS n FROM {t}",
        "SELECT sum(v) AS s FROM {t} WHERE id > 10",
        "SELECT id FROM {t} ORDER BY id DESC LIMIT 5",
        "SELECT DISTINCT v FROM {t}",
        "SELECT id, row_number() OVER (ORDER BY id) AS r FROM {t}",
        "SELECT unnest(tags) AS tag FROM {t}",
        "SELECT a.id FROM {t} a JOIN {t} b ON a.id = b.id",
    ],
)
def test_queries_that_cannot_be_split_run_on_one_connection(big: str, sql: str) -> None:
    single, split = _connector(1), _connector(4)
    try:
        q = sql.format(t=big)
        want = single.query(q).to_arrow()
        got = split.query(q).to_arrow()
        assert got.num_rows == want.num_rows
        if "ORDER BY" in q or "count" in q or "sum" in q:
            assert got.equals(want)
        assert _created(split) == 1, q
    finally:
        single.close()
        split.close()


def test_filtered_queries_are_not_split(big: str) -> None:
    # A WHERE clause may be a selective index lookup: one connection, no extra round trip.
    with _connector(4) as conn:
        t = conn.query(f"SELECT * FROM {big} WHERE id BETWEEN 100 AND 199").to_arrow()
        assert t.column("id").to_pylist() == list(range(100, 200))
        assert conn.query(f"SELECT id FROM {big} WHERE v < 500").num_rows > 0
        assert _created(conn) == 1
        assert conn.query(f"SELECT id FROM {big}").num_rows == ROWS
        assert _created(conn) == 4


def test_views_small_tables_and_parameters_are_not_split(
    big: str, pg_admin: sqlarrow.Connector, pg_schema: str
) -> None:
    view = f'"{pg_schema}".big_view'
    pg_admin.execute(f"CREATE VIEW {view} AS SELECT * FROM {big}")
    with _connector(4) as conn:
        assert conn.query(f"SELECT * FROM {view}").num_rows == ROWS
        assert conn.query(f"SELECT * FROM {big} WHERE id > $1", [100]).num_rows == ROWS - 100
        assert _created(conn) == 1
    # The default threshold (64 MiB) keeps this 6 MB table on one connection.
    with sqlarrow.connect(PG_URL, scan_workers=4) as conn:
        assert conn.query(f"SELECT * FROM {big}").num_rows == ROWS
        assert _created(conn) == 1


def test_partitioned_and_inherited_tables_are_not_split(
    pg_admin: sqlarrow.Connector, pg_schema: str
) -> None:
    parent = f'"{pg_schema}".parent'
    pg_admin.execute(f"CREATE TABLE {parent} (id int, k int) PARTITION BY RANGE (k)")
    pg_admin.execute(
        f'CREATE TABLE "{pg_schema}".p0 PARTITION OF {parent} FOR VALUES FROM (0) TO (5)'
    )
    pg_admin.execute(
        f'CREATE TABLE "{pg_schema}".p1 PARTITION OF {parent} FOR VALUES FROM (5) TO (10)'
    )
    pg_admin.execute(f"INSERT INTO {parent} SELECT g, g % 10 FROM generate_series(1, 20000) g")
    base = f'"{pg_schema}".base'
    pg_admin.execute(f"CREATE TABLE {base} (id int)")
    pg_admin.execute(f'CREATE TABLE "{pg_schema}".child () INHERITS ({base})')
    pg_admin.execute(f"INSERT INTO {base} SELECT generate_series(1, 20000)")
    pg_admin.execute(f'INSERT INTO "{pg_schema}".child SELECT generate_series(1, 20000)')
    with _connector(4) as conn:
        assert conn.query(f"SELECT * FROM {parent}").num_rows == 20000
        assert conn.query(f"SELECT * FROM {base}").num_rows == 40000
        assert _created(conn) == 1


def test_uncommitted_and_later_changes_are_invisible(
    big: str, pg_admin: sqlarrow.Connector
) -> None:
    with _connector(3) as conn:
        before = conn.query(f"SELECT id FROM {big}").num_rows
        pg_admin.execute(
            f"INSERT INTO {big} (id, v) "
            f"SELECT g, 1 FROM generate_series({ROWS} + 1, {ROWS} + 500) g"
        )
        after = conn.query(f"SELECT id FROM {big}").to_arrow()
        assert before == ROWS
        assert after.num_rows == ROWS + 500
        assert len(set(after.column("id").to_pylist())) == ROWS + 500


def _leftover_sessions(app: str) -> list[dict[str, object]]:
    with sqlarrow.connect(PG_URL, scan_workers=1) as c:
        return c.query(
            "SELECT state, query FROM pg_stat_activity WHERE application_name = $1 "
            "AND (state <> 'idle' OR backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)",
            [app],
        ).to_pylist()


def _wait_clean(app: str) -> list[dict[str, object]]:
    left: list[dict[str, object]] = []
    for _ in range(50):
        left = _leftover_sessions(app)
        if not left:
            break
        time.sleep(0.1)
    return left


def test_error_in_one_range_is_raised_and_connections_stay_clean(big: str) -> None:
    with _connector(3) as conn:
        app = conn.application_name
        assert app is not None
        # Division by zero happens in exactly one of the ranges.
        with pytest.raises(DataError, match="division by zero"):
            conn.query(f"SELECT id, 1 / (id - {ROWS - 5}) AS x FROM {big}")
        assert _created(conn) == 3
        assert _wait_clean(app) == []
        # Every pooled connection works and is outside any transaction afterwards.
        for _ in range(3):
            assert conn.query(f"SELECT * FROM {big}").num_rows == ROWS
        assert _wait_clean(app) == []


def test_timeout_cancels_every_range(big: str) -> None:
    with _connector(3) as conn:
        app = conn.application_name
        assert app is not None
        start = time.monotonic()
        with pytest.raises(QueryTimeoutError):
            conn.query(f"SELECT * FROM {big} WHERE pg_sleep(0.001) IS NOT NULL", timeout=0.5)
        assert time.monotonic() - start < 30
        assert _wait_clean(app) == []
        assert conn.query(f"SELECT id FROM {big}").num_rows == ROWS


def test_busy_pool_uses_fewer_connections(big: str) -> None:
    with _connector(4, pool_size=2) as conn:
        stream = conn.stream(f"SELECT * FROM {big}", batch_size=1000)  # holds one connection
        try:
            t = conn.query(f"SELECT * FROM {big}").to_arrow()
            assert t.num_rows == ROWS
            assert conn.pool_stats().created == 2
        finally:
            stream.close()


def test_streams_are_never_split(big: str) -> None:
    with _connector(4) as conn:
        n = sum(b.num_rows for b in conn.stream(f"SELECT * FROM {big}", batch_size=5000))
        assert n == ROWS
        assert _created(conn) == 1


def test_scan_options_are_validated() -> None:
    for bad in (0, -1, "2", 2.5, True):
        with pytest.raises(ConfigError, match="scan_workers"):
            sqlarrow.PostgreSQLConnector(scan_workers=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="scan_min_bytes"):
        sqlarrow.PostgreSQLConnector(scan_min_bytes=-1)
    c = sqlarrow.connect("postgresql://postgres@127.0.0.1/postgres?scan_workers=3")
    assert isinstance(c, sqlarrow.PostgreSQLConnector) and c.scan_workers == 3
    c.close()
    c = sqlarrow.connect("postgresql://postgres@127.0.0.1/postgres", scan_workers=2)
    assert isinstance(c, sqlarrow.PostgreSQLConnector) and c.scan_workers == 2
    c.close()
    assert sqlarrow.PostgreSQLConnector(scan_workers=1).scan_workers == 1
    assert sqlarrow.RedshiftConnector(host="example.invalid", scan_workers=4).scan_workers == 1
    assert sqlarrow.RedshiftConnector(host="example.invalid").scan_workers == 1


@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_split_reads_over_plain_and_tls_connections(big: str, sslmode: str) -> None:
    # The ranges are read on the connections' own streams, under TLS or not.
    with _connector(1) as single, _connector(3, sslmode=sslmode) as split:
        want = single.query(f"SELECT * FROM {big}").to_arrow()
        got = split.query(f"SELECT * FROM {big}").to_arrow()
        assert _sorted(got).equals(_sorted(want))
        assert _created(split) == 3
        ssl = split.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert ssl.to_pylist() == [{"ssl": sslmode == "require"}]


def test_a_range_whose_backend_is_killed_fails_cleanly(
    big: str, pg_admin: sqlarrow.Connector
) -> None:
    import threading

    with _connector(3) as conn:
        app = conn.application_name
        assert app is not None
        assert conn.query(f"SELECT * FROM {big}").num_rows == ROWS  # three pooled connections
        killed: list[object] = []

        def kill() -> None:
            for _ in range(200):
                rows = pg_admin.query(
                    "SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity "
                    "WHERE application_name = $1 AND query LIKE 'COPY%' "
                    "AND state = 'active' LIMIT 1",
                    [app],
                ).to_pylist()
                if rows:
                    killed.append(rows)
                    return
                time.sleep(0.02)

        # A cast to a domain whose check sleeps keeps every range busy (a WHERE clause
        # would keep the read on one connection).
        schema = big.split(".")[0]
        pg_admin.execute(
            f"CREATE DOMAIN {schema}.slow_int AS int CHECK (pg_sleep(0.0002) IS NOT NULL)"
        )
        t = threading.Thread(target=kill)
        t.start()
        try:
            with pytest.raises(sqlarrow.exceptions.DatabaseConnectionError, match="terminat"):
                conn.query(f"SELECT id, v::{schema}.slow_int AS v FROM {big}")
        finally:
            t.join()
        assert killed
        # The lost connection is dropped; the others were left outside any transaction,
        # and the connector reads the whole table again.
        assert _wait_clean(app) == []
        for _ in range(3):
            assert conn.query(f"SELECT * FROM {big}").num_rows == ROWS
        assert _wait_clean(app) == []
