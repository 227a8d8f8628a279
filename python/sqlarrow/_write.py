"""Bulk writes: the result type and input normalization."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ._result import QueryResult
from .exceptions import ConfigError

WRITE_MODES = ("append", "replace", "create", "upsert", "update")
ON_ERROR = ("raise", "skip")


def check_table_arg(table: Any, data: Any) -> None:
    """``write``'s first argument is the table's name. pandas' ``to_sql`` and polars'
    ``write_database`` are methods of the data, so the data passed first is a likely
    slip: say so instead of only that a str was expected."""
    if isinstance(table, str) and table:
        return
    if isinstance(table, str):
        raise ConfigError("table must be a non-empty str")
    if isinstance(data, str) and (
        hasattr(table, "__arrow_c_stream__") or hasattr(table, "__arrow_c_array__")
    ):
        raise ConfigError(
            f"table must be a str, not {type(table).__name__}: the arguments are "
            f"write(table, data), with the table's name first (got the data first)"
        )
    raise ConfigError(f"table must be a non-empty str, not {type(table).__name__}")


def check_on_error(on_error: Any) -> str:
    if on_error not in ON_ERROR:
        raise ConfigError(f'on_error must be "raise" or "skip", not {on_error!r}')
    return str(on_error)


@dataclass(frozen=True)
class WriteResult:
    """What :meth:`Connector.write` did."""

    rows_written: int
    rows_updated: int
    rows_failed: int
    execution_time_ms: float
    #: Notes on how the write ran, e.g. MySQL's fallback from ``LOAD DATA LOCAL INFILE``
    #: to multi-row INSERTs when the server forbids local infile (also logged as warnings
    #: on the ``sqlarrow`` logger).
    warnings: tuple[str, ...] = field(default=())
    #: With ``on_error="skip"``: the rejected input rows plus a ``_sqlarrow_error``
    #: reason column (a :class:`~sqlarrow.QueryResult`: ``to_arrow()``,
    #: ``__arrow_c_stream__``); None otherwise.
    failed: QueryResult | None = field(default=None, compare=False)


def arrow_input(data: Any) -> Any:
    """Return an object the core can read as Arrow: anything exposing
    ``__arrow_c_stream__`` / ``__arrow_c_array__`` as is; a pandas DataFrame without
    them (pandas < 2.2) through pyarrow; a list of dicts through pyarrow."""
    type_name = f"{type(data).__module__}.{type(data).__qualname__}"
    if type_name == "polars.dataframe.frame.DataFrame":
        data = _polars_without_int128(data)
        if _has_polars_null(data):
            return _polars_with_nulls(data)
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        return data
    if type_name.startswith("pandas.") or isinstance(data, list):
        try:
            import pyarrow as pa
        except ImportError as exc:  # pragma: no cover - exercised without pyarrow
            from .exceptions import MissingDependencyError

            raise MissingDependencyError(
                f"writing a {type_name} needs pyarrow: pip install 'sqlarrow[pyarrow]'"
            ) from exc
        if isinstance(data, list):
            return pa.Table.from_pylist(data)
        return pa.Table.from_pandas(data, preserve_index=False)
    raise ConfigError(
        f"data must be an Arrow table, record batch or stream (anything with "
        f"__arrow_c_stream__: pyarrow, polars, pandas >= 2.2, DuckDB), not {type_name}"
    )


def _polars_without_int128(df: Any) -> Any:
    """polars exports ``Int128``/``UInt128`` columns in a format of its own
    (``_pli128``) that the Arrow C data interface does not define; as ``Decimal(38, 0)``
    they keep every value up to 38 digits and write as ``NUMERIC(38,0)``/``DECIMAL(38,0)``.
    A larger value is a DataError naming the column, not a cut."""
    wide = [n for n, t in zip(df.columns, df.dtypes) if str(t) in ("Int128", "UInt128")]
    if not wide:
        return df
    import polars as pl

    try:
        return df.with_columns(pl.col(n).cast(pl.Decimal(38, 0), strict=True) for n in wide)
    except pl.exceptions.PolarsError as exc:
        from .exceptions import DataError

        raise DataError(
            f"polars {', '.join(repr(n) for n in wide)}: a 128-bit integer column is "
            f"written as DECIMAL(38, 0), and a value has more than 38 digits "
            f"({str(exc).splitlines()[0]})"
        ) from exc


def _has_polars_null(df: Any) -> bool:
    """Whether a polars DataFrame has a column of dtype ``Null`` (at any depth)."""
    return any("Null" in str(dtype) for dtype in df.dtypes)


def _polars_with_nulls(df: Any) -> Any:
    """polars exports a ``Null`` column with a buffer the Arrow C data interface does
    not have, which the core's reader refuses ("doesn't expect buffer at index 0");
    pyarrow's export of the same data is to the letter."""
    try:
        return df.to_arrow()
    except ImportError as exc:
        from .exceptions import MissingDependencyError

        raise MissingDependencyError(
            "writing a polars DataFrame with a Null-typed column needs pyarrow "
            "(pip install 'sqlarrow[pyarrow]'), or cast the column to its type first"
        ) from exc


_log = logging.getLogger("sqlarrow")


def rereadable(data: Any) -> bool:
    """Whether exporting ``data`` again yields the same rows (a materialized table,
    batch or DataFrame), so a failed write may be retried from the start. Readers and
    streams are consumed by the first attempt and are never retried."""
    name = f"{type(data).__module__}.{type(data).__qualname__}"
    if any(word in name for word in ("Reader", "Stream", "Iterator", "Generator", "Cursor")):
        return False
    return name in {
        "pyarrow.lib.Table",
        "pyarrow.lib.RecordBatch",
        "polars.dataframe.frame.DataFrame",
        "pandas.core.frame.DataFrame",
        "sqlarrow._result.QueryResult",
        "sqlarrow._core.RawResult",
    }


def to_result(raw: dict[str, Any]) -> WriteResult:
    warnings = tuple(str(w) for w in raw.get("warnings", ()))
    for w in warnings:
        _log.warning("write: %s", w)
    return WriteResult(
        rows_written=int(raw["rows_written"]),
        rows_updated=int(raw["rows_updated"]),
        rows_failed=int(raw["rows_failed"]),
        execution_time_ms=float(raw["execution_time_ms"]),
        warnings=warnings,
        failed=QueryResult(raw["failed"]) if raw.get("failed") is not None else None,
    )
