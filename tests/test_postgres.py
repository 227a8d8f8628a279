"""PostgreSQL behaviour: lifecycle, parameters, errors, writes, pooling, streaming."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pyarrow as pa
import pytest

import sqlarrow
from conftest import AUTH_PASSWORD, AUTH_ROLE, free_port, pg_scalar

UTC = dt.timezone.utc


# -- lifecycle -----------------------------------------------------------------------------
def test_connect_by_url(pg_url: str) -> None:
    with sqlarrow.connect(pg_url) as conn:
        assert conn.engine == "postgres"
        result = conn.query("select 1 as one")
        assert isinstance(result, sqlarrow.QueryResult)
        assert result.to_pylist() == [{"one": 1}]
    assert conn.closed


def test_connect_by_class(pg_admin: sqlarrow.Connector) -> None:
    with sqlarrow.PostgreSQLConnector(
        host="127.0.0.1", port=5432, database="postgres", user="postgres", pool_size=2
    ) as conn:
        assert conn.query("select current_user as u").to_pylist() == [{"u": "postgres"}]
        assert not conn.closed


def test_application_name_is_sent(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, application_name="sqlarrow-test-app") as conn:
        name = pg_scalar(conn, "select current_setting('application_name') as n")
        assert name == "sqlarrow-test-app"


def test_database_selected(pg_url: str, pg_admin: sqlarrow.Connector) -> None:
    with sqlarrow.connect(pg_url) as conn:
        assert pg_scalar(conn, "select current_database() as d") == "postgres"


def test_use_after_close(pg_url: str) -> None:
    conn = sqlarrow.connect(pg_url)
    conn.query("select 1")
    conn.close()
    conn.close()  # idempotent
    assert conn.closed
    errors = (sqlarrow.InterfaceError, sqlarrow.DatabaseConnectionError)
    with pytest.raises(errors):
        conn.query("select 1")
    with pytest.raises(errors):
        conn.execute("select 1")
    with pytest.raises(errors):
        conn.stream("select 1")
    with pytest.raises(errors):
        conn.executemany("select $1::int", [[1]])
    status = conn.test_connection()
    assert status.ok is False and status.error


def test_context_manager_closes_on_error(pg_url: str) -> None:
    with pytest.raises(ZeroDivisionError), sqlarrow.connect(pg_url) as conn:
        conn.query("select 1")
        raise ZeroDivisionError
    assert conn.closed


def test_test_connection_ok(pg: sqlarrow.Connector) -> None:
    status = pg.test_connection()
    assert isinstance(status, sqlarrow.ConnectionStatus)
    assert status.ok is True and bool(status)
    assert status.error is None
    assert status.latency_ms is not None and status.latency_ms >= 0
    assert status.server_version and status.server_version[0].isdigit()
    with pytest.raises(AttributeError):
        status.ok = False  # type: ignore[misc]  # frozen


def test_pool_stats(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=3) as conn:
        stats = conn.pool_stats()
        assert isinstance(stats, sqlarrow.PoolStats)
        assert stats.max_size == 3
        assert stats.in_use == 0
        conn.query("select 1")
        stats = conn.pool_stats()
        assert 1 <= stats.size <= 3
        assert stats.in_use == 0
        assert stats.idle == stats.size
        assert stats.created >= 1
        assert stats.waiting == 0
        for field in ("max_size", "size", "idle", "in_use", "waiting", "created", "closed"):
            assert isinstance(getattr(stats, field), int)


def test_pool_timeout(pg_url: str) -> None:
    """With the only connection held by an open stream, another query times out."""
    with sqlarrow.connect(pg_url, pool_size=1, pool_timeout=0.5) as conn:
        stream = conn.stream("select g from generate_series(1, 1000000) g", batch_size=1000)
        it = iter(stream)
        next(it)
        assert conn.pool_stats().in_use == 1
        # from another thread: a plain timeout, worth retrying later
        import threading

        caught: list[BaseException] = []

        def other() -> None:
            try:
                conn.query("select 1")
            except BaseException as e:
                caught.append(e)

        start = time.monotonic()
        t = threading.Thread(target=other)
        t.start()
        t.join(60)
        assert time.monotonic() - start < 10
        assert len(caught) == 1 and isinstance(caught[0], sqlarrow.PoolTimeoutError)
        assert caught[0].transient is True
        assert "pool_timeout=0.5" in str(caught[0])
        # from the stream's own thread: it would wait for itself (not transient)
        with pytest.raises(sqlarrow.PoolTimeoutError, match="this thread") as info:
            conn.query("select 1")
        assert info.value.transient is False
        stream.close()
        assert conn.query("select 1 as x").to_pylist() == [{"x": 1}]
        assert conn.pool_stats().in_use == 0


def test_threads_share_one_connector(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=4) as conn:

        def work(i: int) -> list[int]:
            out = []
            for j in range(25):
                rows = conn.query(
                    "select $1::int8 * 1000 + g as v from generate_series(1, 3) g order by g",
                    [i * 100 + j],
                ).to_pylist()
                out.append(sum(r["v"] for r in rows))
            return out

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(work, range(8)))
        for i, sums in enumerate(results):
            assert sums == [3 * ((i * 100 + j) * 1000) + 6 for j in range(25)]
        stats = conn.pool_stats()
        assert stats.size <= 4 and stats.in_use == 0


def test_queries_run_concurrently(pg_url: str) -> None:
    """Blocking calls release the GIL: 4 x pg_sleep(0.5) in 4 threads overlap."""
    with sqlarrow.connect(pg_url, pool_size=4) as conn:
        barrier = threading.Barrier(4)

        def work(_: int) -> None:
            barrier.wait()
            conn.query("select pg_sleep(0.5)")

        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(work, range(4)))
        # sequential would be >= 2.0 s; generous bound, not a benchmark
        assert time.monotonic() - start < 1.9


# -- parameters ------------------------------------------------------------------------------
def test_positional_params(pg: sqlarrow.Connector) -> None:
    result = pg.query("select $1::int4 + 1 as x, $2::text as s, $1::int4 as again", [41, "hi"])
    assert result.to_pylist() == [{"x": 42, "s": "hi", "again": 41}]


def test_tuple_params(pg: sqlarrow.Connector) -> None:
    assert pg.query("select $1::int8 as x", (7,)).to_pylist() == [{"x": 7}]


def test_named_params(pg: sqlarrow.Connector) -> None:
    result = pg.query(
        "select :a::int4 + :b::int4 as s, :a::text as t, ':not_a_param' as lit, "
        "'it''s :also_not' as lit2 -- :comment_param\n"
        "/* :block_comment */",
        {"a": 1, "b": 2},
    )
    assert result.to_pylist() == [
        {"s": 3, "t": "1", "lit": ":not_a_param", "lit2": "it's :also_not"}
    ]


def test_named_params_with_casts_and_arrays(pg: sqlarrow.Connector) -> None:
    result = pg.query(
        "select (:x)::numeric(10,2) as n, ARRAY[1,2,3]::int4[] is not null as arr, :x::text as t",
        {"x": Decimal("1.25")},
    )
    assert result.to_pylist() == [{"n": Decimal("1.25"), "arr": True, "t": "1.25"}]


def test_named_params_dollar_quoted_and_identifiers(pg: sqlarrow.Connector) -> None:
    result = pg.query(
        'select $$:in_dollar$$ as a, $tag$ :x $tag$ as b, :x::text as ":quoted"', {"x": "v"}
    )
    assert result.to_pylist() == [{"a": ":in_dollar", "b": " :x ", ":quoted": "v"}]


def test_list_params_bind_as_arrays_where_the_statement_wants_one(
    pg: sqlarrow.Connector,
) -> None:
    # `= ANY(:ids)` is how PostgreSQL takes a list; the list was sent as JSON text,
    # which the server refused ("malformed array literal").
    ids = pg.query(
        "select g from generate_series(1, 6) g where g = any(:ids) order by g", {"ids": [2, 5, 9]}
    )
    assert ids.to_pylist() == [{"g": 2}, {"g": 5}]
    tricky = ['a "quoted" \\ back,slash {brace}', "", "NULL", None, "ünï"]
    got = pg.query("select :xs::text[] as xs", {"xs": tricky}).to_pylist()[0]["xs"]
    assert got == tricky
    nested = pg.query("select (:m::int4[])::text as m", {"m": [[1, 2], [3, None]]}).to_pylist()
    assert nested == [{"m": "{{1,2},{3,NULL}}"}]
    typed = pg.query(
        "select :d::date[] as d, :u::uuid[] as u, :n::numeric[] as n, :t::timestamptz[] as t",
        {
            "d": [dt.date(2024, 2, 29)],
            "u": [uuid.UUID(int=1)],
            "n": [Decimal("1.10")],
            "t": [dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)],
        },
    ).to_pylist()[0]
    assert typed["d"] == [dt.date(2024, 2, 29)] and typed["u"] == [uuid.UUID(int=1)]
    assert typed["n"] == [Decimal("1.10")]
    assert typed["t"] == [dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)]
    assert pg.query("select 1 as x where 1 = any(:e)", {"e": []}).to_pylist() == []
    # Where the statement wants JSON (or text), a list is JSON.
    items = [1, "a", None, {"k": True}]
    js = pg.query("select :j::jsonb as j, :t::text as t", {"j": items, "t": items})
    assert js.to_pylist() == [{"j": '[1, "a", null, {"k": true}]', "t": '[1,"a",null,{"k": true}]'}]
    with pytest.raises(sqlarrow.ParameterError, match=r"bytes have no JSON form"):
        pg.query("select :j::jsonb as j", {"j": [b"\x00"]})
    with pytest.raises(sqlarrow.ParameterError, match=r"parameter :d: a dict is sent as JSON"):
        pg.query("select :d::jsonb as d", {"d": {"when": dt.date(2020, 1, 1)}})
    assert pg.query("select 1 as one").to_pylist() == [{"one": 1}]


def test_timedelta_params_bind_as_intervals(pg: sqlarrow.Connector) -> None:
    # timedelta was refused ("cannot bind a value of type timedelta").
    for td in [
        dt.timedelta(days=1, seconds=3, microseconds=5),
        dt.timedelta(seconds=-1),
        dt.timedelta(hours=25),
    ]:
        row = pg.query("select :d as d, :d = (:s)::interval as same", {"d": td, "s": str(td)})
        assert row.to_pylist() == [{"d": td, "same": True}]
    assert pg.query(
        "select :d::interval[] as d", {"d": [dt.timedelta(days=2), None]}
    ).to_pylist() == [{"d": [dt.timedelta(days=2), None]}]
    with pytest.raises(sqlarrow.ParameterError, match="timedelta too large"):
        pg.query("select :d as d", {"d": dt.timedelta.max})


def test_values_from_dataframes_bind(pg: sqlarrow.Connector) -> None:
    # numpy scalars were refused ("cannot bind a value of type int64"), pandas' NaT
    # raised a bare TypeError, and pd.NA was refused.
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    row = pg.query(
        "select :i as i, :u as u, :b as b, :d as d, :t as t, :na as na, :nat as nat, "
        ":dnat as dnat, :f as f",
        {
            "i": np.int64(5),
            "u": np.int32(-3),
            "b": np.bool_(True),
            "d": np.datetime64("2020-01-01T10:00:00"),
            "t": np.timedelta64(90, "s"),
            "na": pd.NA,
            "nat": pd.NaT,
            "dnat": np.datetime64("NaT"),
            "f": np.float32(1.5),
        },
    ).to_pylist()[0]
    assert row == {
        "i": 5,
        "u": -3,
        "b": True,
        "d": dt.datetime(2020, 1, 1, 10),
        "t": dt.timedelta(seconds=90),
        "na": None,
        "nat": None,
        "dnat": None,
        "f": 1.5,
    }
    ids = pg.query(
        "select g from generate_series(1, 5) g where g = any(:ids) order by g",
        {"ids": np.array([2, 4])},
    )
    assert ids.to_pylist() == [{"g": 2}, {"g": 4}]
    for fine in (
        np.datetime64("2020-01-01T10:00:00.000000001"),
        pd.Timestamp("2020-01-01 10:00:00.000000001"),
    ):
        with pytest.raises(sqlarrow.ParameterError, match=r"nanosecond|below a microsecond"):
            pg.query("select :v as v", {"v": fine})


def test_day_unit_datetime64_and_memoryview_bind(pg: sqlarrow.Connector) -> None:
    # numpy datetime64 with a day (or coarser) unit bound as a midnight timestamp, where
    # numpy's .item() and pyarrow both take it as a date; a memoryview was refused.
    np = pytest.importorskip("numpy")
    row = pg.query(
        "select :d as d, :m as m, :nat as nat, :mv as mv, pg_typeof(:d)::text as t",
        {
            "d": np.datetime64("2024-02-29"),
            "m": np.datetime64("2024-03", "M"),
            "nat": np.datetime64("NaT", "D"),
            "mv": memoryview(b"\x00\xffab")[1:3],
        },
    ).to_pylist()[0]
    assert row == {
        "d": dt.date(2024, 2, 29),
        "m": dt.date(2024, 3, 1),
        "nat": None,
        "mv": b"\xffa",
        "t": "date",
    }
    with pytest.raises(sqlarrow.ParameterError, match="outside the years 1 to 9999"):
        pg.query("select :d as d", {"d": np.datetime64("10000-01-01")})


def test_more_parameters_than_the_protocol_carries(pg: sqlarrow.Connector) -> None:
    # 70,000 markers raised DatabaseConnectionError "value too large to transmit".
    n = 70_000
    sql = "select 1 as a where 1 in (" + ",".join(f"${i + 1}" for i in range(n)) + ")"
    with pytest.raises(sqlarrow.ParameterError, match=r"at most 65535 parameters.*ANY"):
        pg.query(sql, list(range(n)))
    with pytest.raises(sqlarrow.ParameterError, match="at most 65535"):
        pg.execute(sql, list(range(n)))
    assert pg.query("select 1 as one").to_pylist() == [{"one": 1}]


def test_named_param_missing(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.ParameterError, match="b"):
        pg.query("select :a::int as a, :b::int as b", {"a": 1})


def test_a_mapping_for_positional_markers_says_so(
    pg: sqlarrow.Connector, lite: sqlarrow.Connector
) -> None:
    with pytest.raises(sqlarrow.ParameterError, match=r"positional markers, \$1, \$2"):
        pg.query("select $1::int as a", {"a": 1})
    with pytest.raises(sqlarrow.ParameterError, match=r"positional markers, \?: pass"):
        lite.query("select ? as a", {"a": 1})
    # A name that is simply not in a statement with named markers gets no such hint.
    with pytest.raises(sqlarrow.ParameterError, match=r"statement$"):
        pg.query("select :a::int as a", {"a": 1, "b": 2})


def test_rewrite_named_params_helper() -> None:
    sql, names = sqlarrow._core.rewrite_named_params(
        "select :a, :b::text, ':c', :a -- :d", "postgres"
    )
    assert names[:2] == ["a", "b"]
    assert "$1" in sql and "$2" in sql and "':c'" in sql and ":d" in sql


@pytest.mark.parametrize("params", [[1], [1, 2, 3], []])
def test_wrong_param_count(pg: sqlarrow.Connector, params: list[int]) -> None:
    with pytest.raises(sqlarrow.ParameterError):
        pg.query("select $1::int4 as a, $2::int4 as b", params)


def test_params_given_for_sql_without_markers(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.ParameterError):
        pg.query("select 1", [1])


def test_wrong_param_type(pg: sqlarrow.Connector) -> None:
    with pytest.raises((sqlarrow.ParameterError, sqlarrow.DataError)):
        pg.query("select $1::int4 as a", ["abc"])


def test_param_overflow(pg: sqlarrow.Connector) -> None:
    with pytest.raises((sqlarrow.ParameterError, sqlarrow.DataError)):
        pg.query("select $1::int2 as a", [100000])


def test_string_params_are_rejected_as_sequences(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.ParameterError):
        pg.query("select $1::text as a", "x")  # type: ignore[arg-type]
    # A set has no order: its values bound to markers in whatever order it iterates.
    with pytest.raises(sqlarrow.ParameterError, match="not a set"):
        pg.query("select $1::int as a, $2::int as b", {1, 2})  # type: ignore[arg-type]


def test_unsupported_param_value(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.ParameterError):
        pg.query("select $1::text as a", [object()])


def test_param_types_roundtrip(pg: sqlarrow.Connector) -> None:
    u = uuid.uuid4()
    aware = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    naive = dt.datetime(2024, 5, 6, 7, 8, 9, 654321)
    params = [
        True,
        2**40,
        1.5,
        Decimal("-12.3400"),
        "text ñ 😀",
        b"\x00\x01\xff",
        dt.date(2024, 2, 29),
        naive,
        aware,
        u,
        None,
        '{"k": [1, 2]}',
        dt.time(1, 2, 3),
    ]
    result = pg.query(
        "select $1::bool as b, $2::int8 as i, $3::float8 as f, $4::numeric(10,4) as n, "
        "$5::text as s, $6::bytea as by, $7::date as d, $8::timestamp as ts, "
        "$9::timestamptz as tz, $10::uuid as u, $11::int4 as nul, $12::jsonb as j, $13::time as tm",
        params,
    )
    row = result.to_pylist()[0]
    assert row == {
        "b": True,
        "i": 2**40,
        "f": 1.5,
        "n": Decimal("-12.3400"),
        "s": "text ñ 😀",
        "by": b"\x00\x01\xff",
        "d": dt.date(2024, 2, 29),
        "ts": naive,
        "tz": aware,
        "u": u,
        "nul": None,
        "j": '{"k": [1, 2]}',
        "tm": dt.time(1, 2, 3),
    }


def test_int_param_for_float_and_numeric(pg: sqlarrow.Connector) -> None:
    row = pg.query("select $1::float8 as f, $2::numeric as n, $3::int8 as i", [3, 4, 5]).to_pylist()
    assert row == [{"f": 3.0, "n": Decimal(4), "i": 5}]


def test_untyped_param_is_text(pg: sqlarrow.Connector) -> None:
    assert pg.query("select $1 as x", ["hello"]).to_pylist() == [{"x": "hello"}]


@pytest.mark.parametrize(
    "evil",
    [
        "'; DROP TABLE victims; --",
        "Robert'); DROP TABLE victims;--",
        "$1 :name ? %s {0}",
        "\\'; select pg_sleep(10); --",
        "null",
    ],
)
def test_injection_shaped_strings_verbatim(
    pg: sqlarrow.Connector, pg_schema: str, evil: str
) -> None:
    t = f'"{pg_schema}".victims'
    pg.execute(f"create table {t} (id serial primary key, s text)")
    assert pg.execute(f"insert into {t} (s) values ($1)", [evil]) == 1
    assert pg.execute(f"insert into {t} (s) values (:s)", {"s": evil}) == 1
    rows = pg.query(f"select s from {t} order by id").to_pylist()
    assert rows == [{"s": evil}, {"s": evil}]
    assert pg.query(f"select count(*) as n from {t} where s = $1", [evil]).to_pylist() == [{"n": 2}]


# -- errors ------------------------------------------------------------------------------------
def test_syntax_error(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.SqlSyntaxError) as info:
        pg.query("selec 1")
    assert info.value.sqlstate == "42601"
    assert isinstance(info.value, sqlarrow.QueryError)
    assert info.value.transient is False
    # the connector still works
    assert pg.query("select 1 as x").to_pylist() == [{"x": 1}]


def test_undefined_table(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.UndefinedObjectError) as info:
        pg.query("select * from no_such_table_sqlarrow")
    assert info.value.sqlstate == "42P01"
    assert "no_such_table_sqlarrow" in str(info.value)


def test_undefined_column(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.UndefinedObjectError) as info:
        pg.query("select no_such_column from pg_class")
    assert info.value.sqlstate == "42703"


def test_undefined_function(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.UndefinedObjectError) as info:
        pg.query("select no_such_function_sqlarrow(1)")
    assert info.value.sqlstate == "42883"


def test_division_by_zero_is_data_error(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.DataError) as info:
        pg.query("select 1/0 as x")
    assert info.value.sqlstate == "22012"


def test_error_mid_result_is_raised(pg: sqlarrow.Connector) -> None:
    """An error after some rows were sent must raise, never truncate silently."""
    sql = "select 1/(g - 50000) as x from generate_series(1, 100000) g"
    with pytest.raises(sqlarrow.DataError):
        pg.query(sql)
    with pytest.raises(sqlarrow.DataError), pg.stream(sql, batch_size=1000) as s:
        for _ in s:
            pass
    assert pg.query("select 1 as x").to_pylist() == [{"x": 1}]


def test_constraint_violations(pg: sqlarrow.Connector, pg_schema: str) -> None:
    s = f'"{pg_schema}"'
    pg.execute(f"create table {s}.parent (id int primary key)")
    pg.execute(
        f"create table {s}.child (id int primary key, parent int references {s}.parent(id), "
        "qty int not null check (qty > 0))"
    )
    pg.execute(f"insert into {s}.parent values (1)")
    with pytest.raises(sqlarrow.UniqueViolation) as u:
        pg.execute(f"insert into {s}.parent values (1)")
    assert u.value.sqlstate == "23505"
    with pytest.raises(sqlarrow.ForeignKeyViolation) as fk:
        pg.execute(f"insert into {s}.child values (1, 99, 1)")
    assert fk.value.sqlstate == "23503"
    with pytest.raises(sqlarrow.NotNullViolation) as nn:
        pg.execute(f"insert into {s}.child values (2, 1, null)")
    assert nn.value.sqlstate == "23502"
    with pytest.raises(sqlarrow.CheckViolation) as ck:
        pg.execute(f"insert into {s}.child values (3, 1, 0)")
    assert ck.value.sqlstate == "23514"
    for exc in (u.value, fk.value, nn.value, ck.value):
        assert isinstance(exc, sqlarrow.ConstraintViolation)


def test_wrong_password(pg_admin: sqlarrow.Connector) -> None:
    bad = "wrong-Passw0rd-XYZZY"
    conn = sqlarrow.PostgreSQLConnector(
        host="127.0.0.1", port=5432, database="postgres", user=AUTH_ROLE, password=bad
    )
    try:
        with pytest.raises(sqlarrow.AuthenticationError) as info:
            conn.query("select 1")
        err = info.value
        assert isinstance(err, sqlarrow.DatabaseConnectionError)
        assert err.transient is False
        formatted = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        for text in (str(err), repr(err), formatted, repr(err.details)):
            assert bad not in text
        assert AUTH_PASSWORD not in formatted
        status = conn.test_connection()
        assert status.ok is False
        assert status.error and bad not in status.error
    finally:
        conn.close()


def test_wrong_password_via_url(pg_admin: sqlarrow.Connector) -> None:
    bad = "wrong-Url-Passw0rd"
    with sqlarrow.connect(f"postgresql://{AUTH_ROLE}:{bad}@127.0.0.1:5432/postgres") as conn:
        with pytest.raises(sqlarrow.AuthenticationError) as info:
            conn.query("select 1")
        assert bad not in str(info.value) and bad not in repr(info.value)
        assert bad not in repr(conn)


def test_right_password(pg_admin: sqlarrow.Connector) -> None:
    with sqlarrow.PostgreSQLConnector(
        host="127.0.0.1", database="postgres", user=AUTH_ROLE, password=AUTH_PASSWORD
    ) as conn:
        assert pg_scalar(conn, "select current_user as u") == AUTH_ROLE


def test_unknown_database(pg_admin: sqlarrow.Connector) -> None:
    with sqlarrow.PostgreSQLConnector(
        host="127.0.0.1", database="no_such_db_sqlarrow", user="postgres"
    ) as conn:
        with pytest.raises(sqlarrow.DatabaseConnectionError) as info:
            conn.query("select 1")
        assert "no_such_db_sqlarrow" in str(info.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_unreachable_server_fails_fast(host: str) -> None:
    port = free_port() if host == "127.0.0.1" else 5432
    with sqlarrow.PostgreSQLConnector(
        host=host, port=port, user="postgres", connect_timeout=2, pool_timeout=5
    ) as conn:
        start = time.monotonic()
        with pytest.raises(sqlarrow.DatabaseConnectionError) as info:
            conn.query("select 1")
        assert time.monotonic() - start < 8
        assert not isinstance(info.value, sqlarrow.AuthenticationError)
        assert info.value.transient is True
        start = time.monotonic()
        status = conn.test_connection()
        assert status.ok is False and status.error
        assert status.latency_ms is None or status.latency_ms >= 0
        assert time.monotonic() - start < 8


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on loopback that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(srv.getsockname()[1])
    stop.set()
    thread.join()
    for s in held:
        s.close()
    srv.close()


def test_connect_timeout_against_silent_server(silent_server: int) -> None:
    with sqlarrow.PostgreSQLConnector(
        host="127.0.0.1",
        port=silent_server,
        user="postgres",
        connect_timeout=1,
        pool_timeout=30,
        sslmode="disable",
    ) as conn:
        start = time.monotonic()
        with pytest.raises(sqlarrow.DatabaseConnectionError):
            conn.query("select 1")
        assert time.monotonic() - start < 10
        start = time.monotonic()
        assert conn.test_connection().ok is False
        assert time.monotonic() - start < 10


# -- writes ----------------------------------------------------------------------------------
def test_execute_rowcounts(pg: sqlarrow.Connector, pg_schema: str) -> None:
    t = f'"{pg_schema}".w'
    assert pg.execute(f"create table {t} (id int primary key, v text)") == 0
    assert pg.execute(f"insert into {t} values (1, 'a'), (2, 'b'), (3, 'c')") == 3
    assert pg.execute(f"update {t} set v = v || '!' where id >= $1", [2]) == 2
    assert pg.execute(f"delete from {t} where id = :id", {"id": 1}) == 1
    assert pg.execute(f"delete from {t} where id = 42") == 0
    assert pg.query(f"select * from {t} order by id").to_pylist() == [
        {"id": 2, "v": "b!"},
        {"id": 3, "v": "c!"},
    ]


def test_executemany(pg: sqlarrow.Connector, pg_schema: str) -> None:
    t = f'"{pg_schema}".m'
    pg.execute(f"create table {t} (id int primary key, v text, x numeric(10,2))")
    n = pg.executemany(
        f"insert into {t} values ($1, $2, $3)",
        [(i, f"v{i}", Decimal(i) / 4) for i in range(1000)],
    )
    assert n == 1000
    assert pg_scalar(pg, f"select count(*) as n from {t}") == 1000
    assert (
        pg.executemany(
            f"update {t} set v = :v where id = :id", [{"id": 1, "v": "one"}, {"id": 2, "v": "two"}]
        )
        == 2
    )
    assert pg.executemany(f"insert into {t} values ($1, $2, $3)", []) == 0
    # generators are accepted
    assert pg.executemany(f"delete from {t} where id = $1", ([i] for i in range(10))) == 10


def test_executemany_is_atomic(pg: sqlarrow.Connector, pg_schema: str) -> None:
    t = f'"{pg_schema}".atomic'
    pg.execute(f"create table {t} (id int primary key)")
    with pytest.raises(sqlarrow.UniqueViolation):
        pg.executemany(f"insert into {t} values ($1)", [[1], [2], [2], [3]])
    assert pg_scalar(pg, f"select count(*) as n from {t}") == 0


def test_executemany_bad_arguments(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.ParameterError):
        pg.executemany("select $1::int", "abc")  # type: ignore[arg-type]
    with pytest.raises(sqlarrow.ParameterError):
        pg.executemany("select $1::int", [[1], [1, 2]])


def test_sql_must_be_str(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.SqlArrowError):
        pg.query(b"select 1")  # type: ignore[arg-type]


def test_multiple_statements_in_execute(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """Design choice: a parameterless execute may contain several statements (DDL scripts)."""
    t = f'"{pg_schema}".multi'
    pg.execute(f"create table {t} (id int); insert into {t} values (1); insert into {t} values (2)")
    assert pg_scalar(pg, f"select count(*) as n from {t}") == 2


# -- a query text's first, second and later runs ---------------------------------------------
TYPED_SQL = (
    "select g::int4 as i, g::int8 * 1000000000 as big, (g / 3.0)::numeric(18,4) as num, "
    "'row ' || g as s, g % 2 = 0 as even, date '2024-01-01' + g as day, "
    "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour' as at, "
    "md5(g::text)::uuid as u, jsonb_build_object('g', g) as j, "
    "case when g % 5 = 0 then null else g * 0.5 end::float8 as half "
    "from generate_series(1, 3000) g order by g"
)


def test_first_second_and_later_runs_agree(pg_url: str) -> None:
    """A parameterless read runs unprepared the first time, is prepared the second and
    reuses the prepared statement after: the same result every time, and the server
    holds a prepared statement only from the second run on."""
    with sqlarrow.connect(pg_url, pool_size=1, scan_workers=1) as conn:

        def prepared() -> list[str]:
            rows = conn.query(
                "select statement from pg_prepared_statements where statement like '%3000) g%'"
                " and statement not like '%pg_prepared_statements%'"
            ).to_pylist()
            return [r["statement"] for r in rows]

        first = conn.query(TYPED_SQL).to_arrow()
        assert prepared() == []
        second = conn.query(TYPED_SQL).to_arrow()
        assert prepared() == [TYPED_SQL]
        third = conn.query(TYPED_SQL).to_arrow()
        assert first.num_rows == 3000
        assert first.equals(second) and first.equals(third)
        assert first.schema.equals(second.schema, check_metadata=True)
        row = first.slice(4, 1).to_pylist()[0]
        assert row["i"] == 5 and row["big"] == 5_000_000_000 and row["half"] is None
        assert row["num"] == Decimal("1.6667") and row["s"] == "row 5"
        assert row["at"] == dt.datetime(2024, 1, 1, 5, tzinfo=UTC)


def test_first_run_of_empty_result_has_its_schema(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        sql = "select 1::int2 as a, 'x'::text as b, 1.5::numeric(10,2) as c where false"
        expected = pa.schema([("a", pa.int16()), ("b", pa.string()), ("c", pa.decimal128(10, 2))])
        for _ in range(3):
            result = conn.query(sql).to_arrow()
            assert result.num_rows == 0
            assert result.schema.remove_metadata() == expected
        with conn.stream(sql + " and true") as s:
            assert list(s) == []
            assert s.schema.remove_metadata() == expected


def test_first_run_unsupported_type_stops_a_large_result(pg_url: str) -> None:
    """The type is found in the first row's description: the error comes at once (the
    server is asked to stop sending), and the one pooled connection stays usable."""
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        started = time.monotonic()
        with pytest.raises(sqlarrow.UnsupportedTypeError) as info:
            conn.query("select g, '=r/postgres'::aclitem as p from generate_series(1, 50000000) g")
        assert info.value.type_name == "aclitem"  # type: ignore[attr-defined]
        assert time.monotonic() - started < 30
        with pytest.raises(sqlarrow.UnsupportedTypeError):
            conn.query("select '=r/postgres'::aclitem as p where false")
        assert conn.query("select 41 + 1 as n").to_pylist() == [{"n": 42}]


def test_first_run_error_mid_result_then_prepared_run(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1) as conn:
        sql = "select 10 / (3 - g) as x from generate_series(1, 5) g"
        for _ in range(3):  # unprepared, then prepared, then cached: the same error
            with pytest.raises(sqlarrow.DataError, match="division by zero"):
                conn.query(sql)
        assert conn.query("select 1 as ok").to_pylist() == [{"ok": 1}]


# -- streaming ---------------------------------------------------------------------------------
def test_stream_batches(pg: sqlarrow.Connector) -> None:
    with pg.stream("select g from generate_series(1, 10) g order by g", batch_size=3) as s:
        assert isinstance(s, sqlarrow.RecordBatchStream)
        assert s.column_names == ["g"]
        batches = list(s)
    assert [b.num_rows for b in batches] == [3, 3, 3, 1]
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert [v for b in batches for v in b.column(0).to_pylist()] == list(range(1, 11))


def test_stream_exact_batch_size_large(pg: sqlarrow.Connector) -> None:
    with pg.stream(
        "select g, 'x' || g as s from generate_series(1, 250000) g", batch_size=100000
    ) as s:
        sizes = [b.num_rows for b in s]
    assert sizes == [100000, 100000, 50000]


def test_stream_empty(pg: sqlarrow.Connector) -> None:
    with pg.stream("select 1::int4 as a where false") as s:
        assert s.column_names == ["a"]
        assert list(s) == []
        assert s.schema == pa.schema([("a", pa.int32())])


def test_stream_read_all(pg: sqlarrow.Connector) -> None:
    with pg.stream("select g from generate_series(1, 1000) g", batch_size=64) as s:
        result = s.read_all()
    assert isinstance(result, sqlarrow.QueryResult)
    assert result.num_rows == 1000
    assert result.to_arrow().column("g").to_pylist() == list(range(1, 1001))
    assert len(result.to_pylist()) == 1000


def test_stream_pycapsule(pg: sqlarrow.Connector) -> None:
    s = pg.stream("select g from generate_series(1, 5000) g", batch_size=1000)
    reader = pa.RecordBatchReader.from_stream(s)
    table = reader.read_all()
    assert table.num_rows == 5000


def test_stream_close_early_returns_connection(pg_url: str) -> None:
    with sqlarrow.connect(pg_url, pool_size=1, pool_timeout=10) as conn:
        for _ in range(5):
            s = conn.stream("select g from generate_series(1, 10000000) g", batch_size=1000)
            first = next(iter(s))
            assert first.num_rows == 1000
            start = time.monotonic()
            s.close()
            s.close()
            assert time.monotonic() - start < 5
            assert conn.query("select 1 as x").to_pylist() == [{"x": 1}]
        assert conn.pool_stats().in_use == 0


def test_a_stream_cancel_never_reaches_the_next_statement(pg_url: str) -> None:
    """A cancel request is acted on by the server some time after it is written. With
    one pooled connection, the statement run right after a stream closed early (one long
    enough for a late cancel to land in it) must not be the one cancelled. (A timeout
    that fires while waiting for the pool: test_direct_io.py.)"""
    with sqlarrow.connect(pg_url, pool_size=1, pool_timeout=10) as conn:
        # A stream closed early: its statement is cancelled before the connection is
        # handed back.
        for _ in range(5):
            s = conn.stream("select g from generate_series(1, 10000000) g", batch_size=1000)
            next(iter(s))
            s.close()
            assert conn.query("select pg_sleep(0.3), 1 as x").to_arrow().column(
                "x"
            ).to_pylist() == [1]
        assert conn.pool_stats().in_use == 0


def test_stream_batch_size_validation(pg: sqlarrow.Connector) -> None:
    for bad in (0, -1, True, 1.5, "10"):
        with pytest.raises(sqlarrow.ConfigError):
            pg.stream("select 1", batch_size=bad)  # type: ignore[arg-type]


def test_stream_errors(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.SqlSyntaxError), pg.stream("selec 1") as s:
        list(s)
    with (
        pytest.raises(sqlarrow.UndefinedObjectError),
        pg.stream("select * from no_such_table_sqlarrow") as s,
    ):
        list(s)


def test_stream_with_params(pg: sqlarrow.Connector) -> None:
    with pg.stream(
        "select g from generate_series(1, :n) g where g % :m = 0", {"n": 100, "m": 10}, batch_size=4
    ) as s:
        values = [v for b in s for v in b.column(0).to_pylist()]
    assert values == list(range(10, 101, 10))


def test_copy_through_stdin_or_stdout_is_refused_and_keeps_the_connection(
    pg_url: str, pg_schema: str
) -> None:
    """COPY ... TO STDOUT / FROM STDIN as statement text lost the connection with a
    transient "unexpected message from server" (which retries repeated). It is a clear
    InterfaceError before anything is sent; COPY to a server file still runs."""
    conn = sqlarrow.connect(pg_url, pool_size=1)
    try:
        conn.execute(f'create table "{pg_schema}".c (id int)')
        for sql, says in [
            (f'copy "{pg_schema}".c to stdout', r"TO STDOUT.*query\(\"SELECT"),
            ("COPY (select 1) TO STDOUT WITH (FORMAT csv)", "TO STDOUT"),
            (f'copy "{pg_schema}".c from stdin', r"FROM STDIN.*write\(table"),
        ]:
            for call in (conn.query, conn.execute, conn.stream):
                with pytest.raises(sqlarrow.InterfaceError, match=says) as info:
                    call(sql)
                assert not info.value.transient
            with conn.transaction() as tx, pytest.raises(sqlarrow.InterfaceError):
                tx.execute(sql)
        stats = conn.pool_stats()
        assert (stats.created, stats.closed) == (1, 0), stats
        assert pg_scalar(conn, "select 1 as v") == 1
    finally:
        conn.close()
