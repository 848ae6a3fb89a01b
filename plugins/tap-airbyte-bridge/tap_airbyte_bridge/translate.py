"""Translate the messages of an Airbyte `read` into Singer messages, one at a time, in order.

RECORD becomes RECORD (stream renamed to its Singer name, deselected top-level properties
dropped, `emitted_at` becoming `time_extracted`); STATE is merged into `AirbyteState` and
becomes a Singer STATE carrying the whole accumulated Airbyte state. Because each message is
translated as it arrives, a STATE always follows the records the connector sent before it.

Values are passed through untouched: a timestamp without a zone stays the string the connector
wrote (the loader decides what it means). Never reorders, batches or buffers messages.
"""

from __future__ import annotations

import collections
import copy
import datetime
import logging
import typing as t
from dataclasses import dataclass, field

from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_airbyte_bridge.protocol import stream_id

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.singerlib import Message

    from tap_airbyte_bridge.state import AirbyteState


@dataclass(frozen=True)
class OutputStream:
    """A selected stream as the translator writes it."""

    tap_stream_id: str
    dropped_properties: frozenset[str] = field(default_factory=frozenset)
    """Top-level properties deselected in the Singer catalog, removed from every record."""


def _time_extracted(emitted_at: object) -> datetime.datetime | None:
    """Airbyte's `emitted_at` (epoch milliseconds, int or decimal) as an aware datetime."""
    if emitted_at is None or isinstance(emitted_at, bool | str):
        return None
    try:
        millis = float(t.cast("float", emitted_at))
        return datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.UTC)
    except (TypeError, OverflowError, OSError, ValueError):
        return None


class ReadTranslator:
    """Turns a `read`'s Airbyte messages into Singer messages; counts what passed through."""

    def __init__(
        self,
        streams: t.Iterable[OutputStream],
        state: AirbyteState,
        logger: logging.Logger | None = None,
    ) -> None:
        self.streams = {stream.tap_stream_id: stream for stream in streams}
        self.state = state
        self.logger = logger or logging.getLogger(__name__)
        self.record_counts: collections.Counter[str] = collections.Counter()
        self.state_count = 0
        self._unknown_streams: set[str] = set()
        self._warned_control = False

    def translate(self, message: t.Mapping[str, t.Any]) -> Iterator[Message]:
        """Translate one Airbyte message.

        Args:
            message: An Airbyte message other than LOG and TRACE.

        Yields:
            Zero or one Singer message.
        """
        kind = message.get("type")
        if kind == "RECORD":
            record = self._record(message.get("record") or {})
            if record is not None:
                yield record
        elif kind == "STATE":
            self.state.update(message)
            self.state_count += 1
            # Deep copy: the value must not change under a caller that keeps the message.
            yield StateMessage(value=copy.deepcopy(self.state.to_singer()))
        elif kind == "CONTROL":
            if not self._warned_control:
                self._warned_control = True
                self.logger.warning(
                    "connector sent a CONTROL message (e.g. an updated config with a rotated "
                    "token); the bridge does not persist it: update airbyte_config if the "
                    "connector needs the new values"
                )
        else:
            self.logger.debug("ignoring Airbyte %s message during read", kind)

    def _record(self, record: t.Mapping[str, t.Any]) -> RecordMessage | None:
        name = stream_id(str(record.get("stream")), record.get("namespace"))
        stream = self.streams.get(name)
        if stream is None:
            if name not in self._unknown_streams:
                self._unknown_streams.add(name)
                self.logger.warning(
                    "connector sent records for stream %r, which is not selected; dropping them",
                    name,
                )
            return None
        data = record.get("data")
        if not isinstance(data, dict):
            data = {}
        for key in stream.dropped_properties:
            data.pop(key, None)
        self.record_counts[name] += 1
        return RecordMessage(
            stream=name,
            record=data,
            time_extracted=_time_extracted(record.get("emitted_at")),
        )
