"""The console script: exit codes, one-line errors, --about, --discover, state across runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXE = Path(sys.executable).with_name("tap-gdrive-csv")


def run(
    tmp_path: Path,
    *args: str,
    config: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = [str(EXE), *args]
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
        argv += ["--config", str(tmp_path / "config.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(tmp_path / "state.json")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GDRIVE_CSV_")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)


def messages(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_sync_then_resync_with_state(data_folder: Path, tmp_path: Path) -> None:
    config = {
        "local_folder": str(data_folder),
        "files": [{"file_id": "contacts.csv", "object": "contacts"}],
    }
    first = run(tmp_path, config=config)
    assert first.returncode == 0, first.stderr
    out = messages(first.stdout)
    assert [m["record"]["contact_id"] for m in out if m["type"] == "RECORD"] == ["10", "11"]
    state = [m for m in out if m["type"] == "STATE"][-1]["value"]
    second = run(tmp_path, config=config, state=state)
    assert second.returncode == 0, second.stderr
    assert [m for m in messages(second.stdout) if m["type"] == "RECORD"] == []


def test_missing_file_exits_2_with_one_line_error(data_folder: Path, tmp_path: Path) -> None:
    config = {
        "local_folder": str(data_folder),
        "files": [{"file_id": "nope.csv", "object": "contacts"}],
    }
    result = run(tmp_path, config=config)
    assert result.returncode == 2
    assert "tap-gdrive-csv: error: file 'nope.csv' was not found in local_folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_header_mismatch_exits_2(data_folder: Path, tmp_path: Path) -> None:
    (data_folder / "deals_2024_02.csv").write_text("deal_id,region\n1,EU\n")
    config = {
        "local_folder": str(data_folder),
        "files": [
            {"file_id": "deals_2024_01.csv", "object": "deals_daily"},
            {"file_id": "deals_2024_02.csv", "object": "deals_daily"},
        ],
    }
    result = run(tmp_path, "--discover", config=config)
    assert result.returncode == 2
    assert "headers differ" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_settings_list_every_problem(tmp_path: Path) -> None:
    config = {
        "files": [{"file_id": "", "object": "bad-name"}],
        "delimiter": ";;",
        "incremental_strategy": "full_refresh",
    }
    result = run(tmp_path, "--discover", config=config)
    assert result.returncode == 2
    assert "files[0].file_id: missing or empty" in result.stderr
    assert "files[0].object: 'bad-name' is not a valid object name" in result.stderr
    assert "delimiter: ';;' must be exactly one character" in result.stderr


def test_discover_prints_the_catalog(data_folder: Path, tmp_path: Path) -> None:
    config = {
        "local_folder": str(data_folder),
        "files": [{"file_id": "contacts.csv", "object": "contacts"}],
    }
    result = run(tmp_path, "--discover", config=config)
    assert result.returncode == 0, result.stderr
    (stream,) = json.loads(result.stdout)["streams"]
    assert list(stream["schema"]["properties"]) == ["contact_id", "email", "name"]


@pytest.mark.parametrize("setting", ["oauth_token", "service_account_key"])
def test_about_marks_credentials_secret(tmp_path: Path, setting: str) -> None:
    result = run(tmp_path, "--about", "--format", "json")
    assert result.returncode == 0, result.stderr
    about = json.loads(result.stdout)
    properties = about["settings"]["properties"]
    assert properties[setting].get("secret") is True
    assert {"files", "local_folder", "api_base_url", "incremental_strategy", "batch_config"} <= set(
        properties
    )
    assert about["settings"]["required"] == ["files"]
