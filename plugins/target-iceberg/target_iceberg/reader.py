"""Singer message reader with a fast lane for RECORD messages.

Each line's envelope is decoded with msgspec, keeping the ``record`` payload as raw JSON bytes
that go straight to the stream's buffer (no dict, no per-record validation). Every other
message type is decoded fully and handed to singer-sdk's callbacks as usual. Never interprets
record contents.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader, SingerMessageType
from singer_sdk.singerlib.exceptions import InvalidInputLine


class _Envelope(msgspec.Struct):
    type: str = ""
    stream: str = ""
    record: msgspec.Raw = msgspec.Raw(b"")


RawRecordSink = t.Callable[[str, bytes], None]


class FastSingerReader(GenericSingerReader[str]):
    """Reads Singer lines; RECORD payloads go to ``on_record(stream, raw_json)``."""

    def __init__(self) -> None:
        super().__init__()
        self.on_record: RawRecordSink | None = None
        self._envelope = msgspec.json.Decoder(_Envelope)
        self._full = msgspec.json.Decoder()

    @property
    def default_input(self) -> t.IO[str]:
        """Standard input, read as bytes (decoding text first would cost time for nothing)."""
        return t.cast("t.IO[str]", sys.stdin.buffer)

    def deserialize_json(self, line: str) -> dict[str, t.Any]:
        """Decode one whole message."""
        try:
            value = self._full.decode(line)
        except msgspec.DecodeError as exc:
            raise InvalidInputLine(f"Unable to parse: {line[:200]!r}: {exc}") from exc
        if not isinstance(value, dict):
            raise InvalidInputLine(f"A Singer message must be a JSON object: {line[:200]!r}")
        return value

    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict[str, t.Any]], None]],
    ) -> t.Counter[str]:
        """Read every line; dispatch records to ``on_record``, the rest to ``callbacks``."""
        assert self.on_record is not None, "FastSingerReader.on_record must be set"
        on_record = self.on_record
        decode = self._envelope.decode
        counts: Counter[str] = Counter()
        records = 0
        for line in file_input or self.default_input:
            if not line.strip():
                continue
            try:
                envelope = decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise InvalidInputLine(f"Unable to parse: {line[:200]!r}: {exc}") from exc
            if envelope.type == "RECORD":
                if not envelope.stream or not len(envelope.record):
                    raise InvalidInputLine(f"Line is missing required stream, record key(s): {line[:200]!r}")
                on_record(envelope.stream, envelope.record)  # type: ignore[arg-type]
                records += 1
                continue
            message = self.deserialize_json(line)
            self.assert_line_requires(message, requires={"type"})
            kind = message["type"]
            if callback := callbacks.get(kind):
                callback(message)
            else:
                self._process_unknown_message(message)
            counts[kind] += 1
        counts[SingerMessageType.RECORD] += records
        return counts
