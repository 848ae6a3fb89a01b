"""Singer SDK streams standing for the connector's discovered Airbyte streams.

They carry the discovered schema, keys and cursor into the Singer catalog (`--discover`) and
receive the catalog's selection back. A real sync does not go through them record by record:
the tap runs one connector `read` for all selected streams (see `tap.py`). `get_records` is
only the SDK's per-stream path (`--test`, dry runs): a full read of this one stream.

Never keeps SDK bookmarks: the connector's own STATE is the only bookmark.
"""

from __future__ import annotations

import typing as t

from singer_sdk import Stream

from tap_airbyte_bridge.protocol import (
    FULL_TABLE,
    INCREMENTAL,
    configure_stream,
    configured_catalog,
    stream_id,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

    from tap_airbyte_bridge.connector import Connector
    from tap_airbyte_bridge.protocol import AirbyteStream


class AirbyteBridgeStream(Stream):
    """One Airbyte stream, seen by the Singer SDK."""

    def __init__(self, tap: Tap, airbyte: AirbyteStream, connector: Connector) -> None:
        super().__init__(tap, schema=airbyte.json_schema, name=airbyte.tap_stream_id)
        self.airbyte = airbyte
        self.connector = connector
        self.primary_keys = airbyte.key_properties
        self.replication_key = airbyte.replication_key
        if airbyte.supports_incremental and airbyte.default_cursor_field:
            # Also for a nested cursor, which a Singer replication key cannot name.
            self.forced_replication_method = INCREMENTAL

    @property
    def dropped_properties(self) -> frozenset[str]:
        """Top-level properties deselected in the Singer catalog."""
        properties = self.airbyte.json_schema.get("properties") or {}
        return frozenset(name for name in properties if not self.mask[("properties", name)])

    def output_schema(self) -> dict[str, t.Any]:
        """The schema to send in SCHEMA: the connector's own, without deselected properties.

        The connector's schema rather than the catalog's, because singer-sdk's catalog model
        drops keywords it does not know, among them Airbyte's `airbyte_type`
        (e.g. `timestamp_without_timezone`), which tells the loader what a value means.

        Returns:
            A JSON schema.
        """
        schema = self.airbyte.json_schema
        dropped = self.dropped_properties
        if dropped:
            schema["properties"] = {
                name: prop
                for name, prop in (schema.get("properties") or {}).items()
                if name not in dropped
            }
            if "required" in schema:
                schema["required"] = [name for name in schema["required"] if name not in dropped]
        return schema

    def configured(self) -> dict[str, t.Any]:
        """This stream's ConfiguredAirbyteStream, following the Singer catalog's choices.

        Returns:
            The configured stream.
        """
        return configure_stream(
            self.airbyte,
            replication_method=self.replication_method,
            replication_key=self.replication_key,
            key_properties=self.primary_keys,
            logger=self.logger,
        )

    def get_records(self, context: Context | None) -> Iterable[Record]:
        """Read this stream alone, in full (the SDK's per-stream path only).

        Args:
            context: Unused; Airbyte streams have no Singer partitions.

        Yields:
            The records' data.
        """
        method = FULL_TABLE if self.airbyte.supports_full_refresh else INCREMENTAL
        configured = configure_stream(
            self.airbyte,
            replication_method=method,
            replication_key=self.replication_key,
            key_properties=self.primary_keys,
            logger=self.logger,
        )
        for message in self.connector.read(configured_catalog([configured])):
            if message.get("type") != "RECORD":
                continue
            record = message.get("record") or {}
            if stream_id(str(record.get("stream")), record.get("namespace")) == self.name:
                yield dict(record.get("data") or {})

    def _increment_stream_state(
        self,
        latest_record: Record,
        *,
        context: Context | None = None,
    ) -> None:
        # The connector's STATE is the bookmark; SDK replication-key bookmarks would be a
        # second truth that the next run ignores.
        return
