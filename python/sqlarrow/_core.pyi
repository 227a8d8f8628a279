"""Type stubs for the compiled extension ``sqlarrow._core``.

This module is private: users import from :mod:`sqlarrow`. The Python layer wraps
these classes; every blocking method here releases the GIL and turns Ctrl-C into a
server-side cancellation before re-raising :class:`KeyboardInterrupt`.
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, final

__version__: str
#: ``True`` when the extension was compiled without optimizations (a debug build).
DEBUG_BUILD: bool
#: Engines compiled into this build, e.g. ``["postgres", "sqlite"]``.
ENGINES: list[str]

Params = Sequence[Any] | Mapping[str, Any] | None

@final
class RawConnector:
    """A pooled connection to one database. Thread-safe; share it freely."""

    @staticmethod
    def postgres(
        *,
        host: str,
        port: int,
        database: str | None,
        user: str | None,
        password: str | None,
        pool_size: int,
        pool_timeout: float,
        sslmode: str,
        connect_timeout: float,
        application_name: str | None,
        sslrootcert: str | None = None,
        sslcert: str | None = None,
        sslkey: str | None = None,
        redshift: bool = False,
    ) -> RawConnector:
        """Create a PostgreSQL connector. No connection is opened until first use.

        ``sslmode`` follows libpq: ``disable``; ``allow``/``prefer`` (TLS when the server
        offers it, unverified); ``require`` (TLS, unverified); ``verify-ca`` (chain checked
        against ``sslrootcert`` or the Mozilla roots); ``verify-full`` (chain and host name).
        ``redshift=True`` speaks to Amazon Redshift: never ``COPY ... TO STDOUT``, session
        settings sent as ``SET`` after connecting, Redshift types (SUPER, VARBYTE, GEOMETRY).
        """

    @staticmethod
    def sqlite(*, path: str, pool_size: int, pool_timeout: float, read_only: bool) -> RawConnector:
        """Create a SQLite connector for a file path or ``":memory:"``."""

    @property
    def engine(self) -> str:
        """``"postgres"``, ``"redshift"``, ``"sqlite"``, ..."""

    def query(self, sql: str, params: Params = None, batch_size: int = 65536) -> RawResult:
        """Run a query and collect every record batch."""

    def stream(self, sql: str, params: Params = None, batch_size: int = 65536) -> RawStream:
        """Run a query and return a reader that yields batches as they are decoded."""

    def execute(self, sql: str, params: Params = None) -> int:
        """Run one statement and return the number of rows affected."""

    def executemany(self, sql: str, seq_of_params: Sequence[Params]) -> int:
        """Run one statement once per parameter set in a single transaction; return total rows affected."""

    def test_connection(self) -> dict[str, Any]:
        """Return ``{"ok", "latency_ms", "server_version", "error"}``; never raises for an unreachable server."""

    def pool_stats(self) -> dict[str, int]:
        """Return ``{"max_size", "size", "idle", "in_use", "waiting", "created", "closed"}``."""

    def close(self) -> None:
        """Close every pooled connection; later calls raise ``DatabaseConnectionError``."""

    @property
    def closed(self) -> bool: ...

@final
class RawResult:
    """A fully materialized query result: a list of Arrow record batches and their schema."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Export as an Arrow C stream PyCapsule (zero-copy; may be called many times)."""

    def __arrow_c_schema__(self) -> object:
        """Export the schema as an Arrow C schema PyCapsule."""

    @property
    def num_rows(self) -> int: ...
    @property
    def num_batches(self) -> int: ...
    @property
    def nbytes(self) -> int:
        """Total size of the Arrow buffers in bytes."""

    @property
    def column_names(self) -> list[str]: ...
    @property
    def execution_time_ms(self) -> float:
        """Wall time from sending the query to the last decoded batch."""

    def to_pylist(self) -> list[dict[str, Any]]:
        """Convert to a list of row dicts without pyarrow (Decimal, datetime, UUID, bytes)."""

@final
class RawStream:
    """A reader of record batches decoded in the background with bounded memory."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Export the remaining batches as an Arrow C stream PyCapsule (consumes the reader)."""

    def __arrow_c_schema__(self) -> object: ...
    def __iter__(self) -> Iterator[RawResult]: ...
    def __next__(self) -> RawResult:
        """The next batch, as a one-batch :class:`RawResult`."""

    @property
    def column_names(self) -> list[str]: ...
    def close(self) -> None:
        """Stop reading: cancels the query on the server and returns the connection to the pool."""

def rewrite_named_params(sql: str, engine: str) -> tuple[str, list[str]]:
    """Rewrite ``:name`` markers into the engine's native markers; returns (sql, names in order)."""

def split_url_password(url: str) -> tuple[str, str | None]:
    """Return (url with the password masked as ``***``, password or None)."""
