"""Singer message reader with a fast lane for RECORD messages.

RECORD lines are not parsed here: a line that starts like ``{"type": "RECORD", "stream": "s"``
is appended, as bytes, to stream ``s``'s buffer (a run of such lines even as one chunk); the
block is parsed later, in one go, by pyarrow's JSON reader (`blocks.read_json_block`). Any
other line is decoded with msgspec: a RECORD in another key order still goes to its buffer,
every other message type goes to singer-sdk's callbacks as usual. Never interprets record
contents.
"""

from __future__ import annotations

import re
import sys
import typing as t
from collections import Counter

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader, SingerMessageType
from singer_sdk.singerlib.exceptions import InvalidInputLine

# The envelope prefix nearly every tap writes; a stream name with escapes takes the slow lane.
_RECORD_PREFIX = re.compile(rb'\{\s*"type"\s*:\s*"RECORD"\s*,\s*"stream"\s*:\s*"([^"\\]*)"')


class Envelope(msgspec.Struct):
    """A Singer message's envelope; ``record`` stays undecoded JSON."""

    type: str = ""
    stream: str = ""
    record: msgspec.Raw = msgspec.Raw(b"")


ENVELOPE = msgspec.json.Decoder(Envelope)


class RecordRouter(t.Protocol):
    """Where RECORD lines go: one buffer per stream.

    A buffer is a list of byte strings (or views of them), each one or more whole RECORD lines
    ending with a line break: joined, they are the stream's pending lines.
    """

    buffers: dict[str, list[bytes]]
    """The stream's open buffer; the router empties it in `buffer_full`."""
    block_records: int
    """Lines per buffer before `buffer_full` is called."""

    def unknown_stream(self, stream: str) -> list[bytes]:
        """Return the buffer of a stream not in `buffers` yet, or raise."""

    def buffer_full(self, stream: str) -> None:
        """Take the stream's buffered lines (and leave the list empty)."""


_CHUNK = 4 * 1024 * 1024


class _ReadState:
    """Per-call state of `FastSingerReader.process_lines`."""

    def __init__(
        self,
        reader: FastSingerReader,
        router: RecordRouter,
        callbacks: dict[str, t.Callable[[dict[str, t.Any]], None]],
    ) -> None:
        self.reader = reader
        self.router = router
        self.callbacks = callbacks
        self.counts: Counter[str] = Counter()
        self.records = 0
        self.by_raw_name: dict[bytes, tuple[str, list[bytes]]] = {}
        self.pending: Counter[str] = Counter()
        self.last: tuple[bytes, str, list[bytes]] | None = None

    def _add(self, name: str, buffer: list[bytes], data: bytes | memoryview, lines: int) -> None:
        buffer.append(data)  # type: ignore[arg-type]
        self.records += lines
        self.pending[name] += lines
        if self.pending[name] >= self.router.block_records:
            self.pending[name] = 0
            self.router.buffer_full(name)

    def line(self, line: bytes) -> None:
        """One line (without or with its line break)."""
        line = line.rstrip(b"\r\n")
        match = _RECORD_PREFIX.match(line)
        if match is not None:
            raw_name = match.group(1)
            known = self.by_raw_name.get(raw_name)
            if known is None:
                name = raw_name.decode()
                buffer = self.router.buffers.get(name)
                if buffer is None:
                    buffer = self.router.unknown_stream(name)
                known = self.by_raw_name[raw_name] = (name, buffer)
            self.last = (match.group(0), *known)
            self._add(known[0], known[1], line + b"\n", 1)
        elif line.strip():
            self.last = None
            self._slow_lane(line)

    def chunk(self, data: bytes, start: int, end: int) -> None:
        """The whole lines ``data[start:end]``, the last one ending with a line break.

        When every line starts with the same RECORD prefix as the last record seen (a
        stream's records in a row, the common case), the lines go to the buffer as one piece,
        uncopied, without looking at them one by one: a line break inside JSON is always
        escaped, so a line break followed by the prefix can only be the start of a line.
        """
        if self.last is not None:
            prefix, name, buffer = self.last
            lines = data.count(b"\n", start, end)
            if (
                data.startswith(prefix, start)
                and data.count(b"\n" + prefix, start, end) == lines - 1
            ):
                self._add(name, buffer, memoryview(data)[start:end], lines)
                return
        for line in data[start:end].split(b"\n")[:-1]:
            self.line(line)

    def _slow_lane(self, line: bytes) -> None:
        """A line the fast lane did not recognise."""
        try:
            envelope = ENVELOPE.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise InvalidInputLine(f"Unable to parse: {line[:200]!r}: {exc}") from exc
        if envelope.type == "RECORD":
            if not envelope.stream or not len(envelope.record):
                raise InvalidInputLine(
                    f"Line is missing required stream, record key(s): {line[:200]!r}"
                )
            buffer = self.router.buffers.get(envelope.stream)
            if buffer is None:
                buffer = self.router.unknown_stream(envelope.stream)
            self._add(envelope.stream, buffer, line + b"\n", 1)
            return
        message = self.reader.deserialize_json(line)
        self.reader.assert_line_requires(message, requires={"type"})
        kind = str(message["type"])
        if callback := self.callbacks.get(kind):
            callback(message)
        else:
            self.reader._process_unknown_message(message)
        self.counts[kind] += 1


class FastSingerReader(GenericSingerReader[str]):
    """Reads Singer lines; RECORD lines are appended to the router's per-stream buffers."""

    def __init__(self) -> None:
        super().__init__()
        self.router: RecordRouter | None = None
        self._full = msgspec.json.Decoder()

    @property
    def default_input(self) -> t.IO[str]:
        """Standard input, read as bytes (decoding text first would cost time for nothing)."""
        return t.cast("t.IO[str]", sys.stdin.buffer)

    def deserialize_json(self, line: str | bytes) -> dict[str, t.Any]:
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
        """Read every line: RECORD lines to the router's buffers, the rest to ``callbacks``."""
        assert self.router is not None, "FastSingerReader.router must be set"
        state = _ReadState(self, self.router, callbacks)
        source: t.Any = file_input or self.default_input
        if isinstance(source.read(0), bytes):
            # Binary input (standard input in production): large chunks, split only when
            # needed.
            # read1: what is there, up to a chunk (a pipe does not wait for a full chunk).
            read = getattr(source, "read1", source.read)
            rest = b""
            while chunk := read(_CHUNK):
                first = chunk.find(b"\n")
                if first < 0:
                    rest += chunk
                    continue
                if rest:  # the line cut by the previous chunk
                    state.line(rest + chunk[: first + 1])
                start = first + 1 if rest else 0
                cut = chunk.rfind(b"\n") + 1
                if cut > start:
                    state.chunk(chunk, start, cut)
                rest = chunk[cut:]
            if rest:
                state.line(rest)
        else:
            for line in source:
                state.line(line.encode())
        state.counts[SingerMessageType.RECORD] += state.records
        return state.counts
