"""Meltano end to end: install the tap with the connector in one venv, select, run, resume.

`meltano install` builds the tap's virtualenv from pip_url `-e <plugin> airbyte-source-faker`,
so the connector is found by its bare name in the tap's own venv. Meltano's `select` rules
reach the connector as its configured catalog, and the second `meltano run` resumes from the
Airbyte state that Meltano stored. The loader is a 15-line Singer target that appends records
to a JSON-lines file and echoes the last STATE, as every target must for Meltano to store it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BIN = Path(sys.executable).parent
PLUGIN = Path(__file__).resolve().parents[1]
ERRORS = PLUGIN.parent / "plugin-errors"  # the plugins' error convention, installed alongside

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


def project(root: Path, faker_version: str) -> dict[str, Any]:
    target = root / "target_collect.py"
    target.write_text(TARGET.format(records=str(root / "records.jsonl")))
    wrapper = root / "target-collect"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {target} "$@"\n')
    wrapper.chmod(0o755)
    return {
        "default_environment": "dev",
        "environments": [{"name": "dev"}],
        "project_id": "tap-airbyte-bridge-e2e",
        "send_anonymous_usage_stats": False,
        "plugins": {
            "extractors": [
                {
                    "name": "tap-airbyte-bridge",
                    "namespace": "tap_airbyte_bridge",
                    "pip_url": f"-e {ERRORS} -e {PLUGIN} airbyte-source-faker=={faker_version}",
                    "executable": "tap-airbyte-bridge",
                    "capabilities": ["catalog", "discover", "state", "about"],
                    "settings": [
                        {"name": "connector", "kind": "object"},
                        {"name": "airbyte_config", "kind": "object", "sensitive": True},
                    ],
                    "config": {
                        "connector": {"python": {"executable": "source-faker"}},
                        "airbyte_config": {
                            "count": 15,
                            "seed": 3,
                            "records_per_slice": 5,
                            "always_updated": False,
                            "parallelism": 1,
                        },
                    },
                    "select": ["users.*", "products.*", "!products.price"],
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
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TAP_AIRBYTE_BRIDGE_", "AIRBYTE_", "MELTANO_", "VIRTUAL_ENV"))
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
        timeout=600,
        check=False,
    )


def records(root: Path) -> list[dict[str, Any]]:
    path = root / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_meltano_install_select_run_and_resume(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "meltano.yml").write_text(yaml.safe_dump(project(root, "7.2.1")))

    installed = meltano(root, "install", "extractor", "tap-airbyte-bridge")
    assert installed.returncode == 0, installed.stderr[-3000:]
    venv_bin = root / ".meltano" / "extractors" / "tap-airbyte-bridge" / "venv" / "bin"
    assert (venv_bin / "source-faker").exists()

    first = meltano(root, "run", "tap-airbyte-bridge", "target-collect")
    assert first.returncode == 0, first.stderr[-3000:]
    rows = records(root)
    assert Counter(row["stream"] for row in rows) == {"users": 15, "products": 15}
    assert all("price" not in row for row in rows if row["stream"] == "products")
    assert {row["id"] for row in rows if row["stream"] == "users"} == set(range(1, 16))

    state = meltano(root, "state", "get", "dev:tap-airbyte-bridge-to-target-collect")
    assert state.returncode == 0, state.stderr[-3000:]
    streams = json.loads(state.stdout)["singer_state"]["airbyte"]["streams"]
    assert sorted(streams) == ["products", "users"]
    assert streams["users"]["stream"]["stream_state"]["loop_offset"] == 15

    second = meltano(root, "run", "tap-airbyte-bridge", "target-collect")
    assert second.returncode == 0, second.stderr[-3000:]
    assert len(records(root)) == len(rows)  # the connector resumed: nothing new

    # The connector's own messages reach Meltano's log through the tap's logger.
    assert "Finished syncing SourceFaker" in second.stderr
