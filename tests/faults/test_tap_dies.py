"""The tap dying mid-stream in a real `meltano run`: nothing committed, a clear message, and
the next run lands every row exactly once.

Meltano closes the loader's input when the tap exits, however it exits, so the loader sees an
input that simply ends. It tells a stopped tap by the end of its input: a tap that finishes
ends with a STATE message, and records after the last STATE are covered by no bookmark. With
``require_final_state`` the loader then commits nothing, emits no STATE (so Meltano's bookmark
stays) and exits 75.

The project is a throw-away one: a tiny bookmarking tap (`dying_tap.py`) and this
environment's target-iceberg, neither installed by Meltano (no ``pip_url``), so the module
needs no `meltano install`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyiceberg.catalog import load_catalog

from ingestgen.meltano.tool import environment, executable

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

BIN = Path(sys.executable).parent
TAP = Path(__file__).with_name("dying_tap.py")
STREAMS = ("accounts", "deals", "notes")
STATE_ID = "dev:tap-dying-to-target-iceberg"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tap-dies")
    tap = root / "tap-dying"
    tap.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{TAP}" "$@"\n')
    tap.chmod(0o755)
    lake = root / ".lake"
    (lake / "warehouse").mkdir(parents=True)
    meltano_yml = {
        "project_id": "faults-tap-dies",
        "default_environment": "dev",
        "environments": [{"name": "dev"}],
        "plugins": {
            "extractors": [
                {
                    "name": "tap-dying",
                    "namespace": "tap_dying",
                    "executable": str(tap),
                    "capabilities": ["state"],
                }
            ],
            "loaders": [
                {
                    "name": "target-iceberg",
                    "namespace": "target_iceberg",
                    "executable": str(BIN / "target-iceberg"),
                    "settings": [
                        {"name": "namespace", "kind": "string"},
                        {"name": "tenant", "kind": "string"},
                        {"name": "catalog_properties", "kind": "object"},
                        {"name": "run_summary_path", "kind": "string"},
                        {"name": "require_final_state", "kind": "boolean"},
                    ],
                    "config": {
                        "namespace": "acme",
                        "tenant": "acme",
                        "catalog_properties": {
                            "type": "sql",
                            "uri": f"sqlite:///{lake / 'catalog.db'}",
                            "warehouse": (lake / "warehouse").as_uri(),
                        },
                        "run_summary_path": str(root / "summary.json"),
                        "require_final_state": True,
                    },
                }
            ],
        },
    }
    (root / "meltano.yml").write_text(yaml.safe_dump(meltano_yml, sort_keys=False))
    return root


def meltano(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable(), *args],
        cwd=project,
        env=environment(dict(os.environ), **env),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def ids(project: Path) -> dict[str, list[int]]:
    lake = project / ".lake"
    catalog = load_catalog(
        "default",
        type="sql",
        uri=f"sqlite:///{lake / 'catalog.db'}",
        warehouse=(lake / "warehouse").as_uri(),
    )
    found = {}
    for stream in STREAMS:
        if catalog.table_exists(("acme", stream)):
            table = catalog.load_table(("acme", stream))
            found[stream] = sorted(table.scan().to_arrow().column("id").to_pylist())
    return found


def bookmarks(project: Path) -> dict[str, Any]:
    """The bookmarks Meltano would give the next run (its system database, read directly)."""
    with sqlite3.connect(project / ".meltano" / "meltano.db") as db:
        row = db.execute(
            "SELECT completed_state, partial_state FROM state WHERE state_id = ?", (STATE_ID,)
        ).fetchone()
    completed, partial = (json.loads(v) if v else {} for v in row)
    assert not partial, partial  # the loader emits a STATE only after its commit
    return dict(completed["singer_state"]["bookmarks"])


def test_tap_dying_mid_stream_commits_nothing_and_the_rerun_lands_once(
    project: Path, record_property: Any
) -> None:
    started = time.monotonic()
    first = meltano(project, "run", "tap-dying", "target-iceberg", DYING_TAP_ROWS="10")
    assert first.returncode == 0, first.stderr[-3000:]
    assert ids(project) == {s: list(range(1, 11)) for s in STREAMS}
    assert bookmarks(project) == dict.fromkeys(STREAMS, 10)

    # 40 records past the bookmarks, then the tap dies (after a STATE at id 20, mid-way).
    dying = meltano(
        project,
        "run",
        "tap-dying",
        "target-iceberg",
        DYING_TAP_ROWS="30",
        DYING_TAP_FAIL_AFTER="40",
    )
    assert dying.returncode == 1, dying.stderr[-3000:]  # Meltano's code for a plugin failure
    assert "dying-tap: the source connection was reset mid-stream" in dying.stderr
    assert "after the tap's last STATE message: the tap stopped before it finished" in dying.stderr
    assert "Traceback" not in dying.stderr.split("dying-tap:")[-1].split("meltano")[0]
    summary = json.loads((project / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error_kind"] == "transient"
    assert ids(project) == {s: list(range(1, 11)) for s in STREAMS}  # nothing committed
    assert bookmarks(project) == dict.fromkeys(STREAMS, 10)  # the bookmark did not move

    again = meltano(project, "run", "tap-dying", "target-iceberg", DYING_TAP_ROWS="30")
    assert again.returncode == 0, again.stderr[-3000:]
    assert ids(project) == {s: list(range(1, 31)) for s in STREAMS}  # every row exactly once
    assert bookmarks(project) == dict.fromkeys(STREAMS, 30)

    record_property("category", "faults: tap dying mid-stream (meltano run)")
    record_property("case", "tap exits 2 after 40 of 60 records, past a STATE")
    record_property(
        "outcome",
        "meltano exits 1, the tap's error and the loader's 'tap stopped' line shown; loader "
        "transient (75), nothing committed, bookmark kept; re-run lands 30 rows/table once",
    )
    record_property("figures", f"{time.monotonic() - started:.1f} s, 3 meltano runs")
