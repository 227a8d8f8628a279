"""Connectors: the public, validated Python face of ``sqlarrow._core.RawConnector``."""

from __future__ import annotations

import abc
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Union

from . import _builder, _core
from ._result import ConnectionStatus, PoolStats, QueryResult, RecordBatchStream, warn_server
from ._url import mask_url, parse_url

if TYPE_CHECKING:
    from .schema import CanonicalSchema, SchemaDiff

from ._transaction import Transaction
from ._write import (
    WRITE_MODES,
    WriteResult,
    arrow_input,
    check_on_error,
    check_table_arg,
    rereadable,
    to_result,
)
from .exceptions import ConfigError, InterfaceError, ParameterError, SqlArrowError
from .retry import RetryPolicy

__all__ = ["Connector", "PostgreSQLConnector", "RedshiftConnector", "SQLiteConnector", "connect"]

Params = Union[Sequence[Any], Mapping[str, Any], None]

_C = TypeVar("_C", bound="Connector")
_T = TypeVar("_T")

#: The package logger. Records never contain passwords (URLs are masked).
logger = logging.getLogger("sqlarrow")

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_BATCH_SIZE = 65_536
DEFAULT_SCAN_MIN_BYTES = 64 * 1024 * 1024


# -- argument validation ---------------------------------------------------------
def _check_int(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{name} must be {bound}, got {value}")
    return value


def _check_positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number of seconds, not {type(value).__name__}")
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise ConfigError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return number


def _check_str(name: str, value: Any, *, optional: bool, allow_empty: bool = False) -> Any:
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name} is required")
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a str, not {type(value).__name__}")
    if not allow_empty and value == "":
        raise ConfigError(f"{name} must not be empty")
    if "\x00" in value:
        raise ConfigError(f"{name} must not contain NUL characters")
    return value


def _check_path(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    checked: str = _check_str(name, value, optional=False)
    return checked


def _check_sql(sql: Any) -> str:
    if not isinstance(sql, str):
        raise InterfaceError(f"sql must be a str, not {type(sql).__name__}")
    return sql


def _check_params(params: Any) -> Params:
    if params is None or isinstance(params, Mapping):
        return params
    if isinstance(params, (str, bytes, bytearray, memoryview)):
        raise ParameterError(
            f"params must be a sequence or a mapping, not {type(params).__name__} "
            "(wrap a single value in a list: [value])"
        )
    if isinstance(params, Sequence):
        return params
    if isinstance(params, (set, frozenset)):
        # No order: its values would bind to markers in whatever order it iterates.
        raise ParameterError(
            "params must be a sequence or a mapping, not a set: a set has no order, so its "
            "values could bind to the wrong markers (use a list or tuple)"
        )
    if isinstance(params, Iterable):
        return list(params)
    raise ParameterError(f"params must be a sequence or a mapping, not {type(params).__name__}")


def _check_batch_size(batch_size: Any) -> int:
    return _check_int("batch_size", batch_size, minimum=1)


SettingValue = Union[str, int, float, bool]


def _check_settings(settings: Any) -> dict[str, SettingValue]:
    """A connector's ``settings=``: a mapping of setting name -> str, int, float or
    bool. Names and reserved settings are checked by the engine."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise ConfigError(
            "settings must be a mapping of setting name -> value "
            f"(e.g. {{'search_path': 'analytics'}}), not {type(settings).__name__}"
        )
    out: dict[str, SettingValue] = {}
    for name, value in settings.items():
        if not isinstance(name, str):
            raise ConfigError(f"settings: names must be str, not {type(name).__name__}")
        if not isinstance(value, (str, int, float, bool)):
            raise ConfigError(
                f"settings: the value of {name!r} must be a str, int, float or bool, "
                f"not {type(value).__name__}"
            )
        out[name] = value
    return out


def _check_timeout(name: str, value: Any) -> float | None:
    return None if value is None else _check_positive_number(name, value)


def _check_retry(retry: Any) -> RetryPolicy | None:
    if retry is None or isinstance(retry, RetryPolicy):
        return retry
    if isinstance(retry, Mapping):
        return RetryPolicy(**retry)
    raise ConfigError(f"retry must be a RetryPolicy, not {type(retry).__name__}")


def _require_engine(engine: str) -> None:
    engines = list(getattr(_core, "ENGINES", [engine]))
    if engine not in engines:
        raise ConfigError(
            f"the {engine} engine is not compiled into this build of sqlarrow "
            f"(available: {', '.join(engines) or 'none'})"
        )


class Connector(abc.ABC):
    """A pooled, thread-safe connection to one database.

    Create one with :func:`sqlarrow.connect` or an engine class
    (:class:`PostgreSQLConnector`, :class:`SQLiteConnector`) and share it between
    threads. Connections open lazily on first use. Use it as a context manager, or
    call :meth:`close`, to release every pooled connection.
    """

    _raw: _core.RawConnector
    _read_only: bool = False
    _statement_timeout: float | None = None
    _retry: RetryPolicy | None = None
    _settings: dict[str, SettingValue]

    def _init_common(self, read_only: Any, statement_timeout: Any, retry: Any) -> None:
        if not isinstance(read_only, bool):
            raise ConfigError(f"read_only must be a bool, not {type(read_only).__name__}")
        self._read_only = read_only
        self._statement_timeout = _check_timeout("statement_timeout", statement_timeout)
        self._retry = _check_retry(retry)

    @property
    def read_only(self) -> bool:
        """Whether the connector refuses everything but single read statements."""
        return self._read_only

    @property
    def statement_timeout(self) -> float | None:
        """Default statement timeout (s) of every call; None: no timeout."""
        return self._statement_timeout

    @property
    def settings(self) -> dict[str, SettingValue]:
        """Session settings applied to every pooled connection (a copy)."""
        return dict(self._settings)

    @property
    def retry(self) -> RetryPolicy | None:
        """The retry policy of idempotent work (None: no retries)."""
        return self._retry

    def _retrying(self, what: str, sql: str, fn: Callable[[], _T]) -> _T:
        """Call ``fn`` (which runs ``sql``) under the retry policy when ``sql`` is a read.
        A statement that writes is run once: after a dropped connection nobody can tell
        whether it committed (``query("insert ... returning id")`` would insert twice)."""
        if self._retry is None or self._retry.max_attempts <= 1 or not self._is_read(sql):
            return fn()
        return self._retry.run(fn, what, f"{type(self).__name__} {self._describe()}")

    def _is_read(self, sql: str) -> bool:
        try:
            _core.check_read_only(sql, self.engine)
        except SqlArrowError:
            return False
        return True

    @abc.abstractmethod
    def _describe(self) -> str:
        """The fields shown by ``repr`` (never the password)."""

    # -- state ----------------------------------------------------------------------
    @property
    def engine(self) -> str:
        """``"postgres"`` or ``"sqlite"``."""
        return self._raw.engine

    @property
    def closed(self) -> bool:
        raw = getattr(self, "_raw", None)  # None while __init__ failed half-way
        return raw is None or raw.closed

    def _check_open(self) -> None:
        if self.closed:
            raise InterfaceError(f"{type(self).__name__} is closed")

    # -- queries ----------------------------------------------------------------------
    def query(
        self,
        sql: str,
        params: Params = None,
        *,
        timeout: float | None = None,
        partition_on: str | None = None,
        partitions: int | None = None,
    ) -> QueryResult:
        """Run a query and return every row as Arrow data.

        ``params`` is a sequence for the engine's native markers (``$1`` for
        PostgreSQL, ``?`` for SQLite) or a mapping for ``:name`` markers. ``timeout``
        (seconds) overrides the connector's ``statement_timeout``: when it fires the
        statement is cancelled on the server and :class:`~sqlarrow.QueryTimeoutError`
        is raised.

        ``partition_on`` names an integer column of the result: the query is split
        into up to ``partitions`` contiguous value ranges (default: 4, at most the pool
        size), read at the same time on separate pooled connections and joined in
        range order (rows whose value is NULL come first). An ``ORDER BY`` then holds
        within each range only. Each range is its own statement: under concurrent
        writes the ranges may see different moments.

        Warnings the server reports about the statement (MySQL/MariaDB: values it
        truncated in a cast, a result it cut short) are on ``QueryResult.warnings`` and
        emitted as :class:`~sqlarrow.DatabaseWarning`.

        Under a :class:`~sqlarrow.RetryPolicy` a read is retried after a transient
        error; a statement that writes (``insert ... returning``) is run once.
        """
        sql = _check_sql(sql)
        params = _check_params(params)
        timeout = _check_timeout("timeout", timeout)
        self._check_open()
        if partition_on is None:
            if partitions is not None:
                raise ConfigError("partitions needs partition_on (the integer column to split on)")
            raw = self._retrying(
                "query", sql, lambda: self._raw.query(sql, params, timeout=timeout)
            )
            warn_server(raw.warnings)
            return QueryResult(raw)
        if not isinstance(partition_on, str) or not partition_on:
            raise ConfigError("partition_on must be a non-empty column name")
        if partitions is None:
            n = max(1, min(4, self.pool_stats().max_size))
        elif isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ConfigError(f"partitions must be a positive int, not {partitions!r}")
        else:
            n = partitions
        raw = self._retrying(
            "query",
            sql,
            lambda: self._raw.query(
                sql, params, timeout=timeout, partition_on=partition_on, partitions=n
            ),
        )
        warn_server(raw.warnings)
        return QueryResult(raw)

    def stream(
        self,
        sql: str,
        params: Params = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        timeout: float | None = None,
    ) -> RecordBatchStream:
        """Run a query and iterate over record batches of at most ``batch_size`` rows.

        ``timeout`` bounds the time until the result starts (the first batch)."""
        sql = _check_sql(sql)
        params = _check_params(params)
        batch_size = _check_batch_size(batch_size)
        timeout = _check_timeout("timeout", timeout)
        self._check_open()
        raw = self._retrying(
            "stream", sql, lambda: self._raw.stream(sql, params, batch_size, timeout=timeout)
        )
        return RecordBatchStream(raw)

    def execute(self, sql: str, params: Params = None, *, timeout: float | None = None) -> int:
        """Run one statement; return the number of rows affected (for a statement that
        returns rows, the rows it returned, on every engine).

        Only read statements are retried under a :class:`~sqlarrow.RetryPolicy`."""
        sql = _check_sql(sql)
        params = _check_params(params)
        timeout = _check_timeout("timeout", timeout)
        self._check_open()
        return self._retrying(
            "execute", sql, lambda: self._raw.execute(sql, params, timeout=timeout)
        )

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> int:
        """Run one statement per parameter set, in one transaction; return total rows affected."""
        sql = _check_sql(sql)
        if isinstance(seq_of_params, (str, bytes, Mapping)) or not isinstance(
            seq_of_params, Iterable
        ):
            raise ParameterError(
                "seq_of_params must be a sequence of parameter sets, "
                f"not {type(seq_of_params).__name__}"
            )
        checked = [_check_params(p) for p in seq_of_params]
        self._check_open()
        return self._raw.executemany(sql, checked)

    def write(
        self,
        table: str,
        data: Any,
        mode: str = "append",
        *,
        key: Sequence[str] | None = None,
        create_if_missing: bool = True,
        column_map: Mapping[str, str] | None = None,
        batch_size: int | None = None,
        on_error: str = "raise",
        timeout: float | None = None,
    ) -> WriteResult:
        """Bulk-write Arrow ``data`` into ``table`` and return a :class:`WriteResult`.

        ``data`` is anything exposing ``__arrow_c_stream__`` or ``__arrow_c_array__``
        (pyarrow tables/batches/readers, polars, pandas >= 2.2, DuckDB results); streams
        are consumed batch by batch. ``table`` is ``"name"`` or ``"schema.name"``.
        Modes: ``append`` (creates the table from the data's Arrow schema when missing
        and ``create_if_missing``), ``create`` (fails if the table exists), ``replace``
        (readers see the old rows or the new ones, never a partial table). The write is
        all-or-nothing: a constraint violation rolls back every row and raises a
        :class:`~sqlarrow.ConstraintViolation` subclass with ``constraint`` and the input
        ``row_index``. ``column_map`` renames input columns to table columns.

        ``upsert`` inserts new rows and updates existing ones matched by ``key`` (one or
        more column names, required); ``update`` only updates matching rows (input rows
        without a match are ignored; columns left out keep their values). Duplicate keys
        within the input: the last row wins; a NULL key is a ``DataError`` naming the
        input row (``on_error="skip"``: set aside). PostgreSQL stages the input with binary
        COPY and merges with one ``INSERT ... ON CONFLICT`` / ``UPDATE ... FROM``
        statement; its upsert needs a primary key or unique index on exactly ``key``
        (as does SQLite's ``ON CONFLICT``). A missing table is created with ``key`` as its
        primary key. ``rows_written`` counts inserted rows, ``rows_updated`` updated ones
        (SQLite counts every input row that hit an existing key, repeats included).
        MySQL/MariaDB: plain appends on MariaDB (outside ``conn.transaction()``) are
        sent as binary parameter arrays of one prepared ``INSERT``; other appends load
        straight into the table with ``LOAD DATA LOCAL INFILE`` from a Rust stream.
        Upsert, update and ``on_error="skip"`` stage the input (``LOAD DATA``, or
        multi-row INSERTs when the server forbids local infile: reported in
        ``WriteResult.warnings``), then apply it with one ``INSERT ... SELECT`` (``...
        ON DUPLICATE KEY UPDATE`` for upsert, whose clashes on *other* unique indexes
        are raised as ``UniqueViolation`` instead of silently updating another row);
        ``rows_updated`` of ``update`` counts rows whose values changed. MySQL DDL
        commits implicitly, so a write that creates its table is not atomic with it
        (the table is dropped again if the write fails).

        ``on_error="skip"``: rows violating a constraint are set aside and the others
        land; ``WriteResult.failed`` holds the rejected input rows plus a
        ``_sqlarrow_error`` reason column, ``rows_failed`` their count. SQLite catches
        every constraint kind per row (each input row applied in order). PostgreSQL and
        MySQL/MariaDB stage the input and check in SQL: NOT NULL, CHECK (PostgreSQL:
        those whose columns are all in the input; MariaDB: from its catalog), FOREIGN
        KEY (to rows already in the referenced table) and UNIQUE/PRIMARY KEY (against
        the table, and repeated within the input: the first occurrence lands; in
        upsert/update the last row per key is kept first). Anything else (a trigger, an
        exclusion constraint, a concurrent writer) still fails the whole write, as do
        data conversion errors.

        ``timeout`` (seconds) bounds the whole write, waiting for locks included;
        without it the connector's ``statement_timeout`` does. On expiry the server is
        asked to cancel, nothing of the write remains, and
        :class:`~sqlarrow.QueryTimeoutError` is raised.
        """
        check_table_arg(table, data)
        if mode not in WRITE_MODES:
            raise ConfigError(f"mode must be one of {', '.join(WRITE_MODES)}, not {mode!r}")
        if batch_size is not None:
            _check_batch_size(batch_size)
        self._check_open()
        source = arrow_input(data)
        on_error_checked = check_on_error(on_error)

        def attempt() -> dict[str, Any]:
            return self._raw.write(
                table,
                source,
                mode,
                list(key) if key is not None else None,
                create_if_missing,
                dict(column_map) if column_map is not None else None,
                batch_size,
                on_error_checked,
                timeout=timeout,
            )

        # A write is one transaction: a transient failure before COMMIT left nothing
        # behind, so it is retried when the input can be read again (a table, a batch,
        # a DataFrame; never a one-shot stream). A failure during COMMIT is "in doubt"
        # (commit_in_doubt=True, not transient) and is never retried.
        if self._retry is not None and rereadable(source):
            return to_result(self._retry.run(attempt, "write", f"{type(self).__name__}"))
        return to_result(attempt())

    # -- query builder (see _builder.py) ---------------------------------------------
    def select(
        self,
        table: str | Sequence[str],
        columns: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        order_by: str | Sequence[str | tuple[str, str]] | None = None,
        limit: int | None = None,
    ) -> QueryResult:
        """``SELECT`` with quoted identifiers and bound values. ``where`` maps column ->
        value (``None``: IS NULL; list/tuple/set: IN); ``order_by`` is ``"col"``,
        ``"-col"`` (descending), ``(col, "desc")`` or a list of those."""
        sql, params = _builder.render_select(self.engine, table, columns, where, order_by, limit)
        return self.query(sql, params)

    def insert(
        self, table: str | Sequence[str], rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> int:
        """Insert one row (a mapping) or several (a sequence of mappings with the same
        keys, in any order) with bound values; returns the rows inserted. For bulk data
        use :meth:`write`."""
        if isinstance(rows, Mapping):
            sql = _builder.render_insert(self.engine, table, list(rows))
            return self.execute(sql, list(rows.values()))
        cols, values = _builder.rows_by_key(rows)
        return self.executemany(_builder.render_insert(self.engine, table, cols), values)

    def update(
        self, table: str | Sequence[str], set: Mapping[str, Any], where: Mapping[str, Any]
    ) -> int:
        """``UPDATE table SET ... WHERE ...`` with bound values; returns the rows
        affected. ``where`` is required (``{}`` updates every row)."""
        sql, params = _builder.render_update(self.engine, table, set, where)
        return self.execute(sql, params)

    def delete(self, table: str | Sequence[str], where: Mapping[str, Any]) -> int:
        """``DELETE FROM table WHERE ...`` with bound values; returns the rows deleted.
        ``where`` is required (``{}`` deletes every row)."""
        sql, params = _builder.render_delete(self.engine, table, where)
        return self.execute(sql, params)

    # -- transactions (see _transaction.py) -------------------------------------------
    def transaction(self, isolation: str | None = None, read_only: bool = False) -> Transaction:
        """Begin a transaction on a connection pinned until commit/rollback. Use it as a
        context manager: commits on success, rolls back on an exception::

            with conn.transaction(isolation="serializable") as tx:
                tx.execute("update accounts set ...")
                tx.write("audit", rows)
                with tx.savepoint():
                    ...

        ``isolation``: one of :data:`sqlarrow.ISOLATION_LEVELS` or None (server default).
        """
        if isolation is not None and not isinstance(isolation, str):
            raise ConfigError("isolation must be a str or None")
        if not isinstance(read_only, bool):
            raise ConfigError("read_only must be a bool")
        self._check_open()
        return Transaction(self._raw.begin(isolation, read_only), self.engine)

    # -- introspection and DDL (canonical schema) ----------------------------------
    def list_schemas(self) -> list[str]:
        """Schemas (namespaces) of the database."""
        self._check_open()
        return self._raw.list_schemas()

    def list_tables(self, schema: str | None = None) -> list[dict[str, str]]:
        """Tables and views as ``{"schema", "name", "kind"}`` dicts."""
        self._check_open()
        return self._raw.list_tables(schema)

    def table_exists(
        self, table: str | Sequence[str], schema: str | None = None, database: str | None = None
    ) -> bool:
        """Whether ``table`` exists (in ``schema``; ``database`` is an alias for it).

        Without ``schema``, ``"sales.orders"`` names table ``orders`` in schema ``sales``,
        as in :meth:`write` (``'"a.b"'`` or ``["a.b"]`` for a name with a dot in it)."""
        self._check_open()
        return self._raw.table_exists(table, schema if schema is not None else database)

    def get_schema(self, table: str | Sequence[str], schema: str | None = None) -> CanonicalSchema:
        """The table's :class:`~sqlarrow.schema.CanonicalSchema` (columns, keys, indexes,
        estimated rows from catalog statistics). ``table`` is split as in
        :meth:`table_exists`: ``"sales.orders"`` or ``["sales", "orders"]``."""
        from .schema import CanonicalSchema

        self._check_open()
        return CanonicalSchema.from_json(self._raw.get_schema(table, schema))

    def create_table(
        self,
        name: str,
        schema: Any,
        if_not_exists: bool = False,
        *,
        widen_unsigned: bool = False,
        text_fallback: bool = False,
    ) -> list[str]:
        """Create ``name`` from a canonical schema (or anything Arrow-schema-like);
        returns the DDL that ran."""
        from .schema import _as_schema, _table

        self._check_open()
        return self._raw.create_table(
            _table(name), _as_schema(schema).to_json(), if_not_exists, widen_unsigned, text_fallback
        )

    def apply(
        self,
        diff: SchemaDiff,
        table: str,
        allow_destructive: bool = False,
        *,
        dry_run: bool = False,
        widen_unsigned: bool = False,
        text_fallback: bool = False,
    ) -> list[str]:
        """Apply a :func:`sqlarrow.diff` to ``table`` (in one transaction where the
        dialect has transactional DDL); returns the statements (only renders them with
        ``dry_run``). Destructive changes need ``allow_destructive=True``."""
        from .schema import _table

        self._check_open()
        return self._raw.apply(
            diff.to_json(), _table(table), allow_destructive, dry_run, widen_unsigned, text_fallback
        )

    def test_connection(self) -> ConnectionStatus:
        """Check that the server answers. Never raises: failures give ``ok=False``."""
        if self.closed:
            return ConnectionStatus(
                ok=False, latency_ms=None, server_version=None, error="connector is closed"
            )
        try:
            return ConnectionStatus._from_dict(self._raw.test_connection())
        except SqlArrowError as exc:
            return ConnectionStatus(
                ok=False,
                latency_ms=None,
                server_version=None,
                error=f"{type(exc).__name__}: {exc}",
            )

    def pool_stats(self) -> PoolStats:
        """A snapshot of the connection pool."""
        return PoolStats._from_dict(self._raw.pool_stats())

    def close(self) -> None:
        """Close every pooled connection. Idempotent."""
        if not self.closed:
            self._raw.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __copy__(self: _C) -> _C:
        # A connector is a handle on one pool: a copy is the same handle (as before,
        # when a shallow copy shared the pool), and so is a deep copy (frameworks deep
        # copy the objects that hold one).
        return self

    def __deepcopy__(self: _C, memo: dict[int, Any]) -> _C:
        return self

    def __reduce__(self) -> Any:
        # Without this, pickle failed on the compiled pool inside ("cannot pickle
        # 'sqlarrow._core.RawConnector' object"), which said nothing of what to do.
        raise TypeError(
            f"a {type(self).__name__} cannot be pickled: it holds open connections and does "
            "not keep its password. Send the settings to the worker (a URL from the "
            "environment, a config file) and connect there, e.g. "
            "sqlarrow.connect(os.environ['DATABASE_URL'])"
        )

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        try:
            described = self._describe()
        except AttributeError:  # __init__ failed half-way
            described = "(uninitialized)"
        return f"<{type(self).__name__} {described}{state}>"


class _ServerConnector(Connector):
    """What the client/server engines share: address, credentials, pool settings."""

    _host: str
    _port: int
    _database: str | None
    _user: str | None
    _pool_size: int
    _pool_timeout: float

    def _init_server(
        self,
        host: Any,
        port: Any,
        database: Any,
        user: Any,
        password: Any,
        pool_size: Any,
        pool_timeout: Any,
    ) -> str | None:
        """Validate and keep the common arguments; returns the (never stored) password."""
        self._host = _check_str("host", host, optional=False)
        _refuse_url(type(self).__name__, "host", self._host)
        if "@" in self._host[1:]:
            # "user:password@host": never echoed, it may hold the password. (A leading
            # '@' is libpq's spelling of an abstract Unix socket, not this.)
            raise ConfigError(
                "host holds '@': give the user name and password as user= and password=, "
                "or connect with a URL through sqlarrow.connect(url)"
            )
        self._port = _check_int("port", port, minimum=1, maximum=65535)
        self._database = _check_str("database", database, optional=True)
        self._user = _check_str("user", user, optional=True)
        checked: str | None = _check_str("password", password, optional=True, allow_empty=True)
        self._pool_size = _check_int("pool_size", pool_size, minimum=1)
        self._pool_timeout = _check_positive_number("pool_timeout", pool_timeout)
        return checked

    @property
    def host(self) -> str:
        """Server host name or address."""
        return self._host

    @property
    def port(self) -> int:
        """Server TCP port."""
        return self._port

    @property
    def database(self) -> str | None:
        """Database name (None: the server's default)."""
        return self._database

    @property
    def user(self) -> str | None:
        """User name (None: the engine's default)."""
        return self._user

    @property
    def pool_size(self) -> int:
        """Maximum pooled connections."""
        return self._pool_size

    @property
    def pool_timeout(self) -> float:
        """Seconds to wait for a connection."""
        return self._pool_timeout

    def _describe(self) -> str:
        ro = " read_only=True" if self._read_only else ""
        return (
            f"host={self._host!r} port={self._port} database={self._database!r} "
            f"user={self._user!r}{ro}"
        )


class PostgreSQLConnector(_ServerConnector):
    """A pooled connector to a PostgreSQL server.

    ``host`` is a host name, an address or a Unix socket directory; a URL goes to
    :func:`sqlarrow.connect` instead (given here, it is a ``ConfigError``).
    ``sslmode`` follows libpq (``disable``, ``allow``, ``prefer``, ``require``,
    ``verify-ca``, ``verify-full``); ``sslrootcert`` is a CA bundle for the
    ``verify-*`` modes, ``sslcert``/``sslkey`` a client certificate and its key.

    ``settings`` are run-time parameters for every pooled connection, e.g.
    ``{"search_path": "analytics, public", "work_mem": "256MB"}``, sent when each
    connection opens (the ``options`` of libpq; in a URL, ``?options=-c%20search_path%3Dx``).
    A ``SET`` run through :meth:`execute` reaches only the pooled connection that ran it.
    Parameters sqlarrow depends on (``client_encoding``, ``DateStyle``) or that have an
    option of their own (``read_only``, ``statement_timeout``) are a
    :class:`~sqlarrow.ConfigError`; an unknown name fails when a connection opens.

    Parallel scans: :meth:`query` of a plain ``SELECT <columns> FROM <table>`` (no
    ``WHERE``) over an ordinary table of at least ``scan_min_bytes`` (default 64 MiB)
    reads contiguous block ranges over up to ``scan_workers`` pooled connections at once
    (default: the number of CPUs, at most 4; ``1`` turns it off). Every range reads the
    same exported snapshot and the ranges are joined in block order, so the result is
    the one a single connection would return. PostgreSQL 14 or later; anything else
    (joins, aggregates, functions in the select list, ORDER BY, LIMIT, views, ...) runs
    on one connection, as does any filtered query.
    """

    _REDSHIFT = False

    def __init__(
        self,
        host: str = "localhost",
        port: int = 5432,
        database: str | None = None,
        user: str | None = None,
        password: str | None = None,
        *,
        pool_size: int = 10,
        pool_timeout: float = 30.0,
        sslmode: str = "prefer",
        connect_timeout: float = 10.0,
        application_name: str | None = "sqlarrow",
        sslrootcert: str | os.PathLike[str] | None = None,
        sslcert: str | os.PathLike[str] | None = None,
        sslkey: str | os.PathLike[str] | None = None,
        read_only: bool = False,
        statement_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        uuid_as: str = "arrow",
        scan_workers: int | None = None,
        scan_min_bytes: int = DEFAULT_SCAN_MIN_BYTES,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> None:
        _require_engine("postgres")
        self._settings = _check_settings(settings)
        if uuid_as not in ("arrow", "string"):
            raise ConfigError(f'uuid_as must be "arrow" or "string", got {uuid_as!r}')
        if scan_workers is None:
            scan_workers = 1 if self._REDSHIFT else min(4, os.cpu_count() or 1)
        self._scan_workers = _check_int("scan_workers", scan_workers, minimum=1)
        if self._REDSHIFT:
            self._scan_workers = 1  # Redshift has no COPY TO STDOUT and no TID range scans
        self._scan_min_bytes = _check_int("scan_min_bytes", scan_min_bytes, minimum=0)
        self._init_common(read_only, statement_timeout, retry)
        password = self._init_server(host, port, database, user, password, pool_size, pool_timeout)
        if not isinstance(sslmode, str) or sslmode not in SSLMODES:
            raise ConfigError(f"sslmode must be one of {', '.join(SSLMODES)}, got {sslmode!r}")
        self._sslmode = sslmode
        self._connect_timeout = _check_positive_number("connect_timeout", connect_timeout)
        self._application_name: str | None = _check_str(
            "application_name", application_name, optional=True, allow_empty=True
        )
        self._sslrootcert = _check_path("sslrootcert", sslrootcert)
        self._sslcert = _check_path("sslcert", sslcert)
        self._sslkey = _check_path("sslkey", sslkey)
        if (self._sslcert is None) != (self._sslkey is None):
            raise ConfigError("sslcert and sslkey must be given together")
        self._raw = _core.RawConnector.postgres(
            host=self._host,
            port=self._port,
            database=self._database,
            user=self._user,
            password=password,
            pool_size=self._pool_size,
            pool_timeout=self._pool_timeout,
            sslmode=self._sslmode,
            connect_timeout=self._connect_timeout,
            application_name=self._application_name,
            sslrootcert=self._sslrootcert,
            sslcert=self._sslcert,
            sslkey=self._sslkey,
            redshift=self._REDSHIFT,
            read_only=self._read_only,
            statement_timeout=self._statement_timeout,
            uuid_as=uuid_as,
            scan_workers=self._scan_workers,
            scan_min_bytes=self._scan_min_bytes,
            settings=list(self._settings.items()) or None,
        )

    @property
    def scan_workers(self) -> int:
        """Connections a large single-table read may be split across (1: never split)."""
        return self._scan_workers

    @property
    def sslmode(self) -> str:
        """libpq-style SSL mode."""
        return self._sslmode

    @property
    def connect_timeout(self) -> float:
        """Connect timeout (s)."""
        return self._connect_timeout

    @property
    def sslrootcert(self) -> str | None:
        """CA bundle used by the verify-* ssl modes."""
        return self._sslrootcert

    @property
    def application_name(self) -> str | None:
        """application_name."""
        return self._application_name


class RedshiftConnector(PostgreSQLConnector):
    """A pooled connector to Amazon Redshift (PostgreSQL wire protocol, Redshift dialect).

    Same arguments as :class:`PostgreSQLConnector`; the port defaults to 5439 and
    ``sslmode`` to ``require``.
    """

    _REDSHIFT = True

    def __init__(
        self,
        host: str = "localhost",
        port: int = 5439,
        database: str | None = None,
        user: str | None = None,
        password: str | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("sslmode", "require")
        super().__init__(host, port, database, user, password, **options)


class SQLiteConnector(Connector):
    """A pooled connector to a SQLite database file (or ``":memory:"``).

    ``path`` is a file path or one of SQLite's own ``file:`` URIs; a ``sqlite://`` URL
    goes to :func:`sqlarrow.connect` instead (given here, it is a ``ConfigError``).

    ``settings`` are PRAGMAs run on every pooled connection as it opens, e.g.
    ``{"journal_mode": "wal", "synchronous": "normal", "cache_size": -64000}``. A PRAGMA
    run through :meth:`execute` reaches only the pooled connection that ran it.
    ``query_only`` (use ``read_only``), ``busy_timeout`` (sqlarrow waits for locks up to
    ``pool_timeout``), ``encoding`` and ``writable_schema`` are a
    :class:`~sqlarrow.ConfigError`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        pool_size: int = 4,
        pool_timeout: float = 30.0,
        read_only: bool = False,
        statement_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> None:
        _require_engine("sqlite")
        self._settings = _check_settings(settings)
        self._init_common(read_only, statement_timeout, retry)
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        self._path: str = _check_str("path", path, optional=False)
        if not self._path.lower().startswith("file:"):  # SQLite's own URI form is fine
            _refuse_url(type(self).__name__, "path", self._path)
        self._pool_size = _check_int("pool_size", pool_size, minimum=1)
        self._pool_timeout = _check_positive_number("pool_timeout", pool_timeout)
        if not isinstance(read_only, bool):
            raise ConfigError(f"read_only must be a bool, not {type(read_only).__name__}")
        self._read_only = read_only
        self._raw = _core.RawConnector.sqlite(
            path=self._path,
            pool_size=self._pool_size,
            pool_timeout=self._pool_timeout,
            read_only=self._read_only,
            statement_timeout=self._statement_timeout,
            settings=list(self._settings.items()) or None,
        )

    @property
    def path(self) -> str:
        """Database file path or ':memory:'."""
        return self._path

    @property
    def pool_size(self) -> int:
        """Maximum pooled connections."""
        return self._pool_size

    @property
    def pool_timeout(self) -> float:
        """Seconds to wait for a connection."""
        return self._pool_timeout

    @property
    def read_only(self) -> bool:
        """Whether writes are refused."""
        return self._read_only

    def _describe(self) -> str:
        ro = " read_only=True" if self._read_only else ""
        return f"path={self._path!r}{ro}"


_ENGINE_CLASSES: dict[str, type[Connector]] = {
    "postgres": PostgreSQLConnector,
    "redshift": RedshiftConnector,
    "sqlite": SQLiteConnector,
}

_ENGINE_OPTIONS: dict[str, frozenset[str]] = {
    "postgres": frozenset(
        {
            "host",
            "port",
            "database",
            "user",
            "password",
            "pool_size",
            "pool_timeout",
            "sslmode",
            "connect_timeout",
            "application_name",
            "sslrootcert",
            "sslcert",
            "sslkey",
            "read_only",
            "statement_timeout",
            "retry",
            "uuid_as",
            "scan_workers",
            "scan_min_bytes",
            "settings",
        }
    ),
    "sqlite": frozenset(
        {
            "path",
            "pool_size",
            "pool_timeout",
            "read_only",
            "statement_timeout",
            "retry",
            "settings",
        }
    ),
}
_ENGINE_OPTIONS["redshift"] = _ENGINE_OPTIONS["postgres"]


_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _refuse_url(cls: str, param: str, value: str) -> None:
    """A URL given where a host name (or SQLite path) belongs would be looked up as a
    name, and fail with the URL, password included, in the error and the repr."""
    if _URL_LIKE.match(value) or value.lower().startswith("sqlite:"):
        raise ConfigError(
            f"{cls}() takes a {param}, not a URL: {mask_url(value)!r}; "
            "use sqlarrow.connect(url, **options) to connect with a URL"
        )


def connect(
    url: str | None = None,
    *,
    name: str | None = None,
    config: Any = None,
    env: str | None = None,
    **options: Any,
) -> Connector:
    """Create a connector from a URL.

    Supported URLs::

        postgresql://user:password@host:5432/dbname?sslmode=require&application_name=etl
        postgres://…                      (alias)
        redshift://user:password@cluster.region.redshift.amazonaws.com:5439/dev
        sqlite:///relative/path.db
        sqlite:////absolute/path.db
        sqlite://:memory:                 (also sqlite:///:memory: and sqlite://)

    User, password and database are percent-decoded. Keyword ``options`` (any
    argument of the engine's connector class) override options from the URL.
    Without ``url``, the ``SQLARROW_URL`` environment variable is used.

    ``connect(name="warehouse", config="connections.yaml", env="prod")`` creates the
    connector of a named entry of a configuration file (see :mod:`sqlarrow.config`);
    ``config`` may also be a loaded :class:`~sqlarrow.config.Config`.

    Raises:
        ConfigError: unknown scheme or option, or an invalid value. Messages never
            contain the password.
    """
    if name is not None or config is not None:
        if url is not None:
            raise ConfigError("give either a URL or name=/config=, not both")
        from .config import get_connection

        return get_connection(name, config, env, **options)
    if url is None:
        url = os.environ.get("SQLARROW_URL")
        if not url:
            raise ConfigError(
                "connect() needs a URL (or set the SQLARROW_URL environment variable)"
            )
    engine, kwargs = parse_url(url)
    allowed = _ENGINE_OPTIONS[engine]
    unknown = sorted(set(options) - allowed)
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise ConfigError(
            f"unknown option(s) for {engine}: {names} (supported: {', '.join(sorted(allowed))})",
            options=unknown,
        )
    kwargs.update(options)
    cls: Any = _ENGINE_CLASSES[engine]
    logger.info("creating %s connector for %s", engine, mask_url(url))
    connector: Connector = cls(**kwargs)
    logger.debug("created %r", connector)
    return connector


# MySQL/MariaDB lives in its own module, which builds on the helpers above.
from ._mysql import MYSQL_OPTIONS, MySQLConnector  # noqa: E402

_ENGINE_CLASSES["mysql"] = MySQLConnector
_ENGINE_OPTIONS["mysql"] = MYSQL_OPTIONS
