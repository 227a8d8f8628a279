"""PostgreSQL type mapping: Arrow types, exact values, NULLs, edge values."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

import sqlarrow

UTC = dt.timezone.utc


def column(conn: sqlarrow.Connector, sql: str) -> tuple[pa.Field, list[Any], list[Any]]:
    """(arrow field, values via the core's to_pylist, values via pyarrow) of a 1-column query."""
    result = conn.query(sql)
    table = result.to_arrow()
    assert table.num_columns == 1, table.schema
    name = table.column_names[0]
    core_values = [row[name] for row in result.to_pylist()]
    return table.schema.field(0), core_values, table.column(0).to_pylist()


def ext_name(field: pa.Field) -> str | None:
    """The Arrow extension name, whether pyarrow recognised the type or kept metadata."""
    if isinstance(field.type, pa.BaseExtensionType):
        return str(field.type.extension_name)
    meta = field.metadata or {}
    value = meta.get(b"ARROW:extension:name")
    return value.decode() if value is not None else None


def storage(field: pa.Field) -> pa.DataType:
    t = field.type
    return t.storage_type if isinstance(t, pa.BaseExtensionType) else t


def test_bool(pg: sqlarrow.Connector) -> None:
    f, vals, pavals = column(pg, "select v from (values (true), (false), (null::bool)) t(v)")
    assert f.type == pa.bool_()
    assert vals == [True, False, None] == pavals


@pytest.mark.parametrize(
    ("pgtype", "arrow", "lo", "hi"),
    [
        ("int2", pa.int16(), -(2**15), 2**15 - 1),
        ("int4", pa.int32(), -(2**31), 2**31 - 1),
        ("int8", pa.int64(), -(2**63), 2**63 - 1),
    ],
)
def test_integers_min_max(
    pg: sqlarrow.Connector, pgtype: str, arrow: pa.DataType, lo: int, hi: int
) -> None:
    f, vals, pavals = column(
        pg,
        f"select v from (values (({lo})::{pgtype}), (({hi})::{pgtype}), (0::{pgtype}), "
        f"(null::{pgtype})) t(v)",
    )
    assert f.type == arrow
    assert vals == [lo, hi, 0, None] == pavals
    assert all(type(v) is int for v in vals if v is not None)


@pytest.mark.parametrize(("pgtype", "arrow"), [("float4", pa.float32()), ("float8", pa.float64())])
def test_floats_special_values(pg: sqlarrow.Connector, pgtype: str, arrow: pa.DataType) -> None:
    f, vals, _ = column(
        pg,
        f"select v from (values ('NaN'::{pgtype}), ('Infinity'::{pgtype}), "
        f"('-Infinity'::{pgtype}), (1.5::{pgtype}), (-0.25::{pgtype}), (null::{pgtype})) t(v)",
    )
    assert f.type == arrow
    assert math.isnan(vals[0])
    assert vals[1] == math.inf and vals[2] == -math.inf
    assert vals[3] == 1.5 and vals[4] == -0.25 and vals[5] is None


def test_float8_exact_roundtrip(pg: sqlarrow.Connector) -> None:
    _, vals, _ = column(pg, "select 0.1::float8 + 0.2::float8 as v")
    assert vals == [0.1 + 0.2]


def test_numeric_18_4_exact(pg: sqlarrow.Connector) -> None:
    expected = [
        Decimal("12345678901234.5678"),
        Decimal("-12345678901234.5678"),
        Decimal("-0.0001"),
        Decimal("0.0000"),
        Decimal("99999999999999.9999"),
        Decimal("1.5000"),
        None,
    ]
    literals = ", ".join(
        f"({'null' if v is None else repr(str(v))}::numeric(18,4))" for v in expected
    )
    f, vals, pavals = column(pg, f"select v from (values {literals}) t(v)")
    assert f.type == pa.decimal128(18, 4)
    assert vals == expected
    assert pavals == expected
    # scale preserved (1.5000 not 1.5)
    assert str(vals[5]) == "1.5000"


def test_numeric_38_0(pg: sqlarrow.Connector) -> None:
    big = 10**37 + 12345
    f, vals, pavals = column(
        pg, f"select v from (values ('{big}'::numeric(38,0)), ('-{big}'::numeric(38,0))) t(v)"
    )
    assert f.type == pa.decimal128(38, 0)
    assert vals == [Decimal(big), Decimal(-big)] == pavals


def test_numeric_50_10_decimal256_or_clear_error(pg: sqlarrow.Connector) -> None:
    value = Decimal("1234567890123456789012345678901234567890.0123456789")
    try:
        f, vals, pavals = column(pg, f"select '{value}'::numeric(50,10) as v")
    except sqlarrow.SqlArrowError as exc:  # acceptable: a clear, typed error
        assert "numeric" in str(exc).lower() or "decimal" in str(exc).lower()
        return
    assert f.type == pa.decimal256(50, 10)
    assert vals == [value] == pavals


def test_numeric_negative_scale_and_scale_above_precision(
    pg: sqlarrow.Connector, pg_schema: str
) -> None:
    """PostgreSQL 15's numeric(5,-2) and numeric(3,5) were refused as unsupported; they
    read as decimal128(7,0) (the integers they hold: DuckDB and polars fail on a
    negative scale) and decimal128(5,5), exactly; a negative-scale Arrow decimal writes."""
    pg.execute(
        f'create table "{pg_schema}".ns (a numeric(5,-2), b numeric(3,5));'
        f'insert into "{pg_schema}".ns values (123400, 0.00123), (-100, -0.00001), (null, 0)'
    )
    f, vals, pavals = column(pg, f'select a as v from "{pg_schema}".ns')
    assert f.type == pa.decimal128(7, 0)
    assert vals == [Decimal(123400), Decimal(-100), None] == pavals
    f, vals, pavals = column(pg, f'select b as v from "{pg_schema}".ns')
    assert f.type == pa.decimal128(5, 5)
    assert vals == [Decimal("0.00123"), Decimal("-0.00001"), Decimal("0")] == pavals
    t = f'"{pg_schema}".neg'
    pg.write(t, pa.table({"v": pa.array([Decimal("1.234E+5")], pa.decimal128(5, -2))}))
    assert pg.query(f"select v::text as v from {t}").to_pylist() == [{"v": "123400"}]
    assert pg.query(f"select v from {t}").to_arrow().schema.field("v").type == pa.decimal128(7, 0)
    pytest.importorskip("polars")
    assert pg.query(f"select v from {t}").to_polars()["v"].to_list() == [Decimal(123400)]
    assert [c.type for c in pg.get_schema(f"{pg_schema}.ns").columns] == [
        "DECIMAL(7,0)",
        "DECIMAL(5,5)",
    ]


def test_numeric_unconstrained_is_exact(pg: sqlarrow.Connector) -> None:
    """numeric without typmod: values must come back exactly (design choice: Decimal)."""
    result = pg.query(
        "select v from (values (1.5::numeric), (-0.000001::numeric), "
        "(123456789.123::numeric), (null::numeric)) t(v)"
    )
    vals = [r["v"] for r in result.to_pylist()]
    assert vals == [Decimal("1.5"), Decimal("-0.000001"), Decimal("123456789.123"), None]


def test_numeric_text_past_postgres_limits_is_refused(
    pg: sqlarrow.Connector, pg_schema: str
) -> None:
    """Text written into a numeric column, at and past PostgreSQL's limits (131072
    digits before the point, 16383 after). Before, the exponent wrapped: '1e140000'
    was stored as 0 and '1e-70000' as a zero of another scale, without a word."""
    t = f'"{pg_schema}".n'
    pg.execute(f"create table {t} (id int, n numeric)")
    ok = ["1e131071", "-9.5e131070", "1e-16383", "0e200000", "00012.50", "-1.25E-2"]
    pg.write(f"{pg_schema}.n", pa.table({"id": range(len(ok)), "n": ok}))
    got = pg.query(f"select n::text as n from {t} order by id").to_pylist()
    want = pg.query(
        "select v::numeric::text as n from unnest($1::text[]) with ordinality u(v, i) order by i",
        [ok],
    ).to_pylist()
    assert got == want
    for bad in ["1e131072", "1e140000", "1e-16384", "1e-70000", "0e-20000", "1e2000000000"]:
        with pytest.raises(sqlarrow.DataError, match=rf'input row 1: "{re.escape(bad)}" is out of'):
            pg.write(f"{pg_schema}.n", pa.table({"id": [9, 9], "n": ["1", bad]}))
    assert pg.query(f"select count(*) as c from {t}").to_pylist() == [{"c": len(ok)}]


def test_numeric_nan_is_clear(pg: sqlarrow.Connector) -> None:
    """NaN cannot be a decimal: either NULL-free error (DataError) or a documented mapping."""
    try:
        result = pg.query("select 'NaN'::numeric(10,2) as v")
    except sqlarrow.SqlArrowError as exc:
        assert isinstance(exc, (sqlarrow.DataError, sqlarrow.UnsupportedTypeError))
        return
    value = result.to_pylist()[0]["v"]
    assert value is None or (isinstance(value, (float, Decimal)) and math.isnan(value))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("'hello'::text", "hello"),
        ("'héllo wörld'::varchar(20)", "héllo wörld"),
        ("'ab'::char(5)", "ab   "),
        ("'pg_class'::name", "pg_class"),
        ("'emoji 😀 𝄞 \U0010ffff'::text", "emoji 😀 𝄞 \U0010ffff"),
        ("''::text", ""),
    ],
)
def test_text_types(pg: sqlarrow.Connector, expr: str, expected: str) -> None:
    f, vals, pavals = column(pg, f"select {expr} as v")
    assert pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    assert vals == [expected] == pavals


def test_bytea(pg: sqlarrow.Connector) -> None:
    f, vals, pavals = column(
        pg, "select v from (values ('\\x00ff10'::bytea), (''::bytea), (null::bytea)) t(v)"
    )
    assert pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
    assert vals == [b"\x00\xff\x10", b"", None] == pavals


def test_date(pg: sqlarrow.Connector) -> None:
    f, vals, pavals = column(
        pg,
        "select v from (values ('2024-02-29'::date), ('1969-12-31'::date), "
        "('0001-01-01'::date), ('9999-12-31'::date), (null::date)) t(v)",
    )
    assert f.type == pa.date32()
    expected = [
        dt.date(2024, 2, 29),
        dt.date(1969, 12, 31),
        dt.date(1, 1, 1),
        dt.date(9999, 12, 31),
    ]
    assert vals == [*expected, None] == pavals


def test_time(pg: sqlarrow.Connector) -> None:
    f, vals, pavals = column(
        pg, "select v from (values ('13:45:01.123456'::time), ('00:00'::time), (null::time)) t(v)"
    )
    assert f.type == pa.time64("us")
    assert vals == [dt.time(13, 45, 1, 123456), dt.time(0, 0), None] == pavals


def test_timestamp(pg: sqlarrow.Connector) -> None:
    f, vals, pavals = column(
        pg,
        "select v from (values ('2024-03-10 02:30:00.123456'::timestamp), "
        "('1900-01-01 00:00:00'::timestamp), (null::timestamp)) t(v)",
    )
    assert f.type == pa.timestamp("us")
    expected = [dt.datetime(2024, 3, 10, 2, 30, 0, 123456), dt.datetime(1900, 1, 1)]
    assert vals == [*expected, None] == pavals
    assert vals[0].tzinfo is None


def test_timestamptz_is_utc(pg: sqlarrow.Connector) -> None:
    f, vals, pavals = column(
        pg,
        "select v from (values ('2024-06-01 12:00:00+02'::timestamptz), "
        "('1960-01-01 00:00:00.5+00'::timestamptz), (null::timestamptz)) t(v)",
    )
    assert f.type == pa.timestamp("us", tz="UTC")
    expected = [
        dt.datetime(2024, 6, 1, 10, 0, tzinfo=UTC),
        dt.datetime(1960, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
    ]
    assert vals[:2] == expected and vals[2] is None
    for v in vals[:2]:
        assert v.utcoffset() == dt.timedelta(0)
    assert pavals[:2] == expected


def test_timestamptz_independent_of_session_timezone(pg: sqlarrow.Connector) -> None:
    """The instant must not depend on the server's TimeZone setting."""
    _, vals, _ = column(pg, "select '2024-01-01 00:00:00+00'::timestamptz as v")
    assert vals == [dt.datetime(2024, 1, 1, tzinfo=UTC)]


def test_uuid(pg: sqlarrow.Connector) -> None:
    u = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    result = pg.query(f"select v from (values ('{u}'::uuid), (null::uuid)) t(v)")
    field = result.schema.field(0)
    assert storage(field) == pa.binary(16)
    assert ext_name(field) == "arrow.uuid"
    assert [r["v"] for r in result.to_pylist()] == [u, None]
    raw = result.to_arrow().column(0)
    storage_values = raw.chunk(0).storage if isinstance(field.type, pa.BaseExtensionType) else raw
    assert storage_values.to_pylist()[0] in (u.bytes, u)


@pytest.mark.parametrize("pgtype", ["json", "jsonb"])
def test_json(pg: sqlarrow.Connector, pgtype: str) -> None:
    doc = '{"b": 1, "a": [1, 2, {"c": "ñ😀"}], "n": null}'
    result = pg.query(
        f"select v, v::text as t from (values ('{doc}'::{pgtype}), (null::{pgtype})) x(v)"
    )
    field = result.schema.field("v")
    assert pa.types.is_string(storage(field)) or pa.types.is_large_string(storage(field))
    assert ext_name(field) == "arrow.json"
    rows = result.to_pylist()
    # exactly the server's text (jsonb normalises key order, json keeps the input)
    assert rows[0]["v"] == rows[0]["t"]
    if pgtype == "json":
        assert rows[0]["v"] == doc
    assert rows[1]["v"] is None


def test_nulls_in_every_type_and_null_only_columns(pg: sqlarrow.Connector) -> None:
    types = {
        "b": ("bool", pa.bool_()),
        "i2": ("int2", pa.int16()),
        "i4": ("int4", pa.int32()),
        "i8": ("int8", pa.int64()),
        "f4": ("float4", pa.float32()),
        "f8": ("float8", pa.float64()),
        "n": ("numeric(10,2)", pa.decimal128(10, 2)),
        "t": ("text", pa.string()),
        "by": ("bytea", pa.binary()),
        "d": ("date", pa.date32()),
        "tm": ("time", pa.time64("us")),
        "ts": ("timestamp", pa.timestamp("us")),
        "tz": ("timestamptz", pa.timestamp("us", tz="UTC")),
    }
    select = ", ".join(f"null::{pgtype} as {name}" for name, (pgtype, _) in types.items())
    result = pg.query(f"select {select} from generate_series(1, 3)")
    assert result.num_rows == 3
    table = result.to_arrow()
    for name, (_, arrow) in types.items():
        assert table.schema.field(name).type == arrow, name
        assert table.column(name).null_count == 3, name
    assert result.to_pylist() == [dict.fromkeys(types)] * 3


def test_untyped_null(pg: sqlarrow.Connector) -> None:
    result = pg.query("select null as n")
    assert result.to_pylist() == [{"n": None}]
    assert result.to_arrow().column(0).null_count == 1


def test_empty_result_keeps_schema(pg: sqlarrow.Connector, pg_schema: str) -> None:
    pg.execute(
        f'create table "{pg_schema}".e (a int4, b text, c numeric(12,3), d timestamptz, '
        "e bool, f bytea, g date, h uuid)"
    )
    result = pg.query(f'select * from "{pg_schema}".e')
    assert result.num_rows == 0 and len(result) == 0
    assert result.to_pylist() == []
    assert result.column_names == list("abcdefgh")
    schema = result.to_arrow().schema
    assert schema.field("a").type == pa.int32()
    assert schema.field("b").type == pa.string()
    assert schema.field("c").type == pa.decimal128(12, 3)
    assert schema.field("d").type == pa.timestamp("us", tz="UTC")
    assert schema.field("e").type == pa.bool_()
    assert schema.field("g").type == pa.date32()
    assert ext_name(schema.field("h")) == "arrow.uuid"
    assert result.schema == schema


def test_empty_result_where_false(pg: sqlarrow.Connector) -> None:
    result = pg.query("select 1::int8 as a, 'x'::text as b where false")
    assert result.num_rows == 0
    assert result.to_arrow().schema == pa.schema([("a", pa.int64()), ("b", pa.string())])


def test_quoted_unicode_identifiers(pg: sqlarrow.Connector) -> None:
    result = pg.query('select 1 as "Weird ""Col"" ñ", 2 as "UPPER", 3 as "😀 col", 4 as "a.b"')
    assert result.column_names == ['Weird "Col" ñ', "UPPER", "😀 col", "a.b"]
    assert result.to_pylist() == [{'Weird "Col" ñ': 1, "UPPER": 2, "😀 col": 3, "a.b": 4}]


def test_duplicate_column_names(pg: sqlarrow.Connector) -> None:
    """Arrow allows duplicate names; the result keeps both columns in order."""
    result = pg.query("select 1 as x, 2 as x")
    assert result.column_names == ["x", "x"]
    assert result.to_arrow().num_columns == 2


def test_unsupported_type(pg: sqlarrow.Connector) -> None:
    with pytest.raises(sqlarrow.UnsupportedTypeError) as info:
        pg.query("select 1 as ok, '=r/postgres'::aclitem as p")
    err = info.value
    assert err.column == "p"  # type: ignore[attr-defined]
    assert err.type_name == "aclitem"  # type: ignore[attr-defined]
    assert "aclitem" in str(err)


def test_unsupported_type_in_stream(pg: sqlarrow.Connector) -> None:
    with (
        pytest.raises(sqlarrow.UnsupportedTypeError) as info,
        pg.stream("select '=r/postgres'::aclitem as p") as s,
    ):
        list(s)
    assert info.value.type_name == "aclitem"  # type: ignore[attr-defined]


def test_wide_mixed_table_roundtrip(pg: sqlarrow.Connector, pg_schema: str) -> None:
    t = f'"{pg_schema}".mixed'
    pg.execute(
        f"create table {t} (id int8 primary key, name text, amount numeric(18,4), "
        "at timestamptz, ok bool, raw bytea, day date, u uuid)"
    )
    pg.execute(
        f"insert into {t} select g, 'name ' || g, (g * 1.2345)::numeric(18,4), "
        "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0, "
        "decode(lpad(to_hex(g), 8, '0'), 'hex'), date '2024-01-01' + g, "
        "md5(g::text)::uuid from generate_series(1, 100000) g"
    )
    result = pg.query(f"select * from {t} order by id")
    assert result.num_rows == 100000
    table = result.to_arrow()
    assert table.column("id").to_pylist()[:3] == [1, 2, 3]
    assert table.column("amount")[99999].as_py() == Decimal("123450.0000")
    assert table.column("at")[0].as_py() == dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert table.column("raw")[255].as_py() == bytes.fromhex("00000100")
    assert result.nbytes > 100000 * 8


def _reads(pg: sqlarrow.Connector, sql: str) -> list[pa.Table]:
    """`sql` read on every path: a first (unprepared) read, prepared reads, a stream and
    a transaction."""
    out = [pg.query(sql).to_arrow() for _ in range(3)]
    with pg.stream(sql, batch_size=2) as s:
        out.append(pa.Table.from_batches(list(s), schema=out[0].schema))
    with pg.transaction() as tx:
        out.append(tx.query(sql).to_arrow())
    return out


def test_bit_timetz_and_lsn_read_as_their_text(pg: sqlarrow.Connector) -> None:
    """These types were an UnsupportedTypeError: now their text, as the server prints it."""
    sql = (
        "select * from (values "
        "(B'101'::varbit, '12:00+02'::timetz, '0/16B3748'::pg_lsn), "
        "(B'101010101', '12:00:00.5-05:30', 'FFFFFFFF/FFFFFFFF'), "
        "(B'', '1:2:3-0:0:7', '0/0'), "
        "(null, null, null)) t(b, tz, lsn)"
    )
    text = pg.query(
        f"select b::text as b, tz::text as tz, lsn::text as lsn from ({sql}) s"
    ).to_pylist()
    assert text[0] == {"b": "101", "tz": "12:00:00+02", "lsn": "0/16B3748"}
    for table in _reads(pg, sql):
        assert table.schema.types == [pa.string()] * 3
        assert table.to_pylist() == text
    arrays = pg.query("select array[B'1', B'0']::bit(1)[] as a").to_pylist()
    assert arrays == [{"a": ["1", "0"]}]


def test_ranges_and_multiranges_read_as_their_text(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """Ranges were an UnsupportedTypeError: now their text as the server prints it (in
    the session's UTC), on every read path: bounds quoted where range_out quotes them,
    infinite and BC bounds, empty ranges, multiranges, arrays of ranges, and a user's
    range type over a supported element type."""
    s = f'"{pg_schema}"'
    pg.execute(f"create type {s}.stamps as range (subtype = timestamptz)")
    pg.execute(f"create type {s}.money_range as range (subtype = numeric)")
    sql = (
        "select * from (values "
        "('[1,5)'::int4range, '(,9223372036854775807)'::int8range, "
        " numrange(-0.001, 12345678901234567890.123456789, '[]'), "
        " daterange('-infinity', '2024-02-29'), "
        " tsrange('0044-03-15 12:00 BC', '2024-01-01 00:00:00.5'), "
        " tstzrange('2024-01-01 01:00+02', 'infinity', '(]'), "
        " '{[1,3), [5,7), [10,)}'::int4multirange, "
        " array['[1,2)'::int4range, 'empty', null], "
        f" tstzrange('2024-06-01', '2024-06-02')::text::{s}.stamps, "
        f" '[1.50,NaN]'::{s}.money_range), "
        "('empty', '(,)', '[NaN,NaN]', '[0001-01-01 BC,10000-01-01)', '(,)', "
        " '[\"1999-12-31 23:59:59.999999+00\",)', '{}', '{}', 'empty', '[0.000,1e-20]'), "
        "(null, null, null, null, null, null, null, null, null, null)"
        ") t(i4, i8, num, d, ts, tstz, mr, arr, own, own_num)"
    )
    cols = ["i4", "i8", "num", "d", "ts", "tstz", "mr", "own", "own_num"]
    as_text = ", ".join(f"{c}::text as {c}" for c in cols)
    text = pg.query(
        f"select {as_text}, "
        "(select array_agg(x::text) from unnest(arr) x) as arr from (" + sql + ") s"
    ).to_pylist()
    text[1]["arr"] = []  # array_agg of no rows is NULL; the array is empty
    assert text[0]["ts"] == '["0044-03-15 12:00:00 BC","2024-01-01 00:00:00.5")'
    assert text[0]["tstz"] == '("2023-12-31 23:00:00+00",infinity]'
    assert text[1]["d"] == '["0001-01-01 BC",10000-01-01)'
    for table in _reads(pg, sql):
        assert table.schema.field("arr").type == pa.list_(pa.string())
        assert all(table.schema.field(c).type == pa.string() for c in cols)
        assert [{c: r[c] for c in [*cols, "arr"]} for r in table.to_pylist()] == text
    # Numerics of many scales and magnitudes print digit for digit as the server's.
    many = (
        "select numrange(a, a + round((random() * 10 ^ (g % 30))::numeric, g % 17)) as r "
        "from (select g, round(((random() - 0.5) * 10 ^ (g % 40 - 15))::numeric, g % 25) as a "
        "from generate_series(1, 500) g) t"
    )
    pg.execute(f"create table {s}.nums as {many}")
    expected = pg.query(f"select r::text as r from {s}.nums").to_pylist()
    assert pg.query(f"select r from {s}.nums").to_pylist() == expected
    # The canonical schema calls them strings, so a copy's DDL stays portable.
    pg.execute(f"create table {s}.rt (a int4range, b tstzmultirange, c daterange[])")
    types = {c.name: c.type for c in pg.get_schema("rt", pg_schema).columns}
    assert types == {"a": "STRING", "b": "STRING", "c": "ARRAY<STRING>"}, types


def test_ranges_write_back_from_their_text(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """Range and multirange columns (arrays and a user's range type included) take the
    text the reader gives, so a table copies; the server canonicalizes discrete ranges.
    A malformed range is a DataError naming it, and nothing lands."""
    s = f'"{pg_schema}"'
    pg.execute(f"create type {s}.stamps as range (subtype = timestamptz)")
    pg.execute(f"create type {s}.floats as range (subtype = float8)")
    cols = (
        f"i4 int4range, i8 int8range, num numrange, d daterange, ts tsrange, "
        f"tstz tstzrange, mr int4multirange, dmr datemultirange, arr int4range[], "
        f"own {s}.stamps"
    )
    pg.execute(f"create table {s}.src ({cols})")
    pg.execute(f"create table {s}.dst ({cols})")
    pg.execute(
        f"insert into {s}.src values "
        "('[1,5)', '(,9223372036854775807)', '[-0.001,12345678901234567890.123456789]', "
        " '[-infinity,2024-02-29)', '[\"0044-03-15 12:00 BC\",2024-01-01 00:00:00.5)', "
        " '(2024-01-01 01:00+02,infinity]', '{[1,3), [5,7), [10,)}', "
        " '{[2024-01-01,2024-01-05)}', array['[1,2)'::int4range, 'empty', null], "
        " '[2024-06-01,2024-06-02)'), "
        "('empty', '(,)', '[-Infinity,NaN]', '[0001-01-01 BC,10000-01-01)', '(,)', "
        " '[1999-12-31 23:59:59.999999+00,)', '{}', '{}', '{}', 'empty'), "
        "(null, null, null, null, null, null, null, null, null, null)"
    )
    _copy_reads_back_the_same(pg, pg_schema)
    # Plain strings in the forms PostgreSQL takes: the server canonicalizes them.
    pg.execute(f"delete from {s}.dst")
    more = pa.table(
        {
            "i4": [" [ 1 , 5 ] ", "[,3]"],
            "d": ["[2024-01-01,2024-01-31]", "empty"],
            "tstz": ['["2024-01-01 01:00:00+02",)', "[2024-01-01T00:00:00Z,2024-01-02)"],
            "mr": ["{[1,3], [3,7)}", "{}"],
        }
    )
    pg.write(f"{pg_schema}.dst", more)
    got = pg.query(f"select i4::text, d::text, tstz::text, mr::text from {s}.dst").to_pylist()
    assert sorted(got, key=str) == sorted(
        [
            {
                "i4": "[1,6)",
                "d": "[2024-01-01,2024-02-01)",
                "tstz": '["2023-12-31 23:00:00+00",)',
                "mr": "{[1,7)}",
            },
            {
                "i4": "(,4)",
                "d": "empty",
                "tstz": '["2024-01-01 00:00:00+00","2024-01-02 00:00:00+00")',
                "mr": "{}",
            },
        ],
        key=str,
    )
    pg.execute(f"delete from {s}.dst")
    for column, bad in [
        ("i4", "[1,5"),
        ("i4", "[x,5)"),
        ("ts", "[2024-01-01 00:00+02,)"),
        ("mr", "{[1,2),}"),
        ("arr", None),
    ]:
        if bad is None:
            table = pa.table({"arr": pa.array([["[1,2)", "[1"]], pa.list_(pa.string()))})
            bad = "[1"
        else:
            good = {"ts": "empty", "mr": "{}"}.get(column, "[1,2)")
            table = pa.table({column: [good, bad]})
        with pytest.raises(sqlarrow.DataError, match=re.escape(repr(bad).replace("'", '"'))):
            pg.write(f"{pg_schema}.dst", table)
    # lower > upper: the server's refusal, typed.
    with pytest.raises(sqlarrow.DataError, match="lower bound must be less than or equal"):
        pg.write(f"{pg_schema}.dst", pa.table({"i4": ["[5,1)"]}))
    assert pg.query(f"select count(*) as c from {s}.dst").to_pylist() == [{"c": 0}]
    # A range over an element type sqlarrow cannot encode names the range's own type.
    pg.execute(f"create table {s}.f (r {s}.floats)")
    with pytest.raises(sqlarrow.UnsupportedTypeError, match="floats, which sqlarrow cannot"):
        pg.write(f"{pg_schema}.f", pa.table({"r": ["[1.5,2)"]}))


def test_geometric_types_read_as_their_text(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """point, line, lseg, box, path, polygon and circle were an UnsupportedTypeError:
    now their text as the server prints it, coordinates as float8out writes them
    (shortest digits; exponents past 1e15 and under 1e-4; NaN, Infinity, -0)."""
    sql = (
        "select * from (values "
        "(point(1, 2), line '{1,-1,0}', lseg '[(0,0),(1,1.5)]', box '(1,1),(0,0)', "
        " path '[(0,0),(1,1),(2,0)]', polygon '((0,0),(1,1),(1,0))', circle '<(1,2),3>', "
        " array[point(0, 0), null]), "
        "(point(1e15, 0.0001), line '{0.1,1e300,-1e-300}', lseg '[(1e-5,-0),(NaN,Infinity)]', "
        " box '(-1,-1),(-2,-3)', path '((1,2),(3,4))', polygon '((0.5,0.25))', "
        " circle '<(-Infinity,0),0>', '{}'), "
        "(null, null, null, null, null, null, null, null)) "
        "t(p, l, s, b, pa, po, c, arr)"
    )
    cols = ["p", "l", "s", "b", "pa", "po", "c"]
    as_text = ", ".join(f"{c}::text as {c}" for c in cols)
    text = pg.query(
        f"select {as_text}, (select array_agg(x::text) from unnest(arr) x) as arr from ({sql}) s"
    ).to_pylist()
    text[1]["arr"] = []
    assert text[0]["c"] == "<(1,2),3>" and text[1]["p"] == "(1e+15,0.0001)"
    for table in _reads(pg, sql):
        assert all(table.schema.field(c).type == pa.string() for c in cols)
        assert table.to_pylist() == text
    # Floats of every magnitude print digit for digit as the server's.
    # Powers of ten and their multiples include values halfway between two doubles
    # (1e23), where the server prints one digit more than the shortest.
    pg.execute(
        f'create table "{pg_schema}".pts as select point(x, -x / 3) as p from '
        "(select (random() - 0.5) * 10 ^ (g % 60 - 30) as x from generate_series(1, 5000) g) t "
        "union all select point(('1e' || g)::float8, (g % 97 || 'e' || -g)::float8) "
        "from generate_series(-307, 308) g"
    )
    got = pg.query(f'select p from "{pg_schema}".pts').to_pylist()
    assert got == pg.query(f'select p::text as p from "{pg_schema}".pts').to_pylist()


def test_geometric_types_write_back_from_their_text(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """Geometric columns (and arrays of them) take the text the reader gives, so a table
    copies; a malformed value is a DataError naming it, the server's own checks (a
    negative radius) are typed too, and nothing lands."""
    s = f'"{pg_schema}"'
    cols = "p point, l line, s lseg, b box, pa path, po polygon, c circle, arr point[]"
    pg.execute(f"create table {s}.src ({cols})")
    pg.execute(f"create table {s}.dst ({cols})")
    pg.execute(
        f"insert into {s}.src values "
        "(point(1e15, 0.0001), line '{0.1,1e300,-1e-300}', lseg '[(1e-5,-0),(NaN,Infinity)]', "
        " box '(-1,-1),(-2,-3)', path '[(0,0),(1,1),(2,0)]', polygon '((0.5,0.25))', "
        " circle '<(-Infinity,0),0>', array[point(0, 0), null]), "
        "(point(0.1, 1e23), line '{1,-1,0}', lseg '[(0,0),(1,1)]', box '(1,1),(0,0)', "
        " path '((1,2),(3,4))', polygon '((0,0),(1,1),(1,0))', circle '<(1,2),3>', '{}'), "
        "(null, null, null, null, null, null, null, null)"
    )
    _copy_reads_back_the_same(pg, pg_schema)
    pg.execute(f"delete from {s}.dst")
    for column, bad in [("p", "(1,2"), ("c", "<(1,2)>"), ("pa", "[(0,0),(1)]")]:
        table = pa.table({column: [None, bad]})
        with pytest.raises(sqlarrow.DataError, match=re.escape(repr(bad).replace("'", '"'))):
            pg.write(f"{pg_schema}.dst", table)
    with pytest.raises(sqlarrow.DataError, match="radius"):
        pg.write(f"{pg_schema}.dst", pa.table({"c": ["<(0,0),-1>"]}))
    assert pg.query(f"select count(*) as c from {s}.dst").to_pylist() == [{"c": 0}]


def test_jsonpath_reads_and_writes_as_its_text(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """jsonpath was an UnsupportedTypeError: now its text, and written back from it; a
    path the server cannot parse is its typed error, and nothing lands."""
    t = f'"{pg_schema}".jp'
    pg.execute(f"create table {t} (id int, p jsonpath, ps jsonpath[])")
    pg.execute(
        f"""insert into {t} values (1, '$.a[*] ? (@ > 1)', array['$.b'::jsonpath]), """
        "(2, 'strict $.\"k y\"', null), (3, null, '{}')"
    )
    sql = f"select p, ps from {t} order by id"
    want = pg.query(
        f"select p::text as p, (select array_agg(x::text) from unnest(ps) x) as ps "
        f"from {t} order by id"
    ).to_pylist()
    want[2]["ps"] = []
    for table in _reads(pg, sql):
        assert table.schema.field("p").type == pa.string()
        assert table.to_pylist() == want
    pg.write(f"{pg_schema}.jp", pa.table({"id": [4], "p": ["lax $.x.size()"]}))
    assert pg.query(f"select p::text as p from {t} where id = 4").to_pylist() == [
        {"p": '$."x".size()'}
    ]
    with pytest.raises(sqlarrow.SqlArrowError, match="jsonpath"):
        pg.write(f"{pg_schema}.jp", pa.table({"id": [5], "p": ["$.a[?"]}))
    assert pg.query(f"select count(*) as c from {t}").to_pylist() == [{"c": 4}]


def test_tsquery_reads_as_its_text(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """tsquery was an UnsupportedTypeError: now its text as the server prints it, with
    its parentheses (by operator priority, and for a phrase on a phrase's right),
    weights, prefixes and quoting, on every read path. Checked on random queries."""
    import random

    rng = random.Random(7)
    words = ["a", "cat", "it's", "back\\slash", "日本", "x y"]

    def expr(depth: int) -> str:
        if depth == 0 or rng.random() < 0.3:
            w = rng.choice(words).replace("'", "''")
            tail = rng.choice(["", ":*", ":AB", ":*C", ":D"])
            return f"'{w}'{tail}"
        if rng.random() < 0.2:
            return f"!({expr(depth - 1)})"
        op = rng.choice(["&", "|", "<->", "<2>", "<0>"])
        return f"({expr(depth - 1)}) {op} ({expr(depth - 1)})"

    queries = [expr(rng.randint(0, 5)) for _ in range(300)]
    t = f'"{pg_schema}".tq'
    pg.execute(f"create table {t} as select q::tsquery as q from unnest($1::text[]) q", [queries])
    pg.execute(f"insert into {t} values (''), (null)")
    want = pg.query(f"select q::text as q from {t}").to_pylist()
    for table in _reads(pg, f"select q from {t}"):
        assert table.schema.field("q").type == pa.string()
        assert table.to_pylist() == want


def test_tid_snapshots_and_reg_types_read(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """`select ctid, * from t` failed on the tid column, and pg_snapshot/txid_snapshot
    and most reg* types were UnsupportedTypeErrors: tids and snapshots now read as the
    server's text, the reg* types as their OIDs (as regclass already did)."""
    t = f'"{pg_schema}".tt'
    pg.execute(f"create table {t} (id int)")
    pg.execute(f"insert into {t} select generate_series(1, 3)")
    sql = (
        f"select ctid, '(4294967295,65535)'::tid as big, '10:20:10,14,15'::pg_snapshot as s, "
        f"'10:20:'::txid_snapshot as ts, 'english'::regconfig as cfg, "
        f"'pg_catalog'::regnamespace as ns, array['(1,2)'::tid] as arr from {t} order by id"
    )
    want = pg.query(
        "select ctid::text as ctid, big::text as big, s::text as s, ts::text as ts, "
        "cfg::oid::int8 as cfg, ns::oid::int8 as ns, array[arr[1]::text] as arr "
        f"from ({sql}) q"
    ).to_pylist()
    assert want[0]["ctid"] == "(0,1)" and want[0]["s"] == "10:20:10,14,15"
    for table in _reads(pg, sql):
        assert table.schema.field("ctid").type == pa.string()
        assert table.schema.field("cfg").type == pa.uint32()
        assert table.to_pylist() == want


def test_xid8_reads_as_uint64(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """`xid8` (what `pg_current_xact_id()` returns) was an UnsupportedTypeError. It
    reads as UInt64, every bit of it, on every read path; a table's xid8 column is
    UINT64 in the canonical schema."""
    t = f'"{pg_schema}".x8'
    pg.execute(f"create table {t} (id int, x xid8, xs xid8[])")
    pg.execute(
        f"insert into {t} values (1, '0', array['1'::xid8, null]), "
        f"(2, '18446744073709551615', '{{}}'), (3, null, null), (4, '9223372036854775808', null)"
    )
    want = [
        {"id": 1, "x": 0, "xs": [1, None]},
        {"id": 2, "x": 2**64 - 1, "xs": []},
        {"id": 3, "x": None, "xs": None},
        {"id": 4, "x": 2**63, "xs": None},
    ]
    for table in _reads(pg, f"select id, x, xs from {t} order by id"):
        assert table.schema.field("x").type == pa.uint64()
        assert table.schema.field("xs").type == pa.list_(pa.uint64())
        assert table.to_pylist() == want
    current = pg.query("select pg_current_xact_id() as x").to_pylist()[0]["x"]
    assert isinstance(current, int) and current > 0
    assert pg.get_schema(f"{pg_schema}.x8").column("x").type == "UINT64"


def test_oid_xid_cid_and_xid8_columns_are_written(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """They read as UInt32/UInt64 but could not be written back ("cannot write to
    yet"), so a table with an `oid` column (a large object's reference) could not be
    copied. Unsigned and in-range integers are written; a value out of range is a
    DataError naming it and its input row, across batches, and nothing lands."""
    s = f'"{pg_schema}"'
    pg.execute(f"create table {s}.src (o oid, x xid, c cid, x8 xid8, oa oid[])")
    pg.execute(
        f"insert into {s}.src values ('0', '1', '2', '0', '{{1,2}}'), "
        "('4294967295', '4294967295', '4294967295', '18446744073709551615', '{}'), "
        "(null, null, null, null, null)"
    )
    pg.execute(f"create table {s}.dst (like {s}.src)")
    _copy_reads_back_the_same(pg, pg_schema)
    assert pg.write(f"{pg_schema}.dst", pa.table({"o": [7], "x8": [9]})).rows_written == 1
    bad = pa.Table.from_batches(
        [pa.record_batch({"o": pa.array([1, 2], pa.int64())})] * 2
        + [pa.record_batch({"o": pa.array([3, -5], pa.int64())})]
    )
    with pytest.raises(sqlarrow.DataError, match=r"value -5 \(input row 5\) does not fit") as e:
        pg.write(f"{pg_schema}.dst", bad)
    assert e.value.row_index == 5  # type: ignore[attr-defined]
    with pytest.raises(sqlarrow.DataError, match="4294967296"):
        pg.write(f"{pg_schema}.dst", pa.table({"o": [2**32]}))
    assert pg.query(f"select count(*) as n from {s}.dst").to_pylist() == [{"n": 4}]


def _copy_reads_back_the_same(pg: sqlarrow.Connector, schema: str) -> None:
    """Read `schema.src`, write it into `schema.dst` (same columns), and check that
    both read back the same server text, column by column. Expects 3 rows."""
    s = f'"{schema}"'
    data = pg.query(f"select * from {s}.src").to_arrow()
    assert pg.write(f"{schema}.dst", data).rows_written == 3
    as_text = ", ".join(f"{c}::text as {c}" for c in data.column_names)
    assert (
        pg.query(f"select {as_text} from {s}.dst").to_pylist()
        == pg.query(f"select {as_text} from {s}.src").to_pylist()
    )


def _extension(pg: sqlarrow.Connector, schema: str, name: str) -> str:
    """Use extension `name`: as installed, or created in the test's schema (dropped with
    it). Returns its type `name`, schema-qualified."""
    found = pg.query("select 1 from pg_extension where extname = $1", [name]).to_pylist()
    if not found:
        available = pg.query(
            "select 1 from pg_available_extensions where name = $1", [name]
        ).to_pylist()
        if not available:
            pytest.skip(f"the server has no {name} extension (postgresql-contrib)")
        pg.execute(f'create extension {name} schema "{schema}"')
    where = pg.query(
        "select typnamespace::regnamespace::text as ns from pg_type where typname = $1", [name]
    ).to_pylist()
    return f"{where[0]['ns']}.{name}"


def test_hstore_reads_as_json_and_ltree_as_text(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """Extension types are known by name (their OIDs differ per database): hstore reads
    as a JSON object of text values and nulls, ltree as its text."""
    hstore = _extension(pg, pg_schema, "hstore")
    ltree = _extension(pg, pg_schema, "ltree")
    sql = (
        f"""select h, l from (values ($$a=>1, b=>NULL, "q\\"x"=>"\\\\"$$::{hstore}, """
        f"'a.b.c'::{ltree}), (''::{hstore}, null), (null, 'top'::{ltree})) t(h, l)"
    )
    for table in _reads(pg, sql):
        assert ext_name(table.schema.field("h")) == "arrow.json"
        assert table.schema.field("l").type == pa.string()
        rows = table.to_pylist()
        assert [json.loads(r["h"]) if r["h"] is not None else None for r in rows] == [
            {"a": "1", "b": None, 'q"x': "\\"},
            {},
            None,
        ]
        assert [r["l"] for r in rows] == ["a.b.c", None, "top"]


def test_text_read_types_write_back(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """What is read as text (bit, varbit, timetz, pg_lsn, ltree) or JSON (hstore) writes
    back into such columns, arrays included, so a table copies between databases; a
    malformed value is a DataError naming it, and nothing lands."""
    hstore = _extension(pg, pg_schema, "hstore")
    ltree = _extension(pg, pg_schema, "ltree")
    s = f'"{pg_schema}"'
    cols = (
        f"b bit(3), vb varbit, tz timetz, lsn pg_lsn, l {ltree}, h {hstore}, "
        f"ha {hstore}[], ba varbit[]"
    )
    pg.execute(f"create table {s}.src ({cols})")
    pg.execute(f"create table {s}.dst ({cols})")
    pg.execute(
        f"insert into {s}.src values "
        f"""(B'101', B'111111111', '12:00:00.5-05:30', '16/B374D848', 'a.b.c', """
        f"""$$a=>1, b=>NULL, "q\\"x"=>"\\\\"$$, array['k=>v']::{hstore}[], array[B'1', B'']), """
        f"(null, B'', '1:2:3-0:0:7', '0/0', 'top', '', '{{}}', '{{}}'), "
        f"(null, null, null, null, null, null, null, null)"
    )
    _copy_reads_back_the_same(pg, pg_schema)
    # Plain strings (not only sqlarrow's own results) in those forms write too.
    more = pa.table(
        {
            "tz": ["07:30+00", "23:59:59.999999Z"],
            "lsn": ["1/2", "ffffffff/0"],
            "h": ['{"n": 2, "t": true}', "{}"],
        }
    )
    pg.write(f"{pg_schema}.dst", more)
    got = pg.query(
        f"select tz::text as tz, lsn::text as lsn, h::text as h from {s}.dst "
        "where b is null and tz is not null order by lsn offset 1"
    ).to_pylist()
    assert got == [
        {"tz": "07:30:00+00", "lsn": "1/2", "h": '"n"=>"2", "t"=>"true"'},
        {"tz": "23:59:59.999999+00", "lsn": "FFFFFFFF/0", "h": ""},
    ]
    for column, bad, what in [
        ("b", "10x", "bit string"),
        ("tz", "12:00", "timetz"),
        ("lsn", "16-B3", "pg_lsn"),
        ("h", '{"a": {"b": 1}}', "hstore values are text"),
        ("h", "a=>1", "hstore"),
    ]:
        with pytest.raises(sqlarrow.DataError, match=what):
            pg.write(f"{pg_schema}.dst", pa.table({column: [bad]}))
    assert pg.query(f"select count(*) as n from {s}.dst").to_pylist() == [{"n": 5}]
