"""The MySQL / MariaDB connector."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import _core
from ._connectors import (
    SettingValue,
    _check_int,
    _check_path,
    _check_positive_number,
    _check_settings,
    _require_engine,
    _ServerConnector,
)
from .exceptions import ConfigError

__all__ = ["MYSQL_OPTIONS", "MYSQL_SSL_MODES", "MySQLConnector"]

#: Accepted ``ssl_mode`` values (MySQL spellings first, then libpq aliases).
MYSQL_SSL_MODES = (
    "disabled",
    "preferred",
    "required",
    "verify_ca",
    "verify_identity",
    "disable",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
)

#: Keyword arguments accepted by :class:`MySQLConnector` (for ``sqlarrow.connect``).
MYSQL_OPTIONS = frozenset(
    {
        "host",
        "port",
        "database",
        "user",
        "password",
        "pool_size",
        "pool_timeout",
        "ssl_mode",
        "ssl_ca",
        "ssl_cert",
        "ssl_key",
        "connect_timeout",
        "tinyint1_as_bool",
        "zero_date_as_null",
        "time_as_duration",
        "read_only",
        "statement_timeout",
        "retry",
        "scan_workers",
        "scan_min_rows",
        "settings",
    }
)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be a bool, not {type(value).__name__}")
    return value


class MySQLConnector(_ServerConnector):
    """A pooled connector to a MySQL or MariaDB server.

    ``host`` is a host name, an address, or the absolute path of the server's Unix
    socket (``/run/mysqld/mysqld.sock``: a local connection, without TLS, as needed for
    accounts that log in by ``unix_socket``/``auth_socket``; in a URL,
    ``?unix_socket=/run/mysqld/mysqld.sock``). A URL goes to :func:`sqlarrow.connect`
    instead (given here, it is a ``ConfigError``).

    Results are decoded from the MySQL wire protocol straight into Arrow and streamed
    batch by batch. Parameters use ``?`` markers (a sequence) or ``:name`` markers (a
    mapping) and are always bound through prepared statements, never interpolated.

    Args:
        host, port, database, user, password: where to connect. ``user=None`` means
            the ``USER`` environment variable (else ``root``).
        pool_size, pool_timeout: the connection pool.
        ssl_mode: ``disabled``; ``preferred`` (default: TLS when the server offers it,
            unverified); ``required`` (TLS, unverified); ``verify_ca`` (chain checked
            against the Mozilla roots and ``ssl_ca``'s, not the host name);
            ``verify_identity`` (chain and host name). libpq spellings (``disable``,
            ``prefer``, ``require``, ``verify-ca``, ``verify-full``) are accepted too.
        ssl_ca: PEM file of CA certificates for the ``verify_*`` modes.
        ssl_cert, ssl_key: client certificate chain and private key (PEM), for
            servers that require X.509 client authentication; both or neither.
        connect_timeout: seconds to wait for a new connection.
        tinyint1_as_bool: read ``TINYINT(1)`` / ``BOOL`` columns as Arrow bool
            (default) instead of int8.
        zero_date_as_null: read zero dates (``0000-00-00``, partial zero dates such as
            ``2020-00-10``, and YEAR ``0000``) as NULL (default); when False they raise
            :class:`~sqlarrow.DataError`.
        time_as_duration: read ``TIME`` columns as Arrow ``duration[us]``, which holds
            MySQL's whole range (-838:59:59 to 838:59:59, the durations sqlarrow writes
            as ``TIME(6)``), instead of ``time64[us]`` (the default), which holds only
            times of day and raises :class:`~sqlarrow.DataError` for other values.
        scan_workers: connections a large single-table read may be split across
            (default: the number of CPUs, at most 4, at most ``pool_size``; ``1`` turns
            it off). See "Parallel scans" below.
        scan_min_rows: tables the server estimates below this many rows (default one
            million) are never split.
        settings: session variables for every pooled connection, e.g.
            ``{"sql_mode": "TRADITIONAL", "group_concat_max_len": 1_000_000}`` (one
            ``SET SESSION`` as each connection opens). A ``SET`` run through
            :meth:`execute` reaches only the pooled connection that ran it. Variables
            sqlarrow depends on (``time_zone``, the character set, ``autocommit``) or
            that have an option of their own (``read_only``, ``statement_timeout``) are
            a :class:`~sqlarrow.ConfigError`, as are ``sql_mode`` flags that change how
            statements are parsed (``ANSI_QUOTES``, ``NO_BACKSLASH_ESCAPES``, ...).

    Parallel scans: :meth:`query` of a plain ``SELECT <columns> FROM <table>`` (no
    ``WHERE``) over an InnoDB table of at least ``scan_min_rows`` (estimated) rows, whose primary
    key starts with an integer column, reads contiguous key ranges on up to
    ``scan_workers`` pooled connections at once. All of them read one snapshot: they
    start consistent-snapshot transactions while a helper session holds
    ``LOCK TABLES <table> READ`` for a few milliseconds (writers to that table wait that
    long; the lock is given up after one second of waiting, and without the ``LOCK
    TABLES`` privilege, in which cases the table is read on one connection). The ranges
    are joined in key order, so the result is the one a single connection would return
    for the same snapshot. Anything else (joins, filters, aggregates, ORDER BY, LIMIT,
    views, other storage engines, tables without an integer key) runs on one connection.

    Type mapping: integers keep their width and signedness (``BIGINT UNSIGNED`` →
    uint64), ``DECIMAL(p,s)`` → decimal128(p,s) (decimal256 above 38 digits), ``DATE``
    → date32, ``DATETIME`` → timestamp[us], ``TIMESTAMP`` → timestamp[us, UTC] (the
    session time zone is UTC), ``TIME`` → time64[us] (values outside 00:00-24:00 raise
    ``DataError``), ``YEAR`` → int16, ``BIT`` → uint64, text/ENUM/SET → utf8, binary
    strings and blobs → binary, MySQL ``JSON`` → utf8 tagged ``arrow.json`` (MariaDB's
    JSON is LONGTEXT on the wire and arrives as plain utf8). ``GEOMETRY`` raises
    :class:`~sqlarrow.UnsupportedTypeError` (select ``ST_AsBinary(col)``).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 3306,
        database: str | None = None,
        user: str | None = None,
        password: str | None = None,
        *,
        pool_size: int = 10,
        pool_timeout: float = 30.0,
        ssl_mode: str = "preferred",
        ssl_ca: str | os.PathLike[str] | None = None,
        ssl_cert: str | os.PathLike[str] | None = None,
        ssl_key: str | os.PathLike[str] | None = None,
        connect_timeout: float = 10.0,
        tinyint1_as_bool: bool = True,
        zero_date_as_null: bool = True,
        time_as_duration: bool = False,
        read_only: bool = False,
        statement_timeout: float | None = None,
        retry: Any = None,
        scan_workers: int | None = None,
        scan_min_rows: int = 1_000_000,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> None:
        _require_engine("mysql")
        self._settings = _check_settings(settings)
        self._init_common(read_only, statement_timeout, retry)
        password = self._init_server(host, port, database, user, password, pool_size, pool_timeout)
        if scan_workers is None:
            scan_workers = min(4, os.cpu_count() or 1, self._pool_size)
        self._scan_workers = _check_int("scan_workers", scan_workers, minimum=1)
        self._scan_min_rows = _check_int("scan_min_rows", scan_min_rows, minimum=0)
        if not isinstance(ssl_mode, str) or ssl_mode.lower() not in MYSQL_SSL_MODES:
            raise ConfigError(
                f"ssl_mode must be one of {', '.join(MYSQL_SSL_MODES[:5])}, got {ssl_mode!r}"
            )
        self._ssl_mode = ssl_mode.lower()
        self._ssl_ca = _check_path("ssl_ca", ssl_ca)
        self._ssl_cert = _check_path("ssl_cert", ssl_cert)
        self._ssl_key = _check_path("ssl_key", ssl_key)
        if (self._ssl_cert is None) != (self._ssl_key is None):
            raise ConfigError("ssl_cert and ssl_key must be given together")
        self._connect_timeout = _check_positive_number("connect_timeout", connect_timeout)
        self._tinyint1_as_bool = _check_bool("tinyint1_as_bool", tinyint1_as_bool)
        self._zero_date_as_null = _check_bool("zero_date_as_null", zero_date_as_null)
        self._time_as_duration = _check_bool("time_as_duration", time_as_duration)
        self._raw = _core.RawConnector.mysql(
            host=self._host,
            port=self._port,
            database=self._database,
            user=self._user,
            password=password,
            pool_size=self._pool_size,
            pool_timeout=self._pool_timeout,
            ssl_mode=self._ssl_mode,
            connect_timeout=self._connect_timeout,
            ssl_ca=self._ssl_ca,
            tinyint1_as_bool=self._tinyint1_as_bool,
            zero_date_as_null=self._zero_date_as_null,
            read_only=self._read_only,
            statement_timeout=self._statement_timeout,
            ssl_cert=self._ssl_cert,
            ssl_key=self._ssl_key,
            scan_workers=self._scan_workers,
            scan_min_rows=self._scan_min_rows,
            time_as_duration=self._time_as_duration,
            settings=list(self._settings.items()) or None,
        )

    @property
    def scan_workers(self) -> int:
        """Connections a large single-table read may be split across (1: never split)."""
        return self._scan_workers

    @property
    def ssl_mode(self) -> str:
        """TLS mode."""
        return self._ssl_mode

    @property
    def ssl_ca(self) -> str | None:
        """CA bundle used by the verify_* ssl modes."""
        return self._ssl_ca

    @property
    def connect_timeout(self) -> float:
        """Connect timeout (s)."""
        return self._connect_timeout

    @property
    def tinyint1_as_bool(self) -> bool:
        """Whether TINYINT(1) columns are read as bool."""
        return self._tinyint1_as_bool

    @property
    def zero_date_as_null(self) -> bool:
        """Whether zero dates are read as NULL (else DataError)."""
        return self._zero_date_as_null

    @property
    def time_as_duration(self) -> bool:
        """Whether TIME columns are read as durations (else as times of day)."""
        return self._time_as_duration
