"""sqlarrow: Arrow-native database connectors with a Rust core.

Quick start::

    import sqlarrow

    with sqlarrow.connect("postgresql://user@localhost/db") as conn:
        result = conn.query("select * from orders where region = :r", {"r": "west"})
        table = result.to_arrow()        # pyarrow.Table, zero copy
        df = result.to_pandas()          # nullable dtypes
        rows = result.to_pylist()        # no optional dependency needed

pyarrow, pandas and polars are optional; they are imported only by the methods
that need them.
"""

from __future__ import annotations

import os
import warnings

from . import _core, schema
from ._connectors import (
    Connector,
    PostgreSQLConnector,
    RedshiftConnector,
    SQLiteConnector,
    connect,
)
from ._mysql import MySQLConnector
from ._result import ConnectionStatus, PoolStats, QueryResult, RecordBatchStream
from ._transaction import ISOLATION_LEVELS, Transaction
from ._write import WriteResult
from .config import Config, ConnectionConfig, get_connection, load_config
from .exceptions import (
    AuthenticationError,
    CheckViolation,
    ConfigError,
    ConstraintViolation,
    DatabaseConnectionError,
    DatabaseWarning,
    DataError,
    ForeignKeyViolation,
    InterfaceError,
    MissingDependencyError,
    NotNullViolation,
    ParameterError,
    PoolTimeoutError,
    QueryCancelledError,
    QueryError,
    QueryTimeoutError,
    ReadOnlyViolation,
    SqlArrowError,
    SqlSyntaxError,
    UndefinedObjectError,
    UniqueViolation,
    UnsupportedTypeError,
)
from .retry import RetryPolicy
from .schema import CanonicalSchema, Column, SchemaDiff, diff

__version__: str = _core.__version__

#: Engines compiled into this build, e.g. ``["postgres", "sqlite"]``.
ENGINES: list[str] = list(_core.ENGINES)


class DebugBuildWarning(UserWarning):
    """Emitted at import when the compiled core is an unoptimized debug build."""


__all__ = [
    "ENGINES",
    "ISOLATION_LEVELS",
    "AuthenticationError",
    "CanonicalSchema",
    "CheckViolation",
    "Column",
    "Config",
    "ConfigError",
    "ConnectionConfig",
    "ConnectionStatus",
    "Connector",
    "ConstraintViolation",
    "DataError",
    "DatabaseConnectionError",
    "DatabaseWarning",
    "DebugBuildWarning",
    "ForeignKeyViolation",
    "InterfaceError",
    "MissingDependencyError",
    "MySQLConnector",
    "NotNullViolation",
    "ParameterError",
    "PoolStats",
    "PoolTimeoutError",
    "PostgreSQLConnector",
    "QueryCancelledError",
    "QueryError",
    "QueryResult",
    "QueryTimeoutError",
    "ReadOnlyViolation",
    "RecordBatchStream",
    "RedshiftConnector",
    "RetryPolicy",
    "SQLiteConnector",
    "SchemaDiff",
    "SqlArrowError",
    "SqlSyntaxError",
    "Transaction",
    "UndefinedObjectError",
    "UniqueViolation",
    "UnsupportedTypeError",
    "WriteResult",
    "__version__",
    "connect",
    "diff",
    "get_connection",
    "load_config",
    "schema",
]

if _core.DEBUG_BUILD and os.environ.get("SQLARROW_NO_DEBUG_WARNING", "") in ("", "0"):
    warnings.warn(
        "sqlarrow is a debug build (compiled without optimizations): it is slow and "
        "benchmarks are meaningless. Install a release build (pip install sqlarrow, "
        "or maturin develop --release). Set SQLARROW_NO_DEBUG_WARNING=1 to silence this.",
        DebugBuildWarning,
        stacklevel=2,
    )
