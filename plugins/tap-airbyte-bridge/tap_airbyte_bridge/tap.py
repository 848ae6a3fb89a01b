"""`tap-airbyte-bridge`: a Singer tap (singer-sdk) whose data comes from an Airbyte connector.

Discovery runs the connector's `discover`; a sync runs ONE connector `read` for all selected
streams and writes each translated message as soon as it arrives: SCHEMA for every selected
stream first, then RECORD and STATE in the connector's order, then nothing else. The SDK's
per-record machinery is bypassed on purpose (it syncs stream by stream and keeps its own
bookmarks); the SDK still provides the CLI, settings, catalog and selection handling.

Failures exit with the plugins' convention (2 terminal, 75 transient, 3 internal) and one line
that names the connector and its message.
"""

from __future__ import annotations

import contextlib
import logging
import typing as t

from singer_sdk import Tap
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from singer_sdk.singerlib import SchemaMessage, StateMessage

from plugin_errors import exit_after_signal, run_cli
from tap_airbyte_bridge.connector import Connector
from tap_airbyte_bridge.protocol import configured_catalog
from tap_airbyte_bridge.settings import CONFIG_SCHEMA, parse_launch
from tap_airbyte_bridge.state import AirbyteState
from tap_airbyte_bridge.streams import AirbyteBridgeStream
from tap_airbyte_bridge.translate import OutputStream, ReadTranslator

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.capabilities import CapabilitiesEnum
    from singer_sdk.helpers.types import TapState


class TapAirbyteBridge(Tap):
    """Runs an Airbyte source connector as a Singer tap."""

    name = "tap-airbyte-bridge"
    config_jsonschema: t.ClassVar[dict[str, t.Any]] = CONFIG_SCHEMA
    # Discovery needs the connector's config, so `--discover` validates the config first.
    dynamic_catalog = True
    # Stream maps, flattening, BATCH and ACTIVATE_VERSION live in the SDK's per-record path,
    # which a sync does not use; claiming them would be a lie.
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
    ]

    _connector: Connector | None = None
    _airbyte_state: AirbyteState | None = None

    @property
    def connector(self) -> Connector:
        """The configured connector (built from the `connector` setting on first use)."""
        if self._connector is None:
            self._connector = Connector(
                parse_launch(self.config.get("connector")),
                self.config.get("airbyte_config") or {},
                self.logger,
            )
        return self._connector

    @property
    def airbyte_state(self) -> AirbyteState:
        """The connector's state as loaded from `--state` and advanced during a sync."""
        if self._airbyte_state is None:
            self._airbyte_state = AirbyteState()
        return self._airbyte_state

    def discover_streams(self) -> list[AirbyteBridgeStream]:
        """Run the connector's `discover`.

        Returns:
            One stream per discovered Airbyte stream.
        """
        connector = self.connector
        return [AirbyteBridgeStream(self, stream, connector) for stream in connector.discover()]

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Load the Airbyte state kept in the Singer state (see `state.py`).

        Args:
            state: The Singer state value passed with `--state`.
        """
        self._airbyte_state = AirbyteState.from_singer(state, self.logger)
        # The SDK types its state as {"bookmarks": ...}; this tap's state has its own shape.
        self._state = t.cast("TapState", self._airbyte_state.to_singer() if state else {})

    def _selected_streams(self) -> list[AirbyteBridgeStream]:
        return [
            stream
            for stream in self.streams.values()
            if isinstance(stream, AirbyteBridgeStream) and stream.selected
        ]

    # The SDK marks sync_all final because its own loop drives streams one by one; this tap
    # must drive one connector process for all streams to keep records and STATE in order.
    def sync_all(self) -> None:  # type: ignore[misc]
        """Run one connector `read` for all selected streams and write Singer messages."""
        selected = self._selected_streams()
        state = self.airbyte_state
        if not selected:
            self.logger.warning(
                "no stream is selected: select streams in the catalog (Meltano 'select')"
            )
            return
        configured = [stream.configured() for stream in selected]
        for stream, entry in zip(selected, configured, strict=True):
            cursor = entry.get("cursor_field") or []
            self.write_message(
                SchemaMessage(
                    stream=stream.name,
                    schema=stream.output_schema(),
                    key_properties=list(stream.primary_keys),
                    bookmark_properties=cursor[:1] if len(cursor) == 1 else None,
                )
            )
            self.logger.info("stream %s: %s", stream.name, entry["sync_mode"])
        if self._state:
            self.write_message(StateMessage(value=self._state))

        translator = ReadTranslator(
            (OutputStream(stream.name, stream.dropped_properties) for stream in selected),
            state,
            self.logger,
        )
        # A full refresh reads everything: its stream's old checkpoint must not be passed, or
        # a resumable connector would treat it as "already done".
        incremental = {
            stream.name
            for stream, entry in zip(selected, configured, strict=True)
            if entry["sync_mode"] == "incremental"
        }
        connector_state = state.connector_state(incremental)
        for message in self.connector.read(configured_catalog(configured), connector_state):
            for singer_message in translator.translate(message):
                if isinstance(singer_message, StateMessage):
                    # Kept current so the SDK's SIGTERM handler re-emits the latest state.
                    self._state = t.cast("TapState", dict(singer_message.value))
                self.write_message(singer_message)
        for stream in selected:
            self.logger.info(
                "stream %s: %d records", stream.name, translator.record_counts[stream.name]
            )
        self.logger.info("%d state messages from %s", translator.state_count, self.connector.label)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """Write the latest STATE (the SDK does), then exit 128+signum, never 0."""
        with contextlib.suppress(SystemExit):  # the SDK's handler exits 0
            super()._handle_termination(signum, frame)
        exit_after_signal(signum)


def main() -> None:
    """Console entry point: the SDK's CLI; every failure is one line on stderr, no traceback.

    Exit codes (`plugin_errors`): 0 success; 2 terminal (the tap's settings, the connector's
    config_error, a connector or engine that cannot be found); 75 transient (the connector's
    transient_error, or it was killed by a signal); 3 internal (a system_error, a crash
    without an Airbyte error, a protocol violation, or a bug of the bridge); 143 SIGTERM.
    """
    run_cli(
        TapAirbyteBridge.name,
        lambda: TapAirbyteBridge.cli.main(prog_name=TapAirbyteBridge.name),
        logger=logging.getLogger(TapAirbyteBridge.name),
    )


if __name__ == "__main__":
    main()
