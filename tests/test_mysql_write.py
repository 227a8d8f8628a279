"""MySQL/MariaDB bulk writes against the local server: MariaDB's binary parameter
arrays (COM_STMT_BULK_EXECUTE, the default for plain appends), LOAD DATA LOCAL INFILE
from a Rust stream (MySQL, transactions, and the `load_data` runs below, which turn the
fast-reader connections off), and the multi-row INSERT fallback. Each test uses its own
database."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

import sqlarrow
from sqlarrow._mysql import MySQLConnector
from sqlarrow.exceptions import (
    ConfigError,
    DataError,
    NotNullViolation,
    QueryError,
    UndefinedObjectError,
    UniqueViolation,
)

HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))
ROOT_USER = os.environ.get("SQLARROW_MYSQL_USER", "root")
ROOT_PASSWORD = os.environ.get("SQLARROW_MYSQL_PASSWORD") or None
UTC = dt.timezone.utc
D = decimal.Decimal


def _connector(database: str | None = None, **kw: Any) -> MySQLConnector:
    return MySQLConnector(
        HOST,
        database=database,
        user=ROOT_USER,
        password=ROOT_PASSWORD,
        ssl_mode="disabled",
        port=PORT,
        **kw,
    )


@pytest.fixture(scope="module")
def my_admin() -> Iterator[MySQLConnector]:
    conn = _connector(pool_size=2)
    if not conn.test_connection().ok:
        pytest.fail(f"MariaDB/MySQL is not reachable at {HOST}:{PORT}", pytrace=False)
    yield conn
    conn.close()


@pytest.fixture(params=["bulk", "load_data"])
def write_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which path plain appends take: "bulk" (MariaDB's parameter arrays on a
    fast-reader connection) or "load_data" (the fast reader off: LOAD DATA LOCAL)."""
    if request.param == "load_data":
        monkeypatch.setenv("SQLARROW_MYSQL_FAST_READER", "0")
    return str(request.param)


@pytest.fixture
def my(my_admin: MySQLConnector, write_path: str) -> Iterator[MySQLConnector]:
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    my_admin.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn = _connector(name, pool_size=4)
    try:
        yield conn
    finally:
        conn.close()
        my_admin.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def no_local_infile(my_admin: MySQLConnector) -> Iterator[None]:
    before = my_admin.query("SELECT @@GLOBAL.local_infile AS v").to_pylist()[0]["v"]
    my_admin.execute("SET GLOBAL local_infile = 0")
    try:
        yield
    finally:
        my_admin.execute(f"SET GLOBAL local_infile = {int(before)}")


@pytest.fixture(scope="module")
def is_mariadb(my_admin: MySQLConnector) -> bool:
    return "MariaDB" in str(my_admin.query("SELECT VERSION() AS v").to_pylist()[0]["v"])


def rows(conn: sqlarrow.Connector, sql: str) -> list[dict[str, Any]]:
    return conn.query(sql).to_pylist()  # type: ignore[no-any-return]


def sample() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "small": pa.array([-32768, 32767, None], pa.int16()),
            "tiny": pa.array([-128, 127, None], pa.int8()),
            "u32": pa.array([0, 4294967295, None], pa.uint32()),
            "u64": pa.array([0, 18446744073709551615, None], pa.uint64()),
            "amount": pa.array(
                [D("12345678901234.5678"), D("-0.0001"), None], pa.decimal128(18, 4)
            ),
            "name": pa.array(["plain", "ñ 😀 'quoted' \"x\" ;-- \\ tab\tnl\nnul\x00end \\N", None]),
            "at": pa.array(
                [
                    dt.datetime(2024, 2, 29, 12, 0, 0, 123456, tzinfo=UTC),
                    None,
                    dt.datetime(1970, 1, 2, tzinfo=UTC),
                ],
                pa.timestamp("us", "UTC"),
            ),
            "naive": pa.array(
                [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), None],
                pa.timestamp("us"),
            ),
            "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1000, 1, 1)]),
            "clock": pa.array([dt.time(23, 59, 59, 999999), dt.time(0, 0), None], pa.time64("us")),
            "flag": pa.array([True, False, None]),
            "ratio": pa.array([1.5, None, -2.25e-300]),
            "r32": pa.array([1.5, None, -0.25], pa.float32()),
            "blob": pa.array([b"\x00\x01\xff\t\n\\", None, b""]),
            "doc": pa.array(['{"a": [1, 2]}', None, "null"]),
        }
    )


def test_round_trip_every_type(my: MySQLConnector) -> None:
    data = sample()
    res = my.write("t", data)
    assert res.rows_written == 3 and res.warnings == ()
    back = my.query("select * from t").to_arrow()
    key = lambda r: (r["naive"] is None, r["naive"] or dt.datetime.min)  # noqa: E731
    # Exact types from the canonical schema DDL
    assert back.schema.field("amount").type == pa.decimal128(18, 4)
    assert back.schema.field("small").type == pa.int16()
    assert back.schema.field("u64").type == pa.uint64()
    assert back.schema.field("naive").type == pa.timestamp("us")
    assert back.schema.field("clock").type == pa.time64("us")
    expected = data.to_pylist()
    got = back.to_pylist()
    # Documented MySQL limits, asserted explicitly: BOOLEAN is TINYINT(1) (read back as
    # bool), TIMESTAMP(6) stores UTC (1970..2038 only), JSON comes back as text.
    assert back.schema.field("flag").type == pa.bool_()
    assert back.schema.field("at").type == pa.timestamp("us", "UTC")
    assert pa.types.is_string(back.schema.field("doc").type) or pa.types.is_large_string(
        back.schema.field("doc").type
    )
    for e, g in zip(sorted(expected, key=key), sorted(got, key=key)):
        for col in e:
            assert g[col] == e[col], (col, g[col], e[col])


def test_modes_create_append_replace(my: MySQLConnector) -> None:
    data = pa.table({"x": [1, 2, 3]})
    my.write("m", data, mode="create")
    with pytest.raises(QueryError, match="already exists"):
        my.write("m", data, mode="create")
    my.write("m", data)
    assert rows(my, "select count(*) as n from m") == [{"n": 6}]
    assert my.write("m", pa.table({"x": [9]}), mode="replace").rows_written == 1
    assert rows(my, "select x from m") == [{"x": 9}]
    with pytest.raises(UndefinedObjectError):
        my.write("missing", data, create_if_missing=False)
    with pytest.raises(ConfigError, match="nope"):
        my.write("m", pa.table({"nope": [1]}))


def test_fallback_without_local_infile(
    my: MySQLConnector,
    no_local_infile: None,
    caplog: pytest.LogCaptureFixture,
    write_path: str,
    is_mariadb: bool,
) -> None:
    data = sample()
    with caplog.at_level(logging.WARNING, logger="sqlarrow"):
        res = my.write("t", data)
    assert res.rows_written == 3
    if write_path == "bulk" and is_mariadb:
        # Parameter arrays need no local_infile: the fast path, no warning.
        assert res.warnings == ()
        assert not any("local_infile" in r.getMessage() for r in caplog.records)
    else:
        assert res.warnings and "local_infile" in res.warnings[0]
        assert any("local_infile" in r.getMessage() for r in caplog.records)
    back = my.query("select * from t").to_arrow()
    key = lambda r: (r["naive"] is None, r["naive"] or dt.datetime.min)  # noqa: E731
    assert sorted(back.to_pylist(), key=key) == sorted(data.to_pylist(), key=key)
    # many rows across several INSERT chunks
    big = pa.table({"n": pa.array(range(5000), pa.int64())})
    assert my.write("big", big).rows_written == 5000
    assert rows(my, "select sum(n) as s from big") == [{"s": D(sum(range(5000)))}]


def test_streaming_many_batches(my: MySQLConnector) -> None:
    batches = [
        pa.record_batch(
            {
                "n": pa.array(range(i * 10000, (i + 1) * 10000), pa.int64()),
                "s": pa.array([f"v{j}" for j in range(10000)]),
            }
        )
        for i in range(20)
    ]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    assert my.write("s", reader).rows_written == 200_000
    assert rows(my, "select count(*) as c, sum(n) as s from s") == [
        {"c": 200_000, "s": D(sum(range(200_000)))}
    ]


def test_constraint_violations_roll_back(my: MySQLConnector) -> None:
    my.execute("create table k (id int primary key, v varchar(10) not null)")
    with pytest.raises(UniqueViolation):
        my.write("k", pa.table({"id": [1, 2, 1], "v": ["a", "b", "c"]}))
    assert rows(my, "select count(*) as n from k") == [{"n": 0}]
    with pytest.raises(NotNullViolation):
        my.write("k", pa.table({"id": [1], "v": pa.array([None], pa.string())}))
    with pytest.raises(DataError):
        my.write("k", pa.table({"id": [1], "v": ["much too long for ten"]}))
    assert rows(my, "select count(*) as n from k") == [{"n": 0}]
    # the pool is fine afterwards
    my.write("k", pa.table({"id": [1], "v": ["ok"]}))
    assert rows(my, "select id, v from k") == [{"id": 1, "v": "ok"}]


def test_upsert_update_duplicates_and_composite_keys(my: MySQLConnector) -> None:
    my.execute(
        "create table u (a int not null, b varchar(20) not null, v int, w text, primary key (a, b))"
    )
    my.write("u", pa.table({"a": [1, 1], "b": ["x", "y"], "v": [1, 2], "w": ["p", "q"]}))
    res = my.write(
        "u",
        pa.table(
            {
                "a": [1, 2, 2, 1],
                "b": ["y", "x", "x", "y"],
                "v": [20, 30, 31, 21],
                "w": ["Q", "R", "R2", "Q2"],
            }
        ),
        mode="upsert",
        key=["a", "b"],
    )
    assert res.rows_written == 1  # (2, x) is new
    assert rows(my, "select a, b, v, w from u order by a, b") == [
        {"a": 1, "b": "x", "v": 1, "w": "p"},
        {"a": 1, "b": "y", "v": 21, "w": "Q2"},
        {"a": 2, "b": "x", "v": 31, "w": "R2"},
    ]
    res = my.write(
        "u",
        pa.table({"a": [1, 1, 9], "b": ["x", "x", "z"], "v": [100, 101, 0]}),
        mode="update",
        key=["a", "b"],
    )
    assert res.rows_updated == 1 and res.rows_written == 0
    assert rows(my, "select v from u where a = 1 and b = 'x'") == [{"v": 101}]
    assert rows(my, "select count(*) as n from u") == [{"n": 3}]


def test_upsert_needs_key_and_unique_index(my: MySQLConnector) -> None:
    my.execute("create table nk (id int, v text)")
    with pytest.raises(ConfigError, match="needs key"):
        my.write("nk", pa.table({"id": [1], "v": ["a"]}), mode="upsert")
    with pytest.raises(ConfigError, match="UNIQUE"):
        my.write("nk", pa.table({"id": [1], "v": ["a"]}), mode="upsert", key=["id"])
    # a missing table is created with the key as primary key
    assert (
        my.write(
            "nt", pa.table({"k": ["a", "b"], "v": [1, 2]}), mode="upsert", key=["k"]
        ).rows_written
        == 2
    )
    res = my.write("nt", pa.table({"k": ["b", "c"], "v": [20, 3]}), mode="upsert", key=["k"])
    assert (res.rows_written, res.rows_updated) == (1, 1)
    assert rows(my, "select k, v from nt order by k") == [
        {"k": "a", "v": 1},
        {"k": "b", "v": 20},
        {"k": "c", "v": 3},
    ]


def test_injection_shaped_identifiers_and_values(my: MySQLConnector) -> None:
    evil = "x`; drop table t;--"
    data = pa.table({evil: [1, 2], "v'\"; --": ["it's", 'a\\b"c;--`']})
    my.write("we`ird; --", data, mode="upsert", key=[evil])
    my.write(
        "we`ird; --", pa.table({evil: [2], "v'\"; --": ["' or 1=1 --"]}), mode="upsert", key=[evil]
    )
    got = rows(my, "select * from `we``ird; --` order by 1")
    assert got == [{evil: 1, "v'\"; --": "it's"}, {evil: 2, "v'\"; --": "' or 1=1 --"}]


def _killing_reader(
    admin: MySQLConnector, db: str, kill_after: int = 3
) -> tuple[pa.RecordBatchReader, list[int], Any, list[Exception]]:
    """2M rows from a generator; after `kill_after` batches another thread KILLs the
    connection running LOAD DATA in database `db` (and waits until it is gone)."""
    import threading

    schema = pa.schema([("id", pa.int64()), ("v", pa.string())])
    kill, done = threading.Event(), threading.Event()
    killed: list[int] = []
    lookup_errors: list[Exception] = []

    def killer() -> None:
        kill.wait(60)
        try:
            # The writing connection: the one whose transaction has inserted rows (LOAD
            # DATA mid-stream, or a bulk execution between two commands). Looked for
            # for up to 30 s (CI machines can be slow); a failed lookup is retried and,
            # if none succeeds, reported by the test.
            ids: list[dict[str, Any]] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    ids = admin.query(
                        "SELECT p.ID AS id FROM information_schema.PROCESSLIST p "
                        "JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID "
                        "WHERE p.DB = ? AND t.trx_rows_modified > 0",
                        [db],
                    ).to_pylist()
                except sqlarrow.Error as e:
                    lookup_errors.append(e)
                if ids:
                    break
                time.sleep(0.05)
            for r in ids:
                admin.execute(f"KILL {int(r['id'])}")
            killed.append(len(ids))
        finally:
            done.set()  # an error here leaves `killed` empty, which the test reports

    threading.Thread(target=killer, daemon=True).start()

    def gen() -> Iterator[pa.RecordBatch]:
        for i in range(20):
            if i == kill_after:
                kill.set()
                done.wait(90)
            base = i * 100_000
            yield pa.record_batch(
                [
                    pa.array(range(base, base + 100_000), pa.int64()),
                    pa.array([f"row{j}" for j in range(100_000)]),
                ],
                schema=schema,
            )

    return pa.RecordBatchReader.from_batches(schema, gen()), killed, done, lookup_errors


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_killed_connection_leaves_no_partial_table(
    my: MySQLConnector, my_admin: MySQLConnector, mode: str
) -> None:
    db = my.query("SELECT DATABASE() AS d").to_pylist()[0]["d"]
    my.execute("create table big (id bigint primary key, v text)")
    my.write("big", pa.table({"id": [-1, -2], "v": ["old", "old"]}))
    reader, killed, done, lookup_errors = _killing_reader(my_admin, db)
    # Which of the two failed tells a missed kill from a write that went on after it.
    raised: Exception | None = None
    try:
        my.write("big", reader, mode=mode)
    except Exception as e:
        raised = e
    done.wait(90)
    assert killed == [1], (
        f"the killer did not find the writing connection: {lookup_errors}; "
        f"the write raised {raised!r}"
    )
    assert isinstance(raised, sqlarrow.DatabaseConnectionError), raised
    assert my.query("select id from big order by id").to_pylist() == [{"id": -2}, {"id": -1}]
    for _ in range(3):
        assert my.query("select 1 as one").to_pylist() == [{"one": 1}]


def test_on_error_skip(my: MySQLConnector) -> None:
    my.execute("create table par (id int primary key)")
    my.execute("insert into par values (1)")
    my.execute(
        "create table sk (id int primary key, v varchar(20) not null, n int check (n >= 0), "
        "code varchar(10) unique, par int, foreign key (par) references par (id))"
    )
    my.write("sk", pa.table({"id": [1], "v": ["a"], "n": [0], "code": ["c1"], "par": [1]}))
    data = pa.table(
        {
            "id": pa.array([2, 1, 3, 4, 5, 6, 6, 7, 8], pa.int64()),
            "v": pa.array(["ok", "dup-existing", None, "neg", "dup-code", "x", "dup", "ok2", "fk"]),
            "n": pa.array([1, 1, 1, -5, 1, 1, 1, None, 1], pa.int64()),
            "code": pa.array(["c2", "c9", "c3", "c4", "c1", "c6", "c7", None, "c8"]),
            "par": pa.array([1, 1, 1, 1, 1, None, 1, 1, 9], pa.int64()),
        }
    )
    with pytest.raises(sqlarrow.ConstraintViolation):
        my.write("sk", data)
    res = my.write("sk", data, on_error="skip")
    assert (res.rows_written, res.rows_failed) == (3, 6)
    assert res.failed is not None
    failed = pa.table(res.failed)
    assert failed.column_names == [*data.column_names, "_sqlarrow_error"]
    assert failed.schema.field("id").type == pa.int64()
    reasons = {r["v"]: r["_sqlarrow_error"] for r in failed.to_pylist()}
    assert set(reasons) == {"dup-existing", None, "neg", "dup-code", "dup", "fk"}
    assert "null" in reasons[None] and "foreign key" in reasons["fk"]
    assert "CONSTRAINT" in reasons["neg"], reasons
    assert [r["id"] for r in my.query("select id from sk order by id").to_pylist()] == [1, 2, 6, 7]
    # upsert: the key's own row is no conflict; last row per key wins
    res = my.write(
        "sk",
        pa.table({"id": [1, 9, 9], "v": ["A", None, "nine"], "code": ["c1", "c6", "c99"]}),
        mode="upsert",
        key=["id"],
        on_error="skip",
    )
    assert (res.rows_written, res.rows_updated, res.rows_failed) == (1, 1, 0)
    assert my.query("select v, code from sk where id in (1, 9) order by id").to_pylist() == [
        {"v": "A", "code": "c1"},
        {"v": "nine", "code": "c99"},
    ]


# --------------------------------------------------------------------------- bulk path


def test_many_commands_and_a_bad_value_late(my: MySQLConnector) -> None:
    """Enough data for several bulk commands (4 MiB each) or LOAD DATA chunks; a value
    MySQL cannot store in the last batch fails the write whole, naming the row."""
    n = 300_000
    text = pa.array([f"{i:08d}-" + "x" * 40 for i in range(n)])
    data = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "t": text,
            "f": pa.array([i / 7 for i in range(n)]),
            "d": pa.array([D(i) / 100 for i in range(n)], pa.decimal128(12, 2)),
        }
    )
    assert my.write("many", data).rows_written == n
    got = rows(my, "select count(*) as c, sum(id) as s, sum(d) as sd, max(t) as mt from many")
    assert got == [
        {"c": n, "s": D(n * (n - 1) // 2), "sd": D(n * (n - 1) // 2) / 100, "mt": text[-1].as_py()}
    ]
    bad = data.set_column(2, "f", pa.array([*(i / 7 for i in range(n - 1)), float("nan")]))
    with pytest.raises(DataError, match=rf'column "f", input row {n - 1}') as e:
        my.write("many", bad)
    assert "nan" in str(e.value).lower()
    assert rows(my, "select count(*) as c from many") == [{"c": n}]
    assert my.write("many", data.slice(0, 10), mode="replace").rows_written == 10
    assert rows(my, "select count(*) as c, max(id) as m from many") == [{"c": 10, "m": 9}]


def test_table_dropped_and_created_again_between_writes(my: MySQLConnector) -> None:
    """The same INSERT text against a table that was dropped and created again (with
    other columns around the written one): each write prepares its statement anew."""
    my.write("again", pa.table({"x": pa.array([1, 2], pa.int64())}))
    my.execute("drop table again")
    my.execute("create table again (pre varchar(5) default 'p', x text, post int default 7)")
    assert my.write("again", pa.table({"x": pa.array([3], pa.int64())})).rows_written == 1
    assert rows(my, "select pre, x, post from again") == [{"pre": "p", "x": "3", "post": 7}]


def test_values_out_of_mysql_range_are_data_errors(my: MySQLConnector) -> None:
    # 10000-01-01: Arrow can hold it, MySQL's DATETIME cannot.
    far = pa.array([0, 253_402_300_800_000_000], pa.timestamp("us"))
    my.write("r", pa.table({"ts": pa.array([0], pa.timestamp("us"))}))
    with pytest.raises(DataError):
        my.write("r", pa.table({"ts": far}))
    assert rows(my, "select count(*) as c from r") == [{"c": 1}]
    my.execute("create table small (v tinyint)")
    with pytest.raises(DataError):
        my.write("small", pa.table({"v": pa.array([1, 300], pa.int64())}))
    assert rows(my, "select count(*) as c from small") == [{"c": 0}]


def test_row_larger_than_max_allowed_packet(
    my: MySQLConnector, my_admin: MySQLConnector, write_path: str, is_mariadb: bool
) -> None:
    if write_path != "bulk" or not is_mariadb:
        pytest.skip("parameter arrays only: LOAD DATA streams rows of any size")
    limit = int(my_admin.query("SELECT @@max_allowed_packet AS m").to_pylist()[0]["m"])
    my.execute("create table big (id int, b longblob)")
    huge = pa.table({"id": [1, 2], "b": pa.array([b"a", b"x" * (limit + 1)], pa.binary())})
    with pytest.raises(DataError, match=r"input row 1 .*max_allowed_packet"):
        my.write("big", huge)
    assert rows(my, "select count(*) as c from big") == [{"c": 0}]
    # the connection and the pool are fine afterwards
    assert my.write("big", huge.slice(0, 1)).rows_written == 1


def test_wide_decimals(my: MySQLConnector) -> None:
    """decimal256 values within and beyond 38 digits (MySQL's DECIMAL holds 65)."""
    big = D("-123456789012345678901234567890123456789012345.123456789")
    vals = [D("0.000000001"), D("-1.5"), big, None]
    data = pa.table({"v": pa.array(vals, pa.decimal256(54, 9))})
    assert my.write("wide", data).rows_written == 4
    got = [r["v"] for r in rows(my, "select v from wide")]
    assert sorted(v for v in got if v is not None) == sorted(v for v in vals if v is not None)
    assert got.count(None) == 1


def test_durations_write_as_time(my: MySQLConnector) -> None:
    # A duration column was refused ("cannot write to MySQL") although a timedelta
    # parameter binds as TIME; it writes as TIME now, a new column is TIME(6), and
    # what TIME cannot hold is a DataError naming the value.
    values = [
        dt.timedelta(hours=26, microseconds=5),
        -dt.timedelta(minutes=90),
        dt.timedelta(0),
        None,
        dt.timedelta(hours=838, minutes=59, seconds=59),
    ]
    expected = ["26:00:00.000005", "-01:30:00.000000", "00:00:00.000000", None]
    expected.append("838:59:59.000000")
    for unit in ("us", "ns"):
        my.write(f"dur_{unit}", pa.table({"d": pa.array(values, pa.duration(unit))}))
        got = rows(my, f"SELECT CAST(d AS CHAR) AS d FROM dur_{unit}")
        assert [r["d"] for r in got] == expected
    seconds = pa.array([3600 * 30, -1, None], pa.duration("s"))
    my.write("dur_s", pa.table({"d": seconds}))
    got = rows(my, "SELECT CAST(d AS CHAR) AS d FROM dur_s")
    assert [r["d"] for r in got] == ["30:00:00.000000", "-00:00:01.000000", None]
    assert rows(
        my,
        "SELECT DATA_TYPE AS t, DATETIME_PRECISION AS p FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'dur_us'",
    ) == [{"t": "time", "p": 6}]
    with pytest.raises(sqlarrow.DataError, match="outside MySQL's TIME range"):
        my.write("dur_us", pa.table({"d": pa.array([dt.timedelta(hours=839)], pa.duration("us"))}))
    with pytest.raises(sqlarrow.DataError, match="finer than the database stores"):
        my.write("dur_us", pa.table({"d": pa.array([1], pa.duration("ns"))}))
    assert rows(my, "SELECT COUNT(*) AS n FROM dur_us") == [{"n": 5}]
    # Read back: as times of day by default (26 hours is none, and says how to read
    # it), as the durations they are with time_as_duration=True.
    with pytest.raises(sqlarrow.DataError, match="time_as_duration=True"):
        my.query("SELECT d FROM dur_us")
    with _connector(my.database, time_as_duration=True) as as_dur:
        assert as_dur.time_as_duration
        back = as_dur.query("SELECT d FROM dur_us").to_arrow()
        assert back.schema.field("d").type == pa.duration("us")
        assert back.column("d").to_pylist() == values
        # the text protocol's TIME too (a statement the server does not prepare)
        assert as_dur.query("SELECT CAST('-12:00:00' AS TIME) AS t").to_pylist() == [
            {"t": -dt.timedelta(hours=12)}
        ]
    url = f"mysql://root@{HOST}:{PORT}/{my.database}?ssl_mode=disabled&time_as_duration=true"
    with sqlarrow.connect(url) as by_url:
        assert by_url.time_as_duration


def test_fractions_into_integer_columns_are_refused(my: MySQLConnector) -> None:
    # MySQL rounds 1.5 into an INT to 2 without a warning: the write stored 2.
    my.execute("CREATE TABLE fi (i INT, u BIGINT UNSIGNED, n DECIMAL(10,2))")
    with pytest.raises(sqlarrow.DataError, match=r"1\.5 \(input row 1\) is not a whole number"):
        my.write("fi", pa.table({"i": pa.array([2.0, 1.5])}))
    with pytest.raises(sqlarrow.DataError, match="not a whole number"):
        my.write("fi", pa.table({"u": pa.array([D("2.50")], pa.decimal128(5, 2))}))
    assert rows(my, "SELECT COUNT(*) AS n FROM fi") == [{"n": 0}]
    my.write(
        "fi",
        pa.table(
            {
                "i": pa.array([2.0, None]),
                "u": pa.array([D("7.00"), D("18446744073709551615.00")], pa.decimal128(22, 2)),
                "n": pa.array([1.25, None]),
            }
        ),
    )
    assert rows(my, "SELECT i, u, n FROM fi ORDER BY u") == [
        {"i": 2, "u": 7, "n": D("1.25")},
        {"i": None, "u": 18446744073709551615, "n": None},
    ]


def test_uuids_into_binary_columns_are_their_16_bytes(my: MySQLConnector) -> None:
    """UUIDs (arrow.uuid, e.g. read from PostgreSQL) into BINARY(16), the usual MySQL
    column for them, were sent as their 36-character text: "Data too long". They are
    now their 16 bytes there, on every write path; text columns still get the text."""
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    field = pa.field("u", pa.binary(16), metadata={"ARROW:extension:name": "arrow.uuid"})
    data = pa.table([pa.array([u.bytes, None], pa.binary(16))], schema=pa.schema([field]))
    my.execute("CREATE TABLE ub (u BINARY(16), t CHAR(36), b BLOB)")
    my.write("ub", data)
    with my.transaction() as tx:
        tx.write("ub", data.rename_columns(["b"]))
    my.write("ub", data.rename_columns(["t"]))
    got = rows(my, "SELECT HEX(u) AS u, t, HEX(b) AS b FROM ub")
    assert {r["u"] for r in got if r["u"]} == {u.hex.upper()}
    assert {r["b"] for r in got if r["b"]} == {u.hex.upper()}
    assert {r["t"] for r in got if r["t"]} == {str(u)}


def test_a_time_of_day_into_a_date_column_is_refused_with_the_input_row(
    my: MySQLConnector,
) -> None:
    """The server cuts a timestamp's time of day into a DATE with a warning, which
    failed the write with only "Data truncated for column 'd' at row 1". Now the
    input row and value are named, as on PostgreSQL and SQLite, on every write path;
    midnights still write as their dates."""
    my.execute("CREATE TABLE dd (id INT PRIMARY KEY, d DATE)")
    stamps = pa.array([dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3, 12, 30)])
    data = pa.table({"id": [1, 2], "d": stamps})
    with pytest.raises(
        sqlarrow.DataError, match=r"2024-01-03T12:30:00 \(input row 1\) has a time of day"
    ):
        my.write("dd", data)
    with my.transaction() as tx, pytest.raises(sqlarrow.DataError, match="has a time of day"):
        tx.write("dd", data)
    with pytest.raises(sqlarrow.DataError, match="has a time of day"):
        my.write("dd", data, mode="upsert", key=["id"])
    assert rows(my, "SELECT COUNT(*) AS n FROM dd") == [{"n": 0}]
    my.write("dd", data.slice(0, 1))
    assert rows(my, "SELECT d FROM dd") == [{"d": dt.date(2024, 1, 2)}]


def test_digits_a_decimal_column_would_drop_are_refused_with_the_input_row(
    my: MySQLConnector,
) -> None:
    # The server rounds 1.255 into DECIMAL(10,2) with only a warning; float noise is not
    # a dropped digit (0.1 + 0.2 is 0.30), as on PostgreSQL and SQLite.
    my.execute("CREATE TABLE fd (n DECIMAL(10,2), w DECIMAL(50,10))")
    with pytest.raises(sqlarrow.DataError, match=r"1\.255 \(input row 1\) has more digits"):
        my.write("fd", pa.table({"n": [1.25, 1.255]}))
    with pytest.raises(sqlarrow.DataError, match=r"input row 0\) has more digits"):
        my.write("fd", pa.table({"n": pa.array([D("1.001")], pa.decimal128(10, 3))}))
    with pytest.raises(sqlarrow.DataError, match=r"\(input row 0\) is too large"):
        my.write("fd", pa.table({"n": [1e12]}))
    assert rows(my, "SELECT COUNT(*) AS n FROM fd") == [{"n": 0}]
    my.write(
        "fd",
        pa.table(
            {
                "n": [0.1 + 0.2, 2.5],
                "w": pa.array([D("1.5000000000000"), None], pa.decimal128(30, 13)),
            }
        ),
    )
    assert rows(my, "SELECT n, w FROM fd ORDER BY n") == [
        {"n": D("0.30"), "w": D("1.5000000000")},
        {"n": D("2.50"), "w": None},
    ]


def test_a_bad_value_in_a_later_batch_leaves_the_transaction_as_it_was(
    my: MySQLConnector,
) -> None:
    """A value refused while the rows stream in (after earlier batches were sent) fails
    the write alone: the transaction and its connection carry on."""
    my.execute("CREATE TABLE tb (i INT)")
    good = pa.record_batch({"i": pa.array(list(range(50_000)), pa.float64())})
    bad = pa.record_batch({"i": pa.array([1.0, 2.5])})
    with my.transaction() as tx:
        tx.execute("INSERT INTO tb VALUES (-1)")
        reader = pa.RecordBatchReader.from_batches(good.schema, [good, good, bad])
        with pytest.raises(sqlarrow.DataError, match=r"2\.5 \(input row 100001\)"):
            tx.write("tb", reader)
        assert rows(tx, "SELECT COUNT(*) AS n FROM tb") == [{"n": 1}]
        tx.execute("INSERT INTO tb VALUES (-2)")
    assert rows(my, "SELECT COUNT(*) AS n, SUM(i) AS s FROM tb") == [{"n": 2, "s": D("-3")}]
    # outside a transaction: nothing lands, and the pool's connections stay usable
    reader = pa.RecordBatchReader.from_batches(good.schema, [good, bad])
    with pytest.raises(sqlarrow.DataError):
        my.write("tb", reader)
    assert rows(my, "SELECT COUNT(*) AS n FROM tb") == [{"n": 2}]


def test_long_table_name_is_a_config_error(my: MySQLConnector) -> None:
    """Over 64 characters: refused by sqlarrow, naming the limit (was the server's
    QueryError 1103), inside a transaction too."""
    with pytest.raises(ConfigError, match="64 characters"):
        my.write("t" * 65, pa.table({"a": [1]}))
    with my.transaction() as tx, pytest.raises(ConfigError, match="64 characters"):
        tx.write("t" * 65, pa.table({"a": [1]}))
    assert my.write("t" * 64, pa.table({"a": [1]})).rows_written == 1


def test_values_larger_than_max_allowed_packet(
    my: MySQLConnector,
    write_path: str,
    is_mariadb: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value over max_allowed_packet: LOAD DATA sent the row as one piece, which the
    client refused as a broken connection (a transient DatabaseConnectionError,
    retried in vain); reading one back through mysql_async failed the same way. Now
    the row is sent in 1 MiB pieces and read back on both read paths. MariaDB's
    parameter arrays cannot carry it: a DataError naming the row and the limit."""
    limit = int(rows(my, "select @@max_allowed_packet as m")[0]["m"])
    size = limit + (1 << 20)
    data = pa.table({"id": [1], "t": ["x" * size], "b": [b"\x00\xff" * (size // 2)]})
    my.execute("create table big (id int, t longtext, b longblob)")
    writer = my
    if write_path == "bulk" and is_mariadb:
        with pytest.raises(DataError, match="max_allowed_packet"):
            my.write("big", data)
        monkeypatch.setenv("SQLARROW_MYSQL_FAST_READER", "0")
        writer = _connector(my.database)
    assert writer.write("big", data).rows_written == 1
    assert rows(my, "select length(t) as t, length(b) as b from big") == [
        {"t": size, "b": size // 2 * 2}
    ]
    back = my.query("select t, b from big").to_pylist()[0]
    assert len(back["t"]) == size and back["b"] == b"\x00\xff" * (size // 2)
    with my.stream("select t from big where id = ?", [1]) as s:
        assert sum(b.num_rows for b in s) == 1


def _wkb_point(x: float, y: float, srid: int | None = None) -> bytes:
    """POINT(x y) as little-endian WKB, or EWKB carrying `srid`."""
    import struct

    if srid is None:
        return struct.pack("<BI2d", 1, 1, x, y)
    return struct.pack("<BII2d", 1, 0x2000_0001, srid, x, y)


def test_geometry_writes_from_wkb(my: MySQLConnector) -> None:
    """The server refused WKB for GEOMETRY columns (error 1416) on every write path:
    it stores an SRID before the WKB. geoarrow.wkb (and plain binary) WKB and EWKB
    now write, keeping EWKB's SRID; a read gives the same values back."""
    my.execute("create table geo (id int primary key, g geometry, p point)")
    data = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int32()),
            "g": pa.array([_wkb_point(1, 2), _wkb_point(3, 4, srid=4326), None], pa.binary()),
            "p": pa.array([_wkb_point(5, 6), None, _wkb_point(7, 8, srid=3857)], pa.binary()),
        }
    )
    tagged = data.schema.set(
        1, data.schema.field("g").with_metadata({"ARROW:extension:name": "geoarrow.wkb"})
    )
    my.write("geo", data.cast(tagged))
    got = rows(
        my, "select id, ST_AsText(g) g, ST_SRID(g) gs, ST_AsText(p) p, ST_SRID(p) ps from geo"
    )
    assert got == [
        {"id": 1, "g": "POINT(1 2)", "gs": 0, "p": "POINT(5 6)", "ps": 0},
        {"id": 2, "g": "POINT(3 4)", "gs": 4326, "p": None, "ps": None},
        {"id": 3, "g": None, "gs": None, "p": "POINT(7 8)", "ps": 3857},
    ]
    # What a read gives writes back unchanged (EWKB where the SRID is not 0).
    back = my.query("select id, g, p from geo order by id").to_arrow()
    assert back.column("g").to_pylist() == data.column("g").to_pylist()
    my.execute("create table geo2 like geo")
    my.write("geo2", back)
    assert my.query("select id, g, p from geo2 order by id").to_arrow().equals(back)
    # Upserts and row-by-row writes take the same values.
    new = pa.table(
        {"id": pa.array([2, 4], pa.int32()), "g": [_wkb_point(9, 9), _wkb_point(0, 1, 4326)]}
    )
    my.write("geo", new, mode="upsert", key=["id"])
    assert rows(my, "select id, ST_AsText(g) g, ST_SRID(g) s from geo where id in (2, 4)") == [
        {"id": 2, "g": "POINT(9 9)", "s": 0},
        {"id": 4, "g": "POINT(0 1)", "s": 4326},
    ]
    res = my.write(
        "geo", pa.table({"id": pa.array([5], pa.int32()), "g": [_wkb_point(1, 1)]}), on_error="skip"
    )
    assert (res.rows_written, res.rows_failed) == (1, 0)


def test_geometry_write_creates_a_geometry_column(my: MySQLConnector) -> None:
    field = pa.field("g", pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"})
    data = pa.table([pa.array([_wkb_point(1, 2, 4326)], pa.binary())], schema=pa.schema([field]))
    my.write("newgeo", data)
    assert rows(my, "select ST_AsText(g) g, ST_SRID(g) s from newgeo") == [
        {"g": "POINT(1 2)", "s": 4326}
    ]


def test_wkb_into_a_blob_column_is_written_as_is(my: MySQLConnector) -> None:
    """Only spatial columns get the SRID prefix: a BLOB keeps the exact bytes."""
    my.execute("create table blobs (b blob)")
    field = pa.field("b", pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"})
    value = _wkb_point(1, 2, 4326)
    my.write("blobs", pa.table([pa.array([value], pa.binary())], schema=pa.schema([field])))
    assert rows(my, "select b from blobs") == [{"b": value}]


def test_bad_wkb_for_a_geometry_column_names_the_row(my: MySQLConnector) -> None:
    my.execute("create table geo (id int, g geometry)")
    import struct

    point_z = struct.pack("<BI3d", 1, 1001, 1, 2, 3)
    for bad, what in [
        (b"\x07abc", "header"),
        (b"\x09" + point_z[1:], "byte order"),
        (point_z, "1001"),
    ]:
        data = pa.table(
            {"id": [1, 2, 3], "g": pa.array([_wkb_point(0, 0), None, bad], pa.binary())}
        )
        with pytest.raises(DataError, match=what) as info:
            my.write("geo", data)
        assert 'column "g" (input row 2)' in str(info.value), info.value
        assert info.value.row_index == 2  # type: ignore[attr-defined]
    assert rows(my, "select count(*) n from geo") == [{"n": 0}]


def test_text_for_a_geometry_column_is_refused_before_writing(my: MySQLConnector) -> None:
    """WKT (or any text) bound for a spatial column failed in the server with error
    1416 after the write had started; it is refused up front, naming WKB."""
    my.execute("create table geo (id int, g geometry)")
    field = pa.field("g", pa.string(), metadata={"ARROW:extension:name": "geoarrow.wkt"})
    data = pa.table(
        [pa.array([1], pa.int64()), pa.array(["POINT(1 2)"])],
        schema=pa.schema([pa.field("id", pa.int64()), field]),
    )
    with pytest.raises(sqlarrow.UnsupportedTypeError, match="takes WKB") as info:
        my.write("geo", data)
    assert info.value.column == "g"  # type: ignore[attr-defined]
    # NULL-only columns still write.
    my.write("geo", pa.table({"id": [2], "g": pa.nulls(1)}))
    assert rows(my, "select id, g from geo") == [{"id": 2, "g": None}]


def test_generated_columns_in_the_input_are_refused(my: MySQLConnector) -> None:
    """A value for a generated column: LOAD DATA dropped it without a word (the
    server's value was stored), the other paths failed mid-write with error 1906. It
    is a ConfigError up front on every path; leaving the column out writes."""
    my.execute(
        "create table gen (id int primary key, a int, b int as (a * 2) stored, "
        "c int as (a + 1) virtual)"
    )
    for col, kw in [
        ("b", {}),
        ("c", {"mode": "upsert", "key": ["id"]}),
        ("b", {"on_error": "skip"}),
    ]:
        data = pa.table({"id": [1], "a": [3], col: [7]})
        with pytest.raises(ConfigError, match=f'"{col}" is a generated column'):
            my.write("gen", data, **kw)  # type: ignore[arg-type]
    my.write("gen", pa.table({"id": [1], "a": [3]}))
    assert rows(my, "select * from gen") == [{"id": 1, "a": 3, "b": 6, "c": 4}]


def test_a_column_of_nulls_creates_a_text_column(my: MySQLConnector) -> None:
    # Arrow's Null type (polars' Null, pa.nulls) has no type to create: MySQL refused the
    # whole write with UnsupportedTypeError, where PostgreSQL and SQLite create text.
    data = pa.table({"a": [1, 2], "n": pa.nulls(2)})
    assert my.write("nulls", data, mode="create").rows_written == 2
    cols = my.query(
        "SELECT DATA_TYPE AS t FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'nulls' AND COLUMN_NAME = 'n'"
    ).to_pylist()
    assert cols == [{"t": "longtext"}]
    assert rows(my, "select * from nulls order by a") == [{"a": 1, "n": None}, {"a": 2, "n": None}]
    # Into an existing column of another type, the NULLs go in as they are.
    my.execute("create table nulls2 (a int, n date)")
    assert my.write("nulls2", data).rows_written == 2
    assert rows(my, "select n from nulls2") == [{"n": None}, {"n": None}]
