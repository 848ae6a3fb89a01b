"""A gdrive-csv job's loader, as rendered, commits nothing of a stream cut before its final STATE.

The real tap-gdrive-csv reads two files of one object (a STATE after the first file, the
final STATE last: the premise of the registry's ``require_final_state`` for this source); its
output cut before the final STATE goes to target-iceberg with the loader config rendered in
``projects/acme/`` (the catalog swapped for a local one). The loader exits 75, names the cut
and commits nothing; the whole output then lands every row once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyiceberg.catalog import load_catalog

from .loader import record, run_loader

pytestmark = [pytest.mark.faults]

ROOT = Path(__file__).parents[2]
DATA = ROOT / "plugins" / "tap-gdrive-csv" / "tests" / "data"
TAP = Path(sys.executable).parent / "tap-gdrive-csv"


def _rendered_loader_config() -> dict[str, Any]:
    """The config of the repository's rendered loader of acme's gdrive-csv job."""
    project = yaml.safe_load((ROOT / "projects" / "acme" / "meltano.yml").read_text())
    plugins = {p["name"]: p for kind in project["plugins"].values() for p in kind}
    for job in project["jobs"]:
        tap, loader = job["tasks"][0].split()
        if plugins[tap].get("inherit_from") == "tap-gdrive-csv":
            return dict(plugins[loader]["config"])
    raise AssertionError("projects/acme renders no gdrive-csv job")


def _tap_output(tmp_path: Path) -> list[str]:
    config = {
        "local_folder": str(DATA),
        "files": [
            {"file_id": "deals_2024_01.csv", "object": "deals"},
            {"file_id": "deals_2024_02.csv", "object": "deals"},
        ],
    }
    (tmp_path / "tap.json").write_text(json.dumps(config))
    result = subprocess.run(
        [str(TAP), "--config", str(tmp_path / "tap.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [line for line in result.stdout.splitlines() if line.strip()]


def _rows(props: dict[str, str]) -> list[tuple[str, str]] | None:
    """(deal_id, snapshot_date) of every row of acme.deals, sorted; None: no table."""
    catalog = load_catalog("default", **props)
    if not catalog.table_exists(("acme", "deals")):
        return None
    rows = catalog.load_table(("acme", "deals")).scan().to_arrow().to_pylist()
    return sorted((str(r["deal_id"]), str(r["snapshot_date"])) for r in rows)


def test_a_gdrive_stream_cut_before_its_final_state_commits_nothing(
    tmp_path: Path, record_property: Any
) -> None:
    started = time.monotonic()
    rendered = _rendered_loader_config()
    assert rendered["require_final_state"] is True

    lines = _tap_output(tmp_path)
    kinds = [json.loads(line)["type"] for line in lines]
    assert kinds[-1] == "STATE"  # the tap ends with its final STATE
    assert kinds.count("STATE") >= 2 and "RECORD" in kinds[kinds.index("STATE") :]
    cut = lines[:-1]  # the tap stopped after its last record, before its final STATE
    sent = sorted(
        (str(m["record"]["deal_id"]), str(m["record"]["snapshot_date"]))
        for m in map(json.loads, lines)
        if m["type"] == "RECORD"
    )

    (tmp_path / "warehouse").mkdir()
    props = {
        "type": "sql",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": (tmp_path / "warehouse").as_uri(),
    }
    keep = ("namespace", "tenant", "job", "require_final_state", "unknown_columns")
    config = {k: v for k, v in rendered.items() if k in keep}
    config |= {"catalog_properties": props, "catalog_name": "default"}

    stopped = run_loader(tmp_path / "cut", {**config, "run_id": "cut"}, "\n".join(cut) + "\n")
    assert stopped.code == 75, stopped.stderr[-3000:]
    line = stopped.error_line
    assert "after the tap's last STATE message: the tap stopped before it finished" in line, line
    assert "Traceback" not in stopped.stderr and stopped.states == []
    assert _rows(props) is None  # nothing committed: not even the table

    whole = run_loader(tmp_path / "whole", {**config, "run_id": "whole"}, "\n".join(lines) + "\n")
    assert whole.code == 0, whole.stderr[-3000:]
    assert _rows(props) == sent  # every row once
    record(
        record_property,
        "faults: tap dying mid-stream (rendered gdrive-csv loader)",
        "tap-gdrive-csv output cut before its final STATE (records after a STATE)",
        f"the rendered loader (require_final_state on) exits 75, nothing committed, no STATE; "
        f"the whole output lands its {len(sent)} rows once",
        started,
    )
