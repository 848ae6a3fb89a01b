"""The OpenLineage client configures itself from the run's environment, the OpenLineage way."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ingestgen.record import openlineage


def start(environ: dict[str, str]) -> None:
    client = openlineage.client(environ)
    client.emit(
        openlineage.start_event(
            run_id="0190c4d0-0000-7000-8000-000000000001",
            tenant="acme",
            job="deals_daily",
            source_type="gdrive_csv",
            streams=["deals_daily"],
            started_at=time.time(),
            environ=environ,
        )
    )
    client.close(timeout=5.0)


def test_a_config_file_configures_the_client(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    config = tmp_path / "openlineage.yml"
    config.write_text(f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n")
    environ = {"OPENLINEAGE_CONFIG": str(config), "OPENLINEAGE_NAMESPACE": "etl"}
    assert openlineage.configured(environ)
    start(environ)
    (event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert event["eventType"] == "START"
    assert event["job"]["namespace"] == "etl"


def test_the_runs_environment_decides_and_os_environ_is_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process environment points elsewhere; the run's environment must win, and the
    # client's own aliases of OPENLINEAGE_URL must not stay behind in os.environ.
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9")
    before = dict(os.environ)
    events = tmp_path / "events.jsonl"
    start(
        {
            "OPENLINEAGE__TRANSPORT__TYPE": "file",
            "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": str(events),
            "OPENLINEAGE__TRANSPORT__APPEND": "true",
        }
    )
    assert len(events.read_text().splitlines()) == 1
    assert dict(os.environ) == before
    client = openlineage.client({"OPENLINEAGE_URL": "http://127.0.0.1:9"})
    assert client.transport.kind == "http"
    assert dict(os.environ) == before


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OPENLINEAGE_URL": "http://x"}, True),
        ({"OPENLINEAGE__TRANSPORT__TYPE": "console"}, True),
        ({"OPENLINEAGE_URL": "http://x", "OPENLINEAGE_DISABLED": "TRUE "}, False),
    ],
)
def test_configured(environ: dict[str, str], expected: bool) -> None:
    assert openlineage.configured(environ) is expected
