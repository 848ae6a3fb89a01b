"""End to end with a real Airbyte connector (airbyte-source-faker), through the tap's CLI.

Every expectation is taken from running the connector directly on the same input, so the
tests check the translation, not the connector.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import subprocess
import typing as t
from collections import Counter
from pathlib import Path

import pytest

from tap_airbyte_bridge.connector import Connector
from tap_airbyte_bridge.exceptions import ConnectorError
from tap_airbyte_bridge.settings import PythonLaunch

pytestmark = pytest.mark.slow

STREAMS = ("products", "purchases", "users")


def _direct(executable: str, workdir: Path, *command: str, **files: t.Any) -> list[dict]:
    """Run source-faker itself; return its protocol messages."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [executable, *command]
    for name, payload in files.items():
        path = workdir / f"{name}.json"
        path.write_text(json.dumps(payload))
        argv += [f"--{name}", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _without_updated_at(data: dict) -> dict:
    # Faker stamps updated_at (and its STATE cursor) with the wall clock; all else is seeded.
    return {key: value for key, value in data.items() if key != "updated_at"}


@pytest.fixture(scope="module")
def reference(
    faker_executable: str,
    faker_config: t.Callable[..., dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> list[dict]:
    """The connector's own read of every stream (incremental, as the bridge configures it)."""
    workdir = tmp_path_factory.mktemp("direct")
    config = faker_config()
    catalog_message = next(
        m
        for m in _direct(faker_executable, workdir, "discover", config=config)
        if m["type"] == "CATALOG"
    )
    configured = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental",
                "cursor_field": stream["default_cursor_field"],
                "destination_sync_mode": "append",
            }
            # The tap sorts streams by name, as singer-sdk does; the connector reads in order.
            for stream in sorted(catalog_message["catalog"]["streams"], key=lambda s: s["name"])
        ]
    }
    return _direct(faker_executable, workdir, "read", config=config, catalog=configured)


@pytest.fixture(scope="module")
def discovered(
    invoke_tap: t.Callable[..., t.Any],
    tap_config: t.Callable[..., dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Any:
    return invoke_tap(tmp_path_factory.mktemp("discover"), tap_config(), "--discover")


@pytest.fixture(scope="module")
def first_run(
    invoke_tap: t.Callable[..., t.Any],
    tap_config: t.Callable[..., dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Any:
    return invoke_tap(tmp_path_factory.mktemp("first"), tap_config())


def test_discover_lists_the_connectors_streams(
    discovered: t.Any,
    faker_executable: str,
    faker_config: t.Callable[..., dict],
    tmp_path: Path,
) -> None:
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    direct = next(
        m
        for m in _direct(faker_executable, tmp_path, "discover", config=faker_config())
        if m["type"] == "CATALOG"
    )
    expected = {s["name"]: s for s in direct["catalog"]["streams"]}
    entries = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert sorted(entries) == sorted(expected) == list(STREAMS)
    for name, entry in entries.items():
        assert entry["key_properties"] == ["id"]
        assert entry["replication_key"] == "updated_at"
        assert entry["replication_method"] == "INCREMENTAL"
        properties = expected[name]["json_schema"]["properties"]
        assert sorted(entry["schema"]["properties"]) == sorted(properties)
        for field, prop in entry["schema"]["properties"].items():
            assert prop["type"] == properties[field]["type"]


def test_full_read_matches_the_connector(first_run: t.Any, reference: list[dict]) -> None:
    assert first_run.returncode == 0, first_run.stderr
    messages = first_run.messages
    first_record = next(i for i, m in enumerate(messages) if m["type"] == "RECORD")
    assert sorted(m["stream"] for m in messages[:first_record]) == list(STREAMS)
    assert all(m["type"] == "SCHEMA" for m in messages[:first_record])

    expected_records = [m["record"] for m in reference if m["type"] == "RECORD"]
    records = first_run.of_type("RECORD")
    assert Counter(r["stream"] for r in records) == Counter(r["stream"] for r in expected_records)
    assert all(count > 0 for count in Counter(r["stream"] for r in records).values())
    assert [(r["stream"], _without_updated_at(r["record"])) for r in records] == [
        (r["stream"], _without_updated_at(r["data"])) for r in expected_records
    ]
    assert all(r["time_extracted"].endswith("+00:00") for r in records)


def test_records_and_state_keep_the_connectors_order(
    first_run: t.Any, reference: list[dict]
) -> None:
    def shape(kind: str, stream: str | None) -> str:
        return f"{kind}:{stream}" if stream else kind

    expected = [
        shape("RECORD", m["record"]["stream"]) if m["type"] == "RECORD" else "STATE"
        for m in reference
        if m["type"] in {"RECORD", "STATE"}
    ]
    actual = [
        shape("RECORD", m["stream"]) if m["type"] == "RECORD" else "STATE"
        for m in first_run.messages
        if m["type"] in {"RECORD", "STATE"}
    ]
    assert actual == expected
    assert expected.count("STATE") >= 3

    # Each Singer STATE carries the Airbyte STATE that arrived at that point.
    airbyte_states = [m["state"] for m in reference if m["type"] == "STATE"]
    for singer, airbyte in zip(first_run.of_type("STATE"), airbyte_states, strict=True):
        name = airbyte["stream"]["stream_descriptor"]["name"]
        kept = singer["value"]["airbyte"]["streams"][name]
        assert kept["type"] == "STREAM"
        assert "sourceStats" not in kept
        assert _without_updated_at(kept["stream"]["stream_state"]) == _without_updated_at(
            airbyte["stream"]["stream_state"]
        )


def test_timestamps_without_zone_pass_through_as_written(first_run: t.Any) -> None:
    created = [
        m["record"]["created_at"] for m in first_run.of_type("RECORD") if m["stream"] == "purchases"
    ]
    assert created
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", value) for value in created)


def test_resumed_run_reads_nothing_already_read(
    first_run: t.Any, tap_config: t.Callable[..., dict], run_tap: t.Callable[..., t.Any]
) -> None:
    final_state = first_run.of_type("STATE")[-1]["value"]
    assert sorted(final_state["airbyte"]["streams"]) == list(STREAMS)

    resumed = run_tap(tap_config(), state=final_state)

    assert resumed.returncode == 0, resumed.stderr
    # Faker with always_updated=false: a stream with a cursor in its state has nothing new.
    assert resumed.of_type("RECORD") == []
    states = resumed.of_type("STATE")
    assert states[0]["value"] == final_state  # the input state, re-emitted first
    resumed_streams = states[-1]["value"]["airbyte"]["streams"]
    assert {name: entry["stream"]["stream_state"] for name, entry in resumed_streams.items()} == {
        name: entry["stream"]["stream_state"]
        for name, entry in final_state["airbyte"]["streams"].items()
    }


def test_resumed_run_with_one_streams_state_rereads_the_others(
    first_run: t.Any, tap_config: t.Callable[..., dict], run_tap: t.Callable[..., t.Any]
) -> None:
    final_state = first_run.of_type("STATE")[-1]["value"]
    only_users = copy.deepcopy(final_state)
    only_users["airbyte"]["streams"] = {"users": final_state["airbyte"]["streams"]["users"]}

    resumed = run_tap(tap_config(), state=only_users)

    assert resumed.returncode == 0, resumed.stderr
    counts = Counter(m["stream"] for m in resumed.of_type("RECORD"))
    first_counts = Counter(m["stream"] for m in first_run.of_type("RECORD"))
    assert counts == Counter(
        {"products": first_counts["products"], "purchases": first_counts["purchases"]}
    )
    assert sorted(resumed.of_type("STATE")[-1]["value"]["airbyte"]["streams"]) == list(STREAMS)


def test_catalog_selection_and_full_table_override(
    discovered: t.Any,
    first_run: t.Any,
    tap_config: t.Callable[..., dict],
    run_tap: t.Callable[..., t.Any],
) -> None:
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == [] and entry["tap_stream_id"] == "users":
                item["metadata"]["selected"] = False
            elif item["breadcrumb"] == []:
                item["metadata"]["selected"] = True
            if entry["tap_stream_id"] == "products" and item["breadcrumb"] == [
                "properties",
                "price",
            ]:
                item["metadata"]["selected"] = False
            if entry["tap_stream_id"] == "purchases" and item["breadcrumb"] == []:
                item["metadata"]["forced-replication-method"] = "FULL_TABLE"
        if entry["tap_stream_id"] == "purchases":
            entry["replication_method"] = "FULL_TABLE"
    final_state = first_run.of_type("STATE")[-1]["value"]

    run = run_tap(tap_config(), catalog=catalog, state=final_state)

    assert run.returncode == 0, run.stderr
    schemas = {m["stream"]: m for m in run.of_type("SCHEMA")}
    assert sorted(schemas) == ["products", "purchases"]
    assert "price" not in schemas["products"]["schema"]["properties"]
    # The SCHEMA keeps Airbyte's own annotations (the catalog model drops them).
    updated_at = schemas["products"]["schema"]["properties"]["updated_at"]
    assert updated_at["airbyte_type"] == "timestamp_with_timezone"
    counts = Counter(m["stream"] for m in run.of_type("RECORD"))
    first_counts = Counter(m["stream"] for m in first_run.of_type("RECORD"))
    # products: incremental with state -> nothing new; purchases: full refresh ignores state.
    assert counts == Counter({"purchases": first_counts["purchases"]})
    assert "stream products: incremental" in run.stderr
    assert "stream purchases: full_refresh" in run.stderr
    # The unread stream's bookmark survives the run.
    last = run.of_type("STATE")[-1]["value"]["airbyte"]["streams"]
    assert last["users"] == final_state["airbyte"]["streams"]["users"]


def test_invalid_config_fails_with_the_connectors_message(
    tap_config: t.Callable[..., dict], run_tap: t.Callable[..., t.Any]
) -> None:
    run = run_tap(tap_config(count="abc"))

    assert run.returncode == 2  # terminal: the connector's config_error
    assert run.of_type("RECORD") == []
    assert (
        "connector source-faker failed with config_error: "
        "Config validation error: 'abc' is not of type 'integer'"
    ) in run.stderr
    assert "Traceback" not in run.stderr.split("connector source-faker failed")[-1]


def test_read_trace_error_raises_connector_error(
    faker_executable: str, faker_config: t.Callable[..., dict]
) -> None:
    connector = Connector(
        PythonLaunch(faker_executable), faker_config(count=0), logging.getLogger("test")
    )
    catalog = {"streams": []}
    with pytest.raises(ConnectorError) as caught:
        list(connector.read(catalog))
    assert caught.value.failure_type == "config_error"
    assert "0 is less than the minimum of 1" in str(caught.value)
    assert caught.value.connector == "source-faker"
