"""Airbyte state kept inside Singer state.

The tap's Singer STATE value is `{"airbyte": {"streams": {...}, "global": ..., "legacy": ...}}`:
the latest per-stream STATE message of every stream (keyed by Singer stream name), the latest
GLOBAL STATE message, and the latest LEGACY state blob, each stored as the connector wrote it
(minus its per-run statistics). Keying streams by name makes the value safe for Meltano's
deep merge of partial states, and streams not read in a run keep their bookmark.

On the next run `connector_state` rebuilds what the connector expects after `--state`: a list
of STATE messages (or, for an old connector with only legacy state, the legacy blob).

Never invents or edits a connector's bookmark: the values are opaque here.
"""

from __future__ import annotations

import copy
import logging
import typing as t

from tap_airbyte_bridge.exceptions import ProtocolError, SettingsError
from tap_airbyte_bridge.protocol import descriptor_id

STATE_KEY = "airbyte"
_RUN_STATISTICS = ("sourceStats", "destinationStats")
_FIX = "clear it with 'meltano state clear <state-id>' to start over"


class AirbyteState:
    """The connector's state as the bridge accumulates it during one run."""

    def __init__(self) -> None:
        self.streams: dict[str, dict[str, t.Any]] = {}
        self.global_state: dict[str, t.Any] | None = None
        self.legacy: dict[str, t.Any] | None = None

    @classmethod
    def from_singer(
        cls,
        value: t.Mapping[str, t.Any] | None,
        logger: logging.Logger | None = None,
    ) -> AirbyteState:
        """Load the state passed with `--state`.

        Args:
            value: The Singer state value (the STATE message's `value`).
            logger: Where to warn about keys this tap does not own.

        Returns:
            The loaded state (empty for an empty or missing value).

        Raises:
            SettingsError: When the `airbyte` entry is malformed.
        """
        state = cls()
        if not value:
            return state
        foreign = sorted(key for key in value if key != STATE_KEY)
        if foreign:
            (logger or logging.getLogger(__name__)).warning(
                "input state has keys %s that this tap does not use; they are dropped",
                foreign,
            )
        body = value.get(STATE_KEY)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            msg = f"input state '{STATE_KEY}' must be an object, got {type(body).__name__}; {_FIX}"
            raise SettingsError(msg)
        streams = body.get("streams") or {}
        if not isinstance(streams, dict) or not all(
            isinstance(entry, dict) and entry.get("type") == "STREAM" for entry in streams.values()
        ):
            msg = (
                f"input state '{STATE_KEY}.streams' must map stream names to Airbyte STREAM "
                f"state messages; {_FIX}"
            )
            raise SettingsError(msg)
        state.streams = copy.deepcopy(streams)
        global_state = body.get("global")
        if global_state is not None and not (
            isinstance(global_state, dict) and global_state.get("type") == "GLOBAL"
        ):
            msg = (
                f"input state '{STATE_KEY}.global' must be an Airbyte GLOBAL state message; {_FIX}"
            )
            raise SettingsError(msg)
        state.global_state = copy.deepcopy(global_state)
        state.legacy = copy.deepcopy(body.get("legacy"))
        return state

    def update(self, message: t.Mapping[str, t.Any]) -> None:
        """Take in one Airbyte STATE message.

        Args:
            message: The Airbyte message (`{"type": "STATE", "state": {...}}`).

        Raises:
            ProtocolError: For a STREAM state without a stream descriptor (a connector bug).
        """
        body = {
            key: value
            for key, value in (message.get("state") or {}).items()
            if key not in _RUN_STATISTICS
        }
        kind = body.get("type")
        if kind == "STREAM":
            descriptor = (body.get("stream") or {}).get("stream_descriptor")
            if not descriptor or not descriptor.get("name"):
                msg = f"connector sent a STREAM state without a stream descriptor: {body}"
                raise ProtocolError(msg)
            self.streams[descriptor_id(descriptor)] = body
        elif kind == "GLOBAL":
            self.global_state = body
        else:
            # LEGACY, or a connector from before typed state: the blob lives in `data`.
            self.legacy = body.get("data") or {}

    def to_singer(self) -> dict[str, t.Any]:
        """The Singer state value to emit.

        Returns:
            `{"airbyte": {...}}` with only the parts that are set.
        """
        body: dict[str, t.Any] = {"streams": self.streams}
        if self.global_state is not None:
            body["global"] = self.global_state
        if self.legacy is not None:
            body["legacy"] = self.legacy
        return {STATE_KEY: body}

    def connector_state(
        self,
        stream_ids: t.Collection[str],
    ) -> list[dict[str, t.Any]] | dict[str, t.Any] | None:
        """What to pass the connector with `--state` for a read of `stream_ids`.

        Args:
            stream_ids: Singer names of the streams in the configured catalog.

        Returns:
            A list of STATE messages (per-stream ones of the streams read, then the global
            one), the legacy blob when that is all there is, or None when there is no state.
        """
        messages = [entry for key, entry in self.streams.items() if key in stream_ids]
        if self.global_state is not None:
            messages.append(self.global_state)
        if messages:
            return messages
        if self.legacy:
            return self.legacy
        return None
