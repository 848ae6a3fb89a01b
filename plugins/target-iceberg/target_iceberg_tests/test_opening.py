"""The run opens in the background: blocks parsed meanwhile land as if it had opened first."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.types import DecimalType, LongType, NestedField

import target_iceberg.target
from target_iceberg.opening import open_run

from .conftest import RunTarget, messages, records, schema_msg

ROWS = [{"a": i, "b": 1000 + i} for i in range(30)]


def _slow_opening(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Hold the run's (real) opening until the returned event is set."""
    go = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        assert go.wait(60)
        return open_run(*args, **kwargs)

    monkeypatch.setattr(target_iceberg.target, "open_run", held)
    return go


def _run_while_opening(
    run_target: RunTarget, monkeypatch: pytest.MonkeyPatch, text: str, **settings: Any
) -> target_iceberg.target.TargetIceberg:
    """Read all of ``text`` before the run is open (3 blocks held), then let it open."""
    go = _slow_opening(monkeypatch)
    original = target_iceberg.target.TargetIceberg.process_endofpipe
    held: list[int] = []

    def end(self: target_iceberg.target.TargetIceberg) -> None:
        assert self._context is not None
        held.append(len(self._context._held))
        go.set()
        original(self)

    monkeypatch.setattr(target_iceberg.target.TargetIceberg, "process_endofpipe", end)
    target, _ = run_target(text, batch_size_rows=10, **settings)
    assert held == [3]  # every block was parsed before the table was open
    return target


NARROW = """
asset: prices
version: "1"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: price, type: "decimal(10,2)"}
"""


def test_blocks_parsed_before_the_table_opened_follow_its_wider_type(
    run_target: RunTarget, catalog: Catalog, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The table's price is wider than the spec's (a run keeps the table's type). Blocks parsed
    # with the spec's own plan, decimal(10,2), would reject these prices: they are parsed again.
    catalog.create_namespace("acme")
    catalog.create_table(
        "acme.prices",
        Schema(
            NestedField(1, "id", LongType(), required=True),
            NestedField(2, "price", DecimalType(14, 2), required=False),
        ),
    )
    spec = tmp_path / "prices.yaml"
    spec.write_text(NARROW, encoding="utf-8")
    rows = [{"id": i, "price": f"{123456789000 + i}.25"} for i in range(30)]
    text = messages(schema_msg("prices", {"id": {"type": "integer"}}), *records("prices", rows))
    target = _run_while_opening(
        run_target, monkeypatch, text, streams={"prices": {"asset_spec": str(spec)}}
    )
    assert target.summary.streams["prices"].rows_rejected == 0
    landed = catalog.load_table("acme.prices").scan().to_arrow().to_pylist()
    assert sorted(landed, key=lambda r: r["id"]) == [
        {"id": r["id"], "price": Decimal(r["price"])} for r in rows
    ]


def test_blocks_parsed_before_a_new_table_was_created_land_in_order(
    run_target: RunTarget, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = messages(
        schema_msg("pairs", {"a": {"type": "integer"}, "b": {"type": "integer"}}),
        *records("pairs", ROWS),
        {"type": "STATE", "value": {"bookmarks": {"pairs": 29}}},
    )
    target = _run_while_opening(run_target, monkeypatch, text)
    table = catalog.load_table("acme.pairs")
    assert table.scan().to_arrow().to_pylist() == ROWS
    assert [f.field_id for f in table.schema().fields] == [1, 2]
    assert target.summary.status == "success"


def test_a_failed_opening_is_the_runs_error_even_when_a_later_line_is_broken(
    run_cli: Any,
) -> None:
    # Nothing listens on port 9: the REST catalog's first request is refused at once. The
    # SCHEMA message opened the run, so its failure comes first, before the broken line's.
    text = messages(
        schema_msg("pairs", {"a": {"type": "integer"}}), *records("pairs", [{"a": 1}])
    )
    outcome = run_cli(
        (text + "this is not a Singer message\n").encode(),
        catalog_properties={"type": "rest", "uri": "http://127.0.0.1:9"},
    )
    assert outcome.code == 75, outcome.stderr
    assert outcome.summary is not None
    assert outcome.summary.status == "failed"
    assert "did not answer" in (outcome.summary.error or "")
    assert outcome.files_left == 0
