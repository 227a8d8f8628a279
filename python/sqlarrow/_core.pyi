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

_Params = Sequence[Any] | Mapping[str, Any] | None

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
        read_only: bool = False,
        statement_timeout: float | None = None,
        uuid_as: str = "arrow",
        scan_workers: int = 1,
        scan_min_bytes: int = 67108864,
        settings: list[tuple[str, str | int | float | bool]] | None = None,
    ) -> RawConnector:
        """Create a PostgreSQL connector. No connection is opened until first use.

        ``sslmode`` follows libpq: ``disable``; ``allow``/``prefer`` (TLS when the server
        offers it, unverified); ``require`` (TLS, unverified); ``verify-ca`` (chain checked
        against ``sslrootcert`` or the Mozilla roots); ``verify-full`` (chain and host name).
        ``redshift=True`` speaks to Amazon Redshift: never ``COPY ... TO STDOUT``, session
        settings sent as ``SET`` after connecting, Redshift types (SUPER, VARBYTE, GEOMETRY).
        ``scan_workers`` > 1 lets ``query`` read an unfiltered one-table ``SELECT`` over a table
        of at least ``scan_min_bytes`` in block ranges on that many pooled connections
        sharing one exported snapshot (forced to 1 for Redshift).
        ``settings``: (name, value) run-time parameters for every connection, sent in the
        startup ``options`` (Redshift: ``set_config`` after connecting); reserved names and
        malformed ones raise ``ConfigError``.
        """

    @staticmethod
    def mysql(
        *,
        host: str,
        port: int,
        database: str | None,
        user: str | None,
        password: str | None,
        pool_size: int,
        pool_timeout: float,
        ssl_mode: str,
        connect_timeout: float,
        ssl_ca: str | None = None,
        tinyint1_as_bool: bool = True,
        zero_date_as_null: bool = True,
        read_only: bool = False,
        statement_timeout: float | None = None,
        ssl_cert: str | None = None,
        ssl_key: str | None = None,
        scan_workers: int = 1,
        scan_min_rows: int = 1000000,
        time_as_duration: bool = False,
        settings: list[tuple[str, str | int | float | bool]] | None = None,
    ) -> RawConnector:
        """Create a MySQL / MariaDB connector. No connection is opened until first use.

        ``ssl_mode``: ``disabled``; ``preferred`` (TLS when the server offers it,
        unverified); ``required`` (TLS, unverified); ``verify_ca`` (chain checked against
        the Mozilla roots and ``ssl_ca``'s, not the host name); ``verify_identity`` (chain
        and host name). The libpq spellings (``disable``, ``prefer``, ``require``,
        ``verify-ca``, ``verify-full``) are accepted too. ``user=None`` means the ``USER``
        environment variable (else ``root``). ``settings``: (name, value) session
        variables set on every connection as it opens (one ``SET SESSION``).

        Every session runs with ``time_zone='+00:00'`` and utf8mb4, so TIMESTAMP columns
        come back as ``timestamp[us, UTC]`` and DATETIME as ``timestamp[us]``.
        ``tinyint1_as_bool``: ``TINYINT(1)``/``BOOL`` columns as Arrow bool (else int8).
        ``zero_date_as_null``: ``0000-00-00`` dates (and partial zero dates, YEAR 0000)
        read as NULL; when False they raise ``DataError``. TIME columns read as
        ``time64[us]``, where values outside 00:00:00-23:59:59.999999 raise ``DataError``;
        ``time_as_duration=True`` reads them as ``duration[us]`` (their whole range).
        Parameters use ``?`` markers (or ``:name`` with a mapping) and are always bound
        through prepared statements. Ctrl-C runs ``KILL QUERY`` on a side connection.
        ``scan_workers`` > 1 lets ``query`` read an unfiltered one-table ``SELECT`` over an
        InnoDB table of at least ``scan_min_rows`` (estimated) rows whose primary key
        starts with an integer column as that many key ranges at once, all from one
        snapshot (taken under a brief ``LOCK TABLES ... READ``).
        """

    @staticmethod
    def sqlite(
        *,
        path: str,
        pool_size: int,
        pool_timeout: float,
        read_only: bool,
        statement_timeout: float | None = None,
        settings: list[tuple[str, str | int | float | bool]] | None = None,
    ) -> RawConnector:
        """Create a SQLite connector for a file path or ``":memory:"``; ``settings`` are
        PRAGMAs run on every connection as it opens."""

    @property
    def engine(self) -> str:
        """``"postgres"``, ``"redshift"``, ``"sqlite"``, ..."""

    def query(
        self,
        sql: str,
        params: _Params = None,
        batch_size: int = 65536,
        timeout: float | None = None,
        partition_on: str | None = None,
        partitions: int = 4,
    ) -> RawResult:
        """Run a query and collect every record batch. With ``partition_on`` (an integer
        column of the result), the query is split into up to ``partitions`` value ranges
        read concurrently on separate pooled connections, joined in range order."""

    def stream(
        self,
        sql: str,
        params: _Params = None,
        batch_size: int = 65536,
        timeout: float | None = None,
    ) -> RawStream:
        """Run a query and return a reader that yields batches as they are decoded."""

    @property
    def read_only(self) -> bool: ...
    def execute(self, sql: str, params: _Params = None, timeout: float | None = None) -> int:
        """Run one statement and return the number of rows affected."""

    def executemany(self, sql: str, seq_of_params: Sequence[_Params]) -> int:
        """Run one statement once per parameter set in a single transaction.

        Returns the total number of rows affected.
        """

    def write(
        self,
        table: str,
        data: object,
        mode: str = "append",
        key: Sequence[str] | None = None,
        create_if_missing: bool = True,
        column_map: Mapping[str, str] | None = None,
        batch_size: int | None = None,
        on_error: str = "raise",
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Bulk-write ``data`` into ``table``.

        ``timeout`` (seconds) bounds the whole write; without it, the connector's
        ``statement_timeout``. On expiry the server is asked to cancel and the write
        rolls back (``QueryTimeoutError``).

        ``data`` is anything with ``__arrow_c_stream__`` or ``__arrow_c_array__``.

        ``table`` is ``"name"`` or ``"schema.name"`` (double-quote parts with dots).
        ``mode``: ``append`` (create the table first when missing and ``create_if_missing``),
        ``create`` (fail if it exists), ``replace`` (atomically swap the rows). PostgreSQL
        uses binary ``COPY FROM STDIN``; SQLite one prepared INSERT in one transaction.
        Returns ``{"rows_written", "rows_updated", "rows_failed", "execution_time_ms",
        "warnings"}`` plus ``"failed"`` (a :class:`RawResult`) with ``on_error="skip"``.
        """

    def begin(self, isolation: str | None = None, read_only: bool = False) -> RawTransaction:
        """Begin a transaction on a connection pinned until commit/rollback."""

    def test_connection(self) -> dict[str, Any]:
        """Return ``{"ok", "latency_ms", "server_version", "error"}``.

        Never raises for an unreachable server.
        """

    def pool_stats(self) -> dict[str, int]:
        """Return ``{"max_size", "size", "idle", "in_use", "waiting", "created", "closed"}``."""

    def close(self) -> None:
        """Close every pooled connection; later calls raise ``DatabaseConnectionError``."""

    # -- introspection and DDL (canonical schemas travel as JSON; see sqlarrow.schema) --
    def list_schemas(self) -> list[str]:
        """Schema names (PostgreSQL: user schemas; SQLite: attached databases)."""

    def list_tables(self, schema: str | None = None) -> list[dict[str, str]]:
        """``[{"schema", "name", "kind"}]`` for tables and views; kind is ``table``, ``view``,
        ``materialized_view``, ``foreign_table`` or ``partitioned_table``."""

    def table_exists(self, table: str | Sequence[str], schema: str | None = None) -> bool:
        """Whether the table or view exists. A str ``schema.table`` is split on dots outside
        double quotes; a sequence of parts is taken literally (``["a.b"]``)."""

    def get_schema(self, table: str | Sequence[str], schema: str | None = None) -> str:
        """The table's canonical schema as JSON (keys, indexes, estimated rows from
        statistics); ``table`` as for :meth:`table_exists`."""

    def create_table(
        self,
        table: str | Sequence[str],
        schema_json: str,
        if_not_exists: bool = False,
        widen_unsigned: bool = False,
        text_fallback: bool = False,
    ) -> list[str]:
        """Create a table from schema JSON in one transaction; returns the statements run."""

    def apply(
        self,
        diff_json: str,
        table: str | Sequence[str],
        allow_destructive: bool = False,
        dry_run: bool = False,
        widen_unsigned: bool = False,
        text_fallback: bool = False,
    ) -> list[str]:
        """Apply a schema diff (JSON from ``schema_diff``) in one transaction; returns the
        statements (only renders them when ``dry_run``)."""

    @property
    def closed(self) -> bool: ...

@final
class RawTransaction:
    """An open transaction on one pinned connection; dropped while open: rolled back."""

    def query(
        self,
        sql: str,
        params: _Params = None,
        batch_size: int = 65536,
        timeout: float | None = None,
    ) -> RawResult:
        """Run a query in the transaction; ``timeout`` (else the connector's statement
        timeout) cancels it on the server when it fires."""

    def stream(
        self,
        sql: str,
        params: _Params = None,
        batch_size: int = 65536,
        timeout: float | None = None,
    ) -> RawStream:
        """Stream a query on the transaction's connection, which the stream holds until it
        is read to the end or closed (closing early drains the rest on PostgreSQL and
        MySQL; the transaction goes on)."""

    def execute(self, sql: str, params: _Params = None, timeout: float | None = None) -> int:
        """Run one statement in the transaction, under ``timeout`` as for ``query``."""

    def write(
        self,
        table: str,
        data: object,
        mode: str = "append",
        key: Sequence[str] | None = None,
        create_if_missing: bool = True,
        column_map: Mapping[str, str] | None = None,
        batch_size: int | None = None,
        on_error: str = "raise",
        timeout: float | None = None,
    ) -> dict[str, Any]: ...
    def savepoint(self, name: str) -> None: ...
    def release_savepoint(self, name: str) -> None: ...
    def rollback_to_savepoint(self, name: str) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    @property
    def active(self) -> bool: ...
    @property
    def engine(self) -> str: ...

@final
class RawResult:
    """A fully materialized query result: a list of Arrow record batches and their schema."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Export as an Arrow C stream PyCapsule (zero-copy; may be called many times)."""

    def __arrow_c_schema__(self) -> object:
        """Export the schema as an Arrow C schema PyCapsule."""

    def for_polars(self) -> RawResult:
        """The result in types polars can import (intervals without months as
        ``duration[ns]``); raises ``UnsupportedTypeError`` naming a column polars cannot
        take (intervals with months, ``decimal256``)."""

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
    @property
    def warnings(self) -> list[str]:
        """The server's warnings about the statement (MySQL ``SHOW WARNINGS``,
        PostgreSQL notices), at most 64 lines."""

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
    @property
    def warnings(self) -> list[str]:
        """The server's warnings about the statement, complete once every batch was read."""

    def close(self) -> None:
        """Stop reading: cancels the query on the server; returns once the connection is back
        in the pool (at most a few seconds)."""

def check_read_only(sql: str, engine: str) -> None:
    """Raise ``ReadOnlyViolation`` unless ``sql`` is one read statement (engine's dialect)."""

def rewrite_named_params(sql: str, engine: str) -> tuple[str, list[str]]:
    """Rewrite ``:name`` markers into the engine's native markers; returns (sql, names in order)."""

def split_url_password(url: str) -> tuple[str, str | None]:
    """Return (url with the password masked as ``***``, password or None)."""

# -- canonical schema helpers (wrapped by sqlarrow.schema) --------------------------------

@final
class ArrowSchema:
    """An Arrow schema exported through the PyCapsule interface."""

    def __arrow_c_schema__(self) -> object: ...
    @property
    def names(self) -> list[str]: ...

def schema_parse_type(type_str: str) -> str:
    """Normalize a canonical type string; raises ``ConfigError`` when invalid."""

def schema_normalize(json: str) -> str:
    """Validate schema JSON and return its compact normal form."""

def schema_to_ddl(
    json: str,
    dialect: str,
    table: str | Sequence[str],
    if_not_exists: bool = False,
    widen_unsigned: bool = False,
    text_fallback: bool = False,
) -> str: ...
def schema_from_arrow(obj: object) -> str:
    """Schema JSON inferred from an object with ``__arrow_c_schema__`` or ``__arrow_c_stream__``."""

def schema_to_arrow(json: str) -> ArrowSchema: ...
def schema_diff(old_json: str, new_json: str) -> str: ...
def diff_accept_rename(diff: str, old_name: str, new_name: str) -> str: ...
def diff_to_sql(
    diff: str,
    dialect: str,
    table: str | Sequence[str],
    widen_unsigned: bool = False,
    text_fallback: bool = False,
) -> list[str]: ...
