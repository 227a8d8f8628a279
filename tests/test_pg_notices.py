"""PostgreSQL NOTICE/WARNING messages sent during a read reach the caller, as MySQL's
warnings do: on QueryResult.warnings / RecordBatchStream.warnings and as
sqlarrow.DatabaseWarning. Before, every read path dropped them."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

import sqlarrow
from conftest import pg_scalar


@pytest.fixture
def noisy(pg_admin: sqlarrow.Connector, pg_schema: str) -> Iterator[str]:
    """A function that raises a NOTICE and a WARNING (with detail and hint) per call."""
    fn = f'"{pg_schema}".noisy'
    pg_admin.execute(
        f"""create function {fn}(x int) returns int language plpgsql as $$
        begin
            raise notice 'looking at %', x;
            raise warning 'value % is odd', x
                using detail = 'odd values are deprecated', hint = 'use even ones',
                      errcode = '01000';
            return x * 2;
        end $$"""
    )
    yield fn


def lines_for(x: int) -> tuple[str, str]:
    return (
        f"NOTICE 00000: looking at {x}",
        f"WARNING 01000: value {x} is odd DETAIL: odd values are deprecated HINT: use even ones",
    )


def test_notices_of_a_query_reach_the_caller(pg_url: str, noisy: str) -> None:
    """First run (unprepared, read on the connection's stream), second run (prepared),
    and with parameters: each carries its own notices, nothing of the one before."""
    conn = sqlarrow.connect(pg_url, pool_size=1)
    try:
        for _ in range(3):
            with pytest.warns(sqlarrow.DatabaseWarning) as record:
                result = conn.query(f"select {noisy}(3) as v")
            assert result.to_pylist() == [{"v": 6}]
            assert result.warnings == lines_for(3)
            assert [str(w.message) for w in record] == [
                f"the server warned: {line}" for line in lines_for(3)
            ]
            assert record[0].filename == __file__  # points at the caller's line
        with pytest.warns(sqlarrow.DatabaseWarning):
            result = conn.query(f"select {noisy}(x) as v from unnest($1::int[]) x", [[5, 7]])
        assert result.warnings == (*lines_for(5), *lines_for(7))
        assert conn.query("select 1 as v").warnings == ()
    finally:
        conn.close()


def test_notices_over_the_unix_socket(pg_unix: sqlarrow.Connector, noisy: str) -> None:
    """Connections without a tapped stream read through tokio-postgres, whose own
    connection future logged notices and dropped them."""
    for _ in range(2):
        with pytest.warns(sqlarrow.DatabaseWarning):
            result = pg_unix.query(f"select {noisy}(9) as v")
        assert result.warnings == lines_for(9)
    assert pg_unix.query("select 1 as v").warnings == ()


def test_notices_of_streams_and_transactions(pg: sqlarrow.Connector, noisy: str) -> None:
    sql = f"select {noisy}(x) as v from generate_series(1, 3) x"
    with pytest.warns(sqlarrow.DatabaseWarning), pg.stream(sql, batch_size=1) as s:
        assert sum(b.num_rows for b in s) == 3
    assert len(s.warnings) == 6
    with pytest.warns(sqlarrow.DatabaseWarning), pg.transaction() as tx:
        assert tx.query(sql).warnings == (*lines_for(1), *lines_for(2), *lines_for(3))
        # The session decides what it is sent: WARNING and above only.
        tx.execute("set local client_min_messages = warning")
        assert tx.query(f"select {noisy}(1) as v").warnings == lines_for(1)[1:]


def test_notices_of_other_statements_do_not_leak(pg_url: str, pg_schema: str) -> None:
    """A notice of an execute (DROP ... IF EXISTS of nothing) is not a warning of the
    next read on that connection, nor raised as one."""
    conn = sqlarrow.connect(pg_url, pool_size=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            conn.execute(f'drop table if exists "{pg_schema}".nothing_here')
            assert conn.query("select 1 as v").warnings == ()
            conn.execute(f'drop table if exists "{pg_schema}".nothing_here')
            assert conn.query("select 1 as v").warnings == ()  # the prepared path too
    finally:
        conn.close()


def test_many_notices_are_capped(pg: sqlarrow.Connector, noisy: str) -> None:
    """A notice per row of a large result keeps 64 lines and says the rest were not
    kept, rather than growing the result's memory without bound."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sqlarrow.DatabaseWarning)
        result = pg.query(f"select {noisy}(x) as v from generate_series(1, 2000) x")
    assert result.num_rows == 2000
    assert len(result.warnings) == 65
    assert result.warnings[:2] == lines_for(1)
    assert "more than 64 warnings" in result.warnings[-1]


def test_notices_can_be_silenced(pg: sqlarrow.Connector, noisy: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=sqlarrow.DatabaseWarning)
        assert len(pg.query(f"select {noisy}(1) as v").warnings) == 2


def test_a_failing_read_raises_its_error_not_its_notices(
    pg: sqlarrow.Connector, noisy: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(sqlarrow.DataError, match="division by zero"):
            pg.query(f"select {noisy}(1) / 0 as v")
        assert pg_scalar(pg, "select 2 as v") == 2
