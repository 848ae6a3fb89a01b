"""A table written by target-iceberg, read by an independent engine (DuckDB's Iceberg scan)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

from pyiceberg.catalog import Catalog

from .conftest import RunTarget, messages, records, schema_msg
from .readback import duckdb_rows

SPEC = """
asset: kinds
version: "1"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: flag, type: boolean}
    - {name: small, type: int}
    - {name: ratio, type: float}
    - {name: amount, type: double}
    - {name: price, type: "decimal(12,3)"}
    - {name: day, type: date}
    - {name: at, type: time}
    - {name: seen, type: timestamp}
    - {name: seen_tz, type: timestamptz}
    - {name: label, type: string}
    - {name: key, type: uuid}
    - {name: blob, type: binary}
    - {name: tags, type: "list<string>"}
    - {name: attrs, type: "map<string,long>"}
    - {name: addr, type: "struct<city:string,zip:int>"}
"""

ROW = {
    "id": 1,
    "flag": True,
    "small": -5,
    "ratio": 1.5,
    "amount": 2.25,
    "price": "12.345",
    "day": "2024-02-29",
    "at": "13:45:10.5",
    "seen": "2024-01-01T10:00:00+01:00",
    "seen_tz": "2024-01-01T10:00:00-05:00",
    "label": "héllo",
    "key": "12345678-1234-5678-1234-567812345678",
    "blob": "aGk=",
    "tags": ["a", None],
    "attrs": {"x": 1},
    "addr": {"city": "Delft", "zip": "2611"},
}


def test_duckdb_reads_every_type(run_target: RunTarget, catalog: Catalog, tmp_path: Path) -> None:
    spec = tmp_path / "kinds.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    text = messages(
        schema_msg("kinds", {"id": {"type": "integer"}}),
        *records("kinds", [ROW, {"id": 2}]),
    )
    target, _ = run_target(text, streams={"kinds": {"asset_spec": str(spec)}})
    assert target.summary.streams["kinds"].rows_rejected == 0

    names, rows, types = duckdb_rows(catalog.load_table("acme.kinds"))
    first = dict(zip(names, rows[0], strict=True))
    assert first["flag"] is True
    assert first["small"] == -5
    assert first["ratio"] == 1.5
    assert first["amount"] == 2.25
    assert first["price"] == Decimal("12.345")
    assert first["day"] == dt.date(2024, 2, 29)
    assert first["at"] == dt.time(13, 45, 10, 500000)
    assert first["seen"] == dt.datetime(2024, 1, 1, 9, 0)
    assert first["seen_tz"].astimezone(dt.UTC) == dt.datetime(2024, 1, 1, 15, 0, tzinfo=dt.UTC)
    assert first["label"] == "héllo"
    assert first["key"] == uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert bytes(first["blob"]) == b"hi"
    assert first["tags"] == ["a", None]
    assert first["attrs"] == {"x": 1}
    assert first["addr"] == {"city": "Delft", "zip": 2611}
    second = dict(zip(names, rows[1], strict=True))
    assert second["id"] == 2
    assert all(v is None for k, v in second.items() if k != "id")
    by_name = {t.split("'")[1]: t for t in types}
    assert "DECIMAL(12,3)" in by_name["price"]
    assert "INTEGER" in by_name["small"] and "FLOAT" in by_name["ratio"]
    assert "TIMESTAMP WITH TIME ZONE" in by_name["seen_tz"]
    assert "UUID" in by_name["key"]
