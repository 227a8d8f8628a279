"""Shared configuration of the benchmark suite: connection URLs, datasets, checksums.

Imported by ``run.py`` (orchestrator), ``datagen.py`` (data generation) and
``worker.py`` (one measured operation per process). Only the standard library and
pyarrow are imported at module level so that a worker's import cost stays small
and identical for every tool.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR", BENCH_DIR / "data"))

DB_NAME = "sqlarrow_bench"

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
MY_HOST = os.environ.get("BENCH_MY_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("BENCH_MY_PORT", "3306"))
MY_USER = os.environ.get("BENCH_MY_USER", "root")

SQLITE_PATH = DATA_DIR / f"{DB_NAME}.sqlite"

# Bump when the generator changes: the marker rows then no longer match and the
# data is regenerated.
GEN_VERSION = 1
SEED = 20240601

ENGINES = ("pg", "sqlite", "mariadb")
OPS = ("read", "stream", "partitioned", "write", "latency", "threads")
# Connections (or partitions) of the partitioned read.
PARTITIONS = 2
# The column a partitioned read splits on, per dataset (for tools that need one).
PARTITION_COLUMN = {"mixed": "id", "ints": "a", "lineitem": "l_orderkey"}
DATASETS = ("mixed", "ints", "lineitem")


def pg_url(db: str = DB_NAME) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def url(engine: str, flavor: str = "native") -> str:
    """Connection URL of ``engine`` in the dialect a tool expects.

    flavor: ``native`` (sqlarrow, ADBC), ``cx`` (connectorx, polars), ``sqlalchemy``.
    """
    if engine == "pg":
        if flavor == "sqlalchemy":
            return f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{DB_NAME}"
        return pg_url()
    if engine == "sqlite":
        path = str(SQLITE_PATH)
        if flavor == "sqlalchemy":
            return f"sqlite:///{path}"
        if flavor == "cx":
            return f"sqlite://{path}"
        if flavor == "adbc":
            return f"file:{path}"
        return f"sqlite:///{path}"  # sqlite:////abs/path (path starts with /)
    if engine == "mariadb":
        if flavor == "sqlalchemy":
            return f"mysql+pymysql://{MY_USER}@{MY_HOST}:{MY_PORT}/{DB_NAME}"
        return f"mysql://{MY_USER}@{MY_HOST}:{MY_PORT}/{DB_NAME}"
    raise ValueError(engine)


# --------------------------------------------------------------------------- datasets


def dataset_size(name: str, quick: bool) -> dict[str, Any]:
    """Size parameters of a dataset at the chosen scale, and its table name."""
    if name == "mixed":
        rows = 200_000 if quick else 2_000_000
        return {"rows": rows, "table": f"mixed_{rows}"}
    if name == "ints":
        rows = 1_000_000 if quick else 10_000_000
        return {"rows": rows, "table": f"ints_{rows}"}
    if name == "lineitem":
        sf = 0.1 if quick else 1.0
        tag = f"{sf:g}".replace(".", "_")
        return {"sf": sf, "table": f"lineitem_sf{tag}"}
    raise ValueError(name)


def write_rows(quick: bool) -> int:
    """Rows written by the write benchmark (a prefix of the dataset)."""
    return 100_000 if quick else 1_000_000


# Columns that ride along as a correctness checksum: (name, kind). kind is one of
# int (sum of values), float (sum, compared with a relative tolerance), bool (count
# of true), strlen (sum of UTF-8 lengths). Null counts are compared too.
CHECKSUM_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "mixed": [
        ("id", "int"),
        ("i32", "int"),
        ("f64", "float"),
        ("txt_short", "strlen"),
        ("flag", "bool"),
    ],
    "ints": [("a", "int"), ("b", "int"), ("c", "float")],
    "lineitem": [("l_orderkey", "int"), ("l_linenumber", "int"), ("l_comment", "strlen")],
}

# Order of the generated rows (the write benchmark writes a prefix in this order).
ORDER_BY = {"mixed": "id", "ints": "a", "lineitem": "l_orderkey, l_linenumber"}

# The column the threads benchmark filters on (indexed in every engine).
POINT_QUERY = "SELECT * FROM {table} WHERE id > {lo} AND id <= {hi}"
POINT_QUERY_ROWS = 100


# --------------------------------------------------------------------------- checksum


class Checksum:
    """Accumulates per-column sums and null counts over tables or record batches."""

    def __init__(self, columns: list[tuple[str, str]]):
        self.columns = columns
        self.values: dict[str, list[Any]] = {c: [0, 0] for c, _ in columns}

    def add(self, data: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        names = {n.lower(): i for i, n in enumerate(data.schema.names)}
        for col, kind in self.columns:
            idx = names.get(col)
            if idx is None:
                self.values[col] = ["missing", "missing"]
                continue
            arr = data.column(idx)
            if pa.types.is_dictionary(arr.type):
                arr = arr.cast(arr.type.value_type)
            nulls = arr.null_count
            if kind == "strlen":
                if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
                    arr = arr.cast(pa.large_string())
                arr = pc.utf8_length(arr)
            elif kind == "bool":
                arr = arr.cast(pa.int64())
            if kind in ("int", "bool", "strlen"):
                if not pa.types.is_integer(arr.type):
                    arr = arr.cast(pa.int64())  # float64 from pandas for ints with NULLs
                arr = arr.cast(pa.int64())
            else:
                arr = arr.cast(pa.float64())
            s = pc.sum(arr).as_py() or 0
            cur = self.values[col]
            if cur[0] == "missing":
                continue
            cur[0] += nulls
            cur[1] += s

    def result(self) -> dict[str, list[Any]]:
        return self.values


def checksums_match(
    a: dict[str, Any] | None, b: dict[str, Any] | None, rel_tol: float = 1e-9
) -> bool:
    """Compare two checksum dicts; float sums with a relative tolerance."""
    if a is None or b is None:
        return True  # nothing to compare
    if set(a) != set(b):
        return False
    for k in a:
        va, vb = a[k], b[k]
        if isinstance(va, list) and isinstance(vb, list):
            for x, y in zip(va, vb):
                if isinstance(x, float) or isinstance(y, float):
                    try:
                        if abs(float(x) - float(y)) > rel_tol * max(
                            1.0, abs(float(x)), abs(float(y))
                        ):
                            return False
                    except (TypeError, ValueError):
                        return False
                elif x != y:
                    return False
        elif va != vb:
            return False
    return True
