"""Query results: :class:`QueryResult`, :class:`RecordBatchStream` and status records.

Results are Arrow data owned by the compiled core. They implement the Arrow
PyCapsule interface (``__arrow_c_stream__`` / ``__arrow_c_schema__``), so pyarrow,
polars, DuckDB, pandas and any other Arrow consumer read them without a copy.
pyarrow, pandas and polars are optional and imported only when a method needs them.
"""

from __future__ import annotations

import dataclasses
import html
import time
import warnings as _warnings
from collections.abc import Iterator, Sequence
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from .exceptions import ConfigError, DatabaseWarning, InterfaceError, MissingDependencyError

if TYPE_CHECKING:
    from ._core import RawResult, RawStream

__all__ = ["ConnectionStatus", "PoolStats", "QueryResult", "RecordBatchStream"]

_HTML_MAX_ROWS = 20
_DTYPE_BACKENDS = ("numpy_nullable", "pyarrow")


def _arrow_table(pa: Any, raw: Any) -> Any:
    """Import a C stream as a ``pyarrow.Table``. ``RecordBatchReader.from_stream``
    (pyarrow >= 15) avoids ``pa.table()``'s pandas probe, which imports pandas (about
    0.2 s) the first time it sees a foreign object."""
    reader_cls = pa.RecordBatchReader
    if hasattr(reader_cls, "from_stream"):
        return reader_cls.from_stream(raw).read_all()
    return pa.table(raw)


def _import_optional(module: str, extra: str) -> ModuleType:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is required for this method: pip install 'sqlarrow[{extra}]'",
            module=module,
            extra=extra,
        ) from exc


def _pyarrow_or_none() -> ModuleType | None:
    try:
        import pyarrow
    except ImportError:
        return None
    module: ModuleType = pyarrow
    return module


class _ResultSource(Protocol):
    """What :class:`QueryResult` needs from its data (a ``RawResult`` or a collection)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    @property
    def num_rows(self) -> int: ...
    @property
    def num_batches(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    @property
    def execution_time_ms(self) -> float: ...
    @property
    def warnings(self) -> list[str]: ...
    def to_pylist(self) -> list[dict[str, Any]]: ...
    def for_polars(self) -> _ResultSource: ...


def warn_server(lines: Sequence[str], stacklevel: int = 3) -> None:
    """Report the server's warnings about a statement as :class:`DatabaseWarning`."""
    for line in lines:
        _warnings.warn(f"the server warned: {line}", DatabaseWarning, stacklevel=stacklevel)


class _SchemaInfo:
    """The schema of a result when pyarrow is not installed."""

    __slots__ = ("_source", "names")

    def __init__(self, source: _ResultSource) -> None:
        self._source = source
        self.names: list[str] = list(source.column_names)

    def __arrow_c_schema__(self) -> object:
        return self._source.__arrow_c_schema__()

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"<sqlarrow schema {self.names!r}>"


class QueryResult:
    """A fully materialized query result (Arrow record batches).

    Consume it with :meth:`to_arrow`, :meth:`to_pandas`, :meth:`to_polars`,
    :meth:`to_pylist`, or hand it directly to any library that reads the Arrow
    PyCapsule interface (``pyarrow.table(result)``, ``polars.DataFrame(result)``,
    ``duckdb.sql("select * from result")``).
    """

    __slots__ = ("__weakref__", "_raw", "_schema")

    def __init__(self, raw: _ResultSource) -> None:
        self._raw = raw
        self._schema: Any = None

    # -- Arrow PyCapsule interface ------------------------------------------------
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._raw.__arrow_c_stream__(requested_schema)

    def __arrow_c_schema__(self) -> object:
        return self._raw.__arrow_c_schema__()

    # -- metadata -----------------------------------------------------------------
    @property
    def schema(self) -> Any:
        """A ``pyarrow.Schema`` when pyarrow is installed, else an object with ``names``."""
        if self._schema is None:
            pa = _pyarrow_or_none()
            self._schema = pa.schema(self._raw) if pa is not None else _SchemaInfo(self._raw)
        return self._schema

    @property
    def num_rows(self) -> int:
        return self._raw.num_rows

    @property
    def num_batches(self) -> int:
        return self._raw.num_batches

    def __len__(self) -> int:
        return self._raw.num_rows

    @property
    def column_names(self) -> list[str]:
        return list(self._raw.column_names)

    @property
    def nbytes(self) -> int:
        """Total size of the Arrow buffers in bytes."""
        return self._raw.nbytes

    @property
    def execution_time_ms(self) -> float:
        """Wall time from sending the query to the last decoded batch, in milliseconds."""
        return self._raw.execution_time_ms

    @property
    def warnings(self) -> tuple[str, ...]:
        """The server's warnings about the statement (MySQL/MariaDB ``SHOW WARNINGS``,
        as ``"Warning 1292: ..."``; PostgreSQL notices, as ``"NOTICE 00000: ..."``),
        at most 64 lines; empty when there were none. They are also emitted as
        :class:`~sqlarrow.DatabaseWarning`."""
        return tuple(self._raw.warnings)

    # -- conversions --------------------------------------------------------------
    def to_arrow(self) -> Any:
        """Return a ``pyarrow.Table`` (zero copy)."""
        pa = _import_optional("pyarrow", "pyarrow")
        return _arrow_table(pa, self._raw)

    def to_pandas(self, dtype_backend: str = "numpy_nullable") -> Any:
        """Return a ``pandas.DataFrame`` with nullable dtypes.

        Args:
            dtype_backend: ``"numpy_nullable"`` (pandas' ``Int64``, ``boolean``,
                ``Float64``, ``string`` extension dtypes) or ``"pyarrow"``
                (``pd.ArrowDtype`` columns, zero copy).
        """
        if dtype_backend not in _DTYPE_BACKENDS:
            raise ConfigError(
                f"dtype_backend must be one of {', '.join(_DTYPE_BACKENDS)}, got {dtype_backend!r}"
            )
        pd = _import_optional("pandas", "pandas")
        pa = _import_optional("pyarrow", "pandas")
        table = _arrow_table(pa, self._raw)
        if dtype_backend == "pyarrow":
            return table.to_pandas(types_mapper=pd.ArrowDtype)
        return table.to_pandas(types_mapper=_nullable_mapper(pa, pd))

    def to_polars(self) -> Any:
        """Return a ``polars.DataFrame`` (zero copy; pyarrow is not needed).

        polars has no interval type: PostgreSQL ``interval`` columns arrive as
        ``Duration`` (a day counted as 24 hours) unless a value has months, which raises
        :class:`~sqlarrow.UnsupportedTypeError`, as does a decimal wider than polars' 38
        digits (polars itself would panic on both). Two columns of one name raise
        :class:`~sqlarrow.InterfaceError` (polars' own ``DuplicateError`` said less)."""
        pl = _import_optional("polars", "polars")
        seen: set[str] = set()
        for name in self.column_names:
            if name in seen:
                raise InterfaceError(
                    f"the result has more than one column named {name!r}, which a polars "
                    "DataFrame cannot hold: give the columns distinct names in SQL (e.g. "
                    "`a.id AS a_id`), or use to_arrow() / to_pandas(), which keep them all"
                )
            seen.add(name)
        # (pl.from_arrow would read a bare C stream as one struct Series.)
        return pl.DataFrame(self._raw.for_polars())

    def to_pylist(self) -> list[dict[str, Any]]:
        """Return the rows as dicts (``Decimal``, ``datetime``, ``UUID``, ``bytes``, ``None``).

        Works without pyarrow. Raises :class:`~sqlarrow.InterfaceError` when two columns
        share a name (a dict would keep only one of them): alias them in SQL.
        """
        return self._raw.to_pylist()

    # -- display ------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"<QueryResult rows={self.num_rows} columns={self.column_names!r} "
            f"time={self.execution_time_ms:.2f} ms>"
        )

    def _head_rows(self, n: int) -> list[dict[str, Any]]:
        if not self.num_rows:
            return []
        pa = _pyarrow_or_none()
        if pa is not None and self.num_rows > 50 * n:
            # Large result: convert only the first rows (zero-copy slice).
            head: list[dict[str, Any]] = _arrow_table(pa, self._raw).slice(0, n).to_pylist()
            return head
        return self.to_pylist()[:n]

    def _repr_html_(self) -> str:
        names = self.column_names
        rows = self._head_rows(_HTML_MAX_ROWS)
        esc = html.escape
        head = "".join(f"<th>{esc(n)}</th>" for n in names)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(_cell(row.get(n)))}</td>" for n in names) + "</tr>"
            for row in rows
        )
        more = self.num_rows - len(rows)
        footer = (
            f"<p>{self.num_rows} rows x {len(names)} columns, "
            f"{self.execution_time_ms:.2f} ms"
            + (f" (showing first {len(rows)}; {more} more)" if more > 0 else "")
            + "</p>"
        )
        return (
            f'<table class="dataframe sqlarrow"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{footer}"
        )


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)


def _nullable_mapper(pa: ModuleType, pd: ModuleType) -> Any:
    mapping = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.float32(): pd.Float32Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.string(): pd.StringDtype(),
        pa.large_string(): pd.StringDtype(),
    }
    string_view = getattr(pa, "string_view", None)
    if string_view is not None:
        mapping[string_view()] = pd.StringDtype()

    def mapper(arrow_type: Any) -> Any:
        found = mapping.get(arrow_type)
        if found is not None:
            return found
        # Extension types over text (arrow.json) become strings too.
        extension = getattr(pa, "BaseExtensionType", pa.ExtensionType)
        if isinstance(arrow_type, extension) and arrow_type.extension_name == "arrow.json":
            return pd.StringDtype()
        return None

    return mapper


class _CollectedResult:
    """The batches left in a stream, collected by :meth:`RecordBatchStream.read_all`."""

    def __init__(self, chunks: list[RawResult], stream: RawStream, elapsed_ms: float) -> None:
        self._chunks = chunks
        self._stream = stream
        self._elapsed_ms = elapsed_ms
        self._names = list(stream.column_names)
        self._table: Any = None

    def _arrow_table(self) -> Any:
        if self._table is None:
            pa = _import_optional("pyarrow", "pyarrow")
            schema = pa.schema(self._chunks[0]) if self._chunks else pa.schema(self._stream)
            batches = [b for chunk in self._chunks for b in _arrow_table(pa, chunk).to_batches()]
            self._table = pa.Table.from_batches(batches, schema=schema)
        return self._table

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        if len(self._chunks) == 1:
            return self._chunks[0].__arrow_c_stream__(requested_schema)
        if len(self._chunks) > 1 or _pyarrow_or_none() is not None:
            return self._arrow_table().__arrow_c_stream__(requested_schema)
        # No batches and no pyarrow: the exhausted reader exports an empty stream.
        return self._stream.__arrow_c_stream__(requested_schema)

    def __arrow_c_schema__(self) -> object:
        if self._chunks:
            return self._chunks[0].__arrow_c_schema__()
        return self._stream.__arrow_c_schema__()

    @property
    def num_rows(self) -> int:
        return sum(c.num_rows for c in self._chunks)

    @property
    def num_batches(self) -> int:
        return sum(c.num_batches for c in self._chunks)

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._chunks)

    @property
    def column_names(self) -> list[str]:
        return list(self._names)

    @property
    def execution_time_ms(self) -> float:
        return self._elapsed_ms

    def to_pylist(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for chunk in self._chunks:
            rows.extend(chunk.to_pylist())
        return rows

    def for_polars(self) -> _CollectedResult:
        return _CollectedResult(
            [c.for_polars() for c in self._chunks], self._stream, self._elapsed_ms
        )

    @property
    def warnings(self) -> list[str]:
        return list(self._stream.warnings)


class RecordBatchStream:
    """Record batches decoded in the background while you consume them (bounded memory).

    Iterating yields ``pyarrow.RecordBatch`` objects when pyarrow is installed, else
    one-batch :class:`QueryResult` objects. The stream also implements
    ``__arrow_c_stream__``, so ``pyarrow.RecordBatchReader.from_stream(stream)`` or
    ``polars.DataFrame(stream)`` consume it directly. Close it (or use ``with``) to
    stop early: the query is cancelled on the server.
    """

    __slots__ = ("__weakref__", "_closed", "_raw")

    def __init__(self, raw: RawStream) -> None:
        self._raw = raw
        self._closed = False

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        self._check_open()
        return self._raw.__arrow_c_stream__(requested_schema)

    def __arrow_c_schema__(self) -> object:
        return self._raw.__arrow_c_schema__()

    @property
    def schema(self) -> Any:
        """A ``pyarrow.Schema`` when pyarrow is installed, else an object with ``names``."""
        pa = _pyarrow_or_none()
        if pa is not None:
            return pa.schema(self._raw)
        return _StreamSchemaInfo(self._raw)

    @property
    def column_names(self) -> list[str]:
        return list(self._raw.column_names)

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the stream is closed")

    @property
    def warnings(self) -> tuple[str, ...]:
        """The server's warnings about the statement (MySQL/MariaDB ``SHOW
        WARNINGS``), complete once every batch was read; also emitted then as
        :class:`~sqlarrow.DatabaseWarning` (when iterating or by :meth:`read_all`)."""
        return tuple(self._raw.warnings)

    def __iter__(self) -> Iterator[Any]:
        self._check_open()
        pa = _pyarrow_or_none()
        for chunk in self._raw:
            if pa is None:
                yield QueryResult(chunk)
            else:
                yield from _arrow_table(pa, chunk).to_batches()
        warn_server(self._raw.warnings)

    def read_all(self) -> QueryResult:
        """Collect every remaining batch into one :class:`QueryResult`."""
        self._check_open()
        start = time.perf_counter()
        chunks = list(self._raw)
        elapsed = (time.perf_counter() - start) * 1000.0
        warn_server(self._raw.warnings)
        return QueryResult(_CollectedResult(chunks, self._raw, elapsed))

    def close(self) -> None:
        """Stop reading; cancels the query if it is still running. Idempotent."""
        if not self._closed:
            self._closed = True
            self._raw.close()

    def __enter__(self) -> RecordBatchStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<RecordBatchStream {state} columns={self.column_names!r}>"


class _StreamSchemaInfo:
    __slots__ = ("_raw", "names")

    def __init__(self, raw: RawStream) -> None:
        self._raw = raw
        self.names: list[str] = list(raw.column_names)

    def __arrow_c_schema__(self) -> object:
        return self._raw.__arrow_c_schema__()

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"<sqlarrow schema {self.names!r}>"


@dataclasses.dataclass(frozen=True)
class ConnectionStatus:
    """The outcome of :meth:`Connector.test_connection`. Truthy when ``ok``."""

    ok: bool
    latency_ms: float | None
    server_version: str | None
    error: str | None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> ConnectionStatus:
        return cls(
            ok=bool(data.get("ok", False)),
            latency_ms=data.get("latency_ms"),
            server_version=data.get("server_version"),
            error=data.get("error"),
        )

    def __bool__(self) -> bool:
        return self.ok


@dataclasses.dataclass(frozen=True)
class PoolStats:
    """A snapshot of a connector's pool."""

    max_size: int
    size: int
    idle: int
    in_use: int
    waiting: int
    created: int
    closed: int

    @classmethod
    def _from_dict(cls, data: dict[str, int]) -> PoolStats:
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{name: int(data.get(name, 0)) for name in names})
