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


class RecordRouter(t.Protocol):
    """Where RECORD payloads go: one buffer (a list of raw JSON payloads) per stream."""

    buffers: dict[str, list[msgspec.Raw]]
    """The stream's open buffer; the router empties it in `buffer_full`."""
    block_records: int
    """Payloads per buffer before `buffer_full` is called."""

    def unknown_stream(self, stream: str) -> list[msgspec.Raw]:
        """Return the buffer of a stream not in `buffers` yet, or raise."""

    def buffer_full(self, stream: str) -> None:
        """Take the stream's buffered payloads (and leave the list empty)."""


class FastSingerReader(GenericSingerReader[str]):
    """Reads Singer lines; RECORD payloads are appended to the router's per-stream buffers."""

    def __init__(self) -> None:
        super().__init__()
        self.router: RecordRouter | None = None
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
        """Read every line: RECORD payloads to the router's buffers, the rest to ``callbacks``."""
        router = self.router
        assert router is not None, "FastSingerReader.router must be set"
        buffers = router.buffers
        limit = router.block_records
        decode = self._envelope.decode
        counts: Counter[str] = Counter()
        records = 0
        # The hot loop: one msgspec call and one list append per RECORD line.
        for line in file_input or self.default_input:
            try:
                envelope = decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                if not line.strip():
                    continue
                raise InvalidInputLine(f"Unable to parse: {line[:200]!r}: {exc}") from exc
            if envelope.type == "RECORD":
                buffer = buffers.get(envelope.stream)
                if buffer is None:
                    if not envelope.stream or not len(envelope.record):
                        raise InvalidInputLine(
                            f"Line is missing required stream, record key(s): {line[:200]!r}"
                        )
                    buffer = router.unknown_stream(envelope.stream)
                buffer.append(envelope.record)
                records += 1
                if len(buffer) >= limit:
                    router.buffer_full(envelope.stream)
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
