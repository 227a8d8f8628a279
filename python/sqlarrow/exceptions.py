"""The sqlarrow exception hierarchy.

Every error raised by sqlarrow derives from :class:`SqlArrowError` and carries a
``transient`` flag: ``True`` when retrying the same work later may succeed
(connection refused or reset, deadlock, serialization failure, pool exhausted).

The compiled core raises these classes directly (it looks them up by name in this
module), so ``except sqlarrow.QueryError`` catches errors from every engine.
Messages never contain passwords.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "CheckViolation",
    "ConfigError",
    "ConstraintViolation",
    "DataError",
    "DatabaseConnectionError",
    "DatabaseWarning",
    "ForeignKeyViolation",
    "InterfaceError",
    "MissingDependencyError",
    "NotNullViolation",
    "ParameterError",
    "PoolTimeoutError",
    "QueryCancelledError",
    "QueryError",
    "QueryTimeoutError",
    "ReadOnlyViolation",
    "SqlArrowError",
    "SqlSyntaxError",
    "UndefinedObjectError",
    "UniqueViolation",
    "UnsupportedTypeError",
]


class SqlArrowError(Exception):
    """Base class of every sqlarrow error.

    Attributes:
        transient: ``True`` if the same operation may succeed when retried.
        sqlstate: the five-character SQLSTATE code when the engine reported one.
    """

    transient: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        sqlstate: str | None = None,
        transient: bool | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        if transient is not None:
            self.transient = transient
        #: Extra structured details (e.g. ``column``, ``type_name``, ``constraint``).
        self.details: dict[str, Any] = details
        for key, value in details.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class ConfigError(SqlArrowError, ValueError):
    """Invalid connection configuration: bad URL, unknown option, wrong type."""


class InterfaceError(SqlArrowError):
    """The API was used wrongly (e.g. a closed connector, a consumed stream)."""


class MissingDependencyError(SqlArrowError, ImportError):
    """An optional dependency (pyarrow, pandas, polars) is needed but not installed."""


class DatabaseConnectionError(SqlArrowError):
    """The server could not be reached or the connection was lost."""

    transient = True


class AuthenticationError(DatabaseConnectionError):
    """The server rejected the credentials."""

    transient = False


class PoolTimeoutError(DatabaseConnectionError):
    """No pooled connection became free within ``pool_timeout``, or every connection is
    held by the calling thread's own open transactions or unfinished streams (then the
    call fails after a short grace with ``transient=False``: retrying cannot help)."""

    transient = True


class QueryError(SqlArrowError):
    """The server rejected or failed a statement. ``sqlstate`` holds its code."""


class SqlSyntaxError(QueryError):
    """The statement is not valid SQL for this engine."""


class UndefinedObjectError(QueryError):
    """The statement names a table, column or function that does not exist."""


class ParameterError(QueryError, TypeError):
    """Wrong number or type of bound parameters."""


class DataError(QueryError):
    """A value cannot be represented (overflow, out-of-range date, invalid text)."""


class QueryTimeoutError(QueryError):
    """The statement ran longer than its timeout and was cancelled on the server."""

    transient = True


class QueryCancelledError(QueryError):
    """The statement was cancelled (by the user or by the server)."""


class ConstraintViolation(QueryError):
    """A row broke an integrity constraint."""


class UniqueViolation(ConstraintViolation):
    """A unique or primary-key constraint was violated."""


class ForeignKeyViolation(ConstraintViolation):
    """A foreign-key constraint was violated."""


class NotNullViolation(ConstraintViolation):
    """A NULL was written to a NOT NULL column."""


class CheckViolation(ConstraintViolation):
    """A CHECK constraint was violated."""


class UnsupportedTypeError(SqlArrowError):
    """A result column has a database type sqlarrow cannot convert to Arrow.

    Attributes ``column`` and ``type_name`` name the offending column.
    """


class ReadOnlyViolation(SqlArrowError):
    """A write was attempted through a read-only connector."""


class DatabaseWarning(UserWarning):
    """The server reported warnings about a statement whose result you got (MySQL and
    MariaDB ``SHOW WARNINGS``; PostgreSQL NOTICE, WARNING and INFO messages): e.g. a
    result it cut short (MariaDB's ``max_recursive_iterations``), values it truncated
    in a cast, or a function's ``RAISE NOTICE``. The lines are also
    on ``QueryResult.warnings`` / ``RecordBatchStream.warnings``. Silence them with
    ``warnings.filterwarnings("ignore", category=sqlarrow.DatabaseWarning)``."""
