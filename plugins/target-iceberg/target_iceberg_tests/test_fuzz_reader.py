"""Fuzz pass over the loader's reader: FastSingerReader's chunking, then the block paths.

A fixed budget (hypothesis, derandomised, a fixed example count, no deadline), so the pass is
the same on every machine. Asserted: no exception other than the documented ones (a broken
line is `InvalidInputLine`, a terminal error), and every record read is either landed or
rejected (landed + rejected = read); when the fast path takes a block, the row path lands the
very same rows.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.singerlib.exceptions import InvalidInputLine

from plugin_errors import ErrorKind, classify
from target_iceberg.blocks import BlockShape, Landed, read_json_block, rows_block
from target_iceberg.coerce.values import Rejected
from target_iceberg.contract.evolution import plan_schema
from target_iceberg.contract.model import Contract, ContractColumn
from target_iceberg.errors import loader_kind
from target_iceberg.reader import FastSingerReader
from target_iceberg.types import parse_type

pytestmark = pytest.mark.hostile

BUDGET = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    # record_property only appends the trust report's row; it holds no state between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# pytest's record_property fixture: the trust report's row.
Record = Callable[[str, object], None]


def _row(record: Record, case: str, outcome: str) -> None:
    record("category", "stream: reader fuzz")
    record("case", case)
    record("outcome", outcome)
    record("figures", f"{BUDGET.max_examples} derandomized examples, no deadline")

# Values a hostile tap may send, as JSON text (NaN tokens and giant numbers included).
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "42",
            " 7 ",
            "1e400",
            "NaN",
            "-Infinity",
            "12.345",
            "2024-01-01T00:00:00Z",
            "9999-12-31T23:00:00-05:00",
            "0001-01-01T00:30:00+01:00",
            "2024-02-30",
            "2024-01-01 10:00:00+0200",
            "2024-01-01T00:00:00.1234567Z",
            "true",
            "0",
        ]
    ),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
_COLUMNS = {
    "id": "long",
    "n": "double",
    "f": "float",
    "i": "int",
    "s": "string",
    "ts": "timestamptz",
    "d": "decimal(10,2)",
    "b": "boolean",
    "day": "date",
    "l": "list<long>",
    "st": "struct<x:int,y:string>",
}
_RECORDS = st.dictionaries(
    st.sampled_from([*_COLUMNS, "extra"]), _VALUES, max_size=len(_COLUMNS) + 1
)


def _mangle(data: bytes, how: str, at: int) -> bytes:
    """Damage a record's JSON text the way broken taps do."""
    cut = at % (len(data) + 1)
    if how == "bad utf-8":  # inside the first string (a key): the structure holds
        quote = data.find(b'"')
        return data if quote < 0 else data[: quote + 1] + b"\xff\xfe" + data[quote + 1 :]
    if how == "deep":
        return b'{"s":' + b"[" * 3000 + b"]" * 3000 + b"}"
    if how == "truncated":
        return data[: max(cut - 1, 1)]
    return data


_PAYLOADS = st.tuples(
    _RECORDS,
    st.sampled_from(["as is", "as is", "as is", "bad utf-8", "deep", "truncated"]),
    st.integers(min_value=0, max_value=10_000),
)


def _shape(required: bool) -> BlockShape:
    contract = Contract(
        columns=tuple(
            ContractColumn(name, parse_type(text), required and name == "id")
            for name, text in _COLUMNS.items()
        )
    )
    plan = plan_schema(None, 0, contract)
    return BlockShape(plan.columns, plan.arrow_schema(), contract, "reject")


SHAPES = {True: _shape(True), False: _shape(False)}


def _line(payload: tuple[dict[str, Any], str, int]) -> bytes:
    record, how, at = payload
    body = _mangle(json.dumps(record).encode(), how, at)
    return b'{"type":"RECORD","stream":"s","record":' + body + b"}"


def _documented(exc: BaseException) -> bool:
    return classify(exc, loader_kind) is not ErrorKind.INTERNAL


@BUDGET
@given(st.lists(_PAYLOADS, min_size=1, max_size=25), st.booleans())
def test_blocks_land_or_reject_every_record(
    record_property: Record, payloads: list[tuple[dict[str, Any], str, int]], required: bool
) -> None:
    # The fixture comes first: hypothesis fills the last arguments from @given's strategies.
    _row(
        record_property,
        "hypothesis: blocks of hostile records (NaN tokens, giant numbers, mangled and "
        "truncated bytes), required and optional columns",
        "landed + rejected = read, every reject with its reason and raw line; a truncated "
        "line is a terminal InvalidInputLine; the fast path lands what the row path lands",
    )
    shape = SHAPES[required]
    lines = [_line(p) for p in payloads]
    data = b"\n".join(lines) + b"\n"
    fast: Landed | None = None
    with contextlib.suppress(pa.ArrowException, Rejected):  # doubtful: the row path decides
        fast = read_json_block(data, len(lines), shape)
    try:
        landed = rows_block(lines, shape)
    except InvalidInputLine as exc:
        broken: BaseException | None = exc
    else:
        broken = None
    if broken is not None:
        assert _documented(broken)
        assert any(how == "truncated" for _, how, _ in payloads)
        return
    assert landed.table.num_rows + len(landed.rejects) == len(lines)
    assert all(r.reason and r.raw for r in landed.rejects)
    if fast is not None:
        # The fast path never accepts more than the rules, and lands the same values.
        assert not landed.rejects
        assert fast.table.equals(landed.table)


class _Router:
    """Collects what the reader routes; streams a and b are known."""

    def __init__(self, block_records: int) -> None:
        self.block_records = block_records
        self.buffers: dict[str, list[bytes]] = {"a": [], "b": []}
        self.flushed: dict[str, list[bytes]] = {"a": [], "b": []}

    def unknown_stream(self, stream: str) -> list[bytes]:
        raise InvalidInputLine(f"unknown stream {stream}")

    def buffer_full(self, stream: str) -> None:
        self.flushed[stream].append(b"".join(self.buffers[stream]))
        self.buffers[stream].clear()

    def lines(self, stream: str) -> bytes:
        return b"".join(self.flushed[stream]) + b"".join(self.buffers[stream])


_KINDS = st.sampled_from(["record", "record", "record", "other order", "state", "blank", "garbage"])
_EVENTS = st.lists(
    st.tuples(_KINDS, st.sampled_from(["a", "b"]), _RECORDS, st.binary(min_size=1, max_size=30)),
    max_size=40,
)


def _event_line(kind: str, stream: str, record: dict[str, Any], junk: bytes) -> bytes:
    if kind == "record":
        return json.dumps({"type": "RECORD", "stream": stream, "record": record}).encode()
    if kind == "other order":
        return json.dumps({"record": record, "stream": stream, "type": "RECORD"}).encode()
    if kind == "state":
        return json.dumps({"type": "STATE", "value": {"at": len(junk)}}).encode()
    if kind == "blank":
        return b"  "
    return b"#" + junk.replace(b"\n", b" ").replace(b"\r", b" ")


@BUDGET
@given(
    _EVENTS,
    st.sampled_from([1, 2, 7, 64, 4096]),
    st.integers(min_value=1, max_value=9),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_reader_routes_every_record_line_whatever_the_chunks(
    record_property: Record,
    events: list[tuple[str, str, dict[str, Any], bytes]],
    chunk: int,
    block_records: int,
    newline: bytes,
    final_newline: bool,
) -> None:
    _row(
        record_property,
        "hypothesis: two streams' lines, STATE, blanks and garbage, cut into chunks of "
        "1 to 4096 bytes, LF or CRLF, with or without a final newline",
        "every RECORD line routed to its stream as sent, every STATE passed on; garbage is "
        "a terminal InvalidInputLine",
    )
    lines = [_event_line(*e) for e in events]
    data = newline.join(lines) + (newline if final_newline and lines else b"")
    reader = FastSingerReader()
    router = _Router(block_records)
    reader.router = router
    states: list[dict[str, Any]] = []
    callbacks: dict[str, Callable[[dict[str, Any]], None]] = {"STATE": states.append}
    garbage = any(kind == "garbage" for kind, *_ in events)
    broken: BaseException | None = None
    with mock.patch("target_iceberg.reader._CHUNK", chunk):
        try:
            counts = reader.process_lines(io.BytesIO(data), callbacks)  # type: ignore[arg-type]
        except InvalidInputLine as exc:
            broken = exc
    if broken is not None:
        assert garbage and _documented(broken)
        return
    assert not garbage
    for stream in ("a", "b"):
        expected = [
            line + b"\n"
            for line, (kind, s, *_) in zip(lines, events, strict=True)
            if kind in ("record", "other order") and s == stream
        ]
        # Runs of lines go to the buffer as they came, CRLF included (JSON allows the \r);
        # JSON text never holds a raw line break, so this compares line by line.
        assert router.lines(stream).replace(b"\r\n", b"\n") == b"".join(expected)
    records = sum(kind in ("record", "other order") for kind, *_ in events)
    assert counts["RECORD"] == records
    assert len(states) == sum(kind == "state" for kind, *_ in events)
