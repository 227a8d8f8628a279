"""Runs ONE measured operation of ONE tool in its own process; prints one JSON line.

    python benches/worker.py TOOL OP ENGINE DATASET --table T [options]

The JSON line has: status ("ok" | "skip" | "error"), reason (for skip/error),
wall_s (the operation only: imports and data preparation excluded), rss_before_mb
(RSS just before the operation), rss_peak_mb (ru_maxrss of this process, so it
includes the interpreter and imports) and rss_peak_children_mb (for tools that run a
subprocess such as psql), rows, result_bytes, checksum and op-specific extras.

Tools that do not apply to an (engine, op) report status "skip" with a reason:
"n/a" (the tool has no such operation), "not implemented" (sqlarrow, later issue)
or "not built" (sqlarrow cannot be imported).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import traceback
from typing import Any

import common as C

_NOTES: list[str] = []  # remarks that end up in the JSON line's "note"


class Skip(Exception):
    """The tool does not apply here; the message says why."""


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def maxrss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------- helpers


def sqlarrow_connect(
    engine: str, pool_size: int | None = None, scan_workers: int | None = None
) -> Any:
    try:
        import sqlarrow
    except Exception as e:
        raise Skip(f"not built ({type(e).__name__}: {e})") from None
    if not hasattr(sqlarrow, "connect"):
        # The public layer is not there (yet): measure the compiled core directly.
        try:
            from sqlarrow._core import RawConnector
        except Exception as e:
            raise Skip(f"not built (no sqlarrow.connect, no _core: {e})") from None
        _NOTES.append("via sqlarrow._core.RawConnector (sqlarrow.connect missing)")
        if engine == "pg":
            return RawConnector.postgres(
                host=C.PG_HOST,
                port=C.PG_PORT,
                database=C.DB_NAME,
                user=C.PG_USER,
                password=None,
                pool_size=pool_size or 4,
                pool_timeout=30.0,
                sslmode="disable",
                connect_timeout=10.0,
                application_name="sqlarrow-bench",
            )
        return RawConnector.sqlite(
            path=str(C.SQLITE_PATH), pool_size=pool_size or 4, pool_timeout=30.0, read_only=False
        )
    url = C.url(engine)
    if scan_workers is not None and engine in ("pg", "mariadb"):
        return sqlarrow.connect(url, scan_workers=scan_workers)
    if pool_size:
        try:
            return sqlarrow.connect(url, pool_size=pool_size)
        except Exception:  # option not supported by this build: the default pool
            pass
    return sqlarrow.connect(url)


def as_arrow(obj: Any) -> Any:
    """A pyarrow Table or RecordBatch view of anything that speaks Arrow."""
    import pyarrow as pa

    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        return obj
    return pa.table(obj)


def arrow_nbytes(obj: Any) -> int:
    # pyarrow's nbytes for every tool: the bytes of the buffers' data. (sqlarrow's own
    # `nbytes` counts the buffers' capacity, which is not a measure the peers share.)
    return as_arrow(obj).nbytes


def run_cli(cmd: list[str]) -> float | None:
    """Run a command-line client; return its own peak RSS in MiB when measurable.

    ru_maxrss of RUSAGE_CHILDREN would report the forking interpreter's RSS, so
    GNU time measures the child itself when it is installed.
    """
    gnu_time = "/usr/bin/time"
    if os.path.exists(gnu_time):
        out = C.DATA_DIR / f"_time_{os.getpid()}.txt"
        subprocess.run(
            [gnu_time, "-f", "%M", "-o", str(out), *cmd], check=True, stdout=subprocess.DEVNULL
        )
        try:
            return int(out.read_text().strip().splitlines()[-1]) / 1024
        finally:
            out.unlink()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return None


def psql_cmd(sql: str) -> list[str]:
    return [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        C.PG_HOST,
        "-p",
        str(C.PG_PORT),
        "-U",
        C.PG_USER,
        "-d",
        C.DB_NAME,
        "-c",
        sql,
    ]


def psql(args: list[str], sql: str) -> float | None:
    return run_cli(psql_cmd(sql))


def cli_rss(res: dict[str, Any], peak: float | None, what: str) -> None:
    if peak is not None:
        res["rss_peak_mb"] = peak
        res["rss_before_mb"] = None
        res["note"] = f"peak RSS of the {what} process (GNU time)"


def adbc_dbapi(engine: str) -> Any:
    if engine == "pg":
        import adbc_driver_postgresql.dbapi as m

        return m.connect(C.url("pg"))
    if engine == "sqlite":
        import adbc_driver_sqlite.dbapi as m

        return m.connect(str(C.SQLITE_PATH))
    raise Skip("n/a (no ADBC driver for MariaDB)")


def sa_engine(engine: str) -> Any:
    import sqlalchemy

    return sqlalchemy.create_engine(C.url(engine, "sqlalchemy"))


def dbapi_connect(engine: str) -> Any:
    """The plain row-based driver of each engine (latency/threads peer)."""
    if engine == "pg":
        import psycopg

        return psycopg.connect(C.url("pg"), autocommit=True)
    if engine == "sqlite":
        import sqlite3

        return sqlite3.connect(C.SQLITE_PATH, check_same_thread=False)
    import pymysql

    return pymysql.connect(
        host=C.MY_HOST, port=C.MY_PORT, user=C.MY_USER, database=C.DB_NAME, autocommit=True
    )


DBAPI_NAME = {"pg": "psycopg", "sqlite": "sqlite3", "mariadb": "pymysql"}


# --------------------------------------------------------------------------- read


def op_read(tool: str, engine: str, a: argparse.Namespace, res: dict[str, Any]) -> Any:
    sql = f"SELECT * FROM {a.table}"
    if tool in ("sqlarrow", "sqlarrow_1conn"):
        import pyarrow as pa

        workers = 1 if tool == "sqlarrow_1conn" else None
        sqlarrow_connect(engine)  # import + availability check outside the timing
        t0 = time.perf_counter()
        conn = sqlarrow_connect(engine, scan_workers=workers)
        r = conn.query(sql)
        # to_arrow() imports the C stream without pa.table()'s pandas probe.
        tbl = r.to_arrow() if hasattr(r, "to_arrow") else pa.table(r)
        res["wall_s"] = time.perf_counter() - t0
        # pyarrow's nbytes, as for every peer (sqlarrow's `r.nbytes` counts capacity).
        res["result_bytes"] = tbl.nbytes
        return tbl
    if tool == "connectorx":
        import connectorx as cx

        t0 = time.perf_counter()
        tbl = cx.read_sql(C.url(engine, "cx"), sql, return_type="arrow")
        res["wall_s"] = time.perf_counter() - t0
        res["result_bytes"] = tbl.nbytes
        return tbl
    if tool == "adbc":
        if engine == "mariadb":
            raise Skip("n/a (no ADBC driver for MariaDB)")
        import pyarrow

        t0 = time.perf_counter()
        with adbc_dbapi(engine) as conn, conn.cursor() as cur:
            cur.execute(sql)
            tbl = cur.fetch_arrow_table()
        res["wall_s"] = time.perf_counter() - t0
        res["result_bytes"] = tbl.nbytes
        return tbl
    if tool in ("polars_cx", "polars_adbc"):
        import polars as pl

        eng = "connectorx" if tool == "polars_cx" else "adbc"
        if eng == "adbc" and engine == "mariadb":
            raise Skip("n/a (no ADBC driver for MariaDB)")
        if eng == "adbc":
            import pyarrow  # noqa: F401
        uri = C.url(engine, "cx") if eng == "connectorx" else C.url(engine)
        t0 = time.perf_counter()
        df = pl.read_database_uri(sql, uri, engine=eng)
        res["wall_s"] = time.perf_counter() - t0
        res["result_bytes"] = int(df.estimated_size())
        return df.to_arrow()
    if tool == "pandas":
        import pandas as pd
        import pyarrow as pa

        eng = sa_engine(engine)
        t0 = time.perf_counter()
        df = pd.read_sql(sql, eng)
        res["wall_s"] = time.perf_counter() - t0
        res["result_bytes"] = int(df.memory_usage(deep=True).sum())
        res["note"] = "result_bytes = DataFrame memory (deep)"
        return pa.Table.from_pandas(df, preserve_index=False)
    if tool in ("psql_copy", "pg_server_copy"):
        if engine != "pg":
            raise Skip("n/a (PostgreSQL only)")
        if tool == "psql_copy":
            cmd = f"\\copy ({sql}) to '/dev/null' with (format binary)"
        else:
            cmd = f"COPY ({sql}) TO '/dev/null' (FORMAT binary)"
        t0 = time.perf_counter()
        peak = psql([], cmd)
        res["wall_s"] = time.perf_counter() - t0
        res["rows"] = a.expected_rows
        if tool == "psql_copy":
            cli_rss(res, peak, "psql")
        else:
            res["rss_peak_mb"] = res["rss_before_mb"] = None
            res["note"] = "server-side COPY to the server's /dev/null: no client at all"
        return None
    if tool == "sqlite_cli":
        if engine != "sqlite":
            raise Skip("n/a (SQLite only)")
        t0 = time.perf_counter()
        peak = run_cli(["sqlite3", "-batch", str(C.SQLITE_PATH), sql])
        res["wall_s"] = time.perf_counter() - t0
        res["rows"] = a.expected_rows
        cli_rss(res, peak, "sqlite3 CLI (text output)")
        return None
    if tool == "mysql_cli":
        if engine != "mariadb":
            raise Skip("n/a (MariaDB only)")
        t0 = time.perf_counter()
        peak = run_cli(
            [
                "mariadb",
                "-h",
                C.MY_HOST,
                "-P",
                str(C.MY_PORT),
                "-u",
                C.MY_USER,
                "--quick",
                "--batch",
                "--skip-column-names",
                C.DB_NAME,
                "-e",
                sql,
            ]
        )
        res["wall_s"] = time.perf_counter() - t0
        res["rows"] = a.expected_rows
        cli_rss(res, peak, "mariadb CLI (text protocol, tab-separated output)")
        return None
    raise Skip(f"n/a (unknown tool {tool} for read)")


# --------------------------------------------------------------------------- stream


def op_stream(tool: str, engine: str, a: argparse.Namespace, res: dict[str, Any]) -> Any:
    """Streams the table in batches; every batch is checksummed and then dropped."""
    import pyarrow as pa

    sql = f"SELECT * FROM {a.table}"
    ck = C.Checksum(C.CHECKSUM_COLUMNS[a.dataset])
    rows = nbatches = maxrows = nbytes = 0

    def consume(batch: Any) -> None:
        nonlocal rows, nbatches, maxrows, nbytes
        batch = as_arrow(batch)
        ck.add(batch)
        rows += batch.num_rows
        nbatches += 1
        maxrows = max(maxrows, batch.num_rows)
        nbytes += batch.nbytes

    if tool == "sqlarrow":
        sqlarrow_connect(engine)
        t0 = time.perf_counter()
        conn = sqlarrow_connect(engine)
        for b in conn.stream(sql, batch_size=a.batch_size):
            consume(b)
    elif tool == "adbc":
        if engine == "mariadb":
            raise Skip("n/a (no ADBC driver for MariaDB)")
        t0 = time.perf_counter()
        with adbc_dbapi(engine) as conn, conn.cursor() as cur:
            if engine == "sqlite":
                cur.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": str(a.batch_size)}
                )
            cur.execute(sql)
            for b in cur.fetch_record_batch():
                consume(b)
        if engine == "pg":
            res["note"] = "ADBC PostgreSQL batches by bytes (default 16 MiB hint), not rows"
    elif tool == "connectorx":
        import connectorx as cx

        t0 = time.perf_counter()
        reader = cx.read_sql(
            C.url(engine, "cx"), sql, return_type="arrow_stream", batch_size=a.batch_size
        )
        for b in reader:
            consume(b)
    elif tool == "pandas":
        import pandas as pd

        eng = sa_engine(engine)
        t0 = time.perf_counter()
        with eng.connect().execution_options(stream_results=True) as conn:
            for df in pd.read_sql(sql, conn, chunksize=a.batch_size):
                consume(pa.Table.from_pandas(df, preserve_index=False))
        res["note"] = "includes DataFrame->Arrow conversion of each chunk for the checksum"
    else:
        raise Skip("n/a (no streaming API)")
    res["wall_s"] = time.perf_counter() - t0
    res.update(rows=rows, batches=nbatches, max_batch_rows=maxrows, result_bytes=nbytes)
    res["checksum"] = ck.result()
    return None


# --------------------------------------------------------------------------- latency


def op_latency(tool: str, engine: str, a: argparse.Namespace, res: dict[str, Any]) -> Any:
    """Median wall time of ``SELECT 1`` over a warm connection/pool."""
    calls, warm = a.calls, 50
    if tool == "sqlarrow":
        conn = sqlarrow_connect(engine)

        def one() -> None:
            conn.query("SELECT 1")
    elif tool == "adbc":
        if engine == "mariadb":
            raise Skip("n/a (no ADBC driver for MariaDB)")
        conn = adbc_dbapi(engine)
        cur = conn.cursor()

        def one() -> None:
            cur.execute("SELECT 1")
            cur.fetch_arrow_table()
    elif tool == "dbapi":
        conn = dbapi_connect(engine)
        cur = conn.cursor()

        def one() -> None:
            cur.execute("SELECT 1")
            cur.fetchall()
    elif tool == "connectorx":
        import connectorx as cx

        url = C.url(engine, "cx")
        calls, warm = min(calls, 200), 5
        res["note"] = "no pool: connects on every call"

        def one() -> None:
            cx.read_sql(url, "SELECT 1", return_type="arrow")
    else:
        raise Skip("n/a")
    for _ in range(warm):
        one()
    lat = []
    pc = time.perf_counter
    t_all = pc()
    for _ in range(calls):
        t0 = pc()
        one()
        lat.append(pc() - t0)
    total = pc() - t_all
    lat.sort()
    res["wall_s"] = statistics.median(lat)
    res.update(
        calls=calls,
        p90_s=lat[int(0.9 * (calls - 1))],
        p99_s=lat[int(0.99 * (calls - 1))],
        min_s=lat[0],
        total_s=total,
        rows=1,
    )
    return None


# --------------------------------------------------------------------------- threads


def op_threads(tool: str, engine: str, a: argparse.Namespace, res: dict[str, Any]) -> Any:
    """Throughput of small (100-row) point-range queries with 1 thread vs N threads."""
    nrows = a.expected_rows
    span = C.POINT_QUERY_ROWS

    def sql_for(k: int) -> str:
        lo = (k * 7919) % max(1, nrows - span)
        return C.POINT_QUERY.format(table=a.table, lo=lo, hi=lo + span)

    total_q = a.queries
    if tool == "sqlarrow":
        import pyarrow  # noqa: F401  (loaded before anything is timed)

        conn = sqlarrow_connect(engine, pool_size=a.threads)

        def make_runner() -> Any:
            def run(k: int) -> int:
                # Each tool's own Arrow call (ADBC: fetch_arrow_table); pa.table() would
                # add pyarrow's pandas probe to every query.
                return int(conn.query(sql_for(k)).to_arrow().num_rows)

            return run, None
    elif tool == "adbc":
        if engine == "mariadb":
            raise Skip("n/a (no ADBC driver for MariaDB)")

        def make_runner() -> Any:
            c = adbc_dbapi(engine)
            cur = c.cursor()

            def run(k: int) -> int:
                cur.execute(sql_for(k))
                return cur.fetch_arrow_table().num_rows

            return run, c
    elif tool == "dbapi":
        res["note"] = f"{DBAPI_NAME[engine]}, one connection per thread, rows as tuples"

        def make_runner() -> Any:
            c = dbapi_connect(engine)
            cur = c.cursor()

            def run(k: int) -> int:
                cur.execute(sql_for(k))
                return len(cur.fetchall())

            return run, c
    elif tool == "connectorx":
        import connectorx as cx

        url = C.url(engine, "cx")
        total_q = max(a.threads * 5, total_q // 5)
        res["note"] = "no pool: connects on every query; 1/5 of the queries"

        def make_runner() -> Any:
            def run(k: int) -> int:
                return cx.read_sql(url, sql_for(k), return_type="arrow").num_rows

            return run, None
    else:
        raise Skip("n/a")

    def measure(nthreads: int) -> tuple[float, int]:
        per = total_q // nthreads
        runners = [make_runner() for _ in range(nthreads)]
        for run, _ in runners:  # warm each connection
            run(0)
        counts = [0] * nthreads
        errors: list[BaseException] = []
        barrier = threading.Barrier(nthreads + 1)

        def body(i: int) -> None:
            run = runners[i][0]
            barrier.wait()
            try:
                n = 0
                for q in range(per):
                    n += run(i * per + q + 1)
                counts[i] = n
            except BaseException as e:  # surfaced below
                errors.append(e)

        ts = [threading.Thread(target=body, args=(i,)) for i in range(nthreads)]
        for t in ts:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        dt = time.perf_counter() - t0
        for _, c in runners:
            if c is not None:
                c.close()
        if errors:
            raise errors[0]
        return per * nthreads / dt, sum(counts)

    qps1, rows1 = measure(1)
    qpsn, rowsn = measure(a.threads)
    res["wall_s"] = (total_q // a.threads) * a.threads / qpsn
    res.update(
        qps_1=qps1, qps_n=qpsn, threads=a.threads, ratio=qpsn / qps1, queries=total_q, rows=rowsn
    )
    # every query returns POINT_QUERY_ROWS rows (ids are dense): check it
    res["checksum"] = {
        "rows_per_query": [0, rowsn // ((total_q // a.threads) * a.threads)],
        "rows_per_query_1": [0, rows1 // total_q],
    }
    return None


# --------------------------------------------------------------------------- write


def _verify_write(engine: str, target: str, res: dict[str, Any], first_col: str) -> None:
    sql = f"SELECT count(*), sum({first_col}) FROM {target}"
    if engine == "pg":
        import psycopg

        with psycopg.connect(C.url("pg")) as c:
            n, s = c.execute(sql).fetchone()
    elif engine == "sqlite":
        import sqlite3

        with sqlite3.connect(C.SQLITE_PATH) as c:
            n, s = c.execute(sql).fetchone()
    else:
        c = dbapi_connect(engine)
        with c.cursor() as cur:
            cur.execute(sql)
            n, s = cur.fetchone()
        c.close()
    res["rows"] = int(n)
    res["checksum"] = {f"sum_{first_col}": [0, int(s or 0)]}


def _drop(engine: str, target: str) -> None:
    sql = f"DROP TABLE IF EXISTS {target}"
    if engine == "pg":
        import psycopg

        with psycopg.connect(C.url("pg"), autocommit=True) as c:
            c.execute(sql)
    elif engine == "sqlite":
        import sqlite3

        with sqlite3.connect(C.SQLITE_PATH) as c:
            c.execute(sql)
    else:
        c = dbapi_connect(engine)
        with c.cursor() as cur:
            cur.execute(sql)
        c.close()


def op_write(tool: str, engine: str, a: argparse.Namespace, res: dict[str, Any]) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = f"w_{a.dataset}_{tool}"
    if tool == "sqlarrow":
        conn = sqlarrow_connect(engine)
        if not hasattr(conn, "write"):
            raise Skip("not implemented (conn.write missing)")
    if tool == "adbc" and engine == "mariadb":
        raise Skip("n/a (no ADBC driver for MariaDB)")
    if tool == "psql_copy_in" and engine != "pg":
        raise Skip("n/a (PostgreSQL only)")
    if tool == "load_data" and engine != "mariadb":
        raise Skip("n/a (MariaDB only)")
    if tool not in ("sqlarrow", "adbc", "pandas", "psql_copy_in", "load_data"):
        raise Skip("n/a")

    tbl = pq.read_table(a.parquet).slice(0, a.write_rows)
    tbl = tbl.combine_chunks()
    first = tbl.schema.names[0]
    _drop(engine, target)
    res["rows_in"] = tbl.num_rows
    res["result_bytes"] = tbl.nbytes
    if engine == "sqlite" and any(pa.types.is_decimal(t) for t in tbl.schema.types):
        # Neither ADBC SQLite nor Python's sqlite3 binds decimals: hand them float64
        # (SQLite stores DECIMAL columns as REAL anyway), outside the timing.
        cols = [c.cast(pa.float64()) if pa.types.is_decimal(c.type) else c for c in tbl.columns]
        tbl = pa.table(cols, names=tbl.schema.names)
        res["note"] = "decimals cast to float64 before ingest"

    if tool == "sqlarrow":
        rss0 = rss_mb()
        t0 = time.perf_counter()
        try:
            conn.write(target, tbl)
        except TypeError:
            conn.write(tbl, target)
        res["wall_s"] = time.perf_counter() - t0
    elif tool == "adbc":
        rss0 = rss_mb()
        t0 = time.perf_counter()
        with adbc_dbapi(engine) as conn, conn.cursor() as cur:
            cur.adbc_ingest(target, tbl, mode="create")
            conn.commit()
        res["wall_s"] = time.perf_counter() - t0
    elif tool == "pandas":
        df = tbl.to_pandas()
        eng = sa_engine(engine)
        rss0 = rss_mb()
        t0 = time.perf_counter()
        df.to_sql(target, eng, index=False, chunksize=10_000)
        res["wall_s"] = time.perf_counter() - t0
        res["note"] = "DataFrame built before timing; default method, chunksize 10000"
    elif tool == "psql_copy_in":
        path = C.DATA_DIR / f"{a.table}.{a.write_rows}.pgbin"
        if not path.exists():  # pre-encoded once, outside the timing
            tmp = f"{path}.tmp"
            psql(
                [],
                f"\\copy (SELECT * FROM {a.table} ORDER BY {C.ORDER_BY[a.dataset]} "
                f"LIMIT {a.write_rows}) to '{tmp}' "
                "with (format binary)",
            )
            os.rename(tmp, path)
        psql([], f"CREATE TABLE {target} (LIKE {a.table})")
        rss0 = None
        t0 = time.perf_counter()
        peak = psql([], f"\\copy {target} from '{path}' with (format binary)")
        res["wall_s"] = time.perf_counter() - t0
        if peak is not None:
            res["rss_peak_mb"] = peak
        res["note"] = "pre-encoded PGCOPY binary file; CREATE TABLE outside the timing; RSS of psql"
    else:  # load_data: pyarrow CSV + LOAD DATA LOCAL INFILE into a pre-created table
        import pyarrow.csv as pcsv

        import datagen

        ddl = {"mixed": datagen.MIXED_MY_DDL, "ints": datagen.INTS_MY_DDL}.get(a.dataset)
        ddl = ddl.format(t=target) if ddl else datagen._ddl(target, 3, " ENGINE=InnoDB")
        c = datagen.my_connect()
        with c.cursor() as cur:
            cur.execute(ddl)
        cols = tbl.schema.names
        nullable = [f.name for f in tbl.schema if f.nullable and tbl.column(f.name).null_count]
        csv_path = C.DATA_DIR / f"_load_{os.getpid()}.csv"
        rss0 = rss_mb()
        t0 = time.perf_counter()
        conv = []
        for col in tbl.columns:
            if pa.types.is_timestamp(col.type) and col.type.tz is not None:
                col = col.cast(pa.timestamp(col.type.unit))  # UTC wall time, naive
            elif pa.types.is_boolean(col.type):
                col = col.cast(pa.int8())
            conv.append(col)
        pcsv.write_csv(pa.table(conv, names=cols), csv_path)
        targets = [f"@{x}" if x in nullable else x for x in cols]
        sets = ", ".join(f"{x} = NULLIF(@{x}, '')" for x in nullable)
        with c.cursor() as cur:
            cur.execute(
                f"LOAD DATA LOCAL INFILE '{csv_path}' INTO TABLE {target} CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
                f"LINES TERMINATED BY '\\n' IGNORE 1 LINES ({', '.join(targets)})"
                + (f" SET {sets}" if sets else "")
            )
        c.commit()
        res["wall_s"] = time.perf_counter() - t0
        c.close()
        os.unlink(csv_path)
        res["note"] = "includes writing the CSV with pyarrow; table pre-created"
    res["rss_before_mb"] = rss0
    _verify_write(engine, target, res, first)
    if not a.keep:
        _drop(engine, target)
    return None


# --------------------------------------------------------------------------- main


def op_partitioned(tool: str, engine: str, a: argparse.Namespace, res: dict[str, Any]) -> Any:
    """A full read split over C.PARTITIONS connections."""
    sql = f"SELECT * FROM {a.table}"
    col = C.PARTITION_COLUMN[a.dataset]
    n = C.PARTITIONS
    if tool == "sqlarrow":
        sqlarrow_connect(engine)
        t0 = time.perf_counter()
        if engine == "pg":
            conn = sqlarrow_connect(engine, scan_workers=n)
            tbl = conn.query(sql).to_arrow()
            res["note"] = (
                f"automatic: {n} block ranges, one exported snapshot (no partition column)"
            )
        else:
            conn = sqlarrow_connect(engine)
            tbl = conn.query(sql, partition_on=col, partitions=n).to_arrow()
            res["note"] = f"partition_on={col}, partitions={n} (no common snapshot)"
        res["wall_s"] = time.perf_counter() - t0
        return tbl
    if tool == "connectorx":
        import connectorx as cx

        t0 = time.perf_counter()
        tbl = cx.read_sql(
            C.url(engine, "cx"), sql, partition_on=col, partition_num=n, return_type="arrow"
        )
        res["wall_s"] = time.perf_counter() - t0
        res["note"] = f"partition_on={col}, partition_num={n} (no common snapshot)"
        return tbl
    if tool == "polars_cx":
        import polars as pl

        t0 = time.perf_counter()
        df = pl.read_database_uri(
            sql, C.url(engine, "cx"), engine="connectorx", partition_on=col, partition_num=n
        )
        res["wall_s"] = time.perf_counter() - t0
        res["result_bytes"] = int(df.estimated_size())
        return df.to_arrow()
    raise Skip("n/a")


CLI_TOOLS = ("psql_copy", "pg_server_copy", "mysql_cli", "sqlite_cli")
OPS = {
    "read": op_read,
    "partitioned": op_partitioned,
    "stream": op_stream,
    "latency": op_latency,
    "threads": op_threads,
    "write": op_write,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("op", choices=sorted(OPS))
    ap.add_argument("engine", choices=C.ENGINES)
    ap.add_argument("dataset")
    ap.add_argument("--table", required=True)
    ap.add_argument("--expected-rows", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--queries", type=int, default=800)
    ap.add_argument("--parquet", default="")
    ap.add_argument("--write-rows", type=int, default=100_000)
    ap.add_argument("--keep", action="store_true", help="keep the written table")
    a = ap.parse_args()

    res: dict[str, Any] = {
        "tool": a.tool,
        "op": a.op,
        "engine": a.engine,
        "dataset": a.dataset,
        "status": "ok",
    }
    try:
        if a.tool not in CLI_TOOLS:
            import pyarrow  # noqa: F401  (every tool's result is checked through pyarrow)

        res["rss_before_mb"] = rss_mb()
        out = OPS[a.op](a.tool, a.engine, a, res)
        res.setdefault("rss_peak_mb", maxrss_mb())
        if out is not None:
            tbl = as_arrow(out)
            res["rows"] = tbl.num_rows
            res.setdefault("result_bytes", tbl.nbytes)
            ck = C.Checksum(C.CHECKSUM_COLUMNS[a.dataset])
            ck.add(tbl)
            res["checksum"] = ck.result()
            res["schema"] = [f"{f.name}:{f.type}" for f in tbl.schema]
    except Skip as e:
        res["status"], res["reason"] = "skip", str(e)
    except Exception as e:
        res["status"], res["reason"] = "error", f"{type(e).__name__}: {e}"
        traceback.print_exc(file=sys.stderr)
    if _NOTES:
        notes = [*_NOTES, *([res["note"]] if res.get("note") else [])]
        res["note"] = "; ".join(dict.fromkeys(notes))
    res["rss_peak_children_mb"] = maxrss_mb(resource.RUSAGE_CHILDREN)
    sys.stdout.flush()
    print(json.dumps(res, default=str), flush=True)


if __name__ == "__main__":
    main()
