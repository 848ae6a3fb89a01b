"""End-to-end behaviour of the loader on the embedded SQLite catalog: contract enforcement,
quarantine, one snapshot per run, snapshot properties and STATE after the commit."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from target_iceberg.commit import JOB, RUN_ID, STATE, TENANT

from .conftest import RunTarget, messages, records, schema_msg
from .readback import duckdb_rows

SPEC = """
asset: orders
version: "1.0"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: amount, type: "decimal(10,2)", required: true}
    - {name: placed_at, type: timestamptz}
    - {name: day, type: date}
    - {name: qty, type: int}
    - {name: note, type: string}
    - {name: items, type: "list<struct<sku:string,n:int>>"}
  primary_key: [id]
"""

HINT = {"id": {"type": "integer"}, "amount": {"type": "number"}}


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    path = tmp_path / "orders.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def _streams(spec_path: Path) -> dict[str, dict[str, str]]:
    return {"orders_src": {"table": "orders", "asset_spec": str(spec_path)}}


GOOD = [
    {
        "id": 1,
        "amount": 10.5,
        "placed_at": "2024-03-01T10:00:00+02:00",
        "day": "2024-03-01",
        "qty": 3,
        "note": "a",
        "items": [{"sku": "x", "n": 1}],
    },
    {"id": "2", "amount": "7", "placed_at": "2024-03-01 12:00:00", "day": "2024-03-02", "qty": "4"},
]
BAD = [
    {"id": 3, "amount": 1.234},  # loses precision
    {"id": 4, "amount": 1, "qty": 3000000000},  # overflows int
    {"amount": 2},  # required id missing
    {"id": 6, "amount": 1, "day": "2024-02-30"},  # no such date
    {"id": 7, "amount": 1, "colour": "red"},  # unknown column
]


def test_spec_contract_lands_good_rows_and_quarantines_bad(
    run_target: RunTarget, catalog: Catalog, spec_path: Path
) -> None:
    text = messages(
        schema_msg("orders_src", HINT),
        *records("orders_src", GOOD + BAD),
        {"type": "STATE", "value": {"bookmarks": {"orders_src": 7}}},
    )
    target, out = run_target(text, streams=_streams(spec_path), tenant="acme", job="orders_daily")

    table = catalog.load_table("acme.orders")
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == [1, 2]
    assert rows[0]["amount"] == Decimal("10.50")
    assert rows[0]["placed_at"] == dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert rows[1]["placed_at"] == dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert rows[1]["day"] == dt.date(2024, 3, 2)
    assert rows[1]["qty"] == 4
    assert rows[0]["items"] == [{"sku": "x", "n": 1}]
    assert str(table.schema().find_field("qty").field_type) == "int"
    assert table.schema().find_field("id").required

    rejected = catalog.load_table("acme.orders__rejected").scan().to_arrow().to_pylist()
    by_id = {json.loads(r["raw"]).get("id"): r for r in rejected}
    assert set(by_id) == {3, 4, None, 6, 7}
    assert by_id[3]["columns"] == ["amount"] and "decimal places" in by_id[3]["reason"]
    assert by_id[4]["columns"] == ["qty"] and "overflows int" in by_id[4]["reason"]
    assert by_id[None]["columns"] == ["id"] and "required" in by_id[None]["reason"]
    assert by_id[6]["columns"] == ["day"]
    assert "colour" in by_id[7]["reason"] and "unknown_columns" in by_id[7]["reason"]
    assert all(r["stream"] == "orders_src" and r["spec_version"] == "1.0" for r in rejected)
    # Users query the quarantine like any table, with any engine.
    _, found, _ = duckdb_rows(
        catalog.load_table("acme.orders__rejected"),
        "select columns, raw from t where list_contains(columns, 'amount')",
    )
    assert [(cols, json.loads(raw)["id"]) for cols, raw in found] == [(["amount"], 3)]

    summary = target.summary.to_dict()
    assert summary["status"] == "partial" and summary["exit_code"] == 1
    assert summary["streams"]["orders_src"]["rows_rejected"] == 5
    assert summary["streams"]["orders_src"]["rows_landed"] == 2
    assert out == [json.dumps({"bookmarks": {"orders_src": 7}})]

    snapshot = table.current_snapshot()
    assert snapshot is not None and len(table.snapshots()) == 1
    assert snapshot.summary[RUN_ID] == target.settings.run_id
    assert snapshot.summary[TENANT] == "acme" and snapshot.summary[JOB] == "orders_daily"
    assert json.loads(snapshot.summary[STATE] or "") == {"bookmarks": {"orders_src": 7}}


def test_one_snapshot_per_table_for_many_blocks(run_target: RunTarget, catalog: Catalog) -> None:
    rows = [{"id": i, "v": f"row {i}"} for i in range(1050)]
    text = messages(
        schema_msg("events", {"id": {"type": "integer"}, "v": {"type": "string"}}),
        *records("events", rows),
    )
    target, _ = run_target(text, batch_size_rows=100)  # 11 blocks, still one snapshot
    table = catalog.load_table("acme.events")
    assert len(table.snapshots()) == 1
    assert table.scan().to_arrow().num_rows == 1050
    assert target.summary.streams["events"].files == 1
    assert target.summary.status == "success"


def test_state_is_not_emitted_when_commit_fails(
    run_target: RunTarget, catalog: Catalog, spec_path: Path
) -> None:
    catalog.create_namespace("acme")
    catalog.create_table("acme.orders", schema=_incompatible_schema())
    text = messages(
        schema_msg("orders_src", HINT),
        *records("orders_src", GOOD),
        {"type": "STATE", "value": {"bookmarks": {"orders_src": 2}}},
    )
    from target_iceberg.errors import EvolutionError

    with pytest.raises(EvolutionError, match="amount"):
        run_target(text, streams=_streams(spec_path))
    assert catalog.load_table("acme.orders").current_snapshot() is None


def _incompatible_schema():  # type: ignore[no-untyped-def]
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    return Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "amount", StringType(), required=False),
    )


PROPS_ID_V = {"id": {"type": "integer"}, "v": {"type": "string"}}


def test_a_block_failing_on_the_parse_worker_fails_the_run_with_blocks_in_flight(
    run_target: RunTarget, catalog: Catalog, lake: Path
) -> None:
    rows: list[dict[str, object]] = [{"id": i, "v": f"row {i}"} for i in range(1050)]
    rows[850] = {"v": "no id"}  # block 9 of 11: parsed while earlier blocks are written
    text = messages(
        schema_msg("events", PROPS_ID_V, key_properties=["id"]),
        *records("events", rows[:500]),
        {"type": "STATE", "value": {"bookmarks": {"events": 500}}},
        *records("events", rows[500:]),
        {"type": "STATE", "value": {"bookmarks": {"events": 1050}}},
    )
    from singer_sdk.exceptions import MissingKeyPropertiesError

    with pytest.raises(MissingKeyPropertiesError, match="missing key properties"):
        run_target(text, batch_size_rows=100)
    assert not catalog.table_exists("acme.events")  # nothing committed
    assert list((lake / "warehouse").rglob("*.parquet")) == []
