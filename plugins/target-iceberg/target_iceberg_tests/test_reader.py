"""The chunked Singer reader: chunk boundaries, interleaved streams and messages, other key
orders, blank lines, CRLF and a record whose text contains the RECORD prefix."""

from __future__ import annotations

import json

import pytest
from pyiceberg.catalog import Catalog

from .conftest import RunTarget, schema_msg

PROPS = {"id": {"type": "integer"}, "note": {"type": ["string", "null"]}}


def _line(stream: str, i: int) -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": {"id": i, "note": f"n{i}"}})


@pytest.mark.parametrize("chunk", [7, 64, 1000, 4 * 1024 * 1024])
def test_chunked_reading_keeps_every_record(
    run_target: RunTarget, catalog: Catalog, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr("target_iceberg.reader._CHUNK", chunk)
    tricky = json.dumps(
        {
            "type": "RECORD",
            "stream": "a",
            "record": {"id": 9999, "note": '\n{"type": "RECORD", "stream": "b"'},
        }
    )
    lines = [json.dumps(schema_msg("a", PROPS)), json.dumps(schema_msg("b", PROPS))]
    for i in range(300):
        lines.append(_line("a", i))
        if i % 7 == 0:
            lines.append(_line("b", i))
        if i % 50 == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"at": i}}))
        if i % 61 == 0:
            lines.append("")
        if i % 83 == 0:  # another key order: the slow lane
            lines.append(
                json.dumps({"record": {"id": 10_000 + i}, "stream": "b", "type": "RECORD"})
            )
    lines.append(tricky)
    text = "\r\n".join(lines[:100]) + "\r\n" + "\n".join(lines[100:])  # no final line break

    target, out = run_target(text, batch_size_rows=50)
    ids_a = sorted(r["id"] for r in catalog.load_table("acme.a").scan().to_arrow().to_pylist())
    ids_b = sorted(r["id"] for r in catalog.load_table("acme.b").scan().to_arrow().to_pylist())
    assert ids_a == [*range(300), 9999]
    assert ids_b == sorted(
        [i for i in range(300) if i % 7 == 0] + [10_000 + i for i in range(300) if i % 83 == 0]
    )
    notes = {r["id"]: r["note"] for r in catalog.load_table("acme.a").scan().to_arrow().to_pylist()}
    assert notes[9999] == '\n{"type": "RECORD", "stream": "b"'
    assert out == [json.dumps({"at": 250})]
    assert target.summary.streams["a"].rows_read == 301


def test_a_line_longer_than_a_parse_block_stays_on_the_fast_path() -> None:
    from target_iceberg.blocks import BlockShape, read_json_block
    from target_iceberg.contract.evolution import plan_schema
    from target_iceberg.contract.model import Contract, ContractColumn
    from target_iceberg.types import Primitive

    contract = Contract(columns=(ContractColumn("s", Primitive("string")),))
    plan = plan_schema(None, 0, contract)
    shape = BlockShape(plan.columns, plan.arrow_schema(), contract, "reject")
    big = {"type": "RECORD", "stream": "x", "record": {"s": "a" * 3_000_000}}
    small = {"type": "RECORD", "stream": "x", "record": {"s": "b"}}
    lines = [json.dumps(big).encode()] + [json.dumps(small).encode()] * 10
    landed = read_json_block(b"\n".join(lines), len(lines), shape)
    assert landed.table.column("s").to_pylist() == ["a" * 3_000_000] + ["b"] * 10
