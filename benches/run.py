"""sqlarrow benchmark suite: sqlarrow vs its peers, each tool in its own process.

    python benches/run.py [--quick] [--rounds N] [--engines pg,sqlite,mariadb]
                          [--ops read,stream,write,latency,threads]
                          [--dataset mixed,ints,lineitem] [--tools ...] [--skip-slow]

Generates (or reuses) deterministic data, then runs every (engine, dataset, op, tool)
in a fresh ``worker.py`` process, rounds interleaved (A B C A B C ...), and writes
``benches/RESULTS.md`` and ``benches/results.json``. Run it with the interpreter of
``benches/.venv`` (``bash benches/bench.sh`` sets that up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import common as C

HERE = Path(__file__).resolve().parent

TOOLS: dict[str, list[str]] = {
    "read": [
        "sqlarrow",
        "sqlarrow_1conn",
        "connectorx",
        "adbc",
        "polars_cx",
        "polars_adbc",
        "pandas",
        "psql_copy",
        "pg_server_copy",
        "mysql_cli",
        "sqlite_cli",
    ],
    "stream": ["sqlarrow", "adbc", "connectorx", "pandas"],
    "partitioned": ["sqlarrow", "connectorx", "polars_cx"],
    "write": ["sqlarrow", "adbc", "pandas", "load_data", "psql_copy_in"],
    "latency": ["sqlarrow", "dbapi", "adbc", "connectorx"],
    "threads": ["sqlarrow", "dbapi", "adbc", "connectorx"],
}
# Reference points, not competitors: what the wire/server can do at best.
LIMIT_TOOLS = {"psql_copy", "pg_server_copy", "mysql_cli", "sqlite_cli", "psql_copy_in"}
# The limit each op's "vs limit" column divides by, per engine.
PRIMARY_LIMIT = {
    ("read", "pg"): "psql_copy",
    ("read", "mariadb"): "mysql_cli",
    ("read", "sqlite"): "sqlite_cli",
    ("write", "pg"): "psql_copy_in",
}
OURS = "sqlarrow"
# sqlarrow configured differently: shown next to ours, never counted as a peer.
OUR_VARIANTS = {"sqlarrow_1conn"}
SLOW_TOOLS = {"pandas"}
# Known not-applicable combinations: reported without spawning a worker.
NOT_APPLICABLE = {
    ("adbc", "mariadb"): "n/a (no ADBC driver for MariaDB)",
    ("polars_adbc", "mariadb"): "n/a (no ADBC driver for MariaDB)",
    ("psql_copy", "sqlite"): "n/a (PostgreSQL only)",
    ("psql_copy", "mariadb"): "n/a (PostgreSQL only)",
    ("pg_server_copy", "sqlite"): "n/a (PostgreSQL only)",
    ("pg_server_copy", "mariadb"): "n/a (PostgreSQL only)",
    ("psql_copy_in", "sqlite"): "n/a (PostgreSQL only)",
    ("psql_copy_in", "mariadb"): "n/a (PostgreSQL only)",
    ("mysql_cli", "pg"): None,  # not listed at all
    ("mysql_cli", "sqlite"): None,
    ("sqlite_cli", "pg"): None,
    ("sqlite_cli", "mariadb"): None,
    ("load_data", "pg"): None,
    ("load_data", "sqlite"): None,
    # PostgreSQL and MariaDB reads take scan_workers; SQLite splits on its own.
    ("sqlarrow_1conn", "sqlite"): None,
}
TOOL_LABEL = {
    "sqlarrow": "sqlarrow",
    "sqlarrow_1conn": "sqlarrow, one connection (scan_workers=1)",
    "connectorx": "connectorx",
    "adbc": "ADBC",
    "polars_cx": "polars (connectorx)",
    "polars_adbc": "polars (adbc)",
    "pandas": "pandas.read_sql + SQLAlchemy",
    "psql_copy": "LIMIT psql \\copy binary → /dev/null",
    "pg_server_copy": "LIMIT server-only COPY → /dev/null",
    "mysql_cli": "LIMIT mariadb CLI → /dev/null",
    "sqlite_cli": "LIMIT sqlite3 CLI → /dev/null",
    "psql_copy_in": "LIMIT psql \\copy from binary file",
    "load_data": "pyarrow CSV + LOAD DATA LOCAL INFILE",
    "dbapi": "DB-API driver",
}
ENGINE_LABEL = {"pg": "PostgreSQL", "sqlite": "SQLite", "mariadb": "MariaDB"}
DBAPI_NAME = {"pg": "psycopg", "sqlite": "sqlite3", "mariadb": "pymysql"}
# Every worker's environment. pyarrow and pandas load numpy, whose OpenBLAS starts a
# thread per CPU; on 2 vCPUs shared with the database server those threads took ~8% of
# the CPU samples of a small-query run in which no tool does linear algebra.
WORKER_ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


def label(tool: str, engine: str, op: str) -> str:
    if tool == "dbapi":
        return f"{DBAPI_NAME[engine]} (DB-API, rows)"
    if tool == "pandas" and op == "write":
        return "pandas.to_sql + SQLAlchemy"
    if tool == "pandas" and op == "stream":
        return "pandas.read_sql chunksize"
    if tool == "adbc" and op == "write":
        return "ADBC adbc_ingest"
    if tool == "adbc" and op == "stream":
        return "ADBC record batch reader"
    if tool == "connectorx" and op == "stream":
        return "connectorx arrow_stream"
    if tool == "sqlarrow" and op == "stream":
        return "sqlarrow stream"
    return TOOL_LABEL.get(tool, tool)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- machine


def _cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:
        return f"? ({type(e).__name__})"


def machine_info() -> dict[str, Any]:
    from importlib import metadata

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 2**20:.1f} GiB"
    except Exception:
        pass
    versions: dict[str, str] = {"python": platform.python_version()}
    for pkg in [
        "pyarrow",
        "connectorx",
        "adbc-driver-manager",
        "adbc-driver-postgresql",
        "adbc-driver-sqlite",
        "polars",
        "pandas",
        "sqlalchemy",
        "psycopg",
        "psycopg2-binary",
        "pymysql",
        "tpchgen-cli",
        "numpy",
    ]:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    sa = sqlarrow_info()
    versions["sqlarrow"] = sa["summary"]
    import sqlite3

    versions["sqlite (python sqlite3)"] = sqlite3.sqlite_version
    versions["PostgreSQL server"] = _cmd(
        [
            "psql",
            "-X",
            "-tA",
            "-h",
            C.PG_HOST,
            "-p",
            str(C.PG_PORT),
            "-U",
            C.PG_USER,
            "-d",
            "postgres",
            "-c",
            "SHOW server_version",
        ]
    )
    versions["psql"] = _cmd(["psql", "--version"])
    versions["MariaDB server"] = _cmd(
        [
            "mariadb",
            "-h",
            C.MY_HOST,
            "-P",
            str(C.MY_PORT),
            "-u",
            C.MY_USER,
            "-N",
            "-B",
            "-e",
            "SELECT VERSION()",
        ]
    )
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "nproc_cmd": _cmd(["nproc"]),
        "memory": mem,
        "cpu": cpu,
        "kernel": platform.release(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "versions": versions,
        "sqlarrow": sa,
    }


def sqlarrow_info() -> dict[str, Any]:
    code = (
        "import json, sqlarrow; c = getattr(sqlarrow, '_core', None); "
        "print(json.dumps({'version': getattr(sqlarrow, '__version__', '?'), "
        "'debug': getattr(c, 'DEBUG_BUILD', None), 'engines': getattr(c, 'ENGINES', None), "
        "'file': sqlarrow.__file__, 'has_write': None}))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"built": False, "summary": f"not built ({err})"}
    info = json.loads(p.stdout)
    info["built"] = True
    info["summary"] = (
        f"{info['version']} ({'DEBUG build!' if info['debug'] else 'release'}; "
        f"engines {info['engines']})"
    )
    return info


# --------------------------------------------------------------------------- jobs


def run_worker(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    args = [
        sys.executable,
        str(HERE / "worker.py"),
        job["tool"],
        job["op"],
        job["engine"],
        job["dataset"],
        "--table",
        job["table"],
        "--expected-rows",
        str(job["rows"]),
    ]
    args += job.get("extra", [])
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, cwd=HERE, env=WORKER_ENV
        )
    except subprocess.TimeoutExpired:
        return {**_key(job), "status": "error", "reason": f"timeout after {timeout:.0f}s"}
    out = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not out:
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        return {
            **_key(job),
            "status": "error",
            "reason": f"worker exit {p.returncode}, no result: {tail}",
        }
    res = json.loads(out[-1])
    res["process_s"] = time.perf_counter() - t0
    if res.get("status") == "error":
        res["stderr_tail"] = p.stderr.strip().splitlines()[-5:]
    return res


def _key(job: dict[str, Any]) -> dict[str, Any]:
    return {k: job[k] for k in ("tool", "op", "engine", "dataset")}


def build_jobs(a: argparse.Namespace, info: dict[str, Any]) -> list[dict[str, Any]]:
    jobs = []
    tools_filter = set(a.tools.split(",")) if a.tools else None
    for engine in a.engines:
        for op in a.ops:
            if op == "latency":
                dsets = ["-"]
            elif op == "threads":
                dsets = ["mixed"]
            else:
                dsets = a.datasets
            for ds in dsets:
                for tool in TOOLS[op]:
                    if tools_filter and tool not in tools_filter:
                        continue
                    if (tool, engine) in NOT_APPLICABLE and NOT_APPLICABLE[(tool, engine)] is None:
                        continue
                    table = info["tables"].get(ds, "-") if ds != "-" else "-"
                    rows = info["rows"].get(ds, 0) if ds != "-" else 1
                    extra = ["--batch-size", str(a.batch_size)]
                    if op == "latency":
                        extra += ["--calls", str(a.calls)]
                    if op == "threads":
                        extra += ["--threads", str(a.threads), "--queries", str(a.queries)]
                    if op == "write":
                        wr = min(C.write_rows(a.quick), rows or C.write_rows(a.quick))
                        extra += ["--parquet", info["parquet"].get(ds, ""), "--write-rows", str(wr)]
                        rows = wr
                    jobs.append(
                        {
                            "tool": tool,
                            "op": op,
                            "engine": engine,
                            "dataset": ds,
                            "table": table,
                            "rows": rows,
                            "extra": extra,
                        }
                    )
    return jobs


# --------------------------------------------------------------------------- summary


def summarize(results: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    expected_rows: dict[tuple[str, str, str], int] = {}
    for j in jobs:
        by[(j["engine"], j["dataset"], j["op"])][j["tool"]]  # keep order
        expected_rows[(j["engine"], j["dataset"], j["op"])] = j["rows"]
    for r in results:
        by[(r["engine"], r["dataset"], r["op"])][r["tool"]].append(r)

    groups = []
    for (engine, ds, op), tools in by.items():
        rows_out = []
        for tool, runs in tools.items():
            ok = [r for r in runs if r.get("status") == "ok"]
            row: dict[str, Any] = {
                "tool": tool,
                "label": label(tool, engine, op),
                "kind": (
                    "limit"
                    if tool in LIMIT_TOOLS
                    else "ours"
                    if tool == OURS
                    else "variant"
                    if tool in OUR_VARIANTS
                    else "peer"
                ),
                "runs": len(runs),
                "ok_runs": len(ok),
            }
            if not ok:
                bad = runs[-1] if runs else {"status": "skip", "reason": "not run"}
                row["status"] = bad.get("status")
                row["reason"] = bad.get("reason")
                rows_out.append(row)
                continue
            walls = [r["wall_s"] for r in ok]
            row.update(
                status="ok",
                median_s=statistics.median(walls),
                min_s=min(walls),
                max_s=max(walls),
                rss_peak_mb=max(
                    (r["rss_peak_mb"] for r in ok if r.get("rss_peak_mb") is not None),
                    default=None,
                ),
                rss_before_mb=ok[0].get("rss_before_mb"),
                result_bytes=ok[0].get("result_bytes"),
                rows=ok[0].get("rows"),
                note=ok[0].get("note"),
                checksum=ok[0].get("checksum"),
                schema=ok[0].get("schema"),
            )
            if len(ok) < len(runs):
                row["errors"] = [r.get("reason") for r in runs if r.get("status") != "ok"]
            # consistency across rounds of the same tool
            row["round_mismatch"] = any(
                not C.checksums_match(ok[0].get("checksum"), r.get("checksum"))
                or r.get("rows") != ok[0].get("rows")
                for r in ok[1:]
            )
            for extra in (
                "qps_1",
                "qps_n",
                "ratio",
                "threads",
                "p90_s",
                "p99_s",
                "calls",
                "batches",
                "max_batch_rows",
                "queries",
                "rows_in",
            ):
                vals = [r[extra] for r in ok if r.get(extra) is not None]
                if vals:
                    # counts stay the first round's integer; measurements take the median
                    row[extra] = statistics.median(vals) if isinstance(vals[0], float) else vals[0]
            rows_out.append(row)

        # ratios
        okrows = [r for r in rows_out if r.get("status") == "ok"]
        peers = [r for r in okrows if r["kind"] == "peer"]
        fastest = min(peers, key=lambda r: r["median_s"]) if peers else None
        lim_tool = PRIMARY_LIMIT.get((op, engine))
        lim = next((r for r in okrows if r["tool"] == lim_tool), None)
        for r in okrows:
            if fastest:
                r["vs_fastest_peer"] = r["median_s"] / fastest["median_s"]
            if lim:
                r["vs_limit"] = r["median_s"] / lim["median_s"]
        if op == "threads" and peers:
            best = max(peers, key=lambda r: r.get("qps_n", 0))
            for r in okrows:
                r["vs_fastest_peer"] = best["qps_n"] / r["qps_n"] if r.get("qps_n") else None

        # correctness: every tool must agree on rows and checksum
        problems = []
        exp = expected_rows.get((engine, ds, op))
        with_ck = [r for r in okrows if r.get("checksum") is not None]
        ref = None
        if with_ck:
            # the reference is the checksum most tools agree on
            best_n = -1
            for cand in with_ck:
                n = sum(C.checksums_match(cand["checksum"], o["checksum"]) for o in with_ck)
                if n > best_n:
                    ref, best_n = cand, n
        for r in okrows:
            flags = []
            if exp and op in ("read", "stream", "partitioned", "write") and r.get("rows") != exp:
                flags.append(f"rows {r.get('rows')} != expected {exp}")
            if (
                ref is not None
                and r.get("checksum") is not None
                and not C.checksums_match(ref["checksum"], r["checksum"])
            ):
                flags.append(f"checksum differs from {ref['tool']}")
            if r.get("round_mismatch"):
                flags.append("result differs between rounds")
            r["check"] = (
                "MISMATCH: " + "; ".join(flags)
                if flags
                else "ok"
                if r.get("checksum") is not None or op == "latency"
                else "- (reference: no result to check)"
            )
            if flags:
                problems.append(f"{r['tool']}: {'; '.join(flags)}")
        groups.append(
            {
                "engine": engine,
                "dataset": ds,
                "op": op,
                "expected_rows": exp,
                "fastest_peer": fastest["tool"] if fastest else None,
                "limit": lim_tool if lim else None,
                "tools": rows_out,
                "problems": problems,
                "reference_checksum": ref["checksum"] if ref else None,
            }
        )
    return groups


def _f(x: Any, fmt: str = "{:.3f}") -> str:
    if x is None:
        return "-"
    try:
        return fmt.format(x)
    except (TypeError, ValueError):
        return str(x)


def _reason(r: dict[str, Any]) -> str:
    text = " ".join(str(r.get("reason") or "").split()).replace("|", "/")
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{r.get('status')}: {text}"


def _mb(b: Any) -> str:
    return "-" if b is None else f"{b / 2**20:.1f}"


def render_group(g: dict[str, Any]) -> str:
    op, engine, ds = g["op"], g["engine"], g["dataset"]
    title = f"### {ENGINE_LABEL[engine]} · {op}" + ("" if ds == "-" else f" · {ds}")
    lines = [title, ""]
    if g["expected_rows"] and op in ("read", "stream", "partitioned", "write"):
        lines.append(
            f"Rows: {g['expected_rows']:,}" + ("  (prefix written)" if op == "write" else "")
        )
        lines.append("")
    if op == "latency":
        lines += [
            "| tool | median µs | p90 µs | p99 µs | calls | peak RSS MB | vs fastest peer |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in g["tools"]:
            if r.get("status") != "ok":
                lines.append(f"| {r['label']} | {_reason(r)} | | | | | |")
                continue
            lines.append(
                f"| {r['label']} | {_f(r['median_s'] * 1e6, '{:.1f}')} | "
                f"{_f((r.get('p90_s') or 0) * 1e6, '{:.1f}')} | "
                f"{_f((r.get('p99_s') or 0) * 1e6, '{:.1f}')} | {r.get('calls')} | "
                f"{_f(r.get('rss_peak_mb'), '{:.0f}')} | "
                f"{_f(r.get('vs_fastest_peer'), '{:.2f}x')} |"
            )
    elif op == "threads":
        lines += [
            f"| tool | q/s 1 thread | q/s {g['tools'][0].get('threads', 8) or 8} threads | "
            "scaling | queries | peak RSS MB | fastest peer q/s ÷ this | check |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in g["tools"]:
            if r.get("status") != "ok":
                lines.append(f"| {r['label']} | {_reason(r)} | | | | | | |")
                continue
            lines.append(
                f"| {r['label']} | {_f(r.get('qps_1'), '{:.0f}')} | "
                f"{_f(r.get('qps_n'), '{:.0f}')} | {_f(r.get('ratio'), '{:.2f}x')} | "
                f"{r.get('queries')} | {_f(r.get('rss_peak_mb'), '{:.0f}')} | "
                f"{_f(r.get('vs_fastest_peer'), '{:.2f}x')} | {r.get('check')} |"
            )
    else:
        lines += [
            "| tool | median s | min s | max s | peak RSS MB | RSS before MB | "
            f"{'input' if op == 'write' else 'result'} MB | rows | vs fastest peer | vs limit "
            "| check |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in g["tools"]:
            if r.get("status") != "ok":
                lines.append(f"| {r['label']} | {_reason(r)} | | | | | | | | | |")
                continue
            name = r["label"] + (" **(ours)**" if r["kind"] == "ours" else "")
            lines.append(
                f"| {name} | {_f(r['median_s'])} | {_f(r['min_s'])} | {_f(r['max_s'])} | "
                f"{_f(r.get('rss_peak_mb'), '{:.0f}')} | {_f(r.get('rss_before_mb'), '{:.0f}')} | "
                f"{_mb(r.get('result_bytes'))} | {_f(r.get('rows'), '{:,}')} | "
                f"{_f(r.get('vs_fastest_peer'), '{:.2f}x')} | {_f(r.get('vs_limit'), '{:.2f}x')} | "
                f"{r.get('check')} |"
            )
    notes = [f"{r['label']}: {r['note']}" for r in g["tools"] if r.get("note")]
    notes += [
        f"{r['label']}: some rounds failed: {r['errors']}" for r in g["tools"] if r.get("errors")
    ]
    if notes:
        lines.append("")
        lines += [f"- {n}" for n in notes]
    if g["problems"]:
        lines.append("")
        lines += [f"- **CORRECTNESS MISMATCH** {p}" for p in g["problems"]]
    schemas = [r for r in g["tools"] if r.get("schema")]
    if op == "read" and schemas:
        lines += ["", "<details><summary>Arrow types returned</summary>", ""]
        names = [f.split(":", 1)[0] for f in schemas[0]["schema"]]
        lines.append("| column | " + " | ".join(r["label"] for r in schemas) + " |")
        lines.append("|---" * (len(schemas) + 1) + "|")
        types = [dict(f.split(":", 1) for f in r["schema"]) for r in schemas]
        for n in names:
            cells = [t.get(n, "?").replace("|", "/") for t in types]
            lines.append(f"| {n} | " + " | ".join(f"`{c}`" for c in cells) + " |")
        lines += [
            "",
            "pandas and polars columns: the types after conversion to Arrow "
            "(`pa.Table.from_pandas`, `DataFrame.to_arrow`).",
            "",
            "</details>",
        ]
    lines.append("")
    return "\n".join(lines)


def render_summary(groups: list[dict[str, Any]]) -> list[str]:
    """Headline: sqlarrow against the fastest peer in every group where both ran."""
    lines = [
        "## Summary: sqlarrow vs the fastest peer",
        "",
        "| engine | op | dataset | fastest peer | peer | sqlarrow | sqlarrow ÷ peer "
        "| peak RSS sqlarrow / peer MB | sqlarrow RSS ÷ result: peak / added |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for g in groups:
        ours = next((r for r in g["tools"] if r["tool"] == OURS), None)
        if ours is None:
            continue
        peers = [r for r in g["tools"] if r["kind"] == "peer" and r.get("status") == "ok"]
        head = f"| {ENGINE_LABEL[g['engine']]} | {g['op']} | {g['dataset']} "
        if g["op"] == "threads":
            best = max(peers, key=lambda r: r.get("qps_n") or 0, default=None)
            unit = "q/s ({} threads)".format(best.get("threads") if best else "")
            pv = best.get("qps_n") if best else None
            ov = ours.get("qps_n")
            fmt = "{:.0f}"
        else:
            best = min(peers, key=lambda r: r["median_s"], default=None)
            scale = 1e6 if g["op"] == "latency" else 1.0
            unit = "µs" if g["op"] == "latency" else "s"
            pv = best["median_s"] * scale if best else None
            ov = ours["median_s"] * scale if ours.get("status") == "ok" else None
            fmt = "{:.1f}" if g["op"] == "latency" else "{:.3f}"
        if ours.get("status") != "ok":
            lines.append(
                head + f"| {best['label'] if best else '-'} | {_f(pv, fmt)} {unit} "
                f"| {_reason(ours)} | | |"
            )
            continue
        ratio = (ov / pv) if (pv and ov) else None
        mem = "-"
        res_mb = (ours.get("result_bytes") or 0) / 2**20
        peak, before = ours.get("rss_peak_mb"), ours.get("rss_before_mb")
        if g["op"] in ("read", "partitioned") and res_mb > 0 and peak and before is not None:
            mem = f"{peak / res_mb:.2f}x / {(peak - before) / res_mb:.2f}x"
        lines.append(
            head + f"| {best['label'] if best else '-'} | {_f(pv, fmt)} {unit} "
            f"| {_f(ov, fmt)} {unit} | {_f(ratio, '{:.2f}x')} "
            f"| {_f(ours.get('rss_peak_mb'), '{:.0f}')} / "
            f"{_f(best.get('rss_peak_mb') if best else None, '{:.0f}')} | {mem} |"
        )
    lines += [
        "",
        "sqlarrow ÷ peer below 1 means sqlarrow is faster, except for threads, where it is "
        "throughput (above 1 means sqlarrow is faster). RSS ÷ result: the worker's peak RSS "
        "divided by the Arrow result size, and the RSS the operation added (peak minus the "
        "RSS before it: the interpreter and pyarrow, about 56 MB, are not the result's "
        "cost) divided by the result size.",
        "",
    ]
    return lines


def render(meta: dict[str, Any], groups: list[dict[str, Any]]) -> str:
    m = meta["machine"]
    out = ["# sqlarrow benchmark results", ""]
    out.append(
        f"Generated {m['date']} by `{meta['command']}` "
        f"({meta['rounds']} round(s), {'quick' if meta['quick'] else 'full'} scale, "
        f"total {meta['elapsed_s'] / 60:.1f} min)."
    )
    out.append("")
    out.append(
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Linux "
        f"{m['kernel']}; load average at start {m['loadavg_start']}."
    )
    out.append("")
    out.append("| component | version |")
    out.append("|---|---|")
    for k, v in m["versions"].items():
        out.append(f"| {k} | {v} |")
    out.append("")
    if not m["sqlarrow"].get("built"):
        out.append(f"**sqlarrow was not measured: {m['sqlarrow']['summary']}.**")
        out.append("")
    elif m["sqlarrow"].get("debug"):
        out.append("**WARNING: sqlarrow is a DEBUG build; its numbers are not meaningful.**")
        out.append("")
    problems = [(g, p) for g in groups for p in g["problems"]]
    if problems:
        out.append("## ⚠ CORRECTNESS MISMATCHES")
        out.append("")
        for g, p in problems:
            out.append(f"- {ENGINE_LABEL[g['engine']]} {g['op']} {g['dataset']}: {p}")
        out.append("")
    else:
        n = sum(1 for g in groups for r in g["tools"] if r.get("status") == "ok")
        out.append(
            f"Correctness: all {n} measured results agree on row counts and checksums "
            "within their group."
        )
        out.append("")
    out.append("""How to read: wall time covers the operation only (connect + query + result fully
materialized in the tool's native form), not imports or data preparation. Peak RSS is
the worker process's `ru_maxrss` (interpreter and imports included; "RSS before" is
the RSS just before the operation); for CLI references it is the client process's own
peak (GNU time). "vs fastest peer" divides by the fastest non-reference, non-sqlarrow
tool; "vs limit" by the psql `\\copy` binary reference (PostgreSQL reads/writes), the
mariadb CLI (MariaDB reads) or the sqlite3 CLI (SQLite reads; both print text, so they
are a rough floor only). LIMIT rows are reference points, not competitors: they
decode nothing into Arrow. The checksum covers a few columns (sums, null counts, string
lengths) and must agree across tools.
""")
    out += render_summary(groups)
    notes = HERE / "NOTES.md"
    if notes.exists():
        out += [notes.read_text().rstrip(), ""]
    for g in groups:
        out.append(render_group(g))
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def _jobs_from_runs(old: dict[str, Any]) -> list[dict[str, Any]]:
    """Job list of a results.json written before jobs were stored in it."""
    rows = old["meta"].get("data", {}).get("rows", {})
    jobs: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in old["runs"]:
        key = (r["tool"], r["op"], r["engine"], r["dataset"])
        n = 1 if r["op"] == "latency" else rows.get(r["dataset"], 0)
        if r["op"] == "write":
            n = r.get("rows_in") or jobs.get(key, {}).get("rows") or 0
        if key not in jobs or (r["op"] == "write" and n):
            jobs[key] = {
                "tool": key[0],
                "op": key[1],
                "engine": key[2],
                "dataset": key[3],
                "rows": n,
            }
    return list(jobs.values())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small data, fewer rounds")
    ap.add_argument("--rounds", type=int, default=None, help="default 3 (quick: 2)")
    ap.add_argument("--engines", default="pg,sqlite,mariadb")
    ap.add_argument("--ops", default="read,stream,write,latency,threads")
    ap.add_argument("--dataset", "--datasets", dest="datasets", default="mixed,ints,lineitem")
    ap.add_argument("--tools", default="", help="only these tools (comma separated)")
    ap.add_argument(
        "--skip-slow", action="store_true", help="run slow tools (pandas) in the first round only"
    )
    ap.add_argument("--timeout", type=float, default=1200, help="per worker, seconds")
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument("--calls", type=int, default=None, help="latency calls (default 2000)")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument(
        "--queries",
        type=int,
        default=None,
        help="small queries per threads measurement (default 2000; quick 800)",
    )
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--json", default=str(HERE / "results.json"))
    ap.add_argument(
        "--rerender",
        metavar="RESULTS_JSON",
        nargs="+",
        help="only rebuild RESULTS.md (and the summary) from the results.json of earlier "
        "runs; several files (e.g. runs of different ops) are merged into one report",
    )
    a = ap.parse_args()
    if a.rerender:
        olds = [json.loads(Path(p).read_text()) for p in a.rerender]
        runs: list[dict[str, Any]] = []
        all_jobs: list[dict[str, Any]] = []
        for old in olds:
            runs.extend(old["runs"])
            all_jobs.extend(old.get("jobs") or _jobs_from_runs(old))
        meta = dict(olds[0]["meta"])
        if len(olds) > 1:
            meta["command"] = " ; ".join(o["meta"]["command"] for o in olds)
            meta["elapsed_s"] = sum(o["meta"].get("elapsed_s", 0) for o in olds)
            meta["rounds"] = max(o["meta"].get("rounds", 1) for o in olds)
        groups = summarize(runs, all_jobs)
        md = render(meta, groups)
        Path(a.out).write_text(md)
        if len(olds) > 1:
            Path(a.json).write_text(
                json.dumps(
                    {"meta": meta, "summary": groups, "runs": runs, "jobs": all_jobs},
                    indent=1,
                    default=str,
                )
            )
        print(md)
        return
    a.engines = [e for e in a.engines.split(",") if e]
    a.ops = [o for o in a.ops.split(",") if o]
    a.datasets = [d for d in a.datasets.split(",") if d]
    for e in a.engines:
        if e not in C.ENGINES:
            ap.error(f"unknown engine {e}")
    for o in a.ops:
        if o not in C.OPS:
            ap.error(f"unknown op {o}")
    for d in a.datasets:
        if d not in C.DATASETS:
            ap.error(f"unknown dataset {d}")
    rounds = a.rounds or (2 if a.quick else 3)
    a.calls = a.calls or (500 if a.quick else 2000)
    a.queries = a.queries or (800 if a.quick else 2000)
    started = time.perf_counter()

    try:
        import datagen
    except ImportError as e:
        sys.exit(
            f"missing dependency ({e}); run through `bash benches/bench.sh` or use "
            "benches/.venv/bin/python"
        )

    gen_datasets = list(a.datasets)
    if "threads" in a.ops and "mixed" not in gen_datasets:
        gen_datasets.append("mixed")
    data_ops = {"read", "stream", "partitioned", "write", "threads"} & set(a.ops)
    log(f"preparing data: engines {a.engines}, datasets {gen_datasets}")
    info = datagen.ensure(
        a.engines, gen_datasets if data_ops else [], a.quick, need_parquet="write" in a.ops
    )
    for eng, err in info["errors"].items():
        log(f"engine {eng} unavailable: {err}")
    log(f"data ready in {time.perf_counter() - started:.0f}s: {info['rows']}")

    machine = machine_info()
    log(f"sqlarrow: {machine['sqlarrow']['summary']}")
    jobs = build_jobs(a, info)
    results: list[dict[str, Any]] = []
    skipped: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for j in jobs:
        reason = NOT_APPLICABLE.get((j["tool"], j["engine"]))
        if j["engine"] in info["errors"]:
            reason = info["errors"][j["engine"]]
        if reason:
            skipped[(j["tool"], j["op"], j["engine"], j["dataset"])] = {
                **_key(j),
                "status": "skip",
                "reason": reason,
            }
    if a.ops and not jobs:
        log("nothing to run")
    for rnd in range(1, rounds + 1):
        for j in jobs:
            key = (j["tool"], j["op"], j["engine"], j["dataset"])
            if key in skipped:
                if rnd == 1:
                    results.append({**skipped[key], "round": rnd})
                continue
            if rnd > 1 and a.skip_slow and j["tool"] in SLOW_TOOLS:
                continue
            res = run_worker(j, a.timeout)
            res["round"] = rnd
            results.append(res)
            st = res.get("status")
            if st == "skip":
                skipped[key] = res
            desc = (
                f"{res.get('wall_s', 0):.3f}s rss {res.get('rss_peak_mb') or 0:.0f}MB "
                f"rows {res.get('rows')}"
                if st == "ok"
                else f"{st}: {res.get('reason')}"
            )
            log(
                f"round {rnd}/{rounds} {j['engine']:7s} {j['op']:7s} {j['dataset']:8s} "
                f"{j['tool']:15s} {desc}"
            )

    groups = summarize(results, jobs)
    meta = {
        "command": "python benches/run.py " + " ".join(sys.argv[1:]),
        "rounds": rounds,
        "quick": a.quick,
        "machine": machine,
        "data": info,
        "elapsed_s": time.perf_counter() - started,
        "params": {
            "batch_size": a.batch_size,
            "calls": a.calls,
            "threads": a.threads,
            "queries": a.queries,
            "skip_slow": a.skip_slow,
        },
    }
    md = render(meta, groups)
    Path(a.out).write_text(md)
    Path(a.json).write_text(
        json.dumps(
            {"meta": meta, "summary": groups, "runs": results, "jobs": jobs}, indent=1, default=str
        )
    )
    print(md)
    log(f"wrote {a.out} and {a.json}")
    if any(g["problems"] for g in groups):
        log("CORRECTNESS MISMATCHES FOUND (see the report)")
        sys.exit(2)


if __name__ == "__main__":
    main()
