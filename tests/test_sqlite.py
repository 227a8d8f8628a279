"""SQLite: declared types, parameters, errors, writes, pooling, read-only, :memory:."""

from __future__ import annotations

import datetime as dt
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import sqlarrow
from sqlarrow.schema import CanonicalSchema, Column

DECLARED = {
    "a": ("INTEGER", pa.int64()),
    "b": ("REAL", pa.float64()),
    "c": ("TEXT", pa.string()),
    "d": ("BLOB", pa.binary()),
    "e": ("BOOLEAN", pa.bool_()),
    "f": ("DATE", pa.date32()),
    "g": ("TIMESTAMP", pa.timestamp("us")),
    "h": ("DATETIME", pa.timestamp("us")),
    "i": ("DECIMAL(10,2)", pa.decimal128(10, 2)),
    "j": ("NUMERIC(12,4)", pa.decimal128(12, 4)),
    "k": ("VARCHAR(20)", pa.string()),
    "l": ("BIGINT", pa.int64()),
    "m": ("DOUBLE", pa.float64()),
    "n": ("FLOAT", pa.float64()),
    "o": ("INT", pa.int64()),
}


def _create(conn: sqlarrow.Connector) -> None:
    cols = ", ".join(f"{name} {decl}" for name, (decl, _) in DECLARED.items())
    conn.execute(f"CREATE TABLE t ({cols})")


def test_connect_by_url_and_class(sqlite_path: Path) -> None:
    with sqlarrow.connect(f"sqlite:///{sqlite_path}") as conn:
        assert conn.engine == "sqlite"
        assert isinstance(conn, sqlarrow.SQLiteConnector)
        conn.execute("create table x (a int)")
        conn.execute("insert into x values (1)")
    assert conn.closed
    with sqlarrow.SQLiteConnector(str(sqlite_path)) as conn2:
        assert conn2.query("select a from x").to_pylist() == [{"a": 1}]
    assert "SQLiteConnector" in repr(conn2) and str(sqlite_path) in repr(conn2)


def test_relative_url_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with sqlarrow.connect("sqlite:///rel.db") as conn:
        conn.execute("create table x (a int)")
    assert (tmp_path / "rel.db").exists()


def test_declared_types_on_empty_table(lite: sqlarrow.Connector) -> None:
    _create(lite)
    result = lite.query("SELECT * FROM t")
    assert result.num_rows == 0
    schema = result.to_arrow().schema
    for name, (decl, arrow) in DECLARED.items():
        assert schema.field(name).type == arrow, (name, decl, schema.field(name).type)


def test_declared_types_with_values(lite: sqlarrow.Connector) -> None:
    _create(lite)
    lite.execute(
        "INSERT INTO t VALUES (1, 1.5, 'ñ😀', x'00ff', 1, '2024-02-29', "
        "'2024-01-02 03:04:05', '2024-01-02T03:04:05.123456', 12.34, '-1.2345', 'vc', "
        "9007199254740993, 2.5, -0.5, 7)"
    )
    lite.execute("INSERT INTO t VALUES (" + ", ".join(["NULL"] * len(DECLARED)) + ")")
    result = lite.query("SELECT * FROM t")
    table = result.to_arrow()
    for name, (decl, arrow) in DECLARED.items():
        assert table.schema.field(name).type == arrow, (name, decl)
    rows = result.to_pylist()
    assert rows[0] == {
        "a": 1,
        "b": 1.5,
        "c": "ñ😀",
        "d": b"\x00\xff",
        "e": True,
        "f": dt.date(2024, 2, 29),
        "g": dt.datetime(2024, 1, 2, 3, 4, 5),
        "h": dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        "i": Decimal("12.34"),
        "j": Decimal("-1.2345"),
        "k": "vc",
        "l": 9007199254740993,
        "m": 2.5,
        "n": -0.5,
        "o": 7,
    }
    assert rows[1] == dict.fromkeys(DECLARED)
    assert table.to_pylist() == rows


def test_integers_a_float64_cannot_hold_are_refused_not_rounded(
    lite: sqlarrow.Connector,
) -> None:
    """A NUMERIC column (read as float64) keeps integers exactly; one past 2^53 read as
    the nearest double (9007199254740993 as ...992) without a word. Now a DataError
    naming the column, row and value, with the CAST that reads it. Integers a double
    holds exactly still read."""
    lite.execute("create table nu (id integer primary key, n NUMERIC)")
    lite.execute("insert into nu (id, n) values (1, 9007199254740992), (2, -1e15), (3, 0.5)")
    assert lite.query("select n from nu order by id").to_pylist() == [
        {"n": 9007199254740992.0},
        {"n": -1e15},
        {"n": 0.5},
    ]
    lite.execute("insert into nu (id, n) values (4, 9007199254740993)")
    with pytest.raises(
        sqlarrow.DataError,
        match=r'column "n" \(declared NUMERIC\) holds the integer 9007199254740993 at row 3',
    ):
        lite.query("select n from nu order by id").to_pylist()
    assert lite.query("select cast(n as integer) as n from nu where id = 4").to_pylist() == [
        {"n": 9007199254740993}
    ]


def test_strict_any_columns_keep_their_values(lite: sqlarrow.Connector) -> None:
    """`ANY` (in a STRICT table, a column of any type) had NUMERIC's rules: a string
    '12' was written as 12.0 and a text value could not be read. Now it is written as
    given and read typed from its values, as a column with no declared type is."""
    lite.execute("create table an (id integer primary key, a ANY, b ANY) strict")
    lite.write("an", pa.table({"id": [1, 2], "a": ["12", "x"], "b": [7, 8]}))
    got = lite.query("select a, typeof(a) as ta, b, typeof(b) as tb from an order by id")
    assert got.to_pylist() == [
        {"a": "12", "ta": "text", "b": 7, "tb": "integer"},
        {"a": "x", "ta": "text", "b": 8, "tb": "integer"},
    ]
    assert got.to_arrow().schema.field("b").type == pa.int64()


def test_decimal_values_are_exact(lite: sqlarrow.Connector) -> None:
    lite.execute("create table m (v DECIMAL(12,2))")
    values = ["0.10", "0.20", "-0.05", "1234567890.99", "0.30"]
    lite.executemany("insert into m values (?)", [[v] for v in values])
    got = [r["v"] for r in lite.query("select v from m").to_pylist()]
    assert got == [Decimal(v) for v in values]


@pytest.mark.parametrize("stored", ["1.234", "1.005", "'1.239'"])
def test_decimal_values_with_more_digits_than_declared_are_refused(
    lite: sqlarrow.Connector, stored: str
) -> None:
    # SQLite keeps whatever it is given in a DECIMAL(10,2) column (as REAL here); the
    # read rounded 1.234 to 1.23 and 1.005 to 1.00 without a word.
    lite.execute("create table m (v DECIMAL(10,2))")
    lite.execute(f"insert into m values ({stored})")
    with pytest.raises(sqlarrow.DataError, match=r'column "v" .* cannot hold without losing'):
        lite.query("select v from m")
    assert lite.query("select round(v, 2) as v from m").to_pylist()[0]["v"] in (
        1.23,
        1.24,
        1.0,
        1.01,
    )


def test_decimal_values_keep_reading_through_float_noise(lite: sqlarrow.Connector) -> None:
    # A sum computed in floats and stored in a DECIMAL(10,2) column is 0.30000000000000004
    # in the file: that is the float's noise, not a third digit, and it reads as 0.30.
    lite.execute("create table m (v DECIMAL(10,2))")
    lite.execute("insert into m values (0.1 + 0.2), (1.1 * 3), (-0.07)")
    got = [r["v"] for r in lite.query("select v from m").to_pylist()]
    assert got == [Decimal("0.30"), Decimal("3.30"), Decimal("-0.07")]


def test_decimal_columns_sqlarrow_creates_are_exact_and_compare_as_numbers(
    lite: sqlarrow.Connector,
) -> None:
    # write() declared every decimal `DECIMAL TEXT(p,s)`: exact, but SQL compared the
    # values as text ('10.00' > 6 was false, max() was '5.00'). A canonical schema's
    # DDL declared `DECIMAL(p,s)` at every precision: 12345678901234.5678 came back as
    # ...5680 (REAL). Now both: NUMERIC affinity up to 15 digits, TEXT above.
    narrow = pa.array([Decimal("5.00"), Decimal("10.00"), None], pa.decimal128(10, 2))
    wide = pa.array(
        [Decimal("12345678901234.5678"), Decimal("-0.0001"), None], pa.decimal128(20, 4)
    )
    lite.write("d", pa.table({"narrow": narrow, "wide": wide}))
    assert lite.query("select narrow from d where narrow > 6").to_pylist() == [
        {"narrow": Decimal("10.00")}
    ]
    assert lite.query("select max(narrow) as m from d").to_pylist() == [{"m": 10.0}]
    back = lite.query("select narrow, wide from d").to_arrow()
    assert back.column("narrow").to_pylist() == narrow.to_pylist()
    assert back.column("wide").to_pylist() == wide.to_pylist()
    assert back.schema.field("wide").type == pa.decimal128(20, 4)
    lite.create_table("c", CanonicalSchema([Column("w", "DECIMAL(18,4)")]).to_json())
    lite.write(
        "c", pa.table({"w": pa.array([Decimal("12345678901234.5678")], pa.decimal128(18, 4))})
    )
    assert lite.query("select w from c").to_pylist() == [{"w": Decimal("12345678901234.5678")}]
    assert lite.get_schema("c").columns[0].type == "DECIMAL(18,4)"


def test_narrow_decimals_are_stored_as_numbers_and_read_back_exactly(
    lite: sqlarrow.Connector,
) -> None:
    values = ["0.10", "1.10", "-0.05", "1234567890123.45", "0.01", "9999999999999.99"]
    data = pa.table({"v": pa.array([Decimal(v) for v in values], pa.decimal128(15, 2))})
    lite.write("n", data)  # a new DECIMAL(15,2) column: bound as REAL
    rows = lite.query("select v, typeof(v) as t from n").to_pylist()
    assert [r["v"] for r in rows] == [Decimal(v) for v in values]
    assert {r["t"] for r in rows} == {"real"}
    # Into a text column the same input is still text, as written.
    lite.execute("create table s (v TEXT)")
    lite.write("s", data)
    assert [r["v"] for r in lite.query("select v from s").to_pylist()] == values


def test_writing_a_generated_column_is_named_as_such(lite: sqlarrow.Connector) -> None:
    # The error said the column did not exist ('no matching column'): PRAGMA
    # table_info leaves generated columns out.
    lite.execute("create table g (a int not null, b int generated always as (a * 2) stored)")
    with pytest.raises(sqlarrow.ConfigError, match='"b" is a generated column'):
        lite.write("g", pa.table({"a": [1], "b": [5]}))
    lite.write("g", pa.table({"a": [1]}))
    assert lite.query("select a, b from g").to_pylist() == [{"a": 1, "b": 2}]


def test_expressions_without_declared_type(lite: sqlarrow.Connector) -> None:
    result = lite.query("select 1 + 1 as i, 'a' || 'b' as s, 1.5 * 2 as f, x'01' as b")
    assert result.to_pylist() == [{"i": 2, "s": "ab", "f": 3.0, "b": b"\x01"}]
    schema = result.to_arrow().schema
    assert schema.field("i").type == pa.int64()
    assert schema.field("s").type == pa.string()
    assert schema.field("f").type == pa.float64()
    assert pa.types.is_binary(schema.field("b").type)


def test_value_contradicting_declared_type(lite: sqlarrow.Connector) -> None:
    """SQLite stores 'abc' in an INTEGER column; reading it must fail clearly (design choice)."""
    lite.execute("create table bad (a INTEGER)")
    lite.execute("insert into bad values (1), ('abc')")
    with pytest.raises(sqlarrow.DataError) as info:
        lite.query("select a from bad")
    assert "a" in str(info.value)


def test_booleans_and_timestamps_formats(lite: sqlarrow.Connector) -> None:
    lite.execute("create table f (b BOOLEAN, ts TIMESTAMP, d DATE)")
    lite.execute(
        "insert into f values (0, '2024-01-02 03:04', '2024-01-02'), "
        "(1, '2024-01-02 03:04:05.5', '1969-07-20'), (NULL, NULL, NULL)"
    )
    rows = lite.query("select * from f").to_pylist()
    assert rows == [
        {"b": False, "ts": dt.datetime(2024, 1, 2, 3, 4), "d": dt.date(2024, 1, 2)},
        {"b": True, "ts": dt.datetime(2024, 1, 2, 3, 4, 5, 500000), "d": dt.date(1969, 7, 20)},
        {"b": None, "ts": None, "d": None},
    ]
    # 2 in a BOOLEAN column was read as true, and lost.
    lite.execute("insert into f (b) values (2)")
    # The message names the declared type as written (it showed an internal name,
    # "declared Bool", and "declared Int" for an expression that declares nothing).
    with pytest.raises(
        sqlarrow.DataError,
        match=r'column "b" \(declared BOOLEAN\) holds an INTEGER value at row 3 .*CAST',
    ):
        lite.query("select b from f").to_pylist()
    mixed = "select coalesce(column1, 0) as e from (values (1), (2), ('x'))"
    with (
        pytest.raises(
            sqlarrow.DataError,
            match=r'column "e" \(typed Int from its first values\) holds a TEXT value at row 2',
        ),
        lite.stream(mixed, batch_size=2) as batches,
    ):
        list(batches)
    assert lite.query("select cast(b as int) as b from f where b = 2").to_pylist() == [{"b": 2}]


def test_dates_in_the_three_sqlite_conventions_and_never_a_dropped_time(
    lite: sqlarrow.Connector,
) -> None:
    """SQLite's date conventions: ISO text, Unix seconds (INTEGER), Julian day numbers
    (REAL). A DATE column holding a moment with a time of day is an error, not a date."""
    lite.execute("create table d (d DATE)")
    lite.execute(
        "insert into d values ('2024-01-01'), ('2024-01-02 00:00:00'), (86400), (2460310.5)"
    )
    assert lite.query("select d from d").to_pylist() == [
        {"d": dt.date(2024, 1, 1)},
        {"d": dt.date(2024, 1, 2)},
        {"d": dt.date(1970, 1, 2)},
        {"d": dt.date(2024, 1, 1)},
    ]
    for moment in ("'2024-01-01 10:00:00'", "1700000000", "2460310.75"):
        lite.execute("delete from d")
        lite.execute(f"insert into d values ({moment})")
        with pytest.raises(sqlarrow.DataError, match="time of day") as info:
            lite.query("select d from d")
        assert info.value.details.get("column") == "d"
    # the hint works: the date part, on purpose
    assert lite.query("select date(d) as d from d").to_pylist() == [{"d": "2024-01-01"}]


def test_positional_and_named_params(lite: sqlarrow.Connector) -> None:
    lite.execute("create table p (id INTEGER, s TEXT, f REAL, b BLOB)")
    assert lite.execute("insert into p values (?, ?, ?, ?)", [1, "one", 1.5, b"\x01"]) == 1
    assert (
        lite.execute(
            "insert into p values (:id, :s, :f, :b)", {"id": 2, "s": "two", "f": None, "b": None}
        )
        == 1
    )
    assert lite.query("select s from p where id = ?", [2]).to_pylist() == [{"s": "two"}]
    rows = lite.query(
        "select id, ':not_param' as lit from p where s = :s -- :comment", {"s": "one"}
    ).to_pylist()
    assert rows == [{"id": 1, "lit": ":not_param"}]


def test_named_params_after_sqlite_quoting_and_comments(lite: sqlarrow.Connector) -> None:
    # SQLite has no backslash escapes ('C:\' is a whole string), block comments do not
    # nest, and [...] quotes an identifier.
    lite.execute('create table q ("a:b" INTEGER, s TEXT)')
    lite.execute("insert into q values (1, 'x'), (2, 'y')")
    rows = lite.query(
        "select [a:b] as v, 'C:\\' as path from q /* /* */ where s = :s", {"s": "y"}
    ).to_pylist()
    assert rows == [{"v": 2, "path": "C:\\"}]


def test_list_params_are_json(lite: sqlarrow.Connector) -> None:
    rows = lite.query(
        "select value as v from json_each(:ids) order by value", {"ids": [3, 1, 2]}
    ).to_pylist()
    assert rows == [{"v": 1}, {"v": 2}, {"v": 3}]
    with pytest.raises(sqlarrow.ParameterError, match="no JSON number"):
        lite.query("select ? as j", [[float("nan")]])


def test_timedelta_params_are_refused_with_a_hint(lite: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.ParameterError, match=r"no interval type.*total_seconds"):
        lite.query("select ? as d", [dt.timedelta(seconds=1)])


def test_param_value_types(lite: sqlarrow.Connector) -> None:
    row = lite.query(
        "select ? as i, ? as f, ? as s, ? as b, ? as n, ? as t",
        [2**62, 0.25, "ñ😀", b"\x00", None, True],
    ).to_pylist()[0]
    assert row["i"] == 2**62 and row["f"] == 0.25 and row["s"] == "ñ😀"
    assert row["b"] == b"\x00" and row["n"] is None and row["t"] in (1, True)


def test_wrong_param_count(lite: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.ParameterError):
        lite.query("select ? as a, ? as b", [1])
    with pytest.raises(sqlarrow.ParameterError):
        lite.query("select ? as a", [1, 2])
    with pytest.raises(sqlarrow.ParameterError):
        lite.query("select :a as a", {"b": 1})


def test_injection_shaped_strings(lite: sqlarrow.Connector) -> None:
    lite.execute("create table v (s TEXT)")
    evil = "'); DROP TABLE v; --"
    lite.execute("insert into v values (?)", [evil])
    lite.execute("insert into v values (:s)", {"s": evil})
    assert lite.query("select s from v").to_pylist() == [{"s": evil}, {"s": evil}]


def test_errors(lite: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.SqlSyntaxError):
        lite.query("selec 1")
    with pytest.raises(sqlarrow.UndefinedObjectError) as info:
        lite.query("select * from missing_table")
    assert "missing_table" in str(info.value)
    lite.execute("create table c (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INT CHECK (n > 0))")
    lite.execute("insert into c values (1, 'a', 1)")
    with pytest.raises(sqlarrow.UniqueViolation):
        lite.execute("insert into c values (1, 'b', 1)")
    with pytest.raises(sqlarrow.NotNullViolation):
        lite.execute("insert into c values (2, NULL, 1)")
    with pytest.raises(sqlarrow.CheckViolation):
        lite.execute("insert into c values (3, 'c', 0)")
    with pytest.raises(sqlarrow.UndefinedObjectError):
        lite.query("select nope from c")
    with pytest.raises(sqlarrow.DataError, match="integer overflow"):
        lite.query("select abs(-9223372036854775807 - 1) as x")
    # an unattached schema, as PostgreSQL's and MySQL's missing schema/database
    with pytest.raises(sqlarrow.UndefinedObjectError, match="nosuchdb"):
        lite.query("select * from nosuchdb.c")
    with pytest.raises(sqlarrow.UndefinedObjectError, match="nosuchdb"):
        lite.write("nosuchdb.c", pa.table({"id": [9]}))
    assert lite.query("select count(*) as n from c").to_pylist() == [{"n": 1}]


def test_unique_index_violation(lite: sqlarrow.Connector) -> None:
    lite.execute("create table u (email TEXT)")
    lite.execute("create unique index u_email on u (email)")
    lite.execute("insert into u values ('a@b')")
    with pytest.raises(sqlarrow.ConstraintViolation):
        lite.execute("insert into u values ('a@b')")


def test_execute_and_executemany(lite: sqlarrow.Connector) -> None:
    assert lite.execute("create table w (id INTEGER PRIMARY KEY, v TEXT)") == 0
    assert (
        lite.executemany("insert into w values (?, ?)", [(i, f"v{i}") for i in range(500)]) == 500
    )
    assert lite.execute("update w set v = 'x' where id < ?", [10]) == 10
    assert lite.execute("delete from w where id >= :lo", {"lo": 100}) == 400
    assert lite.query("select count(*) as n from w").to_pylist() == [{"n": 100}]


def test_executemany_atomic(lite: sqlarrow.Connector) -> None:
    lite.execute("create table a (id INTEGER PRIMARY KEY)")
    with pytest.raises(sqlarrow.UniqueViolation):
        lite.executemany("insert into a values (?)", [[1], [2], [1]])
    assert lite.query("select count(*) as n from a").to_pylist() == [{"n": 0}]


def test_memory_database_is_shared_across_calls_and_threads() -> None:
    """Every pooled connection must see the same :memory: database."""
    with sqlarrow.connect("sqlite://:memory:") as conn:
        conn.execute("create table m (v INTEGER)")
        conn.execute("insert into m values (1), (2)")
        assert conn.query("select sum(v) as s from m").to_pylist() == [{"s": 3}]

        def read(_: int) -> int:
            return int(conn.query("select count(*) as n from m").to_pylist()[0]["n"])

        with ThreadPoolExecutor(max_workers=6) as pool:
            assert list(pool.map(read, range(24))) == [2] * 24
    # a different connector is a different database
    with (
        sqlarrow.SQLiteConnector(":memory:") as other,
        pytest.raises(sqlarrow.UndefinedObjectError),
    ):
        other.query("select * from m")


def test_concurrent_writers_wait_instead_of_failing(sqlite_path: Path) -> None:
    with sqlarrow.SQLiteConnector(str(sqlite_path), pool_size=4) as conn:
        conn.execute("create table cw (t INTEGER, i INTEGER)")

        def write(t: int) -> int:
            return sum(conn.execute("insert into cw values (?, ?)", [t, i]) for i in range(50))

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert sum(pool.map(write, range(4))) == 200
        assert conn.query("select count(*) as n from cw").to_pylist() == [{"n": 200}]


def test_read_only(sqlite_path: Path) -> None:
    with sqlarrow.SQLiteConnector(str(sqlite_path)) as rw:
        rw.execute("create table r (v INTEGER)")
        rw.execute("insert into r values (1)")
    with sqlarrow.SQLiteConnector(str(sqlite_path), read_only=True) as ro:
        assert ro.query("select v from r").to_pylist() == [{"v": 1}]
        with pytest.raises(sqlarrow.ReadOnlyViolation):
            ro.execute("insert into r values (2)")
    with (
        sqlarrow.connect(f"sqlite:///{sqlite_path}?mode=ro") as ro2,
        pytest.raises(sqlarrow.ReadOnlyViolation),
    ):
        ro2.execute("delete from r")


def test_read_only_missing_file(tmp_path: Path) -> None:
    """Opening a missing file read-only fails (at construction or first use), creates nothing."""
    with pytest.raises(sqlarrow.DatabaseConnectionError):
        conn = sqlarrow.SQLiteConnector(str(tmp_path / "missing.db"), read_only=True)
        try:
            conn.query("select 1")
        finally:
            conn.close()
    assert not (tmp_path / "missing.db").exists()


def test_unopenable_path(tmp_path: Path) -> None:
    with sqlarrow.SQLiteConnector(str(tmp_path / "no" / "such" / "dir.db")) as conn:
        with pytest.raises(sqlarrow.DatabaseConnectionError):
            conn.query("select 1")
        assert conn.test_connection().ok is False


def test_reads_file_written_by_stdlib(sqlite_path: Path) -> None:
    db = sqlite3.connect(sqlite_path)
    db.execute("create table s (id INTEGER, name TEXT, price DECIMAL(8,2), at TIMESTAMP)")
    db.executemany(
        "insert into s values (?, ?, ?, ?)",
        [(i, f"n{i}", f"{i}.25", f"2024-01-01 00:00:{i:02d}") for i in range(60)],
    )
    db.commit()
    db.close()
    with sqlarrow.SQLiteConnector(str(sqlite_path)) as conn:
        table = conn.query("select * from s order by id").to_arrow()
    assert table.num_rows == 60
    assert table.column("price")[3].as_py() == Decimal("3.25")
    assert table.column("at")[59].as_py() == dt.datetime(2024, 1, 1, 0, 0, 59)


def test_stream_batches(lite: sqlarrow.Connector) -> None:
    lite.execute(
        "create table big as with recursive s(n) as (select 1 union all select n + 1 from s "
        "where n < 10000) select n, 'row ' || n as label from s"
    )
    with lite.stream("select * from big order by n", batch_size=3000) as s:
        sizes = [b.num_rows for b in s]
    assert sizes == [3000, 3000, 3000, 1000]
    assert lite.pool_stats().in_use == 0


@pytest.mark.parametrize("how", ["close", "del", "close_before_reading"])
def test_stream_closed_early_returns_connection(sqlite_path: Path, how: str) -> None:
    with sqlarrow.SQLiteConnector(str(sqlite_path), pool_size=1, pool_timeout=2) as conn:
        conn.execute(
            "create table big as with recursive s(n) as (select 1 union all select n + 1 "
            "from s where n < 100000) select n from s"
        )
        s = conn.stream("select * from big", batch_size=100)
        if how == "close":
            next(iter(s))
            s.close()
        elif how == "del":
            next(iter(s))
            del s
        else:
            s.close()
        # the only pooled connection must be free again
        assert conn.query("select count(*) as n from big").to_pylist() == [{"n": 100000}]
        assert conn.pool_stats().in_use == 0


def test_pool_stats_and_test_connection(lite: sqlarrow.Connector) -> None:
    lite.query("select 1")
    stats = lite.pool_stats()
    assert stats.max_size == 4 and stats.in_use == 0 and stats.size >= 1
    status = lite.test_connection()
    assert status.ok and status.server_version and status.server_version.startswith("3.")


def test_closed(lite: sqlarrow.Connector) -> None:
    lite.close()
    with pytest.raises((sqlarrow.InterfaceError, sqlarrow.DatabaseConnectionError)):
        lite.query("select 1")


def test_text_times_finer_than_a_microsecond_are_not_cut(lite: sqlarrow.Connector) -> None:
    """'...00.123456789' in a TIMESTAMP or TIME column read as .123456 without a word.
    Now it is a DataError naming the column, row and value; digits past the sixth that
    are zeros still read."""
    lite.execute("create table t (id integer, ts timestamp, tm time)")
    lite.execute(
        "insert into t values (1, '2024-01-01 00:00:00.123456000', '12:00:00.500000000'), "
        "(2, '2024-01-01 00:00:00.123456789+02:00', '12:00:00.1234567')"
    )
    ok = lite.query("select ts, tm from t where id = 1").to_pylist()
    assert ok == [
        {
            "ts": dt.datetime(2024, 1, 1, 0, 0, 0, 123456),
            "tm": dt.time(12, 0, 0, 500000),
        }
    ]
    for column, shown in [
        ("ts", "2024-01-01 00:00:00.123456789+02:00"),
        ("tm", "12:00:00.1234567"),
    ]:
        with pytest.raises(sqlarrow.DataError, match="finer than a microsecond") as info:
            lite.query(f"select {column} from t order by id")
        message = str(info.value)
        assert f'column "{column}"' in message and "at row 1" in message and shown in message
        assert "substr(col" in message


def test_a_schema_changed_by_another_connection_is_read_as_it_is_now(sqlite_path: Path) -> None:
    """SQLite notices another connection's schema change at a statement's first step
    and re-prepares it there; the columns were read before that step. A `SELECT *`
    then silently lost the added column, kept a renamed column's old name, and after
    a dropped column failed with "Invalid column index"."""
    with (
        sqlarrow.SQLiteConnector(str(sqlite_path), pool_size=1) as conn,
        sqlarrow.SQLiteConnector(str(sqlite_path), pool_size=1) as other,
    ):
        conn.execute("create table s (a int, b text)")
        conn.execute("insert into s values (1, 'x')")
        sql = "select * from s"
        assert conn.query(sql).column_names == ["a", "b"]
        other.execute("alter table s add column c int default 7")
        assert conn.query(sql).to_pylist() == [{"a": 1, "b": "x", "c": 7}]
        other.execute("alter table s rename column b to bb")
        assert conn.stream(sql).read_all().column_names == ["a", "bb", "c"]
        other.execute("alter table s drop column a")
        with conn.transaction() as tx:
            assert tx.query(sql).to_pylist() == [{"bb": "x", "c": 7}]
        other.execute("alter table s add column d")  # no declared type: typed by its values
        assert conn.query(sql).to_arrow().schema.field("d").type == pa.null()
        other.execute("delete from s")
        other.execute("alter table s add column e real")
        empty = conn.query(sql)
        assert (empty.num_rows, empty.column_names) == (0, ["bb", "c", "d", "e"])
        assert empty.to_arrow().schema.field("e").type == pa.float64()
        other.execute("insert into s (bb, d) values ('y', 'text')")
        assert conn.query("select bb, d from s").to_pylist() == [{"bb": "y", "d": "text"}]
