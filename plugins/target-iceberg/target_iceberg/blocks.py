"""Turn a block of records into contract-conforming Arrow rows plus rejections.

Three entries, one outcome (``Landed``: a table in the planned file schema, and the rejects):

- `read_json_block`: the fast path for RECORD payloads: pyarrow's JSON reader with an explicit,
  strict schema. It raises on any doubt, and the caller then takes
- `rows_block`: the row path: each payload decoded (numbers exactly, as Decimal) and coerced by
  the per-value rules, every failing column of every row named;
- `arrow_block`: Arrow input (BATCH files, e.g. all-text CSV columns), coerced column by column.
Never writes files.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from singer_sdk.exceptions import MissingKeyPropertiesError
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_iceberg.coerce.arrow import (
    coerce_column,
    coerce_values,
    column_from_values,
    finish_json,
)
from target_iceberg.coerce.values import Rejected
from target_iceberg.contract.evolution import PlannedColumn
from target_iceberg.contract.mapping import json_read_type, needs_row_path
from target_iceberg.contract.model import Contract
from target_iceberg.quarantine import Reject
from target_iceberg.reader import ENVELOPE, escape_bad_utf8

_DECODE = msgspec.json.Decoder(float_hook=Decimal)
_MB = 1024 * 1024
_NEWLINE = ord("\n")
# The Singer RECORD envelope; another top-level key sends the block to the row path.
_ENVELOPE_FIELDS = (
    pa.field("type", pa.string()),
    pa.field("stream", pa.string()),
    pa.field("version", pa.int64()),
    pa.field("time_extracted", pa.string()),
)


@dataclass(frozen=True)
class Landed:
    """The good rows of a block and the rejected ones."""

    table: pa.Table
    rejects: list[Reject]


class BlockShape:
    """What a stream's blocks must look like: planned columns, file schema, policies."""

    def __init__(
        self, columns: Sequence[PlannedColumn], schema: pa.Schema, contract: Contract, unknown: str
    ) -> None:
        self.columns = tuple(columns)
        self.schema = schema
        self.contract = contract
        self.unknown = unknown
        self.names = frozenset(c.name for c in columns)
        self.fast = not any(needs_row_path(c.type) for c in columns)
        self.read_schema = (
            pa.schema(
                [
                    *_ENVELOPE_FIELDS,
                    pa.field(
                        "record",
                        pa.struct(
                            [
                                pa.field(c.name, json_read_type(c.type), nullable=not c.required)
                                for c in columns
                            ]
                        ),
                        nullable=False,
                    ),
                ]
            )
            if self.fast
            else None
        )
        self.required = [c.name for c in columns if c.required]

    def same(self, other: BlockShape) -> bool:
        """True if blocks of ``other``'s shape come out as blocks of this one (field ids too)."""
        return (
            self.columns == other.columns
            and self.schema.equals(other.schema, check_metadata=True)
            and self.contract == other.contract
            and self.unknown == other.unknown
        )

    def unknown_reject(self, extra: Sequence[str]) -> Rejected:
        """The rejection of fields the contract lacks."""
        hint = (
            "add them to the SCHEMA message"
            if self.unknown == "evolve"
            else "set unknown_columns: ignore or evolve"
        )
        return Rejected(
            ",".join(extra),
            f"unknown column(s) {sorted(extra)} not in the contract ({self.contract.origin}); "
            f"fix the source, add them to the spec, or {hint}",
        )


def _as_binary(data: bytes | pa.Buffer) -> pa.Array:
    """``data`` as a one-value Arrow binary array (not copied)."""
    buffer = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    offsets = pa.py_buffer(struct.pack("<qq", 0, buffer.size))
    return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buffer])


def join_lines(pieces: Sequence[bytes | memoryview]) -> tuple[pa.Buffer, int]:
    """Buffered pieces of whole lines as one block, and its number of lines.

    The block lives in Arrow's memory pool, which reuses its memory from block to block: a
    new ``bytes`` of a block's size would have the kernel hand out (and zero) fresh pages
    every time.
    """
    block = pa.allocate_buffer(sum(len(piece) for piece in pieces))
    view, at = memoryview(block).cast("B"), 0
    for piece in pieces:
        view[at : at + len(piece)] = piece
        at += len(piece)
    # numpy counts six times faster than bytes.count or Arrow's count_substring.
    return block, int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == _NEWLINE))


def read_json_block(data: bytes | pa.Buffer, count: int, shape: BlockShape) -> Landed:
    """The fast path over ``count`` whole RECORD lines (envelopes included).

    Raises:
        pyarrow.ArrowInvalid: (or `Rejected`) some row is doubtful; use `rows_block`.
    """
    assert shape.read_schema is not None
    # The JSON reader does not check UTF-8; bad bytes would land in string columns. Arrow's
    # check (the string cast) refuses what Python's UTF-8 decoder refuses, surrogates too.
    try:
        _as_binary(data).cast(pa.large_string())
    except pa.ArrowInvalid as exc:
        raise pa.ArrowInvalid("text that is not UTF-8") from exc
    parse = pj.ParseOptions(
        explicit_schema=shape.read_schema,
        unexpected_field_behavior="ignore" if shape.unknown == "ignore" else "error",
    )
    try:
        # A few parallel parse blocks; a line longer than a block cannot be parsed that way.
        # BufferReader: the reader's blocks are slices of ``data``, not copies (a Python file
        # object would be read into new buffers, holding the GIL).
        table = pj.read_json(
            pa.BufferReader(data),
            read_options=pj.ReadOptions(block_size=max(_MB, _size(data) // 4 + 1)),
            parse_options=parse,
        )
    except pa.ArrowInvalid as exc:
        if "straddling" not in str(exc):
            raise
        table = pj.read_json(
            pa.BufferReader(data),
            read_options=pj.ReadOptions(block_size=_size(data) + 1),
            parse_options=parse,
        )
    if table.num_rows != count:
        raise pa.ArrowInvalid("row count differs from the number of records")
    record = table.column("record")
    if record.null_count:
        raise pa.ArrowInvalid("a RECORD message without a record")
    # Field by field over the chunks, without copying the block into one array first.
    columns = {c.name: pc.struct_field(record, [i]) for i, c in enumerate(shape.columns)}
    for name in shape.required:
        if columns[name].null_count:
            raise pa.ArrowInvalid(f"required column {name} is null")
    arrays = [
        finish_json(columns[c.name], c.type, field.type)
        for c, field in zip(shape.columns, shape.schema, strict=True)
    ]
    return Landed(pa.Table.from_arrays(arrays, schema=shape.schema), [])


def _size(data: bytes | pa.Buffer) -> int:
    return data.size if isinstance(data, pa.Buffer) else len(data)


def _assemble(
    count: int,
    arrays: list[pa.Array],
    errors: dict[int, list[Rejected]],
    shape: BlockShape,
    raw_of: Any,
) -> Landed:
    if not errors:
        return Landed(pa.Table.from_arrays(arrays, schema=shape.schema), [])
    keep = pa.array([i not in errors for i in range(count)])
    table = pa.Table.from_arrays([a.filter(keep) for a in arrays], schema=shape.schema)
    rejects = [
        Reject(
            raw=raw_of(i),
            columns=tuple(e.column for e in errs),
            reason="; ".join(str(e) for e in errs),
        )
        for i, errs in sorted(errors.items())
    ]
    return Landed(table, rejects)


def _columns(
    values_of: Any, count: int, shape: BlockShape, errors: dict[int, list[Rejected]]
) -> list[pa.Array]:
    arrays = []
    ignore = shape.unknown == "ignore"
    for column, field in zip(shape.columns, shape.schema, strict=True):
        arr, errs = values_of(column, field.type, ignore)
        for index, err in errs.items():
            errors.setdefault(index, []).append(err)
        if column.required and arr.null_count:
            for index in (i for i, ok in enumerate(arr.is_valid().to_pylist()) if not ok):
                if index not in errs:
                    errors.setdefault(index, []).append(
                        Rejected(column.name, "required column is missing or null")
                    )
        arrays.append(arr)
    return arrays


def rows_block(lines: Sequence[bytes], shape: BlockShape, *, vectorised: bool = True) -> Landed:
    """The row path over whole RECORD lines.

    Each column's values are first tried as one Arrow array with a vectorised cast; a column
    that does not pass is coerced value by value (``vectorised=False``: always).

    Raises:
        MissingKeyPropertiesError: a stream without asset spec sent a record lacking one of
            its ``key_properties`` (a broken tap, as singer-sdk treats it).
        InvalidInputLine: a line is not JSON (a broken tap).
    """
    rows: list[Any] = []
    raws: list[bytes] = []
    errors: dict[int, list[Rejected]] = {}
    for index, line in enumerate(lines):
        try:
            raw, row = decode_record(line)
        except _BadRecord as exc:
            raw, row = exc.raw, {}
            errors[index] = [exc]
        raws.append(raw)
        if not isinstance(row, dict):
            errors[index] = [Rejected("", "the record is not a JSON object")]
            row = {}
        rows.append(row)
    contract = shape.contract
    if contract.singer_derived and contract.key:
        for index, row in enumerate(rows):
            if index in errors:
                continue  # already quarantined: its keys cannot be read
            missing = [k for k in contract.key if k not in row]
            if missing:
                raise MissingKeyPropertiesError(
                    f"Record is missing key properties {missing}; key_properties: "
                    f"{list(contract.key)}, record keys: {list(row)}"
                )
    if shape.unknown != "ignore":
        for index, row in enumerate(rows):
            extra = [k for k in row if k not in shape.names]
            if extra:
                errors.setdefault(index, []).append(shape.unknown_reject(extra))

    def values_of(
        column: PlannedColumn, target: pa.DataType, ignore: bool
    ) -> tuple[pa.Array, dict[int, Rejected]]:
        values = [row.get(column.name) for row in rows]
        coerce = column_from_values if vectorised else coerce_values
        return coerce(values, column.type, target, column.name, ignore_unknown=ignore)

    arrays = _columns(values_of, len(rows), shape, errors)
    return _assemble(len(rows), arrays, errors, shape, lambda i: raws[i].decode())


class _BadRecord(Rejected):
    """A record line whose stream is known but whose record cannot be read."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__("", reason)
        self.raw = raw


def _unparsable(line: bytes, exc: Exception) -> InvalidInputLine:
    return InvalidInputLine(f"Unable to parse: {line[:200]!r}: {exc}")


def decode_record(line: bytes) -> tuple[bytes, Any]:
    r"""The record of a RECORD line: its raw JSON and its value (numbers as Decimal).

    msgspec first; for the rare line it refuses, the reason decides:

    - nested deeper than the decoder goes, or text that is not UTF-8: the record is bad,
      not the stream (`Rejected`, with the line kept as raw, bad bytes as ``\xNN``);
    - ``NaN``/``Infinity`` tokens (not JSON, but what Python's json module writes), or an
      integer too long for msgspec: read with the standard library, NaN and infinities as
      floats, numbers as Decimal;
    - anything else (truncated, not JSON): the tap is broken.

    Raises:
        _BadRecord: (a `Rejected`) the record cannot be read; ``raw`` holds the line.
        InvalidInputLine: the line is not JSON.
    """
    try:
        raw = bytes(ENVELOPE.decode(line).record)
        return raw, _DECODE.decode(raw)
    except RecursionError:
        raise _BadRecord(
            "the record is nested deeper than the loader reads (about 1,000 levels)",
            escape_bad_utf8(line),
        ) from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        first: Exception = exc
    bad_at: int | None = None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as bad:
        bad_at, text = bad.start, escape_bad_utf8(line).decode()
    try:
        # Integers as Decimal too: Python refuses int() of more than 4,300 digits.
        message = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=float)
    except (ValueError, RecursionError):
        raise _unparsable(line, first) from first
    if not isinstance(message, dict) or "record" not in message:
        raise _unparsable(line, first)
    if bad_at is not None:
        raise _BadRecord(
            f"the record holds bytes that are not UTF-8 (the first at byte {bad_at} of its "
            "line); raw keeps them as \\x escapes. The tap must write UTF-8",
            text.encode(),
        )
    return line, message["record"]


def arrow_block(source: pa.Table, shape: BlockShape) -> Landed:
    """Coerce Arrow input (e.g. a BATCH file's columns) to the contract."""
    count = source.num_rows
    errors: dict[int, list[Rejected]] = {}
    extra = [name for name in source.column_names if name not in shape.names]
    if extra and shape.unknown != "ignore":
        reject = shape.unknown_reject(extra)
        for index in range(count):
            errors[index] = [reject]

    def values_of(
        column: PlannedColumn, target: pa.DataType, ignore: bool
    ) -> tuple[pa.Array, dict[int, Rejected]]:
        if column.name not in source.column_names:
            return pa.nulls(count, target), {}
        arr = source.column(column.name).combine_chunks()
        return coerce_column(arr, column.type, target, column.name, ignore_unknown=ignore)

    arrays = _columns(values_of, count, shape, errors)

    def raw_of(index: int) -> str:
        return json.dumps(source.slice(index, 1).to_pylist()[0], default=str)

    return _assemble(count, arrays, errors, shape, raw_of)
