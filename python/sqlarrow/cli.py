"""The ``sqlarrow`` command line (stdlib only).

sqlarrow demo [--rows N] [--path FILE]
sqlarrow query URL "SQL" [--limit N] [--format table|csv|json]
sqlarrow test [NAME|URL] [--config FILE] [--env ENV] [--env-file FILE]
sqlarrow inspect [NAME|URL] [--schema S] [--config FILE] [--env ENV] [--env-file FILE]

NAME is a connection of the configuration file (``--config``, else
``$SQLARROW_CONFIG``, else ``./sqlarrow.yaml``); without NAME or URL the file's
``target`` is used (or ``$SQLARROW_URL`` when there is no configuration).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import datetime as _dt
import decimal
import importlib
import json
import math
import os
import sys
import tempfile
import time
import unicodedata
import uuid
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from . import __version__, connect
from ._connectors import Connector, SQLiteConnector
from ._url import mask_url
from .config import default_env_file, load_config
from .exceptions import ConfigError, DatabaseWarning, SqlArrowError

_MAX_CELL = 40


# -- formatting ----------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, float):
        return repr(value)
    return _plain(value)


def _plain(value: Any) -> str:
    """Lists and structs as JSON text (``[1, null, 3]``, not Python's ``[1, None, 3]``),
    intervals in ISO 8601, anything else as ``str``."""
    if isinstance(value, (list, dict)):
        return json.dumps(_json_value(value), default=_json_default, ensure_ascii=False)
    if _is_interval(value):
        return _iso_interval(value)
    if isinstance(value, _dt.timedelta):
        return _iso_interval(_timedelta_parts(value))
    return str(value)


def _timedelta_parts(value: _dt.timedelta) -> tuple[int, int, int]:
    """A timedelta as (months, days, nanoseconds), days and time carrying the same
    sign (``-timedelta(hours=1)`` is ``PT-1H``, not Python's ``-1 day, 23:00:00``)."""
    sign = -1 if value < _dt.timedelta(0) else 1
    a = abs(value)
    return (0, sign * a.days, sign * (a.seconds * 1_000_000 + a.microseconds) * 1000)


def _is_interval(value: Any) -> bool:
    # A month-day-nanosecond interval reads as a (months, days, nanoseconds) tuple
    # (pyarrow's MonthDayNano is a named one); no other type reads as a tuple.
    return (
        isinstance(value, tuple)
        and len(value) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def _iso_interval(value: tuple[int, int, int]) -> str:
    """An interval as ISO 8601, each part with its own sign as PostgreSQL's
    ``intervalstyle = iso_8601`` writes it: ``P1Y2M3DT4H5M6.5S``, ``P-1M2D``, ``PT0S``."""
    months, days, nanos = value
    out = "P"
    years, rest = divmod(abs(months), 12)
    sign = "-" if months < 0 else ""
    if years:
        out += f"{sign}{years}Y"
    if rest:
        out += f"{sign}{rest}M"
    if days:
        out += f"{days}D"
    if nanos:
        sign = "-" if nanos < 0 else ""
        hours, rem = divmod(abs(nanos), 3_600_000_000_000)
        minutes, rem = divmod(rem, 60_000_000_000)
        secs, frac = divmod(rem, 1_000_000_000)
        out += "T"
        if hours:
            out += f"{sign}{hours}H"
        if minutes:
            out += f"{sign}{minutes}M"
        if secs or frac:
            tail = f".{frac:09d}".rstrip("0") if frac else ""
            out += f"{sign}{secs}{tail}S"
    return out if out != "P" else "PT0S"


def _is_numeric(value: Any) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def _width(text: str) -> int:
    """Terminal columns `text` takes: East Asian wide and fullwidth characters take
    two, combining marks none."""
    return sum(
        0
        if unicodedata.combining(ch)
        else 2
        if unicodedata.east_asian_width(ch) in ("W", "F")
        else 1
        for ch in text
    )


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Format rows as an aligned text table."""
    header = [_clip(str(c)) for c in columns]
    cells = [[_clip(_text(row.get(c))) for c in columns] for row in rows]
    widths = [_width(c) for c in header]
    for line in cells:
        for i, cell in enumerate(line):
            widths[i] = max(widths[i], _width(cell))
    numeric = [
        any(_is_numeric(row.get(c)) for row in rows)
        and all(row.get(c) is None or _is_numeric(row.get(c)) for row in rows)
        for c in columns
    ]

    def fmt(values: Sequence[str]) -> str:
        out = []
        for i, value in enumerate(values):
            out.append(_pad(value, widths[i], numeric[i]))
        return " | ".join(out).rstrip()

    lines = [fmt(header), "-+-".join("-" * w for w in widths)]
    lines.extend(fmt(line) for line in cells)
    return "\n".join(lines)


# Control characters a cell shows escaped: they would break the table's lines.
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _clip(text: str) -> str:
    if any(ch < " " or ch == "\x7f" for ch in text):
        text = "".join(
            _ESCAPES.get(ch, f"\\x{ord(ch):02x}") if ch < " " or ch == "\x7f" else ch for ch in text
        )
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return _iso_interval(_timedelta_parts(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def _json_value(value: Any) -> Any:
    """``value`` with floats JSON has no number for (NaN, infinities) as the strings
    PostgreSQL's ``to_json`` uses: Python's ``json`` would write a bare ``NaN``, which
    is not JSON and which strict parsers (jq, JavaScript) refuse. Intervals become
    ISO 8601 strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if _is_interval(value):
        return _iso_interval(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _json_columns(schema: Any) -> set[str]:
    """Names of the columns holding JSON documents (the ``arrow.json`` extension): the
    JSON output embeds their documents rather than quoting them as strings. Needs a
    pyarrow schema; without pyarrow they stay strings."""
    names: set[str] = set()
    fields = list(schema) if isinstance(schema, Iterable) else []
    for field in fields:
        if not hasattr(field, "type"):
            continue
        ext = getattr(field.type, "extension_name", None)
        meta = field.metadata or {}
        if ext == "arrow.json" or meta.get(b"ARROW:extension:name") == b"arrow.json":
            names.add(field.name)
    return names


def _embed_json(row: dict[str, Any], json_columns: set[str]) -> dict[str, Any]:
    out = dict(row)
    for name in json_columns:
        text = out.get(name)
        if isinstance(text, str):
            # Not a document after all: keep the text.
            with contextlib.suppress(ValueError):
                out[name] = json.loads(text)
    return out


def _write_rows(
    out: TextIO,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    json_columns: set[str] | None = None,
) -> None:
    if fmt == "json":
        if json_columns:
            rows = [_embed_json(r, json_columns) for r in rows]
        json.dump(
            [_json_value(r) for r in rows],
            out,
            default=_json_default,
            ensure_ascii=False,
            indent=2,
            allow_nan=False,
        )
        out.write("\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else _csv_cell(row.get(c)) for c in columns])
    else:
        out.write(format_table(rows, columns) + "\n")


def _csv_cell(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    return _plain(value)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


# -- demo ---------------------------------------------------------------------------
_DEMO_DDL = """
CREATE TABLE orders (
    id         INTEGER PRIMARY KEY,
    customer   TEXT NOT NULL,
    amount     DECIMAL(12, 2) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    is_paid    BOOLEAN NOT NULL,
    region     TEXT NOT NULL,
    notes      TEXT
)
"""

# A recursive CTE generates the rows inside SQLite: no Python loop, no temp files.
_DEMO_FILL = """
INSERT INTO orders (id, customer, amount, created_at, is_paid, region, notes)
WITH RECURSIVE seq(n) AS (
    SELECT 1
    UNION ALL
    SELECT n + 1 FROM seq WHERE n < ?
)
SELECT
    n,
    'customer_' || printf('%04d', (n * 7919) % 5000),
    round(((n * 104729) % 250000) / 100.0 + 1.0, 2),
    strftime('%Y-%m-%d %H:%M:%S', '2024-01-01 00:00:00', '+' || ((n * 7) % 31536000) || ' seconds'),
    (n % 3) <> 0,
    CASE n % 5
        WHEN 0 THEN 'north' WHEN 1 THEN 'south' WHEN 2 THEN 'east'
        WHEN 3 THEN 'west' ELSE 'central'
    END,
    CASE WHEN n % 7 = 0 THEN NULL ELSE 'order #' || n || ' via ' ||
        CASE n % 4 WHEN 0 THEN 'web' WHEN 1 THEN 'phone' WHEN 2 THEN 'store' ELSE 'partner' END
    END
FROM seq
"""


def _section(title: str) -> None:
    print()
    print(f"== {title}")


def _show(conn: Connector, title: str, sql: str, params: Any = None) -> None:
    _section(title)
    print(sql.strip())
    if params is not None:
        print(f"params: {params!r}")
    result = conn.query(sql, params)
    print(format_table(result.to_pylist(), result.column_names))
    noun = "row" if result.num_rows == 1 else "rows"
    print(f"({result.num_rows} {noun}, {result.execution_time_ms:,.1f} ms)")


def _has(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def run_demo(rows: int, path: str | None) -> int:
    tmpdir: tempfile.TemporaryDirectory[str] | None = None
    if path is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="sqlarrow-demo-")
        path = os.path.join(tmpdir.name, "demo.db")
    elif os.path.exists(path):
        os.remove(path)
    try:
        print(f"sqlarrow {__version__}: demo database at {path}")
        with SQLiteConnector(path) as conn:
            start = time.perf_counter()
            conn.execute(_DEMO_DDL)
            inserted = conn.execute(_DEMO_FILL, [rows])
            conn.execute("CREATE INDEX orders_region ON orders (region)")
            print(
                f"created table orders with {inserted:,} rows in {_ms(time.perf_counter() - start)}"
            )

            _show(
                conn,
                "count",
                "SELECT count(*) AS orders, sum(is_paid) AS paid, "
                "count(notes) AS with_notes FROM orders",
            )
            _show(
                conn,
                "group by",
                """
SELECT region, count(*) AS orders, round(sum(amount), 2) AS revenue,
       round(avg(amount), 2) AS avg_amount
FROM orders GROUP BY region ORDER BY revenue DESC""",
            )
            _show(
                conn,
                "filter with named parameters",
                """
SELECT id, customer, amount, created_at, is_paid, notes
FROM orders WHERE region = :region AND amount >= :min_amount AND is_paid = :paid
ORDER BY amount DESC, id LIMIT 5""",
                {"region": "west", "min_amount": 1000, "paid": True},
            )
            _show(
                conn,
                "filter with positional parameters",
                "SELECT id, customer, amount, notes FROM orders WHERE id IN (?, ?, ?) ORDER BY id",
                [1, 7, 42],
            )

            _section("stream in record batches")
            start = time.perf_counter()
            batches = 0
            streamed = 0
            with conn.stream("SELECT * FROM orders", batch_size=50_000) as stream:
                for batch in stream:
                    batches += 1
                    streamed += batch.num_rows
            print(
                f"streamed {streamed:,} rows in {batches} batches of <= 50,000 rows "
                f"in {_ms(time.perf_counter() - start)}"
            )

            _section("full table into Arrow")
            result = conn.query("SELECT * FROM orders")
            print(
                f"{result.num_rows:,} rows x {len(result.column_names)} columns, "
                f"{result.nbytes / 1e6:,.1f} MB of Arrow buffers in "
                f"{result.execution_time_ms:,.1f} ms"
            )
            _handoffs(result)
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()
    print()
    print("done.")
    return 0


def _handoffs(result: Any) -> None:
    if _has("pyarrow"):
        start = time.perf_counter()
        table = result.to_arrow()
        print(f"pyarrow: Table in {_ms(time.perf_counter() - start)} (zero copy)")
        for field in table.schema:
            print(f"    {field.name}: {field.type}")
    else:
        print("pyarrow: not installed (pip install 'sqlarrow[pyarrow]')")
    if _has("pandas") and _has("pyarrow"):
        start = time.perf_counter()
        df = result.to_pandas()
        print(f"pandas: DataFrame in {_ms(time.perf_counter() - start)}")
        print("    dtypes: " + ", ".join(f"{k}={v}" for k, v in df.dtypes.astype(str).items()))
    else:
        print("pandas: not installed (pip install 'sqlarrow[pandas]')")
    if _has("polars"):
        import polars as pl

        start = time.perf_counter()
        frame = result.to_polars()
        summary = (
            frame.group_by("region")
            .agg(pl.len().alias("orders"), pl.col("amount").sum().alias("revenue"))
            .sort("region")
        )
        print(f"polars: DataFrame in {_ms(time.perf_counter() - start)}; revenue by region:")
        print("    " + str(summary).replace("\n", "\n    "))
    else:
        print("polars: not installed (pip install 'sqlarrow[polars]')")


# -- query / test ---------------------------------------------------------------------
def run_query(url: str, sql: str, limit: int | None, fmt: str) -> int:
    with connect(url) as conn:
        json_columns: set[str] = set()
        # The server's warnings go to stderr as plain lines (not Python's warning
        # format pointing into this module), after the rows.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DatabaseWarning)
            if limit is None:
                result = conn.query(sql)
                rows = result.to_pylist()
                columns = result.column_names
                server_warnings = result.warnings
                if fmt == "json":
                    json_columns = _json_columns(result.schema)
            else:
                rows = []
                with conn.stream(sql, batch_size=max(1, min(limit, 65_536))) as stream:
                    columns = stream.column_names
                    if fmt == "json":
                        json_columns = _json_columns(getattr(stream, "schema", None))
                    if limit > 0:
                        for batch in stream:
                            rows.extend(_batch_rows(batch))
                            if len(rows) >= limit:
                                break
                server_warnings = stream.warnings
                rows = rows[:limit]
        _write_rows(sys.stdout, rows, columns, fmt, json_columns)
        for line in server_warnings:
            print(f"warning: {line}", file=sys.stderr)
    return 0


def _batch_rows(batch: Any) -> list[dict[str, Any]]:
    # pyarrow RecordBatch when pyarrow is installed, else a one-batch QueryResult.
    to_pylist = batch.to_pylist
    rows: list[dict[str, Any]] = to_pylist()
    return rows


def _open(
    target: str | None, config: str | None, env: str | None, env_file: str | None
) -> tuple[Connector, str]:
    """The connector for a URL or a configuration entry, and how to show it (masked)."""
    if target is not None and "://" in target:
        return connect(target), mask_url(target)
    if config is None:
        config = os.environ.get("SQLARROW_CONFIG") or None
    if config is None:
        for candidate in ("sqlarrow.yaml", "sqlarrow.yml", "connections.yaml"):
            if os.path.exists(candidate):
                config = candidate
                break
    if config is None:
        if target is None and os.environ.get("SQLARROW_URL"):
            url = os.environ["SQLARROW_URL"]
            return connect(url), mask_url(url)
        raise ConfigError(
            "no configuration file: pass --config FILE (or set SQLARROW_CONFIG), "
            "or give a connection URL"
        )
    if env_file is None:
        env_file = default_env_file(config)
    cfg = load_config(config, env_file=env_file, env=env)
    entry = cfg.get(target)
    return entry.connect(), f"{entry.name} ({entry.engine})"


def run_test(
    url: str | None,
    config: str | None = None,
    env: str | None = None,
    env_file: str | None = None,
) -> int:
    conn, masked = _open(url, config, env, env_file)
    with conn:
        status = conn.test_connection()
    if status.ok:
        latency = f"{status.latency_ms:.1f} ms" if status.latency_ms is not None else "n/a"
        print(f"ok: {masked}")
        print(f"latency: {latency}")
        print(f"server version: {status.server_version or 'unknown'}")
        return 0
    print(f"failed: {masked}")
    print(f"error: {status.error}")
    return 1


def run_inspect(
    target: str | None,
    config: str | None = None,
    env: str | None = None,
    env_file: str | None = None,
    schema: str | None = None,
) -> int:
    conn, shown = _open(target, config, env, env_file)
    with conn:
        tables = conn.list_tables(schema)
    print(f"{shown}: {len(tables)} table(s)")
    rows = [dict(t) for t in tables]
    if rows:
        print(format_table(rows, ["schema", "name", "kind"]))
    return 0


# -- entry point --------------------------------------------------------------------------
def _schema_of(
    source: str, table: str | None, config: str | None, env: str | None, env_file: str | None
) -> tuple[Any, str]:
    """A canonical schema from a JSON file (`table` None) or a live table."""
    from .schema import CanonicalSchema

    if table is None:
        if not os.path.exists(source):
            raise ConfigError(f"{source!r} is neither a schema JSON file nor followed by a table")
        with open(source, encoding="utf-8") as f:
            return CanonicalSchema.from_json(f.read()), source
    conn, shown = _open(source, config, env, env_file)
    with conn:
        return conn.get_schema(table), f"{shown} {table}"


def _split_diff_args(args: Sequence[str]) -> tuple[tuple[str, str | None], tuple[str, str | None]]:
    """`A_URL A_TABLE B_URL B_TABLE`, with a schema JSON file standing for a URL+table."""
    rest = list(args)
    sides: list[tuple[str, str | None]] = []
    while rest and len(sides) < 2:
        first = rest.pop(0)
        if (first.endswith(".json") and os.path.exists(first)) or not rest:
            sides.append((first, None))
        else:
            sides.append((first, rest.pop(0)))
    if len(sides) != 2 or rest:
        raise ConfigError(
            "expected SOURCE_A [TABLE_A] SOURCE_B [TABLE_B] (a source is a URL or connection "
            "name followed by a table, or a schema JSON file)"
        )
    return sides[0], sides[1]


def run_schema(args: argparse.Namespace) -> int:
    if args.schema_command == "inspect":
        conn, shown = _open(args.url, args.config, args.env, args.env_file)
        with conn:
            if args.table is None:
                tables = conn.list_tables(args.db_schema)
                print(f"{shown}: {len(tables)} table(s)")
                if tables:
                    print(format_table([dict(t) for t in tables], ["schema", "name", "kind"]))
                return 0
            schema = conn.get_schema(args.table, args.db_schema)
        if args.json:
            print(schema.to_json(indent=2))
            return 0
        rows = [
            {
                "column": c.name,
                "type": c.type,
                "nullable": "yes" if c.nullable else "no",
                "default": c.default or "",
            }
            for c in schema.columns
        ]
        print(f"{shown} {args.table}")
        print(format_table(rows, ["column", "type", "nullable", "default"]))
        if schema.primary_key:
            print(f"primary key: {', '.join(schema.primary_key)}")
        if schema.estimated_rows is not None:
            print(f"estimated rows: {schema.estimated_rows}")
        return 0
    from .schema import diff

    (src_a, tab_a), (src_b, tab_b) = _split_diff_args(args.sides)
    old, shown_a = _schema_of(src_a, tab_a, args.config, args.env, args.env_file)
    new, shown_b = _schema_of(src_b, tab_b, args.config, args.env, args.env_file)
    changes = diff(old, new)
    if args.schema_command == "diff":
        if args.json:
            print(changes.to_json())
        else:
            print(f"{shown_a} -> {shown_b}: {len(changes)} change(s)")
            for c in changes:
                print(f"  {c}")
        return 2 if changes else 0
    # apply: make A look like B
    if tab_a is None:
        raise ConfigError("apply needs a live target: SOURCE_A must be a URL/name and a table")
    conn, _ = _open(src_a, args.config, args.env, args.env_file)
    with conn:
        if changes.destructive and not args.allow_destructive and not args.dry_run:
            print("refusing destructive changes (pass --allow-destructive):", file=sys.stderr)
            for c in changes:
                if c.destructive:
                    print(f"  {c}", file=sys.stderr)
            return 1
        # A dry run renders everything (nothing runs), destructive changes included.
        statements = conn.apply(
            changes,
            tab_a,
            allow_destructive=args.allow_destructive or args.dry_run,
            dry_run=args.dry_run,
        )
    verb = "would run" if args.dry_run else "ran"
    print(f"{verb} {len(statements)} statement(s)")
    for sql in statements:
        print(f"  {sql};")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlarrow", description="Arrow-native database connectors."
    )
    parser.add_argument("--version", action="version", version=f"sqlarrow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser("demo", help="build a demo SQLite database and query it")
    demo.add_argument("--rows", type=_positive_int, default=200_000, help="rows (default 200000)")
    demo.add_argument("--path", help="database file to (re)create (default: a temporary file)")

    query = sub.add_parser("query", help="run a query and print the result")
    query.add_argument("url", help="connection URL, e.g. postgresql://user@host/db")
    query.add_argument("sql", help="the SQL to run")
    query.add_argument("--limit", type=_positive_int, default=None, help="print at most N rows")
    query.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output format"
    )

    test = sub.add_parser("test", help="check that a database answers")
    test.add_argument(
        "url", nargs="?", default=None, metavar="NAME|URL", help="connection name or URL"
    )
    inspect = sub.add_parser("inspect", help="list the tables of a database")
    inspect.add_argument(
        "url", nargs="?", default=None, metavar="NAME|URL", help="connection name or URL"
    )
    inspect.add_argument("--schema", default=None, help="only this schema")
    schema = sub.add_parser("schema", help="inspect, diff and apply table schemas")
    schema_sub = schema.add_subparsers(dest="schema_command", metavar="ACTION")
    schema_sub.required = True
    s_inspect = schema_sub.add_parser("inspect", help="show a table's canonical schema")
    s_inspect.add_argument("url", metavar="NAME|URL", help="connection name or URL")
    s_inspect.add_argument("table", nargs="?", default=None, help="table (omit to list tables)")
    s_inspect.add_argument("--schema", dest="db_schema", default=None, help="database schema")
    s_inspect.add_argument("--json", action="store_true", help="print the schema as JSON")
    s_diff = schema_sub.add_parser(
        "diff", help="compare two tables (or schema JSON files); exit 2 when they differ"
    )
    s_diff.add_argument("sides", nargs="+", metavar="SOURCE [TABLE]")
    s_diff.add_argument("--json", action="store_true", help="print the diff as JSON")
    s_apply = schema_sub.add_parser("apply", help="change table A to match B")
    s_apply.add_argument("sides", nargs="+", metavar="SOURCE [TABLE]")
    s_apply.add_argument("--allow-destructive", action="store_true", help="allow data loss")
    s_apply.add_argument("--dry-run", action="store_true", help="print the SQL, run nothing")
    for p in (test, inspect, s_inspect, s_diff, s_apply):
        p.add_argument("--config", default=None, help="configuration file (YAML)")
        p.add_argument("--env", default=None, help="environment (profile) of the config")
        p.add_argument("--env-file", default=None, help=".env file for ${VAR} values")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return run_demo(args.rows, args.path)
        if args.command == "query":
            return run_query(args.url, args.sql, args.limit, args.format)
        if args.command == "schema":
            return run_schema(args)
        if args.command == "inspect":
            return run_inspect(args.url, args.config, args.env, args.env_file, args.schema)
        return run_test(args.url, args.config, args.env, args.env_file)
    except SqlArrowError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: exit quietly (and keep Python from
        # complaining again when it flushes stdout at exit).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
