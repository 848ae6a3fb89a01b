"""Airbyte state inside Singer state, the configured catalog, and message translation.

Inputs are Airbyte protocol messages as connectors write them (per-stream, GLOBAL and LEGACY
state; namespaced records), so the rules that faker does not exercise are covered too.
"""

from __future__ import annotations

import copy
import datetime
import logging
from decimal import Decimal

import pytest

from tap_airbyte_bridge.exceptions import ProtocolError, SettingsError
from tap_airbyte_bridge.protocol import AirbyteStream, configure_stream, parse_catalog
from tap_airbyte_bridge.state import AirbyteState
from tap_airbyte_bridge.translate import OutputStream, ReadTranslator


def stream_state(name: str, cursor: str, namespace: str | None = None) -> dict:
    descriptor = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "type": "STATE",
        "state": {
            "type": "STREAM",
            "stream": {"stream_descriptor": descriptor, "stream_state": {"cursor": cursor}},
            "sourceStats": {"recordCount": 5.0},
        },
    }


def record(name: str, data: dict, namespace: str | None = None, emitted_at: object = 0) -> dict:
    body = {"stream": name, "data": data, "emitted_at": emitted_at}
    if namespace:
        body["namespace"] = namespace
    return {"type": "RECORD", "record": body}


GLOBAL = {
    "type": "STATE",
    "state": {
        "type": "GLOBAL",
        "global": {
            "shared_state": {"lsn": 42},
            "stream_states": [
                {"stream_descriptor": {"name": "a"}, "stream_state": {"cursor": "1"}}
            ],
        },
    },
}


# --- state ------------------------------------------------------------------------------


def test_stream_states_are_kept_per_stream_without_run_statistics() -> None:
    state = AirbyteState()
    state.update(stream_state("users", "1"))
    state.update(stream_state("orders", "9", namespace="shop"))
    state.update(stream_state("users", "2"))

    value = state.to_singer()

    assert sorted(value["airbyte"]["streams"]) == ["shop-orders", "users"]
    users = value["airbyte"]["streams"]["users"]
    assert users["stream"]["stream_state"] == {"cursor": "2"}
    assert "sourceStats" not in users


def test_round_trip_through_singer_state_gives_the_connector_its_state_back() -> None:
    state = AirbyteState()
    state.update(stream_state("users", "2"))
    state.update(stream_state("orders", "9"))
    state.update(GLOBAL)

    loaded = AirbyteState.from_singer(copy.deepcopy(state.to_singer()))
    passed = loaded.connector_state({"users", "orders"})

    assert passed == [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"cursor": "2"}},
        },
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": {"cursor": "9"}},
        },
        GLOBAL["state"],
    ]


def test_only_the_streams_read_get_their_state_but_all_are_kept() -> None:
    state = AirbyteState()
    state.update(stream_state("users", "2"))
    state.update(stream_state("orders", "9"))

    passed = state.connector_state({"orders"})

    assert [entry["stream"]["stream_descriptor"]["name"] for entry in passed] == ["orders"]
    assert sorted(state.to_singer()["airbyte"]["streams"]) == ["orders", "users"]
    assert state.connector_state(set()) is None


def test_legacy_state_is_passed_as_the_blob() -> None:
    state = AirbyteState()
    state.update({"type": "STATE", "state": {"data": {"users": {"cursor": "5"}}}})

    loaded = AirbyteState.from_singer(state.to_singer())

    assert loaded.connector_state({"users"}) == {"users": {"cursor": "5"}}


def test_foreign_state_keys_are_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        loaded = AirbyteState.from_singer({"bookmarks": {"users": {}}})
    assert loaded.connector_state({"users"}) is None
    assert "['bookmarks']" in caplog.text


@pytest.mark.parametrize(
    "value",
    [
        {"airbyte": []},
        {"airbyte": {"streams": {"users": {"type": "GLOBAL"}}}},
        {"airbyte": {"global": {"type": "STREAM"}}},
    ],
)
def test_malformed_state_says_how_to_reset_it(value: dict) -> None:
    with pytest.raises(SettingsError, match="meltano state clear"):
        AirbyteState.from_singer(value)


def test_stream_state_without_descriptor_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        AirbyteState().update({"type": "STATE", "state": {"type": "STREAM", "stream": {}}})


# --- configured catalog -----------------------------------------------------------------

CATALOG = {
    "type": "CATALOG",
    "catalog": {
        "streams": [
            {
                "name": "users",
                "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_cursor": True,
                "default_cursor_field": ["updated_at"],
                "source_defined_primary_key": [["id"]],
            },
            {
                "name": "events",
                "namespace": "app",
                "json_schema": {"type": "object", "properties": {}},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_primary_key": [["meta", "id"]],
            },
            {"name": "dump", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
            {"name": "feed", "json_schema": {}, "supported_sync_modes": ["incremental"]},
        ]
    },
}


def streams() -> dict[str, AirbyteStream]:
    return {stream.tap_stream_id: stream for stream in parse_catalog(CATALOG)}


def test_discovered_streams_map_to_singer_names_and_keys() -> None:
    found = streams()
    assert sorted(found) == ["app-events", "dump", "feed", "users"]
    assert found["users"].key_properties == ["id"]
    assert found["users"].replication_key == "updated_at"
    # A nested key cannot be a Singer key property; the configured catalog still gets it.
    assert found["app-events"].key_properties == []
    assert configure_stream(found["app-events"], replication_method=None, replication_key=None)[
        "primary_key"
    ] == [["meta", "id"]]


def test_incremental_with_the_connectors_cursor() -> None:
    configured = configure_stream(
        streams()["users"], replication_method="INCREMENTAL", replication_key="updated_at"
    )
    assert configured == {
        "stream": CATALOG["catalog"]["streams"][0],
        "sync_mode": "incremental",
        "cursor_field": ["updated_at"],
        "destination_sync_mode": "append",
        "primary_key": [["id"]],
    }


def test_user_cursor_when_the_connector_has_none() -> None:
    configured = configure_stream(
        streams()["app-events"], replication_method="INCREMENTAL", replication_key="ts"
    )
    assert configured["sync_mode"] == "incremental"
    assert configured["cursor_field"] == ["ts"]


def test_full_table_or_no_cursor_means_full_refresh(caplog: pytest.LogCaptureFixture) -> None:
    found = streams()
    assert (
        configure_stream(found["users"], replication_method="FULL_TABLE", replication_key=None)[
            "sync_mode"
        ]
        == "full_refresh"
    )
    with caplog.at_level(logging.WARNING):
        configured = configure_stream(
            found["dump"], replication_method="INCREMENTAL", replication_key="x"
        )
    assert configured["sync_mode"] == "full_refresh"
    assert "cursor_field" not in configured
    assert "reading it in full" in caplog.text


def test_incremental_only_stream_without_cursor_names_the_fix() -> None:
    with pytest.raises(SettingsError, match="replication-key"):
        configure_stream(streams()["feed"], replication_method="FULL_TABLE", replication_key=None)


# --- translation ------------------------------------------------------------------------


def test_records_and_states_come_out_in_order_with_the_whole_state() -> None:
    translator = ReadTranslator(
        [OutputStream("users"), OutputStream("shop-orders")], AirbyteState()
    )
    incoming = [
        record("users", {"id": 1}),
        record("orders", {"id": 7}, namespace="shop"),
        stream_state("users", "1"),
        record("users", {"id": 2}),
        stream_state("orders", "7", namespace="shop"),
    ]

    out = [m.to_dict() for message in incoming for m in translator.translate(message)]

    assert [(m["type"], m.get("stream")) for m in out] == [
        ("RECORD", "users"),
        ("RECORD", "shop-orders"),
        ("STATE", None),
        ("RECORD", "users"),
        ("STATE", None),
    ]
    assert list(out[2]["value"]["airbyte"]["streams"]) == ["users"]
    assert sorted(out[4]["value"]["airbyte"]["streams"]) == ["shop-orders", "users"]
    assert translator.record_counts == {"users": 2, "shop-orders": 1}
    assert translator.state_count == 2


def test_emitted_state_does_not_change_afterwards() -> None:
    translator = ReadTranslator([OutputStream("users")], AirbyteState())
    (first,) = translator.translate(stream_state("users", "1"))
    list(translator.translate(stream_state("users", "2")))
    assert first.value["airbyte"]["streams"]["users"]["stream"]["stream_state"] == {"cursor": "1"}


def test_deselected_properties_are_dropped_and_values_pass_through() -> None:
    translator = ReadTranslator([OutputStream("users", frozenset({"email"}))], AirbyteState())
    data = {"id": 1, "email": "a@b", "ts": "2024-01-01T10:00:00", "score": Decimal("1.10")}

    (message,) = translator.translate(record("users", data, emitted_at=Decimal("1700000000123.5")))

    assert message.record == {"id": 1, "ts": "2024-01-01T10:00:00", "score": Decimal("1.10")}
    assert message.time_extracted == datetime.datetime(
        2023, 11, 14, 22, 13, 20, 123500, tzinfo=datetime.UTC
    )


def test_records_of_unselected_streams_are_dropped_once_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    translator = ReadTranslator([OutputStream("users")], AirbyteState())
    with caplog.at_level(logging.WARNING):
        out = [
            m
            for message in (record("other", {"id": 1}), record("other", {"id": 2}))
            for m in translator.translate(message)
        ]
    assert out == []
    assert caplog.text.count("'other'") == 1
