"""Redshift mode, exercised against the local PostgreSQL (same wire protocol).

What can be proven here: the Redshift connector never issues ``COPY ... TO STDOUT``
(Redshift rejects it), sets its session with ``SET`` instead of the ``options`` startup
parameter, and decodes results through the binary extended protocol. Redshift-only SQL
(``SVV_TABLE_INFO``, ``UNLOAD``, ``COPY FROM 's3://...'``) and the SUPER/VARBYTE/GEOMETRY
wire formats cannot be exercised without a Redshift cluster.
"""

from __future__ import annotations

import decimal
import uuid

import pytest

from sqlarrow import _core

PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _raw(redshift: bool, app: str) -> _core.RawConnector:
    return _core.RawConnector.postgres(
        host="127.0.0.1",
        port=5432,
        database="postgres",
        user="postgres",
        password=None,
        pool_size=2,
        pool_timeout=5,
        sslmode="disable",
        connect_timeout=5,
        application_name=app,
        redshift=redshift,
    )


def _running_query(observer: _core.RawConnector, app: str) -> str:
    rows = observer.query(
        "select query from pg_stat_activity "
        "where application_name = $1 and pid <> pg_backend_pid()",
        [app],
    ).to_pylist()
    assert len(rows) == 1, rows
    return str(rows[0]["query"])


@pytest.mark.parametrize("redshift", [False, True])
def test_redshift_mode_never_uses_copy(redshift: bool) -> None:
    app = f"sqlarrow-rs-{uuid.uuid4().hex[:8]}"
    conn = _raw(redshift, app)
    observer = _raw(False, "sqlarrow-observer")
    sql = "select g, g::text as t from generate_series(1, 2000000) g"
    stream = conn.stream(sql, batch_size=1000)
    first = next(stream)
    assert first.num_rows == 1000
    running = _running_query(observer, app)
    # A read on one connection is the statement itself, in the binary extended protocol,
    # in both modes (PostgreSQL uses COPY only for parallel scans, never on Redshift).
    assert "copy" not in running.lower()
    assert running.strip() == sql
    stream.close()
    assert conn.engine == ("redshift" if redshift else "postgres")


def test_redshift_mode_decodes_types_and_session_settings() -> None:
    conn = _raw(True, "sqlarrow-rs-types")
    rows = conn.query(
        "select 1::int2 as a, 2::int8 as b, 1.5::numeric(10,2) as d, 'x'::varchar(5) as s, "
        "'2024-01-02 03:04:05+02'::timestamptz as ts, current_setting('TimeZone') as tz, "
        "current_setting('DateStyle') as ds, null::int as n"
    ).to_pylist()
    row = rows[0]
    assert row["a"] == 1 and row["b"] == 2 and row["d"] == decimal.Decimal("1.50")
    assert row["ts"].isoformat() == "2024-01-02T01:04:05+00:00"
    assert row["tz"] == "UTC"
    assert row["ds"].startswith("ISO")
    assert row["n"] is None
    status = conn.test_connection()
    assert status["ok"] is True and status["server_version"]


def test_redshift_mode_parameters_and_execute() -> None:
    conn = _raw(True, "sqlarrow-rs-params")
    assert conn.query("select $1::int + 1 as x", [41]).to_pylist() == [{"x": 42}]
    assert conn.query("select :a::text as y", {"a": "z"}).to_pylist() == [{"y": "z"}]
    assert conn.execute("select 1") == 1


def test_redshift_mode_writes_without_copy(pg_schema: str) -> None:
    """Redshift has no COPY FROM STDIN: its writer batches INSERTs of bound values."""
    import datetime as dt

    import pyarrow as pa

    import sqlarrow

    conn = sqlarrow.RedshiftConnector(
        "127.0.0.1", 5432, "postgres", "postgres", sslmode="disable", application_name="rs-w"
    )
    data = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "amount": pa.array(
                [decimal.Decimal("12.5000"), decimal.Decimal("-0.0001"), None],
                pa.decimal128(18, 4),
            ),
            "name": ["plain", "ñ 'quoted' ;--", None],
            "at": pa.array(
                [dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.timezone.utc), None, None],
                pa.timestamp("us", "UTC"),
            ),
            "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1970, 1, 1)]),
            "flag": [True, False, None],
            "blob": pa.array([b"\x00\x01", None, b""]),
        }
    )
    with conn:
        n = 70_000  # more rows than one INSERT statement carries
        big = pa.table({"k": pa.array(range(n), pa.int64())})
        assert conn.write(f"{pg_schema}.big", big).rows_written == n
        assert conn.query(
            f"select count(*) as c, sum(k) as s from {pg_schema}.big"
        ).to_pylist() == [{"c": n, "s": sum(range(n))}]
        # Redshift DDL (VARCHAR(MAX), VARBYTE) is not PostgreSQL's: create the table the
        # way one would on Redshift, with types both servers know.
        conn.execute(
            f"create table {pg_schema}.t (id bigint, amount numeric(18,4), name varchar(100), "
            "at timestamptz, day date, flag boolean, blob bytea)"
        )
        assert conn.write(f"{pg_schema}.t", data).rows_written == 3
        back = conn.query(f"select * from {pg_schema}.t").to_arrow()
        assert back.to_pylist() == data.to_pylist()
        conn.write(f"{pg_schema}.t", data.slice(0, 1), mode="replace")
        assert conn.query(f"select count(*) as c from {pg_schema}.t").to_pylist() == [{"c": 1}]
        with pytest.raises(sqlarrow.InterfaceError, match="MERGE"):
            conn.write(f"{pg_schema}.t", data, mode="upsert", key=["id"])
        with pytest.raises(sqlarrow.QueryError, match="already exists"):
            conn.write(f"{pg_schema}.t", data, mode="create")
