"""Meltano end to end: `meltano run` twice keeps the per-file bookmarks in Meltano's state.

The tap is declared inline (namespace set, so the Hub is never asked) and run from this
virtualenv's console script; the loader is a 20-line Singer target that appends records to a
JSON-lines file and echoes the last STATE, as every target must for Meltano to store it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BIN = Path(sys.executable).parent

TARGET = """\
import json, sys
out = open({records!r}, "a")
state = None
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "RECORD":
        out.write(json.dumps({{"stream": message["stream"], **message["record"]}}) + "\\n")
    elif message["type"] == "STATE":
        state = message["value"]
out.close()
if state is not None:
    print(json.dumps(state), flush=True)
"""


def project(root: Path, data: Path) -> dict[str, Any]:
    target = root / "target_collect.py"
    target.write_text(TARGET.format(records=str(root / "records.jsonl")))
    wrapper = root / "target-collect"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {target} "$@"\n')
    wrapper.chmod(0o755)
    return {
        "default_environment": "dev",
        "environments": [{"name": "dev"}],
        "project_id": "tap-gdrive-csv-e2e",
        "send_anonymous_usage_stats": False,
        "plugins": {
            "extractors": [
                {
                    "name": "tap-gdrive-csv",
                    "namespace": "tap_gdrive_csv",
                    "executable": str(BIN / "tap-gdrive-csv"),
                    "capabilities": ["catalog", "discover", "state", "about"],
                    "settings": [
                        {"name": "files", "kind": "array"},
                        {"name": "local_folder", "kind": "string"},
                        {"name": "oauth_token", "kind": "string", "sensitive": True},
                    ],
                    "config": {
                        "local_folder": str(data),
                        "files": [
                            {"file_id": "deals_2024_01.csv", "object": "deals_daily"},
                            {"file_id": "deals_2024_02.csv", "object": "deals_daily"},
                        ],
                    },
                }
            ],
            "loaders": [
                {
                    "name": "target-collect",
                    "namespace": "target_collect",
                    "executable": str(wrapper),
                }
            ],
        },
    }


def meltano(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith(("TAP_GDRIVE_CSV_", "MELTANO_"))
        },
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def records(root: Path) -> list[dict[str, Any]]:
    path = root / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_meltano_run_twice_then_after_a_change(tmp_path: Path, data_folder: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "meltano.yml").write_text(yaml.safe_dump(project(root, data_folder)))

    first = meltano(root, "run", "tap-gdrive-csv", "target-collect")
    assert first.returncode == 0, first.stderr[-3000:]
    assert [r["deal_id"] for r in records(root)] == ["1", "2", "3", "1", "4"]

    second = meltano(root, "run", "tap-gdrive-csv", "target-collect")
    assert second.returncode == 0, second.stderr[-3000:]
    assert len(records(root)) == 5  # nothing new appended

    state = meltano(root, "state", "get", "dev:tap-gdrive-csv-to-target-collect")
    assert state.returncode == 0, state.stderr[-3000:]
    files = json.loads(state.stdout)["singer_state"]["bookmarks"]["deals_daily"]["files"]
    assert set(files) == {"deals_2024_01.csv", "deals_2024_02.csv"}

    changed = data_folder / "deals_2024_02.csv"
    changed.write_text(changed.read_text() + "9,2024-02-29,Hooli,won,1,EUR,true\n")
    stat = changed.stat()
    os.utime(changed, (stat.st_atime, stat.st_mtime + 5))
    third = meltano(root, "run", "tap-gdrive-csv", "target-collect")
    assert third.returncode == 0, third.stderr[-3000:]
    assert [r["deal_id"] for r in records(root)[5:]] == ["1", "4", "9"]
