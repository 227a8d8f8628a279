"""MySQL / MariaDB integration tests against the local server (127.0.0.1:3306, root, no
password). Each test works in its own database ``sqlarrow_t_<uuid hex>``, dropped after."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import sqlarrow
from conftest import free_port, mysql_global_status
from sqlarrow._core import RawConnector
from sqlarrow._mysql import MySQLConnector

HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))
ROOT_USER = os.environ.get("SQLARROW_MYSQL_USER", "root")
ROOT_PASSWORD = os.environ.get("SQLARROW_MYSQL_PASSWORD") or None

D = decimal.Decimal


def _connector(database: str | None = None, **kw: Any) -> MySQLConnector:
    kw.setdefault("user", ROOT_USER)
    kw.setdefault("password", ROOT_PASSWORD)
    kw.setdefault("ssl_mode", "disabled")
    kw.setdefault("port", PORT)
    return MySQLConnector(HOST, database=database, **kw)


@pytest.fixture(scope="module")
def my_admin() -> Iterator[MySQLConnector]:
    conn = _connector(pool_size=4)
    status = conn.test_connection()
    if not status.ok:
        pytest.fail(
            f"MariaDB/MySQL is not reachable at {HOST}:{PORT}: {status.error}. "
            "Start it (e.g. start-stop-daemon --start --oknodo --background "
            "--exec /usr/sbin/mariadbd).",
            pytrace=False,
        )
    yield conn
    conn.close()


@pytest.fixture
def my_db(my_admin: MySQLConnector) -> Iterator[str]:
    name = f"sqlarrow_t_{uuid.uuid4().hex}"
    my_admin.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        my_admin.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def my(my_db: str) -> Iterator[MySQLConnector]:
    conn = _connector(my_db, pool_size=4)
    yield conn
    conn.close()


def table(conn: sqlarrow.Connector, sql: str, params: Any = None) -> pa.Table:
    return conn.query(sql, params).to_arrow()


def scalar(conn: sqlarrow.Connector, sql: str, params: Any = None) -> Any:
    rows = conn.query(sql, params).to_pylist()
    assert len(rows) == 1, rows
    return next(iter(rows[0].values()))


# -- basics -------------------------------------------------------------------------


def test_connector_basics(my: MySQLConnector) -> None:
    status = my.test_connection()
    assert status.ok, status
    assert status.server_version and status.server_version[0].isdigit()
    assert my.engine == "mysql"
    assert "mysql" in sqlarrow.ENGINES
    secret = _connector(None, password="s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(secret)
    secret.close()
    assert scalar(my, "SELECT @@session.time_zone AS tz") == "+00:00"
    assert scalar(my, "SELECT @@character_set_results AS cs") == "utf8mb4"


def test_raw_connector_directly(my_db: str) -> None:
    raw = RawConnector.mysql(
        host=HOST,
        port=PORT,
        database=my_db,
        user=ROOT_USER,
        password=ROOT_PASSWORD,
        pool_size=2,
        pool_timeout=5.0,
        ssl_mode="preferred",
        connect_timeout=5.0,
    )
    try:
        assert raw.engine == "mysql"
        assert raw.query("SELECT 42 AS x").to_pylist() == [{"x": 42}]
        assert raw.test_connection()["ok"]
    finally:
        raw.close()
    assert raw.closed


def test_config_validation() -> None:
    with pytest.raises(sqlarrow.ConfigError):
        _connector(ssl_mode="bogus")
    with pytest.raises(sqlarrow.ConfigError):
        _connector(port=0)
    with pytest.raises(sqlarrow.ConfigError):
        _connector(tinyint1_as_bool="yes")  # type: ignore[arg-type]


# -- types --------------------------------------------------------------------------

INT_TYPES = [
    ("tinyint", -(2**7), 2**7 - 1, pa.int8()),
    ("smallint", -(2**15), 2**15 - 1, pa.int16()),
    ("mediumint", -(2**23), 2**23 - 1, pa.int32()),
    ("int", -(2**31), 2**31 - 1, pa.int32()),
    ("bigint", -(2**63), 2**63 - 1, pa.int64()),
    ("tinyint unsigned", 0, 2**8 - 1, pa.uint8()),
    ("smallint unsigned", 0, 2**16 - 1, pa.uint16()),
    ("mediumint unsigned", 0, 2**24 - 1, pa.uint32()),
    ("int unsigned", 0, 2**32 - 1, pa.uint32()),
    ("bigint unsigned", 0, 2**64 - 1, pa.uint64()),
]


def test_integers_extremes_and_nulls(my: MySQLConnector) -> None:
    cols = ", ".join(f"c{i} {t}" for i, (t, *_rest) in enumerate(INT_TYPES))
    my.execute(f"CREATE TABLE ints (id int primary key, {cols})")
    names = ", ".join(f"c{i}" for i in range(len(INT_TYPES)))
    marks = ", ".join("?" for _ in INT_TYPES)
    my.execute(
        f"INSERT INTO ints (id, {names}) VALUES (1, {marks})", [lo for _, lo, _, _ in INT_TYPES]
    )
    my.execute(
        f"INSERT INTO ints (id, {names}) VALUES (2, {marks})", [hi for _, _, hi, _ in INT_TYPES]
    )
    my.execute("INSERT INTO ints (id) VALUES (3)")
    t = table(my, f"SELECT {names} FROM ints ORDER BY id")
    for i, (_sql, lo, hi, arrow_type) in enumerate(INT_TYPES):
        col = t.column(f"c{i}")
        assert col.type == arrow_type, (INT_TYPES[i], col.type)
        assert col.to_pylist() == [lo, hi, None], INT_TYPES[i]
    # Also through the text-free literal path with bound parameters.
    assert scalar(my, "SELECT c9 FROM ints WHERE c9 = ?", [2**64 - 1]) == 2**64 - 1


def test_bool_year_bit_float(my: MySQLConnector) -> None:
    my.execute(
        "CREATE TABLE misc (id int primary key, b tinyint(1), bo bool, y year, "
        "bt bit(10), f float, d double)"
    )
    my.execute(
        "INSERT INTO misc VALUES (1, 1, 0, 1901, b'1111111111', 1.5, -2.25), "
        "(2, 0, 1, 2155, b'0', -3.4e38, 1.7976931348623157e308), "
        "(3, NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    t = table(my, "SELECT b, bo, y, bt, f, d FROM misc ORDER BY id")
    assert t.schema.field("b").type == pa.bool_()
    assert t.schema.field("bo").type == pa.bool_()
    assert t.schema.field("y").type == pa.int16()
    assert t.schema.field("bt").type == pa.uint64()
    assert t.schema.field("f").type == pa.float32()
    assert t.schema.field("d").type == pa.float64()
    assert t.column("b").to_pylist() == [True, False, None]
    assert t.column("bo").to_pylist() == [False, True, None]
    assert t.column("y").to_pylist() == [1901, 2155, None]
    assert t.column("bt").to_pylist() == [1023, 0, None]
    f = t.column("f").to_pylist()
    assert f[0] == 1.5 and f[1] is not None and f[1] < -3e38 and f[2] is None
    assert t.column("d").to_pylist() == [-2.25, 1.7976931348623157e308, None]

    as_int = _connector(my.database, tinyint1_as_bool=False)
    try:
        t2 = table(as_int, "SELECT b FROM misc ORDER BY id")
        assert t2.schema.field("b").type == pa.int8()
        assert t2.column("b").to_pylist() == [1, 0, None]
        # A TINYINT(1) holding 2 is no boolean: 2 was read as true, and lost.
        my.execute("INSERT INTO misc (id, b) VALUES (4, 2)")
        with pytest.raises(sqlarrow.DataError, match="tinyint1_as_bool=False"):
            table(my, "SELECT b FROM misc ORDER BY id")
        assert table(as_int, "SELECT b FROM misc ORDER BY id").column("b").to_pylist() == [
            1,
            0,
            None,
            2,
        ]
    finally:
        as_int.close()


def test_decimals(my: MySQLConnector) -> None:
    my.execute(
        "CREATE TABLE decs (id int primary key, a decimal(10,2), b decimal(65,30), "
        "c decimal(38,0), u decimal(5,2) unsigned, e decimal(18,4))"
    )
    big = D("9" * 35 + "." + "9" * 30)
    neg_big = D("-" + str(big))  # (not -big: unary minus rounds to 28 digits)
    my.execute(
        "INSERT INTO decs VALUES (?, ?, ?, ?, ?, ?)",
        [1, D("-12345678.90"), big, D("9" * 38), D("999.99"), D("0.0001")],
    )
    my.execute(
        "INSERT INTO decs VALUES (?, ?, ?, ?, ?, ?)",
        [2, D("0.00"), neg_big, D("-" + "9" * 38), D("0"), D("-12.5")],
    )
    my.execute("INSERT INTO decs (id) VALUES (3)")
    t = table(my, "SELECT a, b, c, u, e FROM decs ORDER BY id")
    assert t.schema.field("a").type == pa.decimal128(10, 2)
    assert t.schema.field("b").type == pa.decimal256(65, 30)
    assert t.schema.field("c").type == pa.decimal128(38, 0)
    assert t.schema.field("u").type == pa.decimal128(5, 2)
    assert t.schema.field("e").type == pa.decimal128(18, 4)
    assert t.column("a").to_pylist() == [D("-12345678.90"), D("0.00"), None]
    assert t.column("b").to_pylist() == [big, neg_big, None]
    assert t.column("c").to_pylist() == [D("9" * 38), D("-" + "9" * 38), None]
    assert t.column("u").to_pylist() == [D("999.99"), D("0.00"), None]
    assert t.column("e").to_pylist() == [D("0.0001"), D("-12.5000"), None]


def test_strings_binary_enum_set_json(my: MySQLConnector) -> None:
    my.execute(
        "CREATE TABLE strs (id int primary key, c char(4), v varchar(20), t text, "
        "lt longtext, bn binary(3), vb varbinary(10), bl blob, "
        "en enum('a','b','😀'), st set('x','y','z'), j json) CHARACTER SET utf8mb4"
    )
    my.execute(
        "INSERT INTO strs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            1,
            "ab",
            "héllo 😀",
            "😀" * 100,
            "x" * 70000,
            b"\x00\x01\x02",
            b"\xff\x00",
            b"\x00" * 300,
            "😀",
            "x,z",
            '{"k": [1, 2.5, "😀"]}',
        ],
    )
    my.execute("INSERT INTO strs (id) VALUES (2)")
    my.execute("INSERT INTO strs (id, c, v, vb) VALUES (3, '', '', '')")
    t = table(my, "SELECT c, v, t, lt, bn, vb, bl, en, st, j FROM strs ORDER BY id")
    for name in ("c", "v", "t", "lt", "st", "j"):
        assert t.schema.field(name).type == pa.string(), name
    # ENUM labels come dictionary-encoded (SET values are lists: plain strings).
    assert t.schema.field("en").type == pa.dictionary(pa.int32(), pa.string())
    for name in ("bn", "vb", "bl"):
        assert t.schema.field(name).type == pa.binary(), name
    assert t.column("c").to_pylist() == ["ab", None, ""]
    assert t.column("v").to_pylist() == ["héllo 😀", None, ""]
    assert t.column("t").to_pylist()[0] == "😀" * 100
    assert t.column("lt").to_pylist()[0] == "x" * 70000
    assert t.column("bn").to_pylist() == [b"\x00\x01\x02", None, None]
    assert t.column("vb").to_pylist() == [b"\xff\x00", None, b""]
    assert t.column("bl").to_pylist()[0] == b"\x00" * 300
    assert t.column("en").to_pylist() == ["😀", None, None]
    assert t.column("st").to_pylist() == ["x,z", None, None]
    import json

    assert json.loads(t.column("j").to_pylist()[0]) == {"k": [1, 2.5, "😀"]}
    version = my.test_connection().server_version or ""
    if "MariaDB" not in version:
        # MySQL's JSON type is tagged; MariaDB's JSON is LONGTEXT on the wire.
        md = t.schema.field("j").metadata or {}
        assert md.get(b"ARROW:extension:name") == b"arrow.json"


def test_dates_times(my: MySQLConnector) -> None:
    my.execute(
        "CREATE TABLE dts (id int primary key, d date, dt datetime(6), ts timestamp(6) NULL, "
        "t time(6))"
    )
    my.execute(
        "INSERT INTO dts VALUES (1, '1000-01-01', '1000-01-01 00:00:00', "
        "'1970-01-01 00:00:01', '00:00:00'), "
        "(2, '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', "
        "'23:59:59.999999'), (3, NULL, NULL, NULL, NULL)"
    )
    t = table(my, "SELECT d, dt, ts, t FROM dts ORDER BY id")
    assert t.schema.field("d").type == pa.date32()
    assert t.schema.field("dt").type == pa.timestamp("us")
    assert t.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("t").type == pa.time64("us")
    assert t.column("d").to_pylist() == [dt.date(1000, 1, 1), dt.date(9999, 12, 31), None]
    assert t.column("dt").to_pylist() == [
        dt.datetime(1000, 1, 1),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
        None,
    ]
    utc = dt.timezone.utc
    assert t.column("ts").to_pylist() == [
        dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=utc),
        dt.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=utc),
        None,
    ]
    assert t.column("t").to_pylist() == [dt.time(0), dt.time(23, 59, 59, 999999), None]
    # Parameters of every temporal kind round-trip.
    got = my.query(
        "SELECT ? AS d, ? AS dt, ? AS t",
        [dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 12, 30, 1, 5), dt.time(1, 2, 3)],
    ).to_pylist()[0]
    assert str(got["d"]).startswith("2024-02-29")
    assert str(got["dt"]).startswith("2024-02-29 12:30:01.000005")
    # TIMESTAMP is stored in UTC whatever the server's time zone.
    my.execute(
        "INSERT INTO dts (id, ts) VALUES (4, ?)", [dt.datetime(2020, 6, 1, 12, 0, tzinfo=utc)]
    )
    assert scalar(my, "SELECT ts FROM dts WHERE id = 4") == dt.datetime(
        2020, 6, 1, 12, 0, tzinfo=utc
    )


def test_time_out_of_range_is_data_error(my: MySQLConnector) -> None:
    with pytest.raises(sqlarrow.DataError, match="outside 00:00:00"):
        my.query("SELECT CAST('-01:00:00' AS TIME) AS t")
    with pytest.raises(sqlarrow.DataError, match="TIME_TO_SEC"):
        my.query("SELECT CAST('838:59:59' AS TIME) AS t")
    # The connection is still usable afterwards.
    assert scalar(my, "SELECT 1 AS one") == 1


def test_zero_dates_are_null_or_error(my: MySQLConnector) -> None:
    # The server's sql_mode here has no NO_ZERO_DATE, so zero dates can be stored.
    my.execute("CREATE TABLE zd (id int primary key, d date, dt datetime, y year)")
    my.execute(
        "INSERT INTO zd VALUES (1, '0000-00-00', '0000-00-00 00:00:00', 0000), "
        "(2, '2020-01-02', '2020-01-02 03:04:05', 2020)"
    )
    t = table(my, "SELECT d, dt, y FROM zd ORDER BY id")
    assert t.column("d").to_pylist() == [None, dt.date(2020, 1, 2)]
    assert t.column("dt").to_pylist() == [None, dt.datetime(2020, 1, 2, 3, 4, 5)]
    assert t.column("y").to_pylist() == [None, 2020]
    strict = _connector(my.database, zero_date_as_null=False)
    try:
        with pytest.raises(sqlarrow.DataError, match="zero date"):
            strict.query("SELECT d FROM zd ORDER BY id")
    finally:
        strict.close()


def test_geometry_expression_reads_as_wkb(my: MySQLConnector) -> None:
    """(GEOMETRY was an UnsupportedTypeError; see test_geometry_reads_as_geoarrow_wkb.)"""
    assert scalar(my, "SELECT POINT(1, 2) AS g") == scalar(
        my, "SELECT ST_AsBinary(POINT(1, 2)) AS g"
    )


def test_empty_result_keeps_schema(my: MySQLConnector) -> None:
    my.execute("CREATE TABLE e (a bigint unsigned, b decimal(65,30), c varchar(3), d datetime)")
    r = my.query("SELECT * FROM e")
    t = r.to_arrow()
    assert t.num_rows == 0
    assert t.schema.types == [pa.uint64(), pa.decimal256(65, 30), pa.string(), pa.timestamp("us")]
    chunks = list(my.stream("SELECT a FROM e WHERE a > ?", [5]))
    assert sum(len(c) for c in chunks) == 0


# -- parameters ---------------------------------------------------------------------


def test_question_and_named_params(my: MySQLConnector) -> None:
    my.execute("CREATE TABLE p (id int primary key, name varchar(20), v double)")
    assert my.execute("INSERT INTO p VALUES (?, ?, ?)", [1, "a ':x' ?", 1.5]) == 1
    assert (
        my.execute("INSERT INTO p VALUES (:id, :name, :v)", {"id": 2, "name": "b", "v": None}) == 1
    )
    assert scalar(my, "SELECT name FROM p WHERE id = ?", [1]) == "a ':x' ?"
    rows = my.query(
        "SELECT id, ':not_a_param' AS lit FROM p WHERE id = :id OR name = :name ORDER BY id",
        {"id": 1, "name": "b"},
    ).to_pylist()
    assert rows == [{"id": 1, "lit": ":not_a_param"}, {"id": 2, "lit": ":not_a_param"}]
    # An injection attempt is just a value.
    assert my.query("SELECT id FROM p WHERE name = ?", ["x' OR '1'='1"]).to_pylist() == []
    # Bytes parameters are sent as strings in the connection charset (as every MySQL
    # client does); the server treats them as binary when stored in or cast to binary.
    assert scalar(my, "SELECT CAST(? AS BINARY) AS b", [b"\x00\xff"]) == b"\x00\xff"
    assert scalar(my, "SELECT ? AS u", [2**64 - 1]) == 2**64 - 1


def test_named_params_after_mysql_escapes_and_comments(my: MySQLConnector) -> None:
    # MySQL strings take backslash escapes ('O\'Brien'), "..." is a string, `#` starts
    # a comment and block comments do not nest: markers after any of them are still
    # found, and text inside them is never rewritten.
    my.execute("CREATE TABLE people (id int primary key, name varchar(40))")
    my.insert("people", [{"id": 1, "name": "O'Brien :x"}, {"id": 2, "name": "it's"}])
    rows = my.query(
        "SELECT id, 'a\\'b ?' AS lit FROM people WHERE name = 'O\\'Brien :x' AND id = :id",
        {"id": 1},
    ).to_pylist()
    assert rows == [{"id": 1, "lit": "a'b ?"}]
    rows = my.query(
        'SELECT id, "say \\"hi\\" :no" AS q FROM people # what\'s :no\n'
        "WHERE id = :id /* /* */ OR name = :name ORDER BY id",
        {"id": 1, "name": "it's"},
    ).to_pylist()
    assert rows == [{"id": 1, "q": 'say "hi" :no'}, {"id": 2, "q": 'say "hi" :no'}]
    # Positional markers: a `?` inside an escaped string is text, not a marker.
    assert scalar(my, "SELECT CONCAT('it\\'s ?', ?) AS s", ["!"]) == "it's ?!"


def test_list_params_are_json(my: MySQLConnector) -> None:
    # MySQL has no arrays: a list is JSON, which JSON_TABLE / JSON_CONTAINS take.
    rows = my.query(
        "SELECT j.v FROM JSON_TABLE(:ids, '$[*]' COLUMNS (v INT PATH '$')) AS j ORDER BY j.v",
        {"ids": [3, 1, 2]},
    ).to_pylist()
    assert rows == [{"v": 1}, {"v": 2}, {"v": 3}]
    assert scalar(my, "SELECT JSON_LENGTH(?) AS n", [[1, "x", None, [2]]]) == 4
    with pytest.raises(sqlarrow.ParameterError, match="bytes have no JSON form"):
        my.query("SELECT ? AS j", [[b"\x00"]])


def test_too_many_parameters_says_how_to_pass_a_long_list(my: MySQLConnector) -> None:
    # The server's own text ("Prepared statement contains too many placeholders") did
    # not say what to do, as the PostgreSQL and SQLite errors do.
    ids = list(range(70_000))
    with pytest.raises(sqlarrow.ParameterError, match=r"placeholders.*JSON_TABLE\(:ids") as e:
        my.query("SELECT 1 AS x FROM DUAL WHERE 5 IN (:ids)", {"ids": ids})
    assert e.value.details["errno"] == "1390"
    hinted = "SELECT v FROM JSON_TABLE(:ids, '$[*]' COLUMNS (v BIGINT PATH '$')) AS j"
    assert (
        scalar(my, f"SELECT COUNT(*) AS n FROM DUAL WHERE 69999 IN ({hinted})", {"ids": ids}) == 1
    )


def test_timedelta_params_bind_as_time(my: MySQLConnector) -> None:
    td = dt.timedelta(days=1, seconds=3, microseconds=5)
    row = my.query("SELECT TIME_TO_SEC(:d) AS s, MICROSECOND(:d) AS us", {"d": td}).to_pylist()
    assert row == [{"s": decimal.Decimal("86403.000005"), "us": 5}]
    assert scalar(my, "SELECT TIME_TO_SEC(?) AS s", [dt.timedelta(seconds=-90)]) == -90


def test_timedelta_params_past_time_range_are_refused(my: MySQLConnector) -> None:
    """A TIME holds -838:59:59 to 838:59:59. The server clamped a longer duration
    parameter without an error (40 days was inserted as 838:59:59); now it is a
    ParameterError, as write() already refuses such durations, on every path."""
    my.execute("create table tr (t time(6))")
    edge = dt.timedelta(hours=838, minutes=59, seconds=59)
    my.execute("insert into tr values (?)", [edge])
    my.execute("insert into tr values (?)", [-edge])
    for bad in [dt.timedelta(days=40), edge + dt.timedelta(microseconds=1), -edge * 2]:
        with pytest.raises(sqlarrow.ParameterError, match="outside MySQL's TIME range"):
            my.execute("insert into tr values (?)", [bad])
        with pytest.raises(sqlarrow.ParameterError, match="outside MySQL's TIME range"):
            my.query("select ? as t", [bad])
        with my.transaction() as tx, pytest.raises(sqlarrow.ParameterError):
            tx.execute("insert into tr values (?)", [bad])
        with pytest.raises(sqlarrow.ParameterError):
            my.executemany("insert into tr values (?)", [[edge], [bad]])
    assert scalar(my, "select count(*) as c from tr") == 2


def test_wrong_param_count(my: MySQLConnector) -> None:
    with pytest.raises(sqlarrow.ParameterError):
        my.query("SELECT ? AS a, ? AS b", [1])
    with pytest.raises(sqlarrow.ParameterError):
        my.execute("SELECT ?", [1, 2])
    assert scalar(my, "SELECT 1 AS one") == 1


# -- errors -------------------------------------------------------------------------


def test_bad_credentials(my_admin: MySQLConnector) -> None:
    user = f"sqlarrow_auth_{uuid.uuid4().hex[:8]}"
    my_admin.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pw'")
    my_admin.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'right-pw'")
    try:
        good = _connector(None, user=user, password="right-pw")
        assert scalar(good, "SELECT 1 AS one") == 1
        good.close()
        bad = _connector(None, user=user, password="wrong-pw")
        try:
            with pytest.raises(sqlarrow.AuthenticationError) as info:
                bad.query("SELECT 1")
            assert "wrong-pw" not in str(info.value)
            assert info.value.transient is False
            status = bad.test_connection()
            assert not status.ok and "AuthenticationError" in (status.error or "")
        finally:
            bad.close()
    finally:
        my_admin.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        my_admin.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")


@pytest.fixture
def ed25519_plugin(my_admin: MySQLConnector) -> Iterator[None]:
    """MariaDB's ed25519 password plugin, loaded for the test (and unloaded after, if
    the test loaded it). MySQL has no such plugin: the test is skipped there."""
    loaded = my_admin.query(
        "SELECT COUNT(*) AS n FROM information_schema.PLUGINS "
        "WHERE PLUGIN_NAME = 'ed25519' AND PLUGIN_STATUS = 'ACTIVE'"
    ).to_pylist()[0]["n"]
    if not loaded:
        try:
            my_admin.execute("INSTALL SONAME 'auth_ed25519'")
        except sqlarrow.QueryError as e:
            pytest.skip(f"this server has no ed25519 plugin (MariaDB's): {e}")
    try:
        yield
    finally:
        if not loaded:
            my_admin.execute("UNINSTALL SONAME 'auth_ed25519'")


@pytest.mark.parametrize("fast_reader", [True, False])
def test_ed25519_login(
    my_admin: MySQLConnector,
    ed25519_plugin: None,
    monkeypatch: pytest.MonkeyPatch,
    fast_reader: bool,
) -> None:
    """An account with MariaDB's ed25519 plugin logs in through the fast reader itself
    and through mysql_async (before, mysql_async was built without the plugin and
    panicked when the fast reader handed such a login over)."""
    if not fast_reader:
        monkeypatch.setenv("SQLARROW_MYSQL_FAST_READER", "0")
    user = f"sqlarrow_ed_{uuid.uuid4().hex[:8]}"
    for host in ("%", "localhost"):
        my_admin.execute(
            f"CREATE USER '{user}'@'{host}' IDENTIFIED VIA ed25519 USING PASSWORD('ed-Pw-1')"
        )
    try:
        aborted = mysql_global_status(my_admin, "Aborted_connects")
        good = _connector(None, user=user, password="ed-Pw-1")
        try:
            # (user@% or user@localhost: the server may resolve 127.0.0.1 to localhost)
            who = good.query("SELECT CURRENT_USER() AS u").to_pylist()[0]["u"]
            assert who.split("@")[0] == user
            assert scalar(good, "SELECT 40 + 2 AS v") == 42
        finally:
            good.close()
        # The fast reader finished the login instead of abandoning it half-way. (Through
        # mysql_async, one login in 256 is refused, the server's greeting read, and the
        # login tried again: see Settings::open_inner.)
        after = mysql_global_status(my_admin, "Aborted_connects")
        assert after == aborted if fast_reader else after - aborted <= 2
        bad = _connector(None, user=user, password="ed-wrong-pw")
        try:
            with pytest.raises(sqlarrow.AuthenticationError) as info:
                bad.query("SELECT 1")
            assert "ed-wrong-pw" not in str(info.value)
            assert "ed-wrong-pw" not in repr(bad)
        finally:
            bad.close()
    finally:
        for host in ("%", "localhost"):
            my_admin.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")


def test_every_path_talks_tcp_to_the_host_and_port_given(my: MySQLConnector) -> None:
    """mysql_async's connections (transactions, execute, introspection) stay on the TCP
    address given. By default mysql_async reconnected to a loopback server through the
    Unix socket path the server reports: another server's socket when the port is
    forwarded to a server whose socket path also exists locally (seen here: a connector
    given 127.0.0.1:<port of a second MariaDB> ran its transactions on the first)."""
    me = "SELECT HOST AS h FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()"
    hosts = [my.query(me).to_pylist()[0]["h"]]
    with my.transaction() as tx:
        hosts.append(tx.query(me).to_pylist()[0]["h"])
    my.execute("CREATE TABLE hosts (h VARCHAR(200))")
    my.execute(f"INSERT INTO hosts {me}")
    hosts.append(my.query("SELECT h FROM hosts").to_pylist()[0]["h"])
    # A TCP client shows as "address:port", a Unix socket's as "localhost".
    assert all(h != "localhost" and ":" in h for h in hosts), hosts


def test_unreachable_port() -> None:
    port = free_port()  # nothing listens on that loopback port
    conn = MySQLConnector("127.0.0.1", port, user="root", connect_timeout=5)
    try:
        start = time.monotonic()
        with pytest.raises(sqlarrow.DatabaseConnectionError) as info:
            conn.query("SELECT 1")
        assert time.monotonic() - start < 10
        assert info.value.transient is True
        assert not conn.test_connection().ok
    finally:
        conn.close()


def test_syntax_and_undefined(my: MySQLConnector) -> None:
    with pytest.raises(sqlarrow.SqlSyntaxError):
        my.query("SELEC 1")
    with pytest.raises(sqlarrow.SqlSyntaxError):
        my.execute("CREATE TABLE (")
    with pytest.raises(sqlarrow.UndefinedObjectError):
        my.query("SELECT * FROM no_such_table")
    with pytest.raises(sqlarrow.UndefinedObjectError):
        my.query("SELECT no_such_column FROM (SELECT 1 AS a) x")


def test_constraint_violations(my: MySQLConnector) -> None:
    my.execute("CREATE TABLE parent (id int primary key) ENGINE=InnoDB")
    my.execute(
        "CREATE TABLE child (id int primary key, pid int NOT NULL, n int CHECK (n > 0), "
        "FOREIGN KEY (pid) REFERENCES parent(id)) ENGINE=InnoDB"
    )
    my.execute("INSERT INTO parent VALUES (1)")
    with pytest.raises(sqlarrow.UniqueViolation) as info:
        my.execute("INSERT INTO parent VALUES (1)")
    assert isinstance(info.value, sqlarrow.ConstraintViolation)
    assert info.value.sqlstate == "23000"
    with pytest.raises(sqlarrow.ForeignKeyViolation):
        my.execute("INSERT INTO child VALUES (1, 99, 1)")
    with pytest.raises(sqlarrow.NotNullViolation):
        my.execute("INSERT INTO child VALUES (1, NULL, 1)")
    with pytest.raises(sqlarrow.CheckViolation):
        my.execute("INSERT INTO child VALUES (1, 1, -1)")


# -- writes -------------------------------------------------------------------------


def test_execute_and_executemany_counts(my: MySQLConnector) -> None:
    assert my.execute("CREATE TABLE w (id int primary key, v varchar(10), d decimal(10,2))") == 0
    n = my.executemany(
        "INSERT INTO w VALUES (?, ?, ?)",
        [[i, f"v{i}", D(f"{i}.25")] for i in range(1, 1001)] + [[1001, None, None]],
    )
    assert n == 1001
    assert scalar(my, "SELECT COUNT(*) AS n FROM w") == 1001
    assert my.execute("UPDATE w SET v = 'x' WHERE id <= ?", [10]) == 10
    # Several statements without parameters: the counts add up.
    assert (
        my.execute("UPDATE w SET v = 'y' WHERE id = 1; UPDATE w SET v = 'y' WHERE id IN (2, 3)")
        == 3
    )
    assert my.execute("DELETE FROM w WHERE id > 1000") == 1
    n = my.executemany(
        "UPDATE w SET v = :v WHERE id = :id", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    )
    assert n == 2
    # One transaction: a failing set rolls back the whole call.
    with pytest.raises(sqlarrow.UniqueViolation):
        my.executemany("INSERT INTO w VALUES (?, ?, ?)", [[5000, "ok", None], [1, "dup", None]])
    assert scalar(my, "SELECT COUNT(*) AS n FROM w WHERE id = 5000") == 0
    assert my.executemany("INSERT INTO w VALUES (?, ?, ?)", []) == 0
    with pytest.raises(sqlarrow.ParameterError):
        my.executemany("INSERT INTO w VALUES (?, ?, ?)", [[1, 2]])


# -- streaming ----------------------------------------------------------------------


def test_stream_many_rows_in_batches(my: MySQLConnector) -> None:
    my.execute("CREATE TABLE big (id int primary key, s varchar(20))")
    my.execute(
        "INSERT INTO big SELECT seq, CONCAT('row', seq) FROM seq_1_to_200000"
        if "MariaDB" in (my.test_connection().server_version or "")
        else "INSERT INTO big WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
        "WHERE n < 200000) SELECT n, CONCAT('row', n) FROM r"
    )
    total = 0
    batches = 0
    last = 0
    for batch in my.stream("SELECT id, s FROM big ORDER BY id", batch_size=10_000):
        t = batch.to_arrow() if hasattr(batch, "to_arrow") else pa.table(batch)
        assert t.num_rows <= 10_000
        ids = t.column("id").to_pylist()
        assert ids[0] == last + 1
        last = ids[-1]
        total += t.num_rows
        batches += 1
    assert total == 200_000
    assert batches == 20
    # Closing a stream early leaves the connector usable.
    stream = my.stream("SELECT id FROM big", batch_size=1000)
    it = iter(stream)
    next(it)
    stream.close()
    assert scalar(my, "SELECT COUNT(*) AS n FROM big") == 200_000


# -- cancellation -------------------------------------------------------------------


def _processlist_sleeps(admin: MySQLConnector, marker: str) -> int:
    rows = admin.query("SHOW PROCESSLIST").to_pylist()
    return sum(1 for r in rows if marker in str(r.get("Info") or ""))


@pytest.mark.parametrize("mode", ["query", "stream"])
def test_ctrl_c_kills_server_query(my_admin: MySQLConnector, mode: str) -> None:
    marker = f"sqlarrow_cancel_{uuid.uuid4().hex}"
    call = (
        f'conn.query("SELECT SLEEP(60) /* {marker} */")'
        if mode == "query"
        else f'list(conn.stream("SELECT SLEEP(60) /* {marker} */"))'
    )
    code = f"""
        import time, warnings
        warnings.simplefilter("ignore")
        from sqlarrow._mysql import MySQLConnector
        conn = MySQLConnector({HOST!r}, {PORT}, user={ROOT_USER!r}, password={ROOT_PASSWORD!r},
                              ssl_mode="disabled", pool_size=1)
        conn.query("SELECT 1")
        print("ready", flush=True)
        start = time.monotonic()
        try:
            {call}
            print("not interrupted", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted {{time.monotonic() - start:.2f}}", flush=True)
        print("after", conn.query("SELECT 1 AS one").to_pylist()[0]["one"], flush=True)
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, SQLARROW_NO_DEBUG_WARNING="1"),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", (line, proc.stderr.read() if proc.stderr else "")
        deadline = time.monotonic() + 15
        while _processlist_sleeps(my_admin, marker) == 0:
            assert time.monotonic() < deadline, "SLEEP(60) never showed up in SHOW PROCESSLIST"
            time.sleep(0.1)
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    elapsed = time.monotonic() - sent
    assert proc.returncode == 0, (out, err)
    assert "interrupted" in out, (out, err)
    assert "after 1" in out, (out, err)
    assert elapsed < 15, (elapsed, out)
    deadline = time.monotonic() + 5
    while _processlist_sleeps(my_admin, marker):
        assert time.monotonic() < deadline, "the query still runs on the server"
        time.sleep(0.1)


def test_client_certificate_options_are_validated(tmp_path: Path) -> None:
    from sqlarrow import MySQLConnector

    cert = tmp_path / "c.pem"
    cert.write_text("not used: the options are checked before any connection\n")
    with pytest.raises(sqlarrow.ConfigError, match="together"):
        MySQLConnector("127.0.0.1", ssl_cert=str(cert))
    with pytest.raises(sqlarrow.ConfigError, match="no such file"):
        MySQLConnector("127.0.0.1", ssl_cert=str(cert), ssl_key=str(tmp_path / "missing.pem"))
    url = f"mysql://root@127.0.0.1:3306/?ssl_mode=disabled&ssl_cert={cert}&ssl_key={cert}"
    with sqlarrow.connect(url) as conn:  # TLS disabled: the identity is never used
        assert conn.query("select 1 as one").to_pylist() == [{"one": 1}]


# -- the fast result reader ---------------------------------------------------------


def _both_readers(
    my_db: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[MySQLConnector, MySQLConnector]:
    fast = _connector(my_db, pool_size=2)
    monkeypatch.setenv("SQLARROW_MYSQL_FAST_READER", "0")
    slow = _connector(my_db, pool_size=2)
    monkeypatch.delenv("SQLARROW_MYSQL_FAST_READER")
    return fast, slow


def test_fast_reader_matches_mysql_async(
    my: MySQLConnector, my_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results decoded from raw row packets equal those of the mysql_async path, for
    every column kind, NULLs in every column, parameters and batch boundaries."""
    my.execute(
        "CREATE TABLE alltypes (id int primary key, ti tinyint, tu tinyint unsigned, "
        "b tinyint(1), si smallint, su smallint unsigned, mi mediumint, mu mediumint unsigned, "
        "i int, iu int unsigned, bi bigint, bu bigint unsigned, f float, d double, "
        "n decimal(18,4), nb decimal(50,10), y year, bt bit(10), dte date, dtm datetime(6), "
        "ts timestamp(6) NULL, tm time(3), c char(3), v varchar(40), tx text, bn varbinary(8), "
        "bl blob, en enum('x','y'), st set('p','q'), j json)"
    )
    my.execute(
        "INSERT INTO alltypes VALUES (1, -128, 255, 1, -32768, 65535, -8388608, 16777215, "
        "-2147483648, 4294967295, -9223372036854775808, 18446744073709551615, 1.5, "
        "-2.25e300, -12345678901234.5678, 1234567890123456789012345678901234567890.0123456789, "
        "1901, b'1010101010', '1000-01-01', '9999-12-31 23:59:59.999999', "
        "'2038-01-19 03:14:07.999999', '23:59:59.999', 'abc', 'héllo 😀', REPEAT('t', 3000), "
        "x'00ff', x'0001', 'y', 'p,q', '{\"a\": 1}')"
    )
    my.execute("INSERT INTO alltypes (id) VALUES (2)")
    my.execute(
        "INSERT INTO alltypes (id, ti, d, v, dte, tm) SELECT seq + 2, seq % 100, seq / 7, "
        "CONCAT('v', seq), '2024-02-29' + INTERVAL seq DAY, '00:00:01' FROM seq_1_to_5000"
        if "MariaDB" in (my.test_connection().server_version or "")
        else "SELECT 1"
    )
    fast, slow = _both_readers(my_db, monkeypatch)
    try:
        sql = "SELECT * FROM alltypes ORDER BY id"
        a, b = fast.query(sql).to_arrow(), slow.query(sql).to_arrow()
        assert a.schema == b.schema
        assert a.equals(b)
        # Batch boundaries and parameters.
        sa = pa.Table.from_batches(
            [pa.record_batch(x) for x in fast.stream(sql, batch_size=333)], schema=a.schema
        )
        # (ENUM dictionaries are per batch, so compare values, not chunk layouts.)
        assert sa.num_rows == a.num_rows
        assert sa.to_pylist() == a.to_pylist()
        q = "SELECT id, v, d FROM alltypes WHERE id > ? AND v LIKE ? ORDER BY id"
        assert fast.query(q, [10, "v1%"]).to_arrow().equals(slow.query(q, [10, "v1%"]).to_arrow())
        # Statements without a result set, and errors, behave the same.
        assert fast.query("DO 1").to_arrow().num_columns == 0
        for conn in (fast, slow):
            with pytest.raises(sqlarrow.UndefinedObjectError):
                conn.query("SELECT * FROM no_such_table")
            with pytest.raises(sqlarrow.SqlSyntaxError):
                conn.query("SELEC 1")
        # A table change under a cached prepared statement is re-prepared.
        assert fast.query("SELECT * FROM alltypes WHERE id = 1").to_arrow().num_columns == 30
        my.execute("ALTER TABLE alltypes ADD COLUMN extra int DEFAULT 7")
        t = fast.query("SELECT * FROM alltypes WHERE id = 1").to_arrow()
        assert t.column("extra").to_pylist() == [7]
    finally:
        fast.close()
        slow.close()


def test_first_run_prepare_and_execute_in_one_round_trip(my_db: str) -> None:
    """On MariaDB a parameterless query text not yet prepared on the connection is
    prepared and executed in one round trip. Results, errors and the statement cache
    (64 statements per connection, then cleared) behave as with a separate prepare;
    one pooled connection stays usable after each error."""
    conn = _connector(my_db, pool_size=1)
    try:
        for i in range(150):  # past the cache's 64 statements, twice
            sql = f"SELECT {i} AS n, '?' AS q, CONCAT('x', {i}) AS s, NULL AS z"
            for _ in range(2 if i % 10 == 0 else 1):  # some run again (cached)
                assert conn.query(sql).to_pylist() == [{"n": i, "q": "?", "s": f"x{i}", "z": None}]
        with pytest.raises(sqlarrow.SqlSyntaxError):
            conn.query("SELEC 1")
        assert scalar(conn, "SELECT 1 + 1 AS two") == 2
        with pytest.raises(sqlarrow.UndefinedObjectError):
            conn.query("SELECT * FROM no_such_table_here")
        assert scalar(conn, "SELECT 'after' AS a") == "after"
        with pytest.raises(sqlarrow.ParameterError):
            conn.query("SELECT ? AS x")
        assert scalar(conn, "SELECT ? AS x", [5]) == 5
        with pytest.raises(sqlarrow.QueryError, match="more than 1 row"):
            # Prepared fine; fails while executing.
            conn.query("SELECT (SELECT 1 UNION SELECT 2) AS two_rows")
        assert scalar(conn, "SELECT 'still fine' AS a") == "still fine"
        assert conn.query("DO 1").to_arrow().num_columns == 0
        empty = conn.query("SELECT 1 AS a, 'b' AS b FROM DUAL WHERE 1 = 0").to_arrow()
        assert empty.num_rows == 0 and empty.column_names == ["a", "b"]
    finally:
        conn.close()


def test_fast_reader_multi_packet_rows_and_abandoned_streams(
    my_admin: MySQLConnector, my: MySQLConnector, my_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row over 16 MiB arrives split across packets; an abandoned stream leaves no
    statement running and the connector usable."""
    old = my_admin.query("SELECT @@global.max_allowed_packet AS m").to_pylist()[0]["m"]
    my_admin.execute("SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
    try:
        fast, slow = _both_readers(my_db, monkeypatch)
        try:
            sql = (
                "SELECT 1 AS a, REPEAT('z', 17 * 1024 * 1024) AS big, 'tail' AS c "
                "UNION ALL SELECT 2, 'x', 'y'"
            )
            a = fast.query(sql).to_arrow()
            assert a.equals(slow.query(sql).to_arrow())
            assert len(a.column("big")[0].as_py()) == 17 * 1024 * 1024
            assert a.column("c").to_pylist() == ["tail", "y"]
        finally:
            fast.close()
            slow.close()
    finally:
        my_admin.execute(f"SET GLOBAL max_allowed_packet = {int(old)}")
    my.execute("CREATE TABLE many (id int primary key)")
    my.execute("INSERT INTO many SELECT seq FROM seq_1_to_100000")
    marker = f"abandon_{uuid.uuid4().hex}"
    for _ in range(3):
        stream = my.stream(f"SELECT id /* {marker} */ FROM many", batch_size=100)
        next(iter(stream))
        stream.close()
    deadline = time.time() + 10
    while _processlist_sleeps(my_admin, marker) and time.time() < deadline:
        time.sleep(0.1)
    assert _processlist_sleeps(my_admin, marker) == 0
    assert scalar(my, "SELECT COUNT(*) AS n FROM many") == 100_000


def test_connections_the_server_closed_are_replaced(
    my: MySQLConnector, my_admin: MySQLConnector, my_db: str
) -> None:
    # After the server closed the pool's idle connections (a restart, KILL,
    # wait_timeout), the next execute() got one of them and failed with "connection
    # closed": mysql_async only learns of it when it uses the connection.
    my.execute("CREATE TABLE k (id int)")
    with my.transaction() as tx:
        tx.execute("INSERT INTO k VALUES (1)")
    ids = my_admin.query(
        "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = :db", {"db": my_db}
    ).to_pylist()
    assert ids
    for row in ids:
        my_admin.execute(f"KILL {row['id']}")
    time.sleep(1.2)  # idle past the ping threshold (1 s)
    assert my.execute("INSERT INTO k VALUES (2)") == 1
    with my.transaction() as tx:
        tx.execute("INSERT INTO k VALUES (3)")
    assert my.query("SELECT COUNT(*) AS n FROM k").to_pylist() == [{"n": 3}]


@pytest.fixture(params=["reader", "mysql_async"])
def my_any_path(
    request: pytest.FixtureRequest, my_db: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MySQLConnector]:
    """A connector on the fast reader, or (SQLARROW_MYSQL_FAST_READER=0) mysql_async."""
    if request.param == "mysql_async":
        monkeypatch.setenv("SQLARROW_MYSQL_FAST_READER", "0")
    conn = _connector(my_db, pool_size=2)
    yield conn
    conn.close()


CAST_WARNS = "select cast('abc' as signed) as v, cast('12x' as signed) as w"


def test_server_warnings_reach_the_caller(my_any_path: MySQLConnector) -> None:
    """Values the server truncated were dropped without a word: now they are on
    QueryResult.warnings and emitted as DatabaseWarning, on both read paths."""
    with pytest.warns(sqlarrow.DatabaseWarning, match="1292") as record:
        result = my_any_path.query(CAST_WARNS)
    assert result.to_pylist() == [{"v": 0, "w": 12}]
    assert result.warnings == (
        "Warning 1292: Truncated incorrect INTEGER value: 'abc'",
        "Warning 1292: Truncated incorrect INTEGER value: '12x'",
    )
    assert len(record) == 2
    assert record[0].filename == __file__  # points at the caller's line
    # Parameters (prepared statements) too; and a clean query has none.
    with pytest.warns(sqlarrow.DatabaseWarning, match="DOUBLE"):
        assert my_any_path.query("select ? + 0 as v", ["abc"]).warnings
    assert my_any_path.query("select 1 as v").warnings == ()


def test_server_warnings_of_streams_and_transactions(my_any_path: MySQLConnector) -> None:
    with pytest.warns(sqlarrow.DatabaseWarning), my_any_path.stream(CAST_WARNS) as s:
        assert sum(b.num_rows for b in s) == 1
    assert len(s.warnings) == 2
    with pytest.warns(sqlarrow.DatabaseWarning), my_any_path.stream(CAST_WARNS) as s:
        assert s.read_all().warnings == s.warnings
    with pytest.warns(sqlarrow.DatabaseWarning), my_any_path.transaction() as tx:
        assert len(tx.query(CAST_WARNS).warnings) == 2


def test_result_cut_short_by_the_server_warns(
    my_any_path: MySQLConnector, my_admin: MySQLConnector
) -> None:
    """MariaDB stops a recursive CTE at max_recursive_iterations (1000) and returns
    what it has: the warning says the result may be incomplete."""
    if "MariaDB" not in str(scalar(my_admin, "select version()")):
        pytest.skip("MySQL raises an error at cte_max_recursion_depth instead")
    sql = (
        "with recursive r(x) as (select 1 union all select x + 1 from r where x < 5000) "
        "select x from r"
    )
    with pytest.warns(sqlarrow.DatabaseWarning, match="1931.*incomplete"):
        result = my_any_path.query(sql)
    assert result.num_rows == 1001


def test_server_warnings_can_be_silenced(my: MySQLConnector) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=sqlarrow.DatabaseWarning)
        assert len(my.query(CAST_WARNS).warnings) == 2


def test_server_warnings_of_partitioned_reads(my: MySQLConnector) -> None:
    my.execute("create table pw (id int primary key, s text)")
    my.execute("insert into pw values (1, '1'), (2, '2x'), (3, '3'), (4, '4y')")
    with pytest.warns(sqlarrow.DatabaseWarning, match="1292"):
        result = my.query(
            "select id, cast(s as signed) as v from pw", partition_on="id", partitions=2
        )
    assert sorted(result.warnings) == [
        "Warning 1292: Truncated incorrect INTEGER value: '2x'",
        "Warning 1292: Truncated incorrect INTEGER value: '4y'",
    ]


def test_geometry_reads_as_geoarrow_wkb(my_any_path: MySQLConnector) -> None:
    """GEOMETRY was an UnsupportedTypeError. It reads as WKB tagged geoarrow.wkb (what
    ST_AsBinary returns), as EWKB carrying the SRID when that is not 0."""
    my_any_path.execute("create table geo (id int, g geometry)")
    my_any_path.execute(
        "insert into geo values (1, ST_GeomFromText('POINT(1 2)')), "
        "(2, ST_GeomFromText('LINESTRING(0 0, 1 1)', 4326)), (3, null)"
    )
    result = my_any_path.query("select id, g, ST_AsBinary(g) as w from geo order by id")
    field = result.to_arrow().schema.field("g")
    assert field.type == pa.binary()
    assert field.metadata[b"ARROW:extension:name"] == b"geoarrow.wkb"
    rows = result.to_pylist()
    assert rows[0]["g"] == rows[0]["w"]
    ewkb, wkb = rows[1]["g"], rows[1]["w"]
    assert ewkb[:5] == bytes([1, 2, 0, 0, 0x20])  # LINESTRING, SRID flag
    assert ewkb[5:9] == (4326).to_bytes(4, "little")
    assert ewkb[9:] == wkb[5:]
    assert rows[2]["g"] is None


def test_load_data_local_as_statement_text_is_refused(my: MySQLConnector) -> None:
    """sqlarrow sends no client file for a statement: LOAD DATA LOCAL failed mid-way
    with "handler is not specified" and dropped the connection, and with it an open
    transaction. It is refused before it is sent; the transaction goes on."""
    my.execute("create table ll (line text)")
    sql = "load data local infile '/etc/hostname' into table ll"
    for call in (my.execute, my.query):
        with pytest.raises(sqlarrow.InterfaceError, match=r"write\(table, data\)"):
            call(sql)
    with my.transaction() as tx:
        tx.execute("insert into ll values ('kept')")
        with pytest.raises(sqlarrow.InterfaceError, match="LOAD DATA LOCAL"):
            tx.execute(sql)
    assert my.query("select line from ll").to_pylist() == [{"line": "kept"}]


def _max_packet(conn: sqlarrow.Connector) -> int:
    return int(conn.query("SELECT @@max_allowed_packet AS m").to_pylist()[0]["m"])


def test_commands_over_max_allowed_packet_are_refused_by_name(
    my_any_path: MySQLConnector,
) -> None:
    """A statement text or parameter set longer than max_allowed_packet made the server
    drop the connection: the caller got a *transient* DatabaseConnectionError ("Connection
    reset by peer", "packets out of order") that a retry policy would repeat. Now it is
    refused before it is sent, naming the limit, on both paths and in transactions."""
    conn = my_any_path
    limit = _max_packet(conn)
    conn.execute("CREATE TABLE t (a int, b longtext)")
    big = "y" * (limit + 10)
    calls = [
        lambda: conn.query("SELECT length(?) AS n", [big]),
        lambda: conn.execute("INSERT INTO t VALUES (?, ?)", [1, big]),
        lambda: conn.query("SELECT length(:v) AS n", {"v": big}),
    ]
    for call in calls:
        with pytest.raises(sqlarrow.ParameterError, match="max_allowed_packet") as info:
            call()
        assert f"max_allowed_packet of {limit} bytes" in str(info.value)
        assert info.value.transient is False
    with conn.transaction() as tx:
        with pytest.raises(sqlarrow.ParameterError, match="max_allowed_packet"):
            tx.execute("INSERT INTO t VALUES (?, ?)", [1, big])
        tx.execute("INSERT INTO t VALUES (?, ?)", [2, "ok"])
    text = f"SELECT length('{big}') AS n"
    with pytest.raises(sqlarrow.QueryError, match=r"statement text .* max_allowed_packet"):
        conn.query(text)
    with pytest.raises(sqlarrow.QueryError, match=r"statement text .* max_allowed_packet"):
        conn.execute(text)
    # The connections are fine afterwards, and values just under the limit still go.
    assert scalar(conn, "SELECT length(?) AS n", ["y" * (limit - 100)]) == limit - 100
    assert scalar(conn, "SELECT COUNT(*) AS n FROM t") == 1


def test_texts_of_one_full_protocol_packet(my: MySQLConnector) -> None:
    """A statement text whose COM_STMT_PREPARE is exactly one full packet (16 MiB - 1
    bytes) goes out as two packets: MariaDB's one-round-trip prepare-and-execute then
    expected its answer under the wrong sequence number ("packets out of order")."""
    if _max_packet(my) < 16 * 1024 * 1024:
        pytest.skip("max_allowed_packet is below 16 MiB")
    head, tail = "SELECT length('", "') AS n"
    n = 0xFF_FFFF - 1 - len(head) - len(tail)
    assert scalar(my, head + "y" * n + tail) == n
    # A parameter set of exactly one full packet (14 bytes of header, 4 of length).
    n = 0xFF_FFFF - 18
    assert scalar(my, "SELECT length(?) AS n", ["y" * n]) == n


def test_executemany_bulk_commands_fit_max_allowed_packet(
    my_any_path: MySQLConnector,
) -> None:
    """MariaDB's bulk executemany sent 10,000 parameter sets per command whatever their
    size: 2,000 sets of 10 kB (20 MB) exceeded max_allowed_packet and the server
    dropped the connection. Commands are now cut to fit; a set too large on its own is
    a ParameterError naming it, and nothing is written."""
    conn = my_any_path
    limit = _max_packet(conn)
    conn.execute("CREATE TABLE t (a int, b longtext)")
    n = limit // 10_000 + 500
    assert (
        conn.executemany("INSERT INTO t VALUES (?, ?)", [[i, "x" * 10_000] for i in range(n)]) == n
    )
    assert conn.query("SELECT COUNT(*) AS n, SUM(length(b)) AS s FROM t").to_pylist() == [
        {"n": n, "s": D(n * 10_000)}
    ]
    for sets in (
        [[1, "x"], [2, "y" * (limit + 10)]],
        [[1, "x"], ["2", "y" * (limit + 10)]],  # mixed kinds: one execute per set
    ):
        with pytest.raises(sqlarrow.ParameterError, match=r"parameter set 1 .*max_allowed_packet"):
            conn.executemany("INSERT INTO t VALUES (?, ?)", sets)
    assert scalar(conn, "SELECT COUNT(*) AS n FROM t") == n


# -- the server's Unix socket ------------------------------------------------------------
def _server_socket(my_admin: MySQLConnector) -> str:
    path = scalar(my_admin, "select @@socket as s")
    if not path or not os.path.exists(path) or HOST not in ("127.0.0.1", "localhost"):
        pytest.skip(f"the MySQL server's socket {path!r} is not on this machine")
    return str(path)


def test_a_unix_socket_path_as_host_reaches_every_path(
    my_admin: MySQLConnector, my_db: str
) -> None:
    """A socket path was looked up as a host name ("Name or service not known"): accounts
    that log in by unix_socket/auth_socket (Debian's root@localhost) could not connect."""
    sock = _server_socket(my_admin)
    over = "select host from information_schema.processlist where id = connection_id()"
    for conn in (
        MySQLConnector(sock, database=my_db, user=ROOT_USER, password=ROOT_PASSWORD, pool_size=2),
        sqlarrow.connect(f"mysql://{ROOT_USER}@localhost/{my_db}?unix_socket={sock}"),
    ):
        with conn:
            # The fast reader and mysql_async (execute, transactions) both use the socket.
            assert scalar(conn, over) == "localhost"
            conn.execute("create table if not exists t (id int primary key, v text)")
            assert conn.write("t", pa.table({"id": [1, 2], "v": ["a", "b"]}), mode="replace")
            with conn.transaction() as tx:
                assert tx.query(over).to_pylist() == [{"host": "localhost"}]
                tx.execute("insert into t values (3, 'c')")
            assert scalar(conn, "select count(*) as n from t") == 3
            with conn.stream("select id from t order by id", batch_size=1) as s:
                assert [b.num_rows for b in s] == [1, 1, 1]


def test_a_unix_socket_refuses_tls_and_names_a_missing_path(
    my_admin: MySQLConnector, tmp_path: Any
) -> None:
    sock = _server_socket(my_admin)
    for mode in ("required", "verify_ca", "verify_identity"):
        with pytest.raises(sqlarrow.ConfigError, match="Unix socket"):
            MySQLConnector(sock, user=ROOT_USER, ssl_mode=mode).query("select 1")
    missing = str(tmp_path / "no.sock")
    with (
        MySQLConnector(missing, user=ROOT_USER) as conn,
        pytest.raises(sqlarrow.DatabaseConnectionError, match=r"no\.sock"),
    ):
        conn.query("select 1")
    with pytest.raises(sqlarrow.ConfigError, match="absolute path"):
        sqlarrow.connect("mysql://root@localhost/?unix_socket=run/mysqld.sock")
