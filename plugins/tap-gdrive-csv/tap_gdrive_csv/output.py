"""Singer message output: msgspec-encoded JSON lines, records written a chunk at a time.

The SDK's default writer serialises each message with simplejson and flushes stdout after
every line, which costs more than parsing the CSV. This writer encodes with msgspec, flushes
only after SCHEMA, STATE, BATCH and other control messages (so a target never waits on a
buffered state), and can write a whole Arrow chunk of RECORD messages in one call.
It must never reorder messages: everything goes through the same byte stream.

A chunk's records are encoded from its columns without a dict per row: one msgspec Struct per
row whose fields are renamed to the column names encodes to the same JSON object as the dict
(same key order, same escaping), and the envelope is glued around each line afterwards, which
is safe because msgspec never writes a raw line break inside a JSON value.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import itertools
import re
import sys
from collections.abc import Sequence
from typing import IO, Any

import msgspec
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.encoding.simple import Message

# What msgspec refuses in a renamed field name (it would need escaping in JSON).
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, datetime.datetime):
        return obj.isoformat()
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    return str(obj)


class _RecordLine(msgspec.Struct, omit_defaults=True):
    """A RECORD message; a Struct encodes without building a dict per message."""

    type: str
    stream: str
    record: dict[str, Any]
    version: int | None = None
    time_extracted: datetime.datetime | None = None


class FastSingerWriter(GenericSingerWriter[bytes, Message]):
    """Writes Singer messages as JSON lines to stdout's byte stream."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="number")

    def serialize_message(self, message: Message) -> bytes:
        """Encode one message as a JSON line.

        Args:
            message: The Singer message.

        Returns:
            The line, newline included.
        """
        return self._encoder.encode(message.to_dict()) + b"\n"

    def write_message(self, message: Message) -> None:
        """Write one message; flush unless it is a RECORD.

        Args:
            message: The Singer message.
        """
        self._write(self.serialize_message(message), flush=not isinstance(message, RecordMessage))

    def write_records(
        self,
        stream: str,
        records: Sequence[dict[str, Any]],
        *,
        version: int | None = None,
        time_extracted: datetime.datetime | None = None,
    ) -> None:
        """Write one RECORD message per record, encoded in a single call.

        Args:
            stream: The stream name.
            records: The records, already in their final shape.
            version: The stream version (full-table syncs with activate version).
            time_extracted: When the chunk was read.
        """
        lines = self._encoder.encode_lines(
            [_RecordLine("RECORD", stream, rec, version, time_extracted) for rec in records]
        )
        self._write(lines, flush=False)

    def write_columns(
        self,
        stream: str,
        names: Sequence[str],
        columns: Sequence[list[Any]],
        *,
        num_rows: int,
        version: int | None = None,
        time_extracted: datetime.datetime | None = None,
    ) -> None:
        """Write one RECORD message per row of a chunk given as columns.

        The bytes are those :meth:`write_records` writes for the rows as dicts (keys in
        ``names`` order), without building the dicts.

        Args:
            stream: The stream name.
            names: The column names, in record key order.
            columns: One list of values (str or None) per name, each ``num_rows`` long.
            num_rows: Rows in the chunk (needed when no column is selected).
            version: The stream version (full-table syncs with activate version).
            time_extracted: When the chunk was read.
        """
        if not num_rows:
            return
        if any(len(column) != num_rows for column in columns) or len(columns) != len(names):
            raise ValueError("every column must hold num_rows values, one column per name")
        record = _record_struct(tuple(names))
        if record is None:  # a name msgspec cannot rename to: one dict per row
            records = [
                dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)
            ]
            self.write_records(stream, records, version=version, time_extracted=time_extracted)
            return
        rows = (
            list(itertools.starmap(record, zip(*columns, strict=True)))
            if columns
            else [record()] * num_rows
        )
        body = self._encoder.encode_lines(rows)
        head = b'{"type":"RECORD","stream":' + self._encoder.encode(stream) + b',"record":'
        tail = b""
        if version is not None:
            tail += b',"version":' + self._encoder.encode(version)
        if time_extracted is not None:
            tail += b',"time_extracted":' + self._encoder.encode(time_extracted)
        tail += b"}\n"
        # body is "{...}\n" per row; every b"\n" in it ends a record (values escape theirs).
        self._write(head, flush=False)
        self._write(body[:-1].replace(b"\n", tail + head), flush=False)
        self._write(tail, flush=False)

    @staticmethod
    def _write(data: bytes, *, flush: bool) -> None:
        # Look stdout up on every call: test runners swap it for a buffer.
        out: IO[bytes] | None = getattr(sys.stdout, "buffer", None)
        if out is None:
            sys.stdout.write(data.decode())
            if flush:
                sys.stdout.flush()
            return
        out.write(data)
        if flush:
            out.flush()


@functools.lru_cache(maxsize=64)
def _record_struct(names: tuple[str, ...]) -> type[msgspec.Struct] | None:
    """A Struct whose positional fields encode as a JSON object with these keys, in order.

    None when a name holds a character msgspec will not rename a field to (a quote, a
    backslash, a control character).
    """
    if any(_NEEDS_ESCAPE.search(name) for name in names):
        return None
    fields = [f"c{index}" for index in range(len(names))]
    # gc=False: instances hold only str and None, so the collector need not track them.
    return msgspec.defstruct(
        "Record",
        [(field, Any) for field in fields],
        rename=dict(zip(fields, names, strict=True)),
        gc=False,
    )
