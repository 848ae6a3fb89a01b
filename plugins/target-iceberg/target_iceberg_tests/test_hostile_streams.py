"""Hostile Singer streams (issue 9's trust suite, marker ``hostile``).

Each case runs the real CLI on crafted input and asserts the outcome from the outside: the
exit code, the one stderr line, and either rows read = rows landed + rows rejected, read back
from the Iceberg tables (main and ``__rejected``), or nothing committed (no table, no file
left, no STATE). A bad record is quarantined with its reason; a broken stream exits 2.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import catalog_props, write_config
from .hostile import Outcome

pytestmark = pytest.mark.hostile

PROPS = {
    "id": {"type": "integer"},
    "name": {"type": ["string", "null"]},
    "amount": {"type": ["number", "null"]},
    "ts": {"type": ["string", "null"], "format": "date-time"},
    "flag": {"type": ["boolean", "null"]},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    "obj": {"type": ["object", "null"], "properties": {"a": {"type": "integer"}}},
    "blob": {},
}
SPEC = """asset: typed
version: "1.0"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: i32, type: int}
    - {name: dec, type: "decimal(10,2)"}
    - {name: f32, type: float}
    - {name: day, type: date}
    - {name: at, type: time}
    - {name: u, type: uuid}
"""


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def schema(stream: str = "s", props: dict[str, Any] | None = None, **extra: Any) -> bytes:
    body = {"type": "object", "properties": PROPS if props is None else props}
    return line({"type": "SCHEMA", "stream": stream, "schema": body, **extra})


def rec(record: Any, stream: str = "s") -> bytes:
    return line({"type": "RECORD", "stream": stream, "record": record})


def raw(stream: str, record_text: bytes) -> bytes:
    return b'{"type":"RECORD","stream":"' + stream.encode() + b'","record":' + record_text + b"}\n"


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


STATE = line({"type": "STATE", "value": {"bookmarks": {"s": 1}}})


@dataclass(frozen=True)
class Commit:
    """The run commits: ``landed`` rows in the table, ``rejected`` in quarantine."""

    landed: int
    rejected: int
    reason: str = ""
    check: Callable[[Outcome], None] | None = None


@dataclass(frozen=True)
class Fail:
    """The stream is broken: exit 2, the message, nothing committed."""

    message: str


@dataclass(frozen=True)
class Case:
    category: str
    case: str
    data: Callable[[Path], bytes]
    expect: Commit | Fail
    settings: Callable[[Path], dict[str, Any]] | None = None


def _nan_kept(out: Outcome) -> None:
    amounts = [r["amount"] for r in out.rows("s")]
    assert sum(math.isnan(a) for a in amounts) == 1
    assert sorted(a for a in amounts if not math.isnan(a)) == [-math.inf, math.inf]


def _long_string_kept(out: Outcome) -> None:
    assert [len(r["name"] or "") for r in out.rows("s")] == [20_000_000]


def _escapes_kept(out: Outcome) -> None:
    (bad,) = out.rows("s__rejected")
    assert "\\xff" in bad["raw"] and "not UTF-8" in bad["reason"]


def _blob_kept(out: Outcome) -> None:
    assert [json.loads(r["blob"]) for r in out.rows("s")] == [json.loads(deep(200))]


def _evolved(out: Outcome) -> None:
    assert sorted(out.rows("s"), key=lambda r: r["id"])[1]["extra"] == "x"


def _spec(tmp: Path) -> dict[str, Any]:
    (tmp / "typed.yaml").write_text(SPEC)
    return {"streams": {"s": {"asset_spec": str(tmp / "typed.yaml")}}}


def _spec_file(tmp: Path, content: bytes) -> dict[str, Any]:
    (tmp / "hostile.yaml").write_bytes(content)
    return {"streams": {"s": {"asset_spec": str(tmp / "hostile.yaml")}}}


def _batch_file(tmp: Path, name: str, content: bytes) -> str:
    path = tmp / "batches" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return path.as_uri()


def _batch(stream: str, fmt: str, files: Any, **encoding: Any) -> bytes:
    return line(
        {
            "type": "BATCH",
            "stream": stream,
            "encoding": {"format": fmt, **encoding},
            "manifest": files,
        }
    )


def _parquet(tmp: Path) -> str:
    path = tmp / "batches" / "ok.parquet"
    path.parent.mkdir(exist_ok=True)
    pq.write_table(pa.table({"id": ["1", "2", "x"], "name": ["a", "b", "c"]}), path)
    return path.as_uri()


GOOD = rec({"id": 1, "name": "ok"})

CASES = [
    # Malformed and truncated lines.
    Case(
        "stream: malformed lines",
        "last RECORD line truncated mid-value",
        lambda _: schema() + GOOD + b'{"type":"RECORD","stream":"s","record":{"id":1',
        Fail("Unable to parse"),
    ),
    Case(
        "stream: malformed lines",
        "a line of plain text between records",
        lambda _: schema() + GOOD + b"hello, this is not JSON\n" + GOOD,
        Fail("Unable to parse"),
    ),
    Case(
        "stream: malformed lines",
        "a JSON array instead of a message",
        lambda _: schema() + b"[1, 2, 3]\n",
        Fail("Unable to parse"),
    ),
    Case(
        "stream: malformed lines",
        "RECORD without a record key",
        lambda _: schema() + b'{"type":"RECORD","stream":"s"}\n',
        Fail("Unable to parse"),
    ),
    Case(
        "stream: malformed lines",
        "a message without a type",
        lambda _: schema() + b'{"stream":"s","record":{"id":1}}\n',
        Fail("type"),
    ),
    Case(
        "stream: malformed lines",
        "an unknown message type",
        lambda _: schema() + b'{"type":"SECRET_SAUCE","stream":"s"}\n',
        Fail("unknown Singer message type 'SECRET_SAUCE'"),
    ),
    Case(
        "stream: malformed lines",
        "blank lines, CRLF line ends, no final line break",
        lambda _: schema().replace(b"\n", b"\r\n") + b"\n   \n" + GOOD + GOOD.rstrip(b"\n"),
        Commit(2, 0),
    ),
    Case(
        "stream: malformed lines",
        "a line longer than the limit (32 MB here)",
        lambda _: schema() + rec({"id": 1, "name": "x" * 40_000_000}),
        Fail("longer than 32 MB"),
    ),
    # Unknown streams.
    Case(
        "stream: unknown streams",
        "RECORD for a stream that never had a SCHEMA",
        lambda _: schema() + rec({"id": 1}, stream="ghost"),
        Fail("before a corresponding schema"),
    ),
    Case(
        "stream: unknown streams",
        "BATCH for a stream that never had a SCHEMA",
        lambda tmp: schema() + _batch("ghost", "parquet", [_parquet(tmp)]),
        Fail("came before its SCHEMA"),
    ),
    Case(
        "stream: unknown streams",
        "stream name that is not UTF-8",
        lambda _: schema() + b'{"type":"RECORD","stream":"s\xff","record":{"id":1}}\n',
        Fail("not UTF-8"),
    ),
    # Every type wrong.
    Case(
        "stream: wrong types",
        "integer column: text, fraction, boolean, object",
        lambda _: schema() + b"".join(rec({"id": v}) for v in ("abc", 1.5, True, {})) + GOOD,
        Commit(1, 4, "id:"),
    ),
    Case(
        "stream: wrong types",
        "string column: number, list, object",
        lambda _: schema() + b"".join(rec({"id": 1, "name": v}) for v in (5, [], {"a": 1})),
        Commit(0, 3, "name:"),
    ),
    Case(
        "stream: wrong types",
        "boolean column: yes, 2, [true]",
        lambda _: schema() + b"".join(rec({"id": 1, "flag": v}) for v in ("yes", 2, [True])),
        Commit(0, 3, "flag:"),
    ),
    Case(
        "stream: wrong types",
        "array and object columns given scalars",
        lambda _: schema() + rec({"id": 1, "tags": "x"}) + rec({"id": 1, "obj": [1]}) + GOOD,
        Commit(1, 2),
    ),
    Case(
        "stream: wrong types",
        "record that is a number, a list, null",
        lambda _: schema() + raw("s", b"5") + raw("s", b"[1]") + raw("s", b"null") + GOOD,
        Commit(1, 3, "not a JSON object"),
    ),
    Case(
        "stream: wrong types",
        "unknown field with unknown_columns: reject",
        lambda _: schema() + rec({"id": 1, "surprise": 1}) + GOOD,
        Commit(1, 1, "unknown column(s) ['surprise']"),
    ),
    Case(
        "stream: wrong types",
        "record missing a key property (a broken tap)",
        lambda _: schema(key_properties=["id"]) + rec({"name": "no id"}),
        Fail("missing key properties"),
    ),
    Case(
        "stream: wrong types",
        "spec: required column missing, uuid/time/date malformed",
        lambda _: (
            schema("s", {})
            + rec({"i32": 1})
            + rec({"id": 1, "u": "not-a-uuid"})
            + rec({"id": 2, "at": "25:00"})
            + rec({"id": 3, "day": "2024-02-30"})
            + rec({"id": 4, "u": "12345678-1234-1234-1234-123456789abc", "at": "23:59:59.5"})
        ),
        Commit(1, 4),
        _spec,
    ),
    # Overflow.
    Case(
        "stream: overflow",
        "long beyond 2**63, int beyond 2**31 (spec)",
        lambda _: (
            schema("s", {})
            + rec({"id": 2**63})
            + rec({"id": 1, "i32": 2**31})
            + rec({"id": 2, "i32": -(2**31)})
        ),
        Commit(1, 2, "overflows"),
        _spec,
    ),
    Case(
        "stream: overflow",
        "a JSON number beyond the double range (1e400)",
        lambda _: (
            schema()
            + raw("s", b'{"id":1,"amount":1e400}')
            + raw("s", b'{"id":2,"amount":-1e999}')
            + GOOD
        ),
        Commit(1, 2, "overflows double"),
    ),
    Case(
        "stream: overflow",
        "decimal(10,2): too many digits, too many places; float32 1e39",
        lambda _: (
            schema("s", {})
            + rec({"id": 1, "dec": "123456789.1"})
            + rec({"id": 2, "dec": 1.234})
            + raw("s", b'{"id":3,"f32":1e39}')
            + rec({"id": 4, "dec": "99999999.99", "f32": 3.0e38})
        ),
        Commit(1, 3),
        _spec,
    ),
    Case(
        "stream: overflow",
        "a 5,000-digit integer literal and a 5,000-digit integer text",
        lambda _: (
            schema() + raw("s", b'{"id":' + b"9" * 5000 + b"}") + rec({"id": "9" * 5000}) + GOOD
        ),
        Commit(1, 2, "overflows long"),
    ),
    # NaN and Infinity.
    Case(
        "stream: NaN/Infinity",
        "NaN, Infinity, -Infinity tokens in a double column are kept",
        lambda _: (
            schema()
            + b"".join(
                raw("s", b'{"id":1,"amount":' + v + b"}")
                for v in (b"NaN", b"Infinity", b"-Infinity")
            )
        ),
        Commit(3, 0, check=_nan_kept),
    ),
    Case(
        "stream: NaN/Infinity",
        "NaN tokens in a block with a bad row (row path agrees)",
        lambda _: schema() + raw("s", b'{"id":1,"amount":NaN}') + rec({"id": "bad"}),
        Commit(1, 1),
    ),
    Case(
        "stream: NaN/Infinity",
        "NaN in integer, string and JSON-text columns",
        lambda _: (
            schema()
            + raw("s", b'{"id":NaN}')
            + raw("s", b'{"id":1,"name":NaN}')
            + raw("s", b'{"id":1,"blob":[NaN]}')
        ),
        Commit(0, 3),
    ),
    Case(
        "stream: NaN/Infinity",
        "NaN token and bad UTF-8 in records of another key order",
        lambda _: (
            schema()
            + b'{"record":{"id":1,"amount":NaN},"stream":"s","type":"RECORD"}\n'
            + b'{"record":{"id":2,"name":"\xff","amount":Infinity},"type":"RECORD","stream":"s"}\n'
        ),
        Commit(1, 1, "not UTF-8"),
    ),
    # Huge strings.
    Case(
        "stream: huge values",
        "a 20 MB string value lands whole",
        lambda _: schema() + rec({"id": 1, "name": "x" * 20_000_000}),
        Commit(1, 0, check=_long_string_kept),
    ),
    # Deep nesting.
    Case(
        "stream: deep nesting",
        "a record nested 5,000 levels deep",
        lambda _: schema() + raw("s", b'{"id":1,"blob":' + deep(5000) + b"}") + GOOD,
        Commit(1, 1, "nested deeper"),
    ),
    Case(
        "stream: deep nesting",
        "a record nested 200 levels deep in a JSON-text column",
        lambda _: schema() + raw("s", b'{"id":1,"blob":' + deep(200) + b"}"),
        Commit(1, 0, check=_blob_kept),
    ),
    Case(
        "stream: deep nesting",
        "a STATE value nested 5,000 levels deep",
        lambda _: schema() + GOOD + b'{"type":"STATE","value":' + deep(5000) + b"}\n",
        Fail("nested deeper"),
    ),
    Case(
        "stream: deep nesting",
        "a SCHEMA nested 5,000 levels deep",
        lambda _: b'{"type":"SCHEMA","stream":"s","schema":' + deep(5000) + b"}\n",
        Fail("nested deeper"),
    ),
    # Bad UTF-8.
    Case(
        "stream: bad UTF-8",
        "an invalid byte in a string value",
        lambda _: (
            schema() + b'{"type":"RECORD","stream":"s","record":{"id":1,"name":"a\xffb"}}\n' + GOOD
        ),
        Commit(1, 1, check=_escapes_kept),
    ),
    Case(
        "stream: bad UTF-8",
        "an encoded surrogate in a record of another key order",
        lambda _: (
            schema()
            + b'{"record":{"id":1,"name":"\xed\xa0\x80"},"stream":"s","type":"RECORD"}\n'
            + GOOD
        ),
        Commit(1, 1, "not UTF-8"),
    ),
    # Odd timestamps.
    Case(
        "stream: odd timestamps",
        "offsets that push a moment past 9999 or before 0001",
        lambda _: (
            schema()
            + rec({"id": 1, "ts": "9999-12-31T23:00:00-05:00"})
            + rec({"id": 2, "ts": "0001-01-01T00:30:00+01:00"})
            + rec({"id": 3, "ts": "9999-12-31T23:59:59Z"})
        ),
        Commit(1, 2, "outside 0001-01-01..9999-12-31"),
    ),
    Case(
        "stream: odd timestamps",
        "space separator, +0200, date only, nanoseconds",
        lambda _: (
            schema()
            + rec({"id": 1, "ts": "2024-01-01 00:00:00+0200"})
            + rec({"id": 2, "ts": "2024-01-01"})
            + rec({"id": 3, "ts": "2024-01-01T00:00:00.123456789Z"})
        ),
        Commit(2, 1, "sub-microsecond"),
    ),
    Case(
        "stream: odd timestamps",
        "impossible dates and times, epoch numbers, +24:00",
        lambda _: (
            schema()
            + b"".join(
                rec({"id": i, "ts": v})
                for i, v in enumerate(
                    [
                        "2024-02-30T00:00:00Z",
                        "2024-13-01T00:00:00Z",
                        "2024-01-01T24:00:00Z",
                        1_700_000_000,
                        "2024-01-01T00:00:00+24:00",
                        "yesterday",
                    ]
                )
            )
        ),
        Commit(0, 6),
    ),
    # Schema changes.
    Case(
        "stream: schema changes",
        "a new SCHEMA adds a column mid-stream",
        lambda _: (
            schema()
            + GOOD
            + schema(props={**PROPS, "extra": {"type": ["string", "null"]}})
            + rec({"id": 2, "extra": "x"})
        ),
        Commit(2, 0, check=_evolved),
    ),
    Case(
        "stream: schema changes",
        "a new SCHEMA turns an integer column into an object",
        lambda _: (
            schema()
            + GOOD
            + schema(
                props={**PROPS, "id": {"type": "object", "properties": {"x": {"type": "integer"}}}}
            )
            + rec({"id": {"x": 1}})
        ),
        Fail("id"),
    ),
    Case(
        "stream: schema changes",
        "a SCHEMA without properties",
        lambda _: line({"type": "SCHEMA", "stream": "s", "schema": {"type": "object"}}),
        Fail("properties"),
    ),
    Case(
        "stream: schema changes",
        "key_properties that is not a list",
        lambda _: schema(key_properties="id"),
        Fail("key_properties"),
    ),
    Case(
        "stream: schema changes",
        "property schemas JSON Schema does not allow (type 7, anyOf 5, required 5)",
        lambda _: (
            line(
                {
                    "type": "SCHEMA",
                    "stream": "s",
                    "schema": {
                        "properties": {
                            "id": {"type": 7},
                            "x": {"anyOf": 5},
                            "y": {"type": ["string", 5]},
                        },
                        "required": 5,
                    },
                }
            )
            + rec({"id": [1], "x": {"a": 1}, "y": "ok"})
        ),
        Commit(1, 0),
    ),
    Case(
        "stream: unknown streams",
        "a stream name that is a number",
        lambda _: schema() + b'{"type":"RECORD","stream":5,"record":{"id":1}}\n',
        Fail("Expected `str`, got `int`"),
    ),
    # Garbage STATE.
    Case(
        "stream: garbage STATE",
        "a STATE value that is a string",
        lambda _: schema() + GOOD + b'{"type":"STATE","value":"garbage"}\n',
        Fail("must be a JSON object"),
    ),
    Case(
        "stream: garbage STATE",
        "a STATE without a value",
        lambda _: schema() + GOOD + b'{"type":"STATE"}\n',
        Fail("value"),
    ),
    # BATCH oddities.
    Case(
        "stream: BATCH oddities",
        "a manifest naming a file that does not exist",
        lambda tmp: schema() + _batch("s", "jsonl", [(tmp / "gone.jsonl").as_uri()]),
        Fail("does not exist"),
    ),
    Case(
        "stream: BATCH oddities",
        "an unsupported format (csv)",
        lambda tmp: schema() + _batch("s", "csv", [_parquet(tmp)]),
        Fail("'csv' is not supported"),
    ),
    Case(
        "stream: BATCH oddities",
        "a remote URL",
        lambda _: schema() + _batch("s", "parquet", ["s3://other-tenant/x.parquet"]),
        Fail("only local files"),
    ),
    Case(
        "stream: BATCH oddities",
        "a manifest that is a string, not a list",
        lambda tmp: schema() + _batch("s", "parquet", _parquet(tmp)),
        Fail("list of file URLs"),
    ),
    Case(
        "stream: BATCH oddities",
        "a .parquet file holding garbage bytes",
        lambda tmp: schema() + _batch("s", "parquet", [_batch_file(tmp, "x.parquet", b"PAR1 no")]),
        Fail("cannot be read as parquet"),
    ),
    Case(
        "stream: BATCH oddities",
        "a gzip JSONL file cut short",
        lambda tmp: (
            schema()
            + _batch(
                "s",
                "jsonl",
                [_batch_file(tmp, "x.jsonl.gz", gzip.compress(b'{"id":1}\n' * 1000)[:-40])],
                compression="gzip",
            )
        ),
        Fail("cannot be read as jsonl (gzip)"),
    ),
    Case(
        "stream: BATCH oddities",
        "a JSONL line with two values glued (envelope injection)",
        lambda tmp: (
            schema()
            + _batch("s", "jsonl", [_batch_file(tmp, "x.jsonl", b'{"id":1},"record":{"id":5}\n')])
        ),
        Fail("cannot be read as jsonl"),
    ),
    Case(
        "stream: BATCH oddities",
        "a file outside batch_root (another tenant's folder)",
        lambda tmp: schema() + _batch("s", "parquet", [_parquet(tmp)]),
        Fail("outside batch_root"),
        lambda tmp: {"batch_root": str(tmp / "mine")},
    ),
    Case(
        "stream: BATCH oddities",
        "Parquet and JSONL files with bad rows (quarantined) and a NaN token (kept)",
        lambda tmp: (
            schema()
            + _batch("s", "parquet", [_parquet(tmp)])
            + _batch(
                "s",
                "jsonl",
                [
                    _batch_file(
                        tmp,
                        "y.jsonl",
                        b'{"id":7}\n{"id":"no"}\n{"id":1,"name":"\xff"}\n{"id":8,"amount":NaN}\n',
                    )
                ],
            )
        ),
        Commit(4, 3),
        lambda tmp: {"batch_root": str(tmp / "batches")},
    ),
    # The asset spec the loader reads again at run time (the render checked it once).
    *(
        Case(
            "loader: asset spec",
            f"asset spec {what}",
            lambda _: schema("s", {}) + GOOD,
            Fail(message),
            lambda tmp, content=content: _spec_file(tmp, content),
        )
        for what, content, message in [
            ("that is binary, not UTF-8 text", b"\xff\xfe\x00", "cannot read asset spec"),
            (
                "with an alias bomb (a few hundred bytes)",
                b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                b"c: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
                "aliases (*name) are not allowed",
            ),
            ("nested 5,000 levels deep", b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        ]
    ),
    # Table names.
    Case(
        "stream: table names",
        "two streams that normalise to one table",
        lambda _: schema("Deals-EU") + schema("deals_eu"),
        Fail("would both land in table acme.deals_eu"),
    ),
    Case(
        "stream: table names",
        "a stream named like another table's quarantine",
        lambda _: schema("s") + schema("s__rejected"),
        Fail("kept for quarantine tables"),
    ),
    Case(
        "stream: table names",
        "a stream name of 10,000 characters",
        lambda _: schema("x" * 10_000) + rec({"id": 1}, stream="x" * 10_000),
        Commit(1, 0),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.case for c in CASES])
def test_hostile_stream(
    case: Case,
    run_cli: Callable[..., Outcome],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    monkeypatch.setattr("target_iceberg.reader.MAX_LINE_BYTES", 32 * 1024 * 1024)
    settings = case.settings(tmp_path) if case.settings else {}
    started = time.perf_counter()
    # The STATE first: some cases end without a line break on purpose.
    out = run_cli(STATE + case.data(tmp_path), **settings)
    record_property("category", case.category)
    record_property("case", case.case)
    assert "Traceback" not in out.stderr
    if isinstance(case.expect, Fail):
        assert out.code == 2, out.stderr[-3000:]
        assert len(out.error_lines) == 1, out.stderr[-3000:]
        assert case.expect.message in out.error_lines[0]
        assert out.summary is not None and out.summary.status == "failed"
        assert out.summary.error_kind == "terminal"
        # Nothing committed: no table, no file left behind, no STATE for Meltano to store.
        assert out.tables == {} and out.files_left == 0 and out.stdout == []
        outcome = f"exit 2, '{case.expect.message}', nothing committed"
    else:
        expect = case.expect
        assert out.code == 0, out.stderr[-3000:]
        assert out.summary is not None and out.summary.committed
        assert out.summary.error_kind is None
        tables = sorted(t for t in out.tables if not t.endswith("__rejected"))
        landed = sum(len(out.rows(t)) for t in tables)
        rejected = [r for t in out.tables if t.endswith("__rejected") for r in out.rows(t)]
        read = out.summary.totals.rows_read
        assert (landed, len(rejected)) == (expect.landed, expect.rejected), out.summary
        assert read == landed + len(rejected)  # nothing lost, read back from the tables
        assert all(r["reason"] and r["raw"] for r in rejected)
        if expect.reason:
            assert any(expect.reason in r["reason"] for r in rejected), rejected
        if expect.check:
            expect.check(out)
        assert out.stdout == [json.dumps({"bookmarks": {"s": 1}})]  # STATE after the commit
        outcome = f"exit 0, {read} read = {landed} landed + {len(rejected)} quarantined"
    record_property("outcome", outcome)
    record_property("figures", f"{time.perf_counter() - started:.2f} s")


def _peak_rss_mb(usage: resource.struct_rusage) -> float:
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def test_200k_records_a_third_bad(
    tmp_path: Path, lake: Path, record_property: Callable[[str, object], None]
) -> None:
    """200,000 records, every third one bad in a different way: all kept, time and RSS noted."""
    bad = [{"id": "x"}, {"id": 1, "amount": "lots"}, {"id": 1, "ts": "9999-12-31T23:00:00-05:00"}]
    data = tmp_path / "input.jsonl"
    with data.open("wb") as handle:
        handle.write(schema() + schema("t"))
        for i in range(200_000):
            stream = "s" if i % 2 else "t"
            row = bad[i // 3 % 3] if i % 3 == 0 else {"id": i, "name": f"n{i}", "amount": i / 7}
            handle.write(rec(row, stream))
        handle.write(STATE)
    summary_path = tmp_path / "summary.json"
    config = write_config(tmp_path / "config.json", lake, summary_path)
    started = time.perf_counter()
    with data.open("rb") as stdin:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("target-iceberg")), "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
    seconds = time.perf_counter() - started
    assert proc.returncode == 0
    assert out.decode().strip() == json.dumps({"bookmarks": {"s": 1}})
    from pyiceberg.catalog import load_catalog

    from target_iceberg.summary import RunSummary

    summary = RunSummary.read(summary_path)
    catalog = load_catalog("default", **catalog_props(lake))
    counts = {
        name[-1]: catalog.load_table(name).scan().to_arrow().num_rows
        for name in catalog.list_tables("acme")
    }
    assert summary.totals.rows_read == 200_000
    assert sum(counts.values()) == 200_000  # landed + quarantined, read back
    assert counts["s__rejected"] + counts["t__rejected"] == 66_667
    assert summary.totals.rows_rejected == 66_667
    rss = _peak_rss_mb(usage)
    record_property("category", "stream: volume")
    record_property("case", "200,000 records over two streams, a third bad (3 kinds)")
    record_property("outcome", "exit 0, 200000 read = 133333 landed + 66667 quarantined")
    record_property("figures", f"{seconds:.1f} s, peak RSS {rss:.0f} MB")
