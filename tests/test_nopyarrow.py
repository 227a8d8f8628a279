"""sqlarrow without pyarrow, pandas and polars (imports blocked in a subprocess)."""

from __future__ import annotations

from conftest import PG_URL, run_python

BLOCKER = """
import sys

class _Blocker:
    BLOCKED = ("pyarrow", "pandas", "polars")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"{name} is blocked for this test")
        return None

sys.meta_path.insert(0, _Blocker())
for mod in list(sys.modules):
    if mod.split(".")[0] in _Blocker.BLOCKED:
        del sys.modules[mod]
"""


def test_without_optional_dependencies_sqlite() -> None:
    proc = run_python(
        BLOCKER
        + """
import datetime, decimal
import sqlarrow

conn = sqlarrow.connect("sqlite://:memory:")
conn.execute("create table t (id INTEGER, amount DECIMAL(8,2), at TIMESTAMP, note TEXT)")
conn.executemany("insert into t values (?, ?, ?, ?)",
                 [[i, f"{i}.50", f"2024-01-01 00:00:{i:02d}", None if i % 2 else "n"]
                  for i in range(10)])
r = conn.query("select * from t order by id")
assert isinstance(r, sqlarrow.QueryResult)
assert r.num_rows == 10 and len(r) == 10
rows = r.to_pylist()
assert rows[1] == {"id": 1, "amount": decimal.Decimal("1.50"),
                   "at": datetime.datetime(2024, 1, 1, 0, 0, 1), "note": None}, rows[1]
cap = r.__arrow_c_stream__()
assert type(cap).__name__ == "PyCapsule", type(cap)
schema_cap = r.__arrow_c_schema__()
assert type(schema_cap).__name__ == "PyCapsule"
assert r.schema.names == ["id", "amount", "at", "note"]
assert type(r.schema.__arrow_c_schema__()).__name__ == "PyCapsule"
repr(r)
r._repr_html_()

for name, extra in (("to_arrow", "pyarrow"), ("to_pandas", "pandas"), ("to_polars", "polars")):
    try:
        getattr(r, name)()
    except sqlarrow.MissingDependencyError as exc:
        assert isinstance(exc, ImportError)
        assert f"pip install 'sqlarrow[{extra}]'" in str(exc), str(exc)
    else:
        raise AssertionError(f"{name} did not raise")

with conn.stream("select * from t order by id", batch_size=4) as s:
    parts = list(s)
assert [len(p) for p in parts] == [4, 4, 2], [len(p) for p in parts]
assert all(isinstance(p, sqlarrow.QueryResult) for p in parts)
assert [row["id"] for p in parts for row in p.to_pylist()] == list(range(10))

with conn.stream("select * from t order by id", batch_size=3) as s:
    collected = s.read_all()
assert collected.num_rows == 10
assert [row["id"] for row in collected.to_pylist()] == list(range(10))

with conn.stream("select * from t", batch_size=3) as s:
    assert type(s.__arrow_c_stream__()).__name__ == "PyCapsule"

import sys
for mod in ("pyarrow", "pandas", "polars"):
    assert mod not in sys.modules, mod
print("nopyarrow-ok")
"""
    )
    assert "nopyarrow-ok" in proc.stdout


def test_without_optional_dependencies_postgres() -> None:
    proc = run_python(
        BLOCKER
        + f"""
import uuid
import sqlarrow
with sqlarrow.connect({PG_URL!r}) as conn:
    r = conn.query("select g, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as u "
                   "from generate_series(1, 3) g")
    assert r.to_pylist()[0] == {{"g": 1, "u": uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}}
    with conn.stream("select g from generate_series(1, 10) g", batch_size=5) as s:
        assert [len(b) for b in s] == [5, 5]
    try:
        r.to_arrow()
    except sqlarrow.MissingDependencyError:
        pass
    else:
        raise AssertionError("to_arrow did not raise")
print("nopyarrow-pg-ok")
"""
    )
    assert "nopyarrow-pg-ok" in proc.stdout


def test_demo_without_optional_dependencies(tmp_path: object) -> None:
    proc = run_python(
        BLOCKER
        + """
from sqlarrow.cli import main
raise SystemExit(main(["demo", "--rows", "500"]))
"""
    )
    assert "not installed" in proc.stdout
    assert "pyarrow" in proc.stdout
