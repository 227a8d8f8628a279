"""PostgreSQL connector options that change result types."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest

import sqlarrow

UUID = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
SQL = f"select '{UUID}'::uuid as u, null::uuid as n, array['{UUID}'::uuid] as l"


def test_uuid_as_arrow_extension_by_default(pg_url: str) -> None:
    with sqlarrow.connect(pg_url) as conn:
        table = conn.query(SQL).to_arrow()
    assert getattr(table.schema.field("u").type, "extension_name", None) == "arrow.uuid"
    assert table.to_pylist()[0]["u"] in (uuid.UUID(UUID), uuid.UUID(UUID).bytes)


@pytest.mark.parametrize("how", ["kwarg", "url"])
def test_uuid_as_string(pg_url: str, how: str) -> None:
    conn = (
        sqlarrow.connect(pg_url, uuid_as="string")
        if how == "kwarg"
        else sqlarrow.connect(pg_url + ("&" if "?" in pg_url else "?") + "uuid_as=string")
    )
    with conn:
        result = conn.query(SQL)
        table = result.to_arrow()
        rows = result.to_pylist()
    assert table.schema.field("u").type == pa.string()
    assert table.schema.field("l").type == pa.list_(pa.string())
    assert rows == [{"u": UUID, "n": None, "l": [UUID]}]


def test_uuid_as_is_validated() -> None:
    with pytest.raises(sqlarrow.ConfigError, match="uuid_as"):
        sqlarrow.PostgreSQLConnector(uuid_as="bytes")
