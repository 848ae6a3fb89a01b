"""Singer message reader with a fast lane for RECORD messages.

RECORD lines are not parsed here: a line that starts like ``{"type": "RECORD", "stream": "s"``
is appended, as bytes, to stream ``s``'s buffer (a run of such lines even as one chunk); the
block is parsed later, in one go, by pyarrow's JSON reader (`blocks.read_json_block`). Any
other line is decoded with msgspec: a RECORD in another key order still goes to its buffer,
every other message type goes to singer-sdk's callbacks as usual. Never interprets record
contents.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
import typing as t
from collections import Counter
from decimal import Decimal

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
MAX_LINE_BYTES = 256 * 1024 * 1024
"""A longer Singer line is refused: memory stays bounded whatever the tap sends."""


def _too_long(line: bytes) -> str:
    return (
        f"a Singer line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB (it starts "
        f"{line[:80]!r}); the tap must send smaller records or BATCH files"
    )


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
        self.at_state = 0  # RECORD and BATCH messages read up to the latest STATE

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
        if len(line) > MAX_LINE_BYTES:
            raise InvalidInputLine(_too_long(line))
        match = _RECORD_PREFIX.match(line)
        if match is not None:
            raw_name = match.group(1)
            known = self.by_raw_name.get(raw_name)
            if known is None:
                try:
                    name = raw_name.decode()
                except UnicodeDecodeError as exc:
                    raise InvalidInputLine(
                        f"a RECORD names stream {raw_name[:80]!r}, which is not UTF-8 text"
                    ) from exc
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
        envelope = _envelope(line)
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
        if kind == "STATE":
            self.reader.states += 1
            self.at_state = self.records + self.counts["BATCH"]


def _escape_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    # An escaped backslash: valid inside a JSON string, and it reads back as \xNN.
    return "".join(f"\\\\x{b:02x}" for b in bad), error.end


codecs.register_error("target_iceberg.escape", _escape_bad_bytes)


def escape_bad_utf8(line: bytes) -> bytes:
    r"""``line`` with every byte that is not UTF-8 written as the JSON text ``\\xNN``."""
    return line.decode("utf-8", "target_iceberg.escape").encode()


def _too_deep(line: str | bytes) -> str:
    return f"a message nested deeper than the loader reads (about 1,000 levels): {line[:80]!r}"


def _envelope(line: bytes) -> Envelope:
    """The envelope of a line outside the fast lane.

    A RECORD that msgspec refuses only for its record's sake (text that is not UTF-8, NaN or
    Infinity tokens, an integer too long) still names its stream: it goes to the stream's
    buffer, and `blocks.decode_record` lands or quarantines the record.

    Raises:
        InvalidInputLine: the line is not a JSON message.
    """
    try:
        return ENVELOPE.decode(line)
    except RecursionError:
        raise InvalidInputLine(_too_deep(line)) from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        error = exc
    try:
        message = json.loads(
            escape_bad_utf8(line), parse_float=Decimal, parse_int=Decimal, parse_constant=float
        )
    except (ValueError, RecursionError):
        message = None
    if (
        isinstance(message, dict)
        and message.get("type") == "RECORD"
        and isinstance(message.get("stream"), str)
        and "record" in message
    ):
        return Envelope(type="RECORD", stream=message["stream"], record=msgspec.Raw(b"{}"))
    raise InvalidInputLine(f"Unable to parse: {line[:200]!r}: {error}") from error


class FastSingerReader(GenericSingerReader[str]):
    """Reads Singer lines; RECORD lines are appended to the router's per-stream buffers."""

    def __init__(self) -> None:
        super().__init__()
        self.router: RecordRouter | None = None
        self.states = 0
        """STATE messages read."""
        self.after_last_state = 0
        """RECORD and BATCH messages the input carried after its last STATE message."""
        self._full = msgspec.json.Decoder()

    @property
    def default_input(self) -> t.IO[str]:
        """Standard input, read as bytes (decoding text first would cost time for nothing)."""
        return t.cast("t.IO[str]", sys.stdin.buffer)

    def _process_unknown_message(self, message_dict: dict[str, t.Any]) -> None:
        """A message type Singer does not define: it may carry data, so never skip it."""
        raise InvalidInputLine(
            f"unknown Singer message type {str(message_dict.get('type'))[:80]!r}; the loader "
            "reads SCHEMA, RECORD, STATE, BATCH and ACTIVATE_VERSION"
        )

    def deserialize_json(self, line: str | bytes) -> dict[str, t.Any]:
        """Decode one whole message."""
        try:
            value = self._full.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise InvalidInputLine(f"Unable to parse: {line[:200]!r}: {exc}") from exc
        except RecursionError:
            raise InvalidInputLine(_too_deep(line)) from None
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
            rest: list[bytes] = []  # the line cut by chunk ends, in pieces (joined once)
            size = 0
            while chunk := read(_CHUNK):
                first = chunk.find(b"\n")
                if first < 0:
                    rest.append(chunk)
                    size += len(chunk)
                    if size > MAX_LINE_BYTES:
                        raise InvalidInputLine(_too_long(rest[0]))
                    continue
                start = 0
                if rest:  # the line cut by the previous chunk
                    rest.append(chunk[: first + 1])
                    state.line(b"".join(rest))
                    start = first + 1
                cut = chunk.rfind(b"\n") + 1
                if cut > start:
                    state.chunk(chunk, start, cut)
                rest = [chunk[cut:]] if cut < len(chunk) else []
                size = len(chunk) - cut
            if rest:
                state.line(b"".join(rest))
        else:
            for line in source:
                state.line(line.encode())
        state.counts[SingerMessageType.RECORD] += state.records
        self.after_last_state = state.records + state.counts["BATCH"] - state.at_state
        return state.counts
