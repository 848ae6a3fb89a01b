"""The chunked Singer reader: chunk boundaries, interleaved streams and messages, other key
orders, blank lines, CRLF and a record whose text contains the RECORD prefix."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from pyiceberg.catalog import Catalog

from .conftest import RunTarget, schema_msg

if TYPE_CHECKING:
    from target_iceberg.blocks import BlockShape

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


def _text_shape() -> BlockShape:
    from target_iceberg.blocks import BlockShape
    from target_iceberg.contract.evolution import plan_schema
    from target_iceberg.contract.model import Contract, ContractColumn
    from target_iceberg.types import Primitive

    contract = Contract(columns=(ContractColumn("s", Primitive("string")),))
    plan = plan_schema(None, 0, contract)
    return BlockShape(plan.columns, plan.arrow_schema(), contract, "reject")


def test_a_block_joined_from_pieces_keeps_every_byte_and_counts_its_lines() -> None:
    from target_iceberg.blocks import join_lines, read_json_block

    lines = [
        json.dumps({"type": "RECORD", "stream": "x", "record": {"s": f"é{i}"}}).encode() + b"\n"
        for i in range(50)
    ]
    chunk = b"".join(lines[10:40])
    pieces = [
        *lines[:10],
        memoryview(chunk)[: len(chunk) // 2],
        memoryview(chunk)[len(chunk) // 2 :],
    ]
    pieces += lines[40:]
    block, count = join_lines(pieces)
    assert block.to_pybytes() == b"".join(lines)
    assert count == 50
    landed = read_json_block(block, count, _text_shape())
    assert landed.table.column("s").to_pylist() == [f"é{i}" for i in range(50)]


@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf"],
    ids=["invalid byte", "cut sequence", "surrogate", "overlong"],
)
def test_the_fast_path_refuses_text_that_is_not_utf8(bad: bytes) -> None:
    import pyarrow as pa

    from target_iceberg.blocks import join_lines, read_json_block

    good = b'{"type": "RECORD", "stream": "x", "record": {"s": "ok"}}\n'
    block, count = join_lines(
        [good, b'{"type": "RECORD", "stream": "x", "record": {"s": "' + bad + b'"}}\n']
    )
    with pytest.raises(pa.ArrowInvalid, match="not UTF-8"):
        read_json_block(block, count, _text_shape())
