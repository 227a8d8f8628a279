"""upsert and update on PostgreSQL (COPY into a stage + one merge statement) and SQLite
(prepared INSERT ... ON CONFLICT) and MySQL/MariaDB (staged LOAD DATA), against real servers."""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pyarrow as pa
import pytest

import sqlarrow
from sqlarrow.exceptions import ConfigError, NotNullViolation, UniqueViolation

MY_HOST = os.environ.get("SQLARROW_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SQLARROW_MYSQL_PORT", "3306"))


@pytest.fixture(params=["postgres", "sqlite", "mysql"])
def target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[sqlarrow.Connector, str, str]]:
    """(connector, table-name prefix, engine)."""
    if request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")
        conn = request.getfixturevalue("pg")
        yield conn, f'"{schema}".', "postgres"
    elif request.param == "sqlite":
        with sqlarrow.connect(f"sqlite:///{tmp_path / 'modes.db'}") as conn:
            yield conn, "", "sqlite"
    else:
        name = f"sqlarrow_t_{uuid.uuid4().hex}"
        admin = sqlarrow.MySQLConnector(MY_HOST, port=MY_PORT, user="root", ssl_mode="disabled")
        admin.execute(f"CREATE DATABASE `{name}`")
        conn = sqlarrow.MySQLConnector(
            MY_HOST, port=MY_PORT, user="root", ssl_mode="disabled", database=name
        )
        try:
            yield conn, "", "mysql"
        finally:
            conn.close()
            admin.execute(f"DROP DATABASE IF EXISTS `{name}`")
            admin.close()


def rows(conn: sqlarrow.Connector, sql: str) -> list[dict[str, object]]:
    return conn.query(sql).to_pylist()  # type: ignore[no-any-return]


def test_upsert_inserts_and_updates(target: tuple[sqlarrow.Connector, str, str]) -> None:
    conn, p, _ = target
    conn.execute(f"create table {p}u (id integer primary key, v text, n integer)")
    conn.write(f"{p}u", pa.table({"id": [1, 2], "v": ["a", "b"], "n": [10, 20]}))
    res = conn.write(
        f"{p}u",
        pa.table({"id": [2, 3], "v": ["B", "c"], "n": [None, 30]}),
        mode="upsert",
        key=["id"],
    )
    assert (res.rows_written, res.rows_updated) == (1, 1)
    assert rows(conn, f"select id, v, n from {p}u order by id") == [
        {"id": 1, "v": "a", "n": 10},
        {"id": 2, "v": "B", "n": None},
        {"id": 3, "v": "c", "n": 30},
    ]


def test_upsert_duplicate_keys_in_one_batch_last_row_wins(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    conn, p, engine = target
    conn.execute(f"create table {p}d (id integer primary key, v text)")
    conn.write(f"{p}d", pa.table({"id": [1], "v": ["old"]}))
    data = pa.table({"id": [1, 2, 1, 2, 3], "v": ["x1", "y1", "x2", "y2", "z"]})
    res = conn.write(f"{p}d", data, mode="upsert", key=["id"])
    assert rows(conn, f"select id, v from {p}d order by id") == [
        {"id": 1, "v": "x2"},
        {"id": 2, "v": "y2"},
        {"id": 3, "v": "z"},
    ]
    assert res.rows_written == 2
    # PostgreSQL and MySQL dedupe the stage (1 existing row updated); SQLite applies every input
    # row in order, so the repeated keys count as updates too (documented).
    assert res.rows_updated == (3 if engine == "sqlite" else 1)


def test_upsert_duplicates_across_batches(target: tuple[sqlarrow.Connector, str, str]) -> None:
    conn, p, _ = target
    conn.execute(f"create table {p}b (id integer primary key, v integer)")
    batches = [
        pa.record_batch(
            {
                "id": pa.array([i % 7 for i in range(k * 10, k * 10 + 10)], pa.int32()),
                "v": pa.array(list(range(k * 10, k * 10 + 10)), pa.int32()),
            }
        )
        for k in range(5)
    ]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    conn.write(f"{p}b", reader, mode="upsert", key=["id"])
    expected = {}
    for i in range(50):
        expected[i % 7] = i
    got = {r["id"]: r["v"] for r in rows(conn, f"select id, v from {p}b")}
    assert got == expected


def test_composite_key_upsert_and_update(target: tuple[sqlarrow.Connector, str, str]) -> None:
    conn, p, _ = target
    conn.execute(
        f"create table {p}c (a integer not null, b varchar(20) not null, v integer, w text, "
        "primary key (a, b))"
    )
    conn.write(
        f"{p}c",
        pa.table({"a": [1, 1, 2], "b": ["x", "y", "x"], "v": [1, 2, 3], "w": ["p", "q", "r"]}),
    )
    res = conn.write(
        f"{p}c",
        pa.table({"a": [1, 2, 2], "b": ["y", "y", "x"], "v": [20, 50, 30], "w": ["Q", "S", "R"]}),
        mode="upsert",
        key=["a", "b"],
    )
    assert (res.rows_written, res.rows_updated) == (1, 2)
    # update: only matching rows, only the given columns; unmatched input rows ignored;
    # NOT NULL columns may be left out.
    res = conn.write(
        f"{p}c",
        pa.table({"b": ["x", "x", "z"], "a": [1, 1, 9], "v": [100, 101, 0]}),
        mode="update",
        key=["a", "b"],
    )
    assert rows(conn, f"select a, b, v, w from {p}c order by a, b") == [
        {"a": 1, "b": "x", "v": 101, "w": "p"},
        {"a": 1, "b": "y", "v": 20, "w": "Q"},
        {"a": 2, "b": "x", "v": 30, "w": "R"},
        {"a": 2, "b": "y", "v": 50, "w": "S"},
    ]
    assert res.rows_written == 0
    assert res.rows_updated >= 1


def test_update_counts_and_last_row_wins(target: tuple[sqlarrow.Connector, str, str]) -> None:
    conn, p, _ = target
    conn.execute(f"create table {p}up (id integer primary key, v text not null)")
    conn.write(f"{p}up", pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}))
    res = conn.write(
        f"{p}up",
        pa.table({"id": [2, 3, 4, 3], "v": ["B", "C1", "D", "C2"]}),
        mode="update",
        key=["id"],
    )
    assert rows(conn, f"select id, v from {p}up order by id") == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "B"},
        {"id": 3, "v": "C2"},
    ]
    assert res.rows_written == 0 and res.rows_updated >= 2


def test_key_required_and_checked(target: tuple[sqlarrow.Connector, str, str]) -> None:
    conn, p, _ = target
    conn.execute(f"create table {p}k (id integer, v text)")
    data = pa.table({"id": [1], "v": ["a"]})
    with pytest.raises(ConfigError, match="needs key"):
        conn.write(f"{p}k", data, mode="upsert")
    with pytest.raises(ConfigError, match="needs key"):
        conn.write(f"{p}k", data, mode="update")
    with pytest.raises(ConfigError, match="nope"):
        conn.write(f"{p}k", data, mode="upsert", key=["nope"])
    # no unique index on id: ON CONFLICT cannot work, said clearly, nothing written
    with pytest.raises(ConfigError, match=r"(?i)unique"):
        conn.write(f"{p}k", data, mode="upsert", key=["id"])
    assert rows(conn, f"select count(*) as n from {p}k") == [{"n": 0}]
    # update needs no index
    conn.write(f"{p}k", data)
    assert (
        conn.write(
            f"{p}k", pa.table({"id": [1], "v": ["z"]}), mode="update", key=["id"]
        ).rows_updated
        == 1
    )


def test_upsert_creates_missing_table_with_primary_key(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    conn, p, _ = target
    data = pa.table({"id": [1, 2], "v": ["a", "b"]})
    assert conn.write(f"{p}newt", data, mode="upsert", key=["id"]).rows_written == 2
    res = conn.write(f"{p}newt", pa.table({"id": [2], "v": ["B"]}), mode="upsert", key=["id"])
    assert (res.rows_written, res.rows_updated) == (0, 1)
    assert rows(conn, f"select id, v from {p}newt order by id") == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "B"},
    ]


def test_upsert_constraint_violation_rolls_back(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    conn, p, _ = target
    conn.execute(
        f"create table {p}cv (id integer primary key, v text not null, code varchar(20) unique)"
    )
    conn.write(f"{p}cv", pa.table({"id": [1], "v": ["a"], "code": ["c1"]}))
    with pytest.raises(NotNullViolation):
        conn.write(
            f"{p}cv",
            pa.table({"id": [1, 2], "v": pa.array(["x", None], pa.string()), "code": ["c1", "c2"]}),
            mode="upsert",
            key=["id"],
        )
    with pytest.raises(UniqueViolation):
        conn.write(
            f"{p}cv", pa.table({"id": [5], "v": ["x"], "code": ["c1"]}), mode="upsert", key=["id"]
        )
    assert rows(conn, f"select id, v, code from {p}cv") == [{"id": 1, "v": "a", "code": "c1"}]


def test_upsert_injection_shaped_values_and_identifiers(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    conn, p, engine = target
    evil = 'x"; drop table t;--'
    data = pa.table({evil: [1, 2], "v'; --": ["it's", 'a\\b"c;--']})
    conn.write(f'{p}"we""ird; --"', data, mode="upsert", key=[evil])
    conn.write(
        f'{p}"we""ird; --"',
        pa.table({evil: [2], "v'; --": ["' or 1=1 --"]}),
        mode="upsert",
        key=[evil],
    )
    quoted = '`we"ird; --`' if engine == "mysql" else '"we""ird; --"'
    got = rows(conn, f"select * from {p}{quoted} order by 1")
    assert got == [{evil: 1, "v'; --": "it's"}, {evil: 2, "v'; --": "' or 1=1 --"}]


# -- atomicity: the backend is killed in the middle of a large streamed write ----------


def _killing_reader(
    admin: sqlarrow.Connector,
    marker: str,
    batches: int = 20,
    rows: int = 100_000,
    kill_after: int = 3,
) -> pa.RecordBatchReader:
    """2M rows from a generator; after `kill_after` batches another thread terminates the
    backend running a statement that mentions `marker` (and waits until it is gone)."""
    import threading

    schema = pa.schema([("id", pa.int64()), ("v", pa.string())])
    kill = threading.Event()
    done = threading.Event()
    killed: list[int] = []

    def killer() -> None:
        kill.wait(60)
        res = admin.query(
            "select pg_terminate_backend(pid) as ok from pg_stat_activity "
            "where pid <> pg_backend_pid() and query like $1",
            [f"%{marker}%"],
        ).to_pylist()
        killed.append(sum(1 for r in res if r["ok"]))
        done.set()

    threading.Thread(target=killer, daemon=True).start()

    def gen() -> Iterator[pa.RecordBatch]:
        for i in range(batches):
            if i == kill_after:
                kill.set()
                done.wait(60)
                assert killed and killed[0] >= 1, "nothing was terminated"
            base = i * rows
            yield pa.record_batch(
                [
                    pa.array(range(base, base + rows), pa.int64()),
                    pa.array([f"row{j}" for j in range(rows)]),
                ],
                schema=schema,
            )

    return pa.RecordBatchReader.from_batches(schema, gen())


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_pg_killed_backend_leaves_no_partial_table(
    pg: sqlarrow.Connector, pg_admin: sqlarrow.Connector, pg_schema: str, mode: str
) -> None:
    table = f'"{pg_schema}".big'
    pg.execute(f"create table {table} (id int8 primary key, v text)")
    pg.write(table, pa.table({"id": [-1, -2], "v": ["old", "old"]}))
    with pytest.raises(sqlarrow.SqlArrowError) as info:
        pg.write(table, _killing_reader(pg_admin, pg_schema), mode=mode)
    # the server went away (not, e.g., a failed assertion inside the generator)
    assert isinstance(info.value, sqlarrow.DatabaseConnectionError) or "terminat" in str(
        info.value
    ), info.value
    # nothing of the interrupted write is visible: the old rows, exactly
    assert pg_admin.query(f"select id from {table} order by id").to_pylist() == [
        {"id": -2},
        {"id": -1},
    ]
    # the pool recovers (the dead connection is discarded)
    for _ in range(3):
        assert pg.query("select 1 as one").to_pylist() == [{"one": 1}]


# -- on_error="skip": dead-letter output ----------------------------------------------


def test_skip_append_sets_aside_violations(target: tuple[sqlarrow.Connector, str, str]) -> None:
    conn, p, _ = target
    conn.execute(f"create table {p}par (id integer primary key)")
    conn.execute(f"insert into {p}par (id) values (1)")
    conn.execute(
        f"create table {p}sk (id integer primary key, v text not null, n integer check (n >= 0), "
        f"code varchar(20) unique, par integer references {p}par (id))"
    )
    conn.write(f"{p}sk", pa.table({"id": [1], "v": ["a"], "n": [0], "code": ["c1"], "par": [1]}))
    data = pa.table(
        {
            "id": pa.array([2, 1, 3, 4, 5, 6, 6, 7], pa.int64()),
            "v": pa.array(
                ["ok", "dup-existing", None, "neg", "dup-code", "x", "dup-in-input", "ok2"]
            ),
            "n": pa.array([1, 1, 1, -5, 1, 1, 1, None], pa.int64()),
            "code": pa.array(["c2", "c9", "c3", "c4", "c1", "c6", "c7", None]),
            "par": pa.array([1, 1, 1, 1, 1, None, 1, 1], pa.int64()),
        }
    )
    res = conn.write(f"{p}sk", data, on_error="skip")
    assert res.rows_written == 3 and res.rows_failed == 5
    assert res.failed is not None
    failed = pa.table(res.failed)
    assert failed.column_names == [*data.column_names, "_sqlarrow_error"]
    assert failed.schema.field("id").type == pa.int64()  # typed like the input
    got = {r["v"]: r["_sqlarrow_error"] for r in failed.to_pylist()}
    assert set(got) == {"dup-existing", None, "neg", "dup-code", "dup-in-input"}
    assert "null" in got[None].lower()
    assert "check" in got["neg"].lower()
    assert "unique" in got["dup-code"].lower()
    assert rows(conn, f"select id from {p}sk order by id") == [
        {"id": 1},
        {"id": 2},
        {"id": 6},
        {"id": 7},
    ]
    # without skip: all or nothing
    with pytest.raises(sqlarrow.ConstraintViolation):
        conn.write(f"{p}sk", data)
    assert rows(conn, f"select count(*) as n from {p}sk") == [{"n": 4}]
    with pytest.raises(ConfigError, match="on_error"):
        conn.write(f"{p}sk", data, on_error="ignore")


def test_skip_foreign_key_postgres(pg: sqlarrow.Connector, pg_schema: str) -> None:
    p = f'"{pg_schema}".'
    pg.execute(f"create table {p}par (id int primary key)")
    pg.execute(f"insert into {p}par values (1), (2)")
    pg.execute(f"create table {p}ch (id int primary key, par int references {p}par (id))")
    res = pg.write(f"{p}ch", pa.table({"id": [1, 2, 3], "par": [1, 9, None]}), on_error="skip")
    assert res.rows_written == 2 and res.rows_failed == 1
    f = pa.table(res.failed).to_pylist()
    assert f[0]["id"] == 2 and "foreign key" in f[0]["_sqlarrow_error"]


def test_skip_rows_the_checks_do_not_foresee_postgres(
    pg: sqlarrow.Connector, pg_schema: str
) -> None:
    """Rows the server refuses for reasons on_error="skip" does not check in SQL first
    (no partition for the row, a trigger's exception) failed the whole write. The
    rows behind such an error are now found by halving the input (each try in a
    savepoint) and set aside with the server's message; the others are written."""
    p = f'"{pg_schema}".'
    pg.execute(f"create table {p}pt (id int primary key, v int) partition by range (id)")
    pg.execute(f"create table {p}pt_1 partition of {p}pt for values from (0) to (1000)")
    pg.execute(
        f"create function {p}no_13() returns trigger language plpgsql as "
        "$$ begin if new.v = 13 then raise exception 'no 13s here (id %)', new.id; end if; "
        "return new; end $$"
    )
    pg.execute(
        f"create trigger no_13 before insert or update on {p}pt_1 "
        f"for each row execute function {p}no_13()"
    )
    ids = list(range(1200))
    values = [13 if i in (5, 777) else i % 10 for i in ids]
    data = pa.table({"id": ids, "v": values})
    for mode, key in [("append", None), ("upsert", ["id"])]:
        pg.execute(f"truncate {p}pt")
        with pg.transaction() as tx:  # inside a caller's transaction too
            res = tx.write(f"{p}pt", data, mode=mode, key=key, on_error="skip")  # type: ignore[arg-type]
        assert (res.rows_written, res.rows_updated, res.rows_failed) == (998, 0, 202), mode
        failed = pa.table(res.failed).to_pylist()
        assert [r["id"] for r in failed] == [5, 777, *range(1000, 1200)]  # input order
        assert "no 13s here (id 5)" in failed[0]["_sqlarrow_error"]
        assert "no partition" in failed[2]["_sqlarrow_error"]
        assert pg.query(f"select count(*) as n, sum(v) as s from {p}pt").to_pylist() == [
            {"n": 998, "s": sum(values[:1000]) - 26}
        ]
    # An upsert of existing rows: updates count, a refused update is set aside.
    res = pg.write(
        f"{p}pt",
        pa.table({"id": [1, 2, 3000], "v": [4, 13, 1]}),
        mode="upsert",
        key=["id"],
        on_error="skip",
    )
    assert (res.rows_written, res.rows_updated, res.rows_failed) == (0, 1, 2)


def test_skip_gives_up_on_a_cause_that_refuses_every_row_postgres(
    pg: sqlarrow.Connector, pg_schema: str
) -> None:
    """Finding the rows behind an error costs statements per row refused: a trigger
    that refuses every row sets a small input aside whole, but a large one would take
    hours, so the search stops after 10,000 statements and the write is undone."""
    p = f'"{pg_schema}".'
    pg.execute(f"create table {p}nope (id int)")
    pg.execute(
        f"create function {p}nope() returns trigger language plpgsql as "
        "$$ begin raise exception 'closed for writes'; end $$"
    )
    pg.execute(
        f"create trigger nope before insert on {p}nope for each row execute function {p}nope()"
    )
    res = pg.write(f"{p}nope", pa.table({"id": list(range(100))}), on_error="skip")
    assert (res.rows_written, res.rows_failed) == (0, 100)
    assert {r["_sqlarrow_error"] for r in pa.table(res.failed).to_pylist()} == {"closed for writes"}
    with pytest.raises(
        sqlarrow.QueryError, match=r"gave up after 10000 statements.*closed for writes"
    ):
        pg.write(f"{p}nope", pa.table({"id": list(range(12_000))}), on_error="skip")
    assert pg.query(f"select count(*) as n from {p}nope").to_pylist() == [{"n": 0}]


def test_upsert_into_a_partitioned_table_postgres(pg: sqlarrow.Connector, pg_schema: str) -> None:
    """An upsert into a partitioned table failed: "cannot retrieve a system column in
    this context" (the xmax that tells inserts from updates)."""
    t = f'"{pg_schema}".pu'
    pg.execute(f"create table {t} (id int primary key, v text) partition by hash (id)")
    for r in range(2):
        pg.execute(
            f'create table "{pg_schema}".pu_{r} partition of {t} '
            f"for values with (modulus 2, remainder {r})"
        )
    data = pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]})
    res = pg.write(t, data, mode="upsert", key=["id"])
    assert (res.rows_written, res.rows_updated) == (3, 0)
    res = pg.write(t, pa.table({"id": [3, 4, 4], "v": ["C", "x", "D"]}), mode="upsert", key=["id"])
    assert (res.rows_written, res.rows_updated) == (1, 1)
    res = pg.write(t, pa.table({"id": [1, 9]}), mode="upsert", key=["id"])  # keys only
    assert (res.rows_written, res.rows_updated) == (1, 0)
    got = pg.query(f"select id, v from {t} order by id").to_pylist()
    assert got == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "b"},
        {"id": 3, "v": "C"},
        {"id": 4, "v": "D"},
        {"id": 9, "v": None},
    ]


def test_skip_upsert(target: tuple[sqlarrow.Connector, str, str]) -> None:
    conn, p, engine = target
    conn.execute(
        f"create table {p}us (id integer primary key, v text not null, code varchar(20) unique)"
    )
    conn.write(f"{p}us", pa.table({"id": [1, 2], "v": ["a", "b"], "code": ["x", "y"]}))
    data = pa.table({"id": [1, 3, 4, 3], "v": ["A", None, "d", "C"], "code": ["x", "z", "y", "z"]})
    res = conn.write(f"{p}us", data, mode="upsert", key=["id"], on_error="skip")
    # id 1 updated (its own code "x" is no conflict), id 3: last row wins (valid),
    # id 4 clashes with id 2's code "y". PostgreSQL drops the superseded (3, None) row
    # before checking; SQLite applies every input row in order, so it reports it too.
    failed_ids = [r["id"] for r in pa.table(res.failed).to_pylist()]
    assert failed_ids == ([3, 4] if engine == "sqlite" else [4])
    assert res.rows_failed == len(failed_ids)
    assert rows(conn, f"select id, v, code from {p}us order by id") == [
        {"id": 1, "v": "A", "code": "x"},
        {"id": 2, "v": "b", "code": "y"},
        {"id": 3, "v": "C", "code": "z"},
    ]


def test_nul_bytes_in_text(target: tuple[sqlarrow.Connector, str, str]) -> None:
    """PostgreSQL text cannot hold NUL: refused clearly before any row lands; SQLite
    stores it verbatim."""
    conn, p, engine = target
    data = pa.table({"id": [1, 2], "s": ["a\x00b", "ok"]})
    if engine == "postgres":
        with pytest.raises(sqlarrow.DataError, match="NUL"):
            conn.write(f"{p}nul", data)
        with pytest.raises(sqlarrow.DataError, match="NUL"):
            conn.write(f"{p}nul", data, mode="upsert", key=["id"])
    else:
        conn.write(f"{p}nul", data, mode="upsert", key=["id"])
        assert rows(conn, f"select s from {p}nul order by id") == [{"s": "a\x00b"}, {"s": "ok"}]


@pytest.mark.parametrize(
    ("kind", "fine", "exact"),
    [
        (
            pa.timestamp("ns"),
            1_600_000_000_123_456_789,  # 2020-09-13 12:26:40.123456789
            1_600_000_000_123_456_000,
        ),
        (pa.timestamp("ns", tz="UTC"), 1_600_000_000_123_456_789, 1_600_000_000_123_456_000),
        (pa.time64("ns"), 3_723_000_000_001, 3_723_000_001_000),  # 01:02:03 + 1 ns / + 1 µs
    ],
    ids=["timestamp", "timestamptz", "time"],
)
def test_nanoseconds_are_refused_not_cut(
    target: tuple[sqlarrow.Connector, str, str], kind: pa.DataType, fine: int, exact: int
) -> None:
    # The databases store microseconds; Arrow's cast would drop the nanoseconds without a
    # word. A value with nanoseconds is refused (naming the column and the value), and
    # nothing lands; whole microseconds in a nanosecond column write as usual.
    conn, p, _ = target
    data = pa.table({"id": [1, 2, 3], "t": pa.array([exact, None, fine], pa.int64()).cast(kind)})
    with pytest.raises(sqlarrow.DataError, match=r'column "t": the value \S*(123456789|000000001)'):
        conn.write(f"{p}ns_t", data)
    with pytest.raises(sqlarrow.UndefinedObjectError):  # the table it created is gone
        conn.query(f"select * from {p}ns_t")
    res = conn.write(f"{p}ns_t", data.slice(0, 2))
    assert res.rows_written == 2
    back = conn.query(f"select t from {p}ns_t order by id").to_arrow().column("t")
    assert back.to_pylist() == data.column("t").slice(0, 2).to_pylist()


def test_nan_is_stored_or_refused_never_made_null(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    """SQLite stores a bound NaN as NULL: a write of [1.5, NaN] read back [1.5, None],
    and `query("select ?", [nan])` returned None. SQLite now refuses NaN as MySQL
    does (naming the input row, across batches); PostgreSQL stores it."""
    conn, p, engine = target
    first = pa.record_batch({"id": [1, 2], "x": pa.array([1.5, None], pa.float64())})
    second = pa.record_batch({"id": [3, 4], "x": pa.array([2.5, float("nan")], pa.float32())})
    second = pa.record_batch(
        [second.column(0), second.column(1).cast(pa.float64())], schema=first.schema
    )
    data = pa.Table.from_batches([first, second])
    if engine == "postgres":
        conn.write(f"{p}nan", data)
        back = conn.query(f"select x from {p}nan order by id").to_pylist()
        assert back[:3] == [{"x": 1.5}, {"x": None}, {"x": 2.5}]
        assert math.isnan(back[3]["x"])
        return
    expect = r'column "x" \(input row 3\): SQLite cannot store NaN' if engine == "sqlite" else "NaN"
    with pytest.raises(sqlarrow.DataError, match=expect) as info:
        conn.write(f"{p}nan", data)
    if engine == "sqlite":
        assert info.value.details.get("row_index") == 3
        with pytest.raises(sqlarrow.ParameterError, match="parameter 1: SQLite cannot store NaN"):
            conn.query("select ? as x", [float("nan")])
    with pytest.raises(sqlarrow.UndefinedObjectError):  # the table it created is gone
        conn.query(f"select * from {p}nan")
    # Infinities are values on SQLite and PostgreSQL; nulls stay nulls.
    ok = pa.table({"id": [1, 2], "x": [float("inf"), None]})
    if engine == "sqlite":
        conn.write(f"{p}nan", ok)
        assert conn.query(f"select x from {p}nan order by id").to_pylist() == [
            {"x": float("inf")},
            {"x": None},
        ]


def test_an_arrow_type_the_engine_cannot_take_is_named(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    conn, p, engine = target
    # (structs, a previous example, are now written as JSON)
    union = pa.UnionArray.from_sparse(pa.array([0], pa.int8()), [pa.array([1]), pa.array(["a"])])
    data = pa.table({"id": [1], "tags": union})
    with pytest.raises(sqlarrow.UnsupportedTypeError) as ei:
        conn.write(f"{p}typed", data)
    message = str(ei.value)
    assert message.startswith('column "tags" has Arrow type Union('), message
    assert {"postgres": "PostgreSQL", "sqlite": "SQLite", "mysql": "MySQL"}[engine] in message
    assert "to Arrow" not in message  # a write: nothing is converted to Arrow
    # A column of a type the existing table has, given in a unit it has to cast from.
    conn.execute(f"create table {p}typed (id integer, t time)")
    conn.write(
        f"{p}typed", pa.table({"id": [1], "t": pa.array([3_723_000_000_000], pa.time64("ns"))})
    )
    assert conn.query(f"select t from {p}typed").to_pylist()[0]["t"].isoformat() == "01:02:03"


def test_a_write_waiting_on_a_lock_times_out(target: tuple[sqlarrow.Connector, str, str]) -> None:
    # write() ignored the statement timeout: a write waiting for another session's lock
    # waited for ever (here: for the lock holder, which waits for the write). On SQLite
    # the wait went on for the whole 5 s busy timeout, through the interruption the
    # timeout sent, before failing.
    conn, p, engine = target
    conn.execute(f"create table {p}lk (id int)")
    lock = {
        "postgres": f"lock table {p}lk in access exclusive mode",
        "mysql": f"lock tables {p}lk write",
        # A write in the transaction takes the database's write lock (no rows change).
        "sqlite": f"delete from {p}lk",
    }[engine]
    data = pa.table({"id": pa.array([1, 2], pa.int32())})
    with conn.transaction() as tx:
        tx.execute(lock)
        start = time.monotonic()
        with pytest.raises(sqlarrow.QueryTimeoutError):
            conn.write(f"{p}lk", data, timeout=0.5)
        # (A hang guard, and on SQLite well short of the 5 s busy timeout.)
        assert time.monotonic() - start < (4 if engine == "sqlite" else 10)
        if engine == "mysql":
            tx.execute("unlock tables")
    assert conn.query(f"select count(*) as n from {p}lk").to_pylist() == [{"n": 0}]
    assert conn.write(f"{p}lk", data, timeout=30).rows_written == 2
    with pytest.raises(sqlarrow.ConfigError, match="timeout"):
        conn.write(f"{p}lk", data, timeout=0)


def test_an_input_without_columns_is_refused(target: tuple[sqlarrow.Connector, str, str]) -> None:
    # Before: PostgreSQL raised a syntax error from "COPY t () FROM STDIN".
    conn, p, _ = target
    conn.execute(f"create table {p}nc (id int)")
    for table in (f"{p}nc", f"{p}missing"):
        with pytest.raises(sqlarrow.ConfigError, match="no columns"):
            conn.write(table, pa.table({}))


def test_an_unknown_input_column_names_the_tables_columns(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    # Before: SQLite (and Redshift) did not list the table's columns, and replace mode
    # did not say that it keeps the table's definition (pandas' if_exists="replace"
    # recreates the table from the data, so the new column was expected to appear).
    conn, p, _ = target
    conn.write(f"{p}uc", pa.table({"id": [1], "a": ["x"]}))
    new = pa.table({"id": [2], "a": ["y"], "extra": [1.5]})
    for mode in ("append", "replace"):
        with pytest.raises(sqlarrow.ConfigError) as e:
            conn.write(f"{p}uc", new, mode=mode)
        msg = str(e.value)
        assert 'input column "extra" has no matching column in the table (columns: id, a)' in msg
        assert ("keeps the table's definition" in msg) == (mode == "replace")
        assert e.value.details["column"] == "extra"
    assert rows(conn, f"select id, a from {p}uc") == [{"id": 1, "a": "x"}]
    with conn.transaction() as tx, pytest.raises(sqlarrow.ConfigError, match="keeps the table"):
        tx.write(f"{p}uc", new, mode="replace")


def test_data_given_before_the_table_name_is_named(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    conn, p, _ = target
    data = pa.table({"id": [1]})
    with pytest.raises(sqlarrow.ConfigError, match=r"write\(table, data\).*got the data first"):
        conn.write(data, f"{p}sw")  # type: ignore[arg-type]
    with conn.transaction() as tx, pytest.raises(sqlarrow.ConfigError, match="got the data first"):
        tx.write(data, f"{p}sw")  # type: ignore[arg-type]
    for bad, kind in ((None, "NoneType"), (5, "int")):
        with pytest.raises(sqlarrow.ConfigError, match=rf"non-empty str, not {kind}$"):
            conn.write(bad, data)  # type: ignore[arg-type]
    with pytest.raises(sqlarrow.ConfigError, match=r"non-empty str$"):
        conn.write("", data)
    assert not conn.table_exists(f"{p}sw".replace('"', ""))


def test_concurrent_writes_to_one_sqlite_file_queue_up(tmp_path: Path) -> None:
    # Each write read the table's columns in a deferred transaction before writing; a
    # second writer then got "database is locked" at once (SQLite will not wait there,
    # to avoid a deadlock): 33 of 80 writes from 4 threads failed.
    with sqlarrow.connect(f"sqlite:///{tmp_path / 'cw.db'}", pool_size=4) as conn:
        conn.execute("create table t (id int, v text)")
        errors: list[BaseException] = []

        def work(k: int) -> None:
            for i in range(10):
                base = k * 100_000 + i * 1_000
                try:
                    conn.write(
                        "t", pa.table({"id": range(base, base + 1000), "v": ["x" * 50] * 1000})
                    )
                except BaseException as e:  # collected and asserted below
                    errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert conn.query("select count(*) as n from t").to_pylist() == [{"n": 40_000}]


def test_a_list_fills_an_in_list(target: tuple[sqlarrow.Connector, str, str]) -> None:
    # `id IN (:ids)` with a list: MySQL and SQLite bound the list as one JSON string and
    # silently matched no row; PostgreSQL refused it (integer = integer[]).
    conn, p, engine = target
    conn.execute(f"create table {p}il (id int, name varchar(10))")
    conn.write(f"{p}il", pa.table({"id": pa.array([1, 2, 3, 4], pa.int32()), "name": list("abcd")}))

    def ids(sql: str, params: dict[str, object]) -> list[object]:
        return [
            r["id"] for r in rows_p(conn, f"select id from {p}il where {sql} order by id", params)
        ]

    assert ids("id in (:ids)", {"ids": [2, 4, 9]}) == [2, 4]
    assert ids("id IN ( :ids ) or name = :n", {"ids": (1,), "n": "c"}) == [1, 3]
    assert ids("id not in (:ids)", {"ids": [1, 2]}) == [3, 4]
    assert ids("name in (:ns) and id in (:ids)", {"ns": ["a", "d"], "ids": [4]}) == [4]
    # An empty list matches nothing; after NOT IN it is refused rather than matching
    # nothing (NOT IN (NULL) is never true).
    assert ids("id in (:ids)", {"ids": []}) == []
    # Lists from DataFrames: numpy arrays (bound as one JSON string on MySQL and SQLite
    # before, matching nothing), pandas Series (by position, whatever their index) and
    # Index, ranges.
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    assert ids("id in (:ids)", {"ids": np.array([2, 4, 9])}) == [2, 4]
    assert ids("id in (:ids)", {"ids": pd.Series([3, 1], index=[7, 8])}) == [1, 3]
    assert ids("id in (:ids)", {"ids": pd.Index([4])}) == [4]
    assert ids("id in (:ids)", {"ids": range(2, 4)}) == [2, 3]
    assert ids("id in (:ids)", {"ids": np.array([], dtype=np.int64)}) == []
    with pytest.raises(sqlarrow.ParameterError, match="empty list after NOT IN"):
        ids("id not in (:ids)", {"ids": []})
    # A list that is not the whole IN list stays one value (JSON on MySQL and SQLite).
    if engine == "postgres":
        with pytest.raises(sqlarrow.SqlArrowError):
            ids("id in (:ids, 5)", {"ids": [1]})
    many = list(range(1, 2001))
    assert ids("id in (:ids)", {"ids": many}) == [1, 2, 3, 4]
    # Past 32,767 values: PostgreSQL refused them with "internal: bad statement for a
    # bound read" (a signed 16-bit count where the protocol's is unsigned). Past each
    # engine's limit, a ParameterError that names the way around it.
    big = list(range(1, 40_001))
    if engine == "sqlite":
        with pytest.raises(sqlarrow.ParameterError, match="json_each"):
            ids("id in (:ids)", {"ids": big})
        within = "id in (select value from json_each(:ids))"
        assert ids(within, {"ids": big}) == [1, 2, 3, 4]
    else:
        assert ids("id in (:ids)", {"ids": big}) == [1, 2, 3, 4]
        with pytest.raises(sqlarrow.ParameterError):
            ids("id in (:ids)", {"ids": list(range(70_000))})
    # executemany runs one statement: lists of one length per position work; other
    # lengths would bind values to the wrong markers, and are refused.
    delete = f"delete from {p}il where id in (:ids) and name in (:ns)"
    assert conn.executemany(delete, [{"ids": [1], "ns": ["a"]}, {"ids": [2], "ns": ["x"]}]) == 1
    with pytest.raises(sqlarrow.ParameterError, match=r"parameter set 1 .* other lengths"):
        conn.executemany(delete, [{"ids": [2, 3], "ns": ["b"]}, {"ids": [3], "ns": ["b", "c"]}])
    assert ids("id > 0", {}) == [2, 3, 4]


def rows_p(
    conn: sqlarrow.Connector, sql: str, params: dict[str, object]
) -> list[dict[str, object]]:
    return conn.query(sql, params).to_pylist()  # type: ignore[no-any-return]


def test_column_names_follow_the_engines_case_rules(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    """MySQL and SQLite resolve column names ignoring case, so writes do too; PostgreSQL
    names are case-sensitive and the error says when only the case differs."""
    conn, p, engine = target
    q = (lambda n: f"`{n}`") if engine == "mysql" else (lambda n: f'"{n}"')
    conn.execute(f"create table {p}c ({q('ID')} integer primary key, {q('Name')} varchar(20))")
    data = pa.table({"id": [1, 2], "name": ["a", "b"]})
    if engine == "postgres":
        with pytest.raises(sqlarrow.ConfigError, match='case-sensitive: the table has "ID"'):
            conn.write(f"{p}c", data)
        # Names differing in case are two columns here.
        conn.write(f"{p}both", pa.table({"a": [1], "A": [2]}), mode="create")
        assert rows(conn, f"select * from {p}both") == [{"a": 1, "A": 2}]
        return
    assert conn.write(f"{p}c", data).rows_written == 2
    res = conn.write(
        f"{p}c", pa.table({"id": [2, 3], "NAME": ["B", "c"]}), mode="upsert", key=["id"]
    )
    assert (res.rows_written, res.rows_updated) == (1, 1)
    assert rows(conn, f"select * from {p}c order by 1") == [
        {"ID": 1, "Name": "a"},
        {"ID": 2, "Name": "B"},
        {"ID": 3, "Name": "c"},
    ]
    # two input columns that are one column to the database, into a table that exists
    # or one to create (where the server said "Duplicate column name")
    twice = pa.table({"id": [4], "ID": [5]})
    for table, mode in [(f"{p}c", "append"), (f"{p}new", "create")]:
        with pytest.raises(
            sqlarrow.ConfigError, match='input columns "id" and "ID" differ only in case'
        ):
            conn.write(table, twice, mode=mode)  # type: ignore[arg-type]
    assert not conn.table_exists(f"{p}new")


def test_skip_sets_aside_text_too_long_for_its_column(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    """Text longer than a VARCHAR(n)/CHAR(n) column is set aside with the other bad rows
    instead of failing the whole write (PostgreSQL and MySQL; SQLite does not limit
    lengths). Trailing spaces beyond n are cut by the server, as for any insert."""
    conn, p, engine = target
    conn.execute(f"create table {p}tl (id integer primary key, v varchar(3), c char(2))")
    data = pa.table(
        {
            "id": [1, 2, 3, 4, 5],
            "v": ["abc", "abcd", "ab    ", None, "ñññ"],
            "c": ["x", "y", "z", "long", "w"],
        }
    )
    for mode, kw in (("append", {}), ("upsert", {"key": ["id"]})):
        res = conn.write(f"{p}tl", data, mode=mode, on_error="skip", **kw)  # type: ignore[arg-type]
        if engine == "sqlite":
            assert res.rows_failed == 0
            continue
        assert res.rows_failed == 2, mode
        failed = res.failed.to_pylist()
        assert [r["id"] for r in failed] == [2, 4]
        assert "too long" in failed[0]["_sqlarrow_error"] and "v" in failed[0]["_sqlarrow_error"]
        assert "too long" in failed[1]["_sqlarrow_error"] and "c" in failed[1]["_sqlarrow_error"]
    if engine != "sqlite":
        got = rows(conn, f"select id, v from {p}tl order by id")
        assert [r["id"] for r in got] == [1, 3, 5]
        assert got[1]["v"] in ("ab ", "ab")  # the spaces past 3 cut by the server
        assert got[2]["v"] == "ñññ"  # characters, not bytes


def test_structs_maps_and_lists_without_arrays_are_written_as_json(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    """DataFrame columns of structs and maps (and of lists, where the engine has no
    arrays: MySQL, SQLite) are written as one JSON document per row, into new JSON
    columns; PostgreSQL keeps lists as arrays."""
    import decimal
    import json

    conn, p, engine = target
    data = pa.table(
        {
            "id": [1, 2, 3],
            "tags": pa.array([["a", 'q"uote'], [], None], pa.list_(pa.string())),
            "point": pa.array(
                [
                    {"x": 1.5, "y": None, "d": decimal.Decimal("2.50")},
                    None,
                    {"x": -1.0, "y": 7, "d": None},
                ],
                pa.struct([("x", pa.float64()), ("y", pa.int64()), ("d", pa.decimal128(5, 2))]),
            ),
            "attrs": pa.array([[("k", 1)], [], None], pa.map_(pa.string(), pa.int64())),
        }
    )
    conn.write(f"{p}js", data)
    with conn.transaction() as tx:  # the same inside a transaction
        tx.write(f"{p}js", data.slice(0, 1).set_column(0, "id", pa.array([4])))
    got = rows(conn, f"select * from {p}js order by id")
    assert len(got) == 4
    point = got[0]["point"]
    assert json.loads(point) == {"x": 1.5, "y": None, "d": 2.5}
    assert got[1]["point"] is None
    assert json.loads(got[0]["attrs"]) == {"k": 1} and json.loads(got[1]["attrs"]) == {}
    assert got[2]["attrs"] is None
    if engine == "postgres":
        assert got[0]["tags"] == ["a", 'q"uote'] and got[1]["tags"] == []
    else:
        assert json.loads(got[0]["tags"]) == ["a", 'q"uote'] and json.loads(got[1]["tags"]) == []
    assert got[2]["tags"] is None
    assert got[3]["id"] == 4 and json.loads(got[3]["point"])["x"] == 1.5
    if engine == "postgres":
        # a list into an existing json/jsonb column is a JSON array there
        conn.execute(f"create table {p}jb (id int, doc jsonb, raw json)")
        lists = pa.array([[1, 2], None], pa.list_(pa.int64()))
        conn.write(f"{p}jb", pa.table({"id": [1, 2], "doc": lists, "raw": lists}))
        got_jb = rows(conn, f"select doc, raw from {p}jb order by id")
        assert json.loads(got_jb[0]["doc"]) == [1, 2] and json.loads(got_jb[0]["raw"]) == [1, 2]
        assert got_jb[1] == {"doc": None, "raw": None}
    # a value JSON cannot hold is refused, naming the column and the input row
    bad = pa.table({"id": [9, 10], "point": pa.array([{"x": 1.0}, {"x": float("nan")}])})
    with pytest.raises(sqlarrow.DataError, match=r'column "point" \(input row 1\): the float NaN'):
        conn.write(f"{p}js", bad)
    assert len(rows(conn, f"select id from {p}js")) == 4


@pytest.mark.parametrize("mode", ["upsert", "update"])
def test_null_key_is_refused_with_its_row(
    target: tuple[sqlarrow.Connector, str, str], mode: str
) -> None:
    """A NULL key matches no row. PostgreSQL and MySQL merged the NULL-key rows of one
    input into one (dropping the rest); SQLite gave a NULL INTEGER PRIMARY KEY a new
    rowid that a later input row overwrote. Now: a DataError naming column and row."""
    conn, p, _ = target
    conn.execute(f"create table {p}nk (id integer, v text, unique (id))")
    conn.write(f"{p}nk", pa.table({"id": [1], "v": ["a"]}))
    data = pa.table({"id": pa.array([1, None, None, 2], pa.int64()), "v": ["A", "x", "y", "b"]})
    with pytest.raises(sqlarrow.DataError) as info:
        conn.write(f"{p}nk", data, mode, key=["id"])
    assert info.value.row_index == 1  # type: ignore[attr-defined]
    assert info.value.column == "id"  # type: ignore[attr-defined]
    assert "NULL" in str(info.value)
    assert rows(conn, f"select id, v from {p}nk") == [{"id": 1, "v": "a"}]


@pytest.mark.parametrize("mode", ["upsert", "update"])
def test_null_key_rows_are_set_aside_with_skip(
    target: tuple[sqlarrow.Connector, str, str], mode: str
) -> None:
    conn, p, _ = target
    conn.execute(f"create table {p}nk (id integer, v text, unique (id))")
    conn.write(f"{p}nk", pa.table({"id": [1], "v": ["a"]}))
    data = pa.table({"id": pa.array([1, None, None, 2], pa.int64()), "v": ["A", "x", "y", "b"]})
    res = conn.write(f"{p}nk", data, mode, key=["id"], on_error="skip")
    assert res.rows_failed == 2
    assert res.failed is not None
    failed = res.failed.to_pylist()
    assert [r["v"] for r in failed] == ["x", "y"]
    assert all("NULL key" in r["_sqlarrow_error"] for r in failed)
    expected = [{"id": 1, "v": "A"}] + ([{"id": 2, "v": "b"}] if mode == "upsert" else [])
    assert rows(conn, f"select id, v from {p}nk order by id") == expected


def test_sqlite_null_integer_primary_key_upsert_loses_no_row(tmp_path: Path) -> None:
    """The rowid case: a NULL key got rowid 3, which the next input row (id 3) then
    updated: one input row vanished and was counted as an update."""
    with sqlarrow.connect(f"sqlite:///{tmp_path / 'k.db'}") as conn:
        conn.write("t", pa.table({"id": [1, 2], "v": ["a", "b"]}), "upsert", key=["id"])
        data = pa.table({"id": pa.array([None, 3], pa.int64()), "v": ["x", "c"]})
        with pytest.raises(sqlarrow.DataError):
            conn.write("t", data, "upsert", key=["id"])
        res = conn.write("t", data, "upsert", key=["id"], on_error="skip")
        assert (res.rows_written, res.rows_updated, res.rows_failed) == (1, 0, 1)
        assert rows(conn, "select id, v from t order by id") == [
            {"id": 1, "v": "a"},
            {"id": 2, "v": "b"},
            {"id": 3, "v": "c"},
        ]


def test_upsert_of_key_columns_only(target: tuple[sqlarrow.Connector, str, str]) -> None:
    """Only the key: new keys are inserted, existing ones left alone (MySQL's no-op
    update was an ambiguous-column error)."""
    conn, p, _ = target
    conn.execute(f"create table {p}ko (id integer primary key, v text)")
    conn.write(f"{p}ko", pa.table({"id": [1], "v": ["a"]}))
    res = conn.write(f"{p}ko", pa.table({"id": [1, 5]}), "upsert", key=["id"])
    assert res.rows_written == 1
    assert rows(conn, f"select id, v from {p}ko order by id") == [
        {"id": 1, "v": "a"},
        {"id": 5, "v": None},
    ]


def test_key_names_ignore_case_where_the_engine_does(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    """MySQL and SQLite resolve column names ignoring case, so key=["ID"] names the
    column `id`, of an existing table and of one the write creates. PostgreSQL does
    not: there it is a clear error."""
    conn, p, engine = target
    conn.execute(f"create table {p}kc (id integer primary key, v text)")
    data = pa.table({"id": [1, 2], "v": ["a", "b"]})
    if engine == "postgres":
        with pytest.raises(ConfigError, match="ID"):
            conn.write(f"{p}kc", data, "upsert", key=["ID"])
        return
    assert conn.write(f"{p}kc", data, "upsert", key=["ID"]).rows_written == 2
    assert conn.write(f"{p}kc", data, "update", key=["Id"]).rows_failed == 0
    res = conn.write(f"{p}kc_new", data, "upsert", key=["ID"])
    assert res.rows_written == 2
    assert conn.get_schema(f"{p}kc_new").primary_key == ["id"]


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_refused_values_name_their_input_row_across_batches(
    target: tuple[sqlarrow.Connector, str, str], mode: str
) -> None:
    """A refused value (digits a DECIMAL would drop, a NaN inside a JSON document) was
    reported at its place in its batch: in a stream's second batch, the wrong row."""
    import decimal

    conn, p, _ = target
    conn.execute(f"create table {p}rr (id integer primary key, x decimal(10,2), j text)")
    dec = pa.decimal128(10, 3)
    first = pa.record_batch(
        {
            "id": [1, 2, 3],
            "x": pa.array([decimal.Decimal("1.5")] * 3, dec),
            "j": pa.array([{"a": 1.0}] * 3),
        }
    )
    digits = first.slice(0, 2).to_pydict()
    digits.update(id=[4, 5], x=[decimal.Decimal("1.5"), decimal.Decimal("1.234")])
    nan = first.slice(0, 2).to_pydict()
    nan.update(id=[4, 5], j=[{"a": 1.0}, {"a": float("nan")}])
    for second, column in ((digits, "x"), (nan, "j")):
        batch = pa.record_batch(second, schema=first.schema)
        reader = pa.RecordBatchReader.from_batches(first.schema, [first, batch])
        with pytest.raises(sqlarrow.DataError, match=r"input row 4\b") as info:
            conn.write(f"{p}rr", reader, mode, key=["id"] if mode == "upsert" else None)
        assert info.value.row_index == 4  # type: ignore[attr-defined]
        assert info.value.column == column  # type: ignore[attr-defined]
    assert rows(conn, f"select count(*) as n from {p}rr") == [{"n": 0}]


def test_generated_and_identity_columns_postgres(pg_url: str, pg_schema: str) -> None:
    """A generated column in the input: COPY refused it after the write began, which
    lost the connection (and a caller's transaction); it is a ConfigError up front. An
    input value for a GENERATED ALWAYS identity column was taken by append (COPY) but
    refused by upsert and on_error="skip" (INSERT): every mode takes it now."""
    t = f'"{pg_schema}"'
    with sqlarrow.connect(pg_url, pool_size=1) as pg:
        pg.execute(
            f"create table {t}.g (id int primary key, a int, "
            "b int generated always as (a * 2) stored)"
        )
        pg.execute(f"create table {t}.i (id int generated always as identity primary key, v text)")
        with pg.transaction() as tx:
            tx.execute(f"insert into {t}.g (id, a) values (1, 1)")
            for kw in ({}, {"mode": "upsert", "key": ["id"]}, {"on_error": "skip"}):
                with pytest.raises(ConfigError, match='"b" is a generated column'):
                    tx.write(f"{t}.g", pa.table({"id": [2], "a": [3], "b": [7]}), **kw)  # type: ignore[arg-type]
        assert pg.query(f"select id, b from {t}.g").to_pylist() == [{"id": 1, "b": 2}]
        pg.write(f"{t}.g", pa.table({"id": [2], "a": [3]}), mode="upsert", key=["id"])
        assert pg.query(f"select b from {t}.g where id = 2").to_pylist() == [{"b": 6}]
        pg.write(f"{t}.i", pa.table({"v": ["auto"]}))
        pg.write(f"{t}.i", pa.table({"id": [10], "v": ["ten"]}))
        res = pg.write(
            f"{t}.i", pa.table({"id": [10, 11], "v": ["TEN", "eleven"]}), mode="upsert", key=["id"]
        )
        assert (res.rows_written, res.rows_updated) == (1, 1)
        res = pg.write(f"{t}.i", pa.table({"id": [12, 12], "v": ["a", "b"]}), on_error="skip")
        assert (res.rows_written, res.rows_failed) == (1, 1)
        got = pg.query(f"select id, v from {t}.i order by id").to_pylist()
        assert got == [
            {"id": 1, "v": "auto"},
            {"id": 10, "v": "TEN"},
            {"id": 11, "v": "eleven"},
            {"id": 12, "v": "a"},
        ]
        stats = pg.pool_stats()
        assert (stats.created, stats.closed) == (1, 0), stats


def test_replace_of_a_table_a_foreign_key_references(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    # PostgreSQL emptied the table with TRUNCATE, which the server refuses for any table
    # a foreign key references, even when no row refers to it (a QueryError). MySQL and
    # SQLite delete, and fail only for rows still referred to.
    conn, p, _ = target
    conn.execute(f"create table {p}par (id int primary key, v varchar(10))")
    conn.execute(
        f"create table {p}child (id int, pid int, foreign key (pid) references {p}par (id))"
    )
    conn.write(f"{p}par", pa.table({"id": [1, 2], "v": ["a", "b"]}))
    res = conn.write(f"{p}par", pa.table({"id": [1, 3], "v": ["A", "C"]}), mode="replace")
    assert res.rows_written == 2
    want = [{"id": 1, "v": "A"}, {"id": 3, "v": "C"}]
    assert rows(conn, f"select id, v from {p}par order by id") == want
    conn.execute(f"insert into {p}child values (1, 1)")
    with pytest.raises(sqlarrow.ForeignKeyViolation):
        conn.write(f"{p}par", pa.table({"id": [5], "v": ["E"]}), mode="replace")
    assert rows(conn, f"select id, v from {p}par order by id") == want


def test_replace_under_a_deferred_foreign_key_postgres(
    pg: sqlarrow.Connector, pg_schema: str
) -> None:
    s = f'"{pg_schema}"'
    pg.execute(f"create table {s}.par (id int primary key, v text)")
    pg.execute(
        f"create table {s}.child (pid int references {s}.par (id) deferrable initially deferred)"
    )
    pg.write(f"{s}.par", pa.table({"id": [1, 2], "v": ["a", "b"]}))
    pg.execute(f"insert into {s}.child values (1)")
    # The referenced key comes back in the new rows: checked at COMMIT, and fine.
    pg.write(f"{s}.par", pa.table({"id": [1, 4], "v": ["A", "D"]}), mode="replace")
    assert rows(pg, f"select id from {s}.par order by id") == [{"id": 1}, {"id": 4}]
    # It does not: the server refuses the COMMIT, which rolled everything back. That is
    # no connection failure, so nothing is "in doubt".
    with pytest.raises(sqlarrow.ForeignKeyViolation) as info:
        pg.write(f"{s}.par", pa.table({"id": [5], "v": ["E"]}), mode="replace")
    assert "may or may not" not in str(info.value)
    assert not getattr(info.value, "commit_in_doubt", False)
    assert rows(pg, f"select id from {s}.par order by id") == [{"id": 1}, {"id": 4}]


def test_executemany_with_values_of_different_kinds_in_one_position(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    # MariaDB's bulk execution sends each position's type once, from the first row: a
    # text followed by an int inserted '\x00' and three extra empty rows, and mixed
    # ints and floats were out of range or 'Incorrect double value'. PostgreSQL
    # declared the parameter from its first value: 2.5 after 1 was refused by an int8
    # parameter for a float8 column. SQLite took them all.
    conn, p, engine = target
    dbl = "double" if engine == "mysql" else "double precision"
    conn.execute(f"create table {p}em (k int, v {dbl}, n numeric(10,2), t varchar(20))")
    mark = (lambda i: f"${i}") if engine == "postgres" else (lambda i: "?")
    sql = f"insert into {p}em (k, v, n, t) values ({', '.join(mark(i) for i in range(1, 5))})"
    sets = [
        [1, None, 1, "a"],
        [2, 1, D("2.5"), 1],
        [3, 2.5, 3, 2.25],
        [4, D("1.5"), 4.75, None],
    ]
    assert conn.executemany(sql, sets) == 4
    assert rows(conn, f"select k, v, n, t from {p}em order by k") == [
        {"k": 1, "v": None, "n": D("1.00"), "t": "a"},
        {"k": 2, "v": 1.0, "n": D("2.50"), "t": "1"},
        {"k": 3, "v": 2.5, "n": D("3.00"), "t": "2.25"},
        {"k": 4, "v": 1.5, "n": D("4.75"), "t": None},
    ]


def test_uuids_into_text_columns_are_their_text(
    target: tuple[sqlarrow.Connector, str, str],
) -> None:
    """UUIDs (arrow.uuid, e.g. read from PostgreSQL) into an existing text or varchar
    column failed on PostgreSQL and SQLite ("Casting from FixedSizeBinary(16) to Utf8
    not supported"); they are now their standard text there, as on MySQL. A plain
    16-byte binary (a hash, say) is not taken for a UUID."""
    conn, p, engine = target
    conn.execute(f"create table {p}ut (t text, v varchar(36))")
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    tag = {"ARROW:extension:name": "arrow.uuid"}
    schema = pa.schema(
        [pa.field("t", pa.binary(16), metadata=tag), pa.field("v", pa.binary(16), metadata=tag)]
    )
    data = pa.table(
        [pa.array([u.bytes, None], pa.binary(16)), pa.array([None, u.bytes], pa.binary(16))],
        schema=schema,
    )
    assert conn.write(f"{p}ut", data).rows_written == 2
    got = conn.query(f"select t, v from {p}ut").to_pylist()
    assert sorted(got, key=str) == sorted(
        [{"t": str(u), "v": None}, {"t": None, "v": str(u)}], key=str
    )
    if engine != "mysql":
        with pytest.raises(sqlarrow.DataError, match="FixedSizeBinary"):
            conn.write(f"{p}ut", pa.table({"t": pa.array([b"\x00" * 16], pa.binary(16))}))
