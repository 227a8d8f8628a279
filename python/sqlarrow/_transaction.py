"""Transactions on a pinned connection: ``with conn.transaction() as tx: ...``."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Union

from . import _builder
from ._result import QueryResult, RecordBatchStream, warn_server
from ._write import (
    WRITE_MODES,
    WriteResult,
    arrow_input,
    check_on_error,
    check_table_arg,
    to_result,
)
from .exceptions import ConfigError, InterfaceError

__all__ = ["ISOLATION_LEVELS", "Transaction"]

Params = Union[Sequence[Any], Mapping[str, Any], None]

#: Accepted ``isolation`` values (spaces, underscores or dashes; any case).
ISOLATION_LEVELS = ("read uncommitted", "read committed", "repeatable read", "serializable")

_savepoint_ids = itertools.count(1)


def _check_timeout(value: Any) -> float | None:
    from ._connectors import _check_timeout as check  # _connectors imports this module

    return check("timeout", value)


def _check_batch_size(value: Any) -> int:
    from ._connectors import _check_batch_size as check

    return check(value)


class Transaction:
    """An open transaction on one connection checked out of the pool until
    :meth:`commit` or :meth:`rollback`. :meth:`query`, :meth:`stream`, :meth:`execute`
    and :meth:`write` all run on that connection and see the transaction's uncommitted
    changes.

    As a context manager (``with conn.transaction() as tx:``) it commits when the block
    ends normally and rolls back when it raises. A transaction that is garbage-collected
    while still open is rolled back and its connection returned to the pool.

    Engine notes: SQLite transactions are always serializable (``isolation`` must be
    None or ``"serializable"``) and ``read_only`` sets ``PRAGMA query_only``; on MySQL
    any DDL commits the transaction implicitly (the server's rule), so
    :meth:`write` refuses to create a missing table inside a transaction.
    """

    def __init__(self, raw: Any, engine: str) -> None:
        self._raw = raw
        self._engine = engine
        self._streams: weakref.WeakSet[RecordBatchStream] = weakref.WeakSet()

    @property
    def engine(self) -> str:
        return self._engine

    @property
    def active(self) -> bool:
        """Whether the transaction is still open."""
        return bool(self._raw.active)

    def query(
        self, sql: str, params: Params = None, *, timeout: float | None = None
    ) -> QueryResult:
        """Run a query inside the transaction and return its materialized result.

        ``timeout`` (seconds) overrides the connector's ``statement_timeout``, which
        applies here as outside a transaction: when it fires the statement is cancelled
        on the server and :class:`~sqlarrow.QueryTimeoutError` is raised (on PostgreSQL
        the transaction is then aborted and can only roll back)."""
        if not isinstance(sql, str):
            raise ConfigError("sql must be a str")
        raw = self._raw.query(sql, params, timeout=_check_timeout(timeout))
        warn_server(raw.warnings)
        return QueryResult(raw)

    def stream(
        self,
        sql: str,
        params: Params = None,
        batch_size: int = 65536,
        *,
        timeout: float | None = None,
    ) -> RecordBatchStream:
        """Stream a query's record batches from the transaction's connection (it sees
        the transaction's changes and snapshot), in bounded memory.

        The stream holds the connection until it is read to the end or closed: the
        transaction's next statement before then is an :class:`InterfaceError` (it would
        wait for itself). Closing a PostgreSQL or MySQL stream early reads the rest of
        the result and drops it, because stopping the statement would abort the
        transaction; :meth:`commit` and :meth:`rollback` close open streams first.
        ``timeout`` as for :meth:`query`, over the whole statement."""
        if not isinstance(sql, str):
            raise ConfigError("sql must be a str")
        batch_size = _check_batch_size(batch_size)
        raw = self._raw.stream(sql, params, batch_size, timeout=_check_timeout(timeout))
        stream = RecordBatchStream(raw)
        self._streams.add(stream)
        return stream

    def _close_streams(self) -> None:
        for stream in list(self._streams):
            stream.close()

    def execute(self, sql: str, params: Params = None, *, timeout: float | None = None) -> int:
        """Run one statement inside the transaction; returns the rows affected.
        ``timeout`` as for :meth:`query`."""
        if not isinstance(sql, str):
            raise ConfigError("sql must be a str")
        return int(self._raw.execute(sql, params, timeout=_check_timeout(timeout)))

    def executemany(self, sql: str, seq_of_params: Any) -> int:
        """Run ``sql`` once per parameter set inside the transaction (one statement per
        set, on its connection); returns the total rows affected. For bulk data,
        :meth:`write` is much faster."""
        if not isinstance(sql, str):
            raise ConfigError("sql must be a str")
        if isinstance(seq_of_params, (str, bytes, Mapping)) or not hasattr(
            seq_of_params, "__iter__"
        ):
            raise ConfigError(
                "seq_of_params must be a sequence of parameter sets, "
                f"not {type(seq_of_params).__name__}"
            )
        return sum(self.execute(sql, params) for params in seq_of_params)

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
        """:meth:`Connector.write` inside the transaction. The write is atomic within it
        (a savepoint): a failed write leaves the transaction as it was before.
        ``timeout`` (else the connector's ``statement_timeout``) bounds the whole write."""
        check_table_arg(table, data)
        if mode not in WRITE_MODES:
            raise ConfigError(f"mode must be one of {', '.join(WRITE_MODES)}, not {mode!r}")
        raw = self._raw.write(
            table,
            arrow_input(data),
            mode,
            list(key) if key is not None else None,
            create_if_missing,
            dict(column_map) if column_map is not None else None,
            batch_size,
            check_on_error(on_error),
            timeout=_check_timeout(timeout),
        )
        return to_result(raw)

    # -- the query builder, on the transaction's connection (see Connector.select) --
    def select(
        self,
        table: str | Sequence[str],
        columns: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        order_by: str | Sequence[str | tuple[str, str]] | None = None,
        limit: int | None = None,
    ) -> QueryResult:
        sql, params = _builder.render_select(self._engine, table, columns, where, order_by, limit)
        return self.query(sql, params)

    def insert(
        self, table: str | Sequence[str], rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> int:
        """Insert one row (a mapping) or several (mappings with the same keys)."""
        if isinstance(rows, Mapping):
            sql = _builder.render_insert(self._engine, table, list(rows))
            return self.execute(sql, list(rows.values()))
        cols, values = _builder.rows_by_key(rows)
        return self.executemany(_builder.render_insert(self._engine, table, cols), values)

    def update(
        self, table: str | Sequence[str], set: Mapping[str, Any], where: Mapping[str, Any]
    ) -> int:
        sql, params = _builder.render_update(self._engine, table, set, where)
        return self.execute(sql, params)

    def delete(self, table: str | Sequence[str], where: Mapping[str, Any]) -> int:
        sql, params = _builder.render_delete(self._engine, table, where)
        return self.execute(sql, params)

    @contextmanager
    def savepoint(self, name: str | None = None) -> Iterator[Transaction]:
        """A nested savepoint: released when the block ends normally, rolled back to
        (undoing only the block's changes, the transaction stays open) when it raises::

            with conn.transaction() as tx:
                tx.execute("insert ...")
                with tx.savepoint():
                    tx.execute("risky ...")   # undone alone if it raises
        """
        sp = name if name is not None else f"sqlarrow_sp_{next(_savepoint_ids)}"
        if not isinstance(sp, str) or not sp:
            raise ConfigError("savepoint name must be a non-empty str")
        self._raw.savepoint(sp)
        try:
            yield self
        except BaseException:
            if self.active:
                self._raw.rollback_to_savepoint(sp)
                self._raw.release_savepoint(sp)
            raise
        else:
            self._raw.release_savepoint(sp)

    def commit(self) -> None:
        """Commit and return the connection to the pool (closing open streams first)."""
        self._close_streams()
        self._raw.commit()

    def rollback(self) -> None:
        """Roll back and return the connection to the pool (closing open streams first)."""
        self._close_streams()
        self._raw.rollback()

    def __enter__(self) -> Transaction:
        if not self.active:
            raise InterfaceError("the transaction is already finished")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.active:
            return
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def __repr__(self) -> str:
        state = "active" if self.active else "finished"
        return f"<Transaction engine={self._engine} {state}>"
