"""The Airbyte catalog side of the bridge: discovered streams and the configured catalog.

Turns the connector's CATALOG message into stream descriptions with Singer names, keys and
cursors, and turns the Singer selection back into an Airbyte ConfiguredAirbyteCatalog:
`incremental` where the stream supports it and a cursor is known, else `full_refresh`, always
with destination sync mode `append` (the loader decides how to merge).

Pure data in, data out: no processes, no I/O.
"""

from __future__ import annotations

import copy
import logging
import typing as t
from dataclasses import dataclass

from tap_airbyte_bridge.exceptions import SettingsError

INCREMENTAL = "INCREMENTAL"
FULL_TABLE = "FULL_TABLE"


def stream_id(name: str, namespace: str | None = None) -> str:
    """Singer stream name of an Airbyte stream: `name`, or `namespace-name` when namespaced.

    Args:
        name: The Airbyte stream name.
        namespace: The Airbyte namespace, if any.

    Returns:
        The Singer `tap_stream_id`.
    """
    return f"{namespace}-{name}" if namespace else name


def descriptor_id(descriptor: t.Mapping[str, t.Any]) -> str:
    """Singer stream name of an Airbyte `stream_descriptor` (`{"name", "namespace"}`).

    Args:
        descriptor: The stream descriptor.

    Returns:
        The Singer `tap_stream_id`.
    """
    return stream_id(str(descriptor.get("name")), descriptor.get("namespace"))


def top_level_names(paths: t.Sequence[t.Sequence[str]]) -> list[str] | None:
    """Flatten Airbyte field paths (`[["id"], ["org", "id"]]`) to Singer property names.

    Args:
        paths: Airbyte field paths.

    Returns:
        The names when every path is a single top-level field, else None (Singer key
        properties cannot point into nested objects).
    """
    names = []
    for path in paths:
        if len(path) != 1:
            return None
        names.append(path[0])
    return names


@dataclass(frozen=True)
class AirbyteStream:
    """One stream of the connector's discovered catalog."""

    raw: dict[str, t.Any]
    """The AirbyteStream exactly as discovered (sent back in the configured catalog)."""

    @property
    def name(self) -> str:
        """Airbyte stream name."""
        return str(self.raw["name"])

    @property
    def namespace(self) -> str | None:
        """Airbyte namespace, if any."""
        return self.raw.get("namespace")

    @property
    def tap_stream_id(self) -> str:
        """The Singer stream name."""
        return stream_id(self.name, self.namespace)

    @property
    def json_schema(self) -> dict[str, t.Any]:
        """A copy of the stream's JSON schema (callers may change it)."""
        return copy.deepcopy(self.raw.get("json_schema") or {"type": "object", "properties": {}})

    @property
    def supports_incremental(self) -> bool:
        """True when the connector can read this stream incrementally."""
        return "incremental" in (self.raw.get("supported_sync_modes") or [])

    @property
    def supports_full_refresh(self) -> bool:
        """True when the connector can read this stream in full."""
        return "full_refresh" in (self.raw.get("supported_sync_modes") or ["full_refresh"])

    @property
    def source_defined_cursor(self) -> bool:
        """True when the connector fixes the cursor itself."""
        return bool(self.raw.get("source_defined_cursor"))

    @property
    def default_cursor_field(self) -> list[str]:
        """The connector's cursor path, possibly empty."""
        return list(self.raw.get("default_cursor_field") or [])

    @property
    def primary_key_paths(self) -> list[list[str]]:
        """The connector's primary key paths, possibly empty."""
        return [list(path) for path in self.raw.get("source_defined_primary_key") or []]

    @property
    def key_properties(self) -> list[str]:
        """Singer key properties (empty when the key is nested)."""
        return top_level_names(self.primary_key_paths) or []

    @property
    def replication_key(self) -> str | None:
        """Singer replication key: the default cursor when it is one top-level field."""
        names = top_level_names([self.default_cursor_field]) if self.default_cursor_field else None
        return names[0] if names else None


def parse_catalog(message: t.Mapping[str, t.Any]) -> list[AirbyteStream]:
    """Read the streams of a CATALOG message.

    Args:
        message: The Airbyte CATALOG message.

    Returns:
        The streams in the connector's order.
    """
    streams = (message.get("catalog") or {}).get("streams") or []
    return [AirbyteStream(dict(raw)) for raw in streams]


def configure_stream(
    stream: AirbyteStream,
    *,
    replication_method: str | None,
    replication_key: str | None,
    key_properties: t.Sequence[str] = (),
    logger: logging.Logger | None = None,
) -> dict[str, t.Any]:
    """Build one ConfiguredAirbyteStream from the Singer choices for it.

    Incremental when the stream supports it, Singer asks for INCREMENTAL, and a cursor is
    known (the connector's own, else the Singer replication key); otherwise full refresh.

    Args:
        stream: The discovered stream.
        replication_method: Singer replication method (`INCREMENTAL`, `FULL_TABLE`, None).
        replication_key: Singer replication key (used when the connector has no cursor).
        key_properties: Singer key properties (used when the connector has no key).
        logger: Where to warn about requests the connector cannot honour.

    Returns:
        The configured stream.

    Raises:
        SettingsError: When the stream can be read neither way with the given choices.
    """
    log = logger or logging.getLogger(__name__)
    cursor: list[str] = []
    if stream.source_defined_cursor:
        cursor = stream.default_cursor_field
        if replication_key and [replication_key] != cursor:
            log.warning(
                "stream %s: the connector fixes its cursor %s; replication-key %r is ignored",
                stream.tap_stream_id,
                cursor,
                replication_key,
            )
    elif replication_key:
        cursor = [replication_key]
    else:
        cursor = stream.default_cursor_field

    incremental = replication_method == INCREMENTAL and stream.supports_incremental and cursor
    if replication_method == INCREMENTAL and not incremental:
        log.warning(
            "stream %s: incremental read is not possible (supported modes %s, cursor %s); "
            "reading it in full",
            stream.tap_stream_id,
            stream.raw.get("supported_sync_modes"),
            cursor or "none",
        )
    if not incremental and not stream.supports_full_refresh:
        msg = (
            f"stream {stream.tap_stream_id} supports only incremental reads: set its "
            "replication-method to INCREMENTAL and a replication-key in the catalog metadata"
        )
        raise SettingsError(msg)
    configured: dict[str, t.Any] = {
        "stream": stream.raw,
        "sync_mode": "incremental" if incremental else "full_refresh",
        "destination_sync_mode": "append",
    }
    if incremental:
        configured["cursor_field"] = cursor
    primary_key = stream.primary_key_paths or [[key] for key in key_properties]
    if primary_key:
        configured["primary_key"] = primary_key
    return configured


def configured_catalog(streams: t.Sequence[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Wrap configured streams into a ConfiguredAirbyteCatalog.

    Args:
        streams: Results of `configure_stream`.

    Returns:
        The catalog to write to `--catalog`.
    """
    return {"streams": list(streams)}
