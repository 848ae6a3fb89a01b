"""A render of many tenants runs on every core and gives what a serial render gives.

`ingestgen.render.parallel` cuts the tenants (and the job files) into slices, one per forked
worker; these tests run ``ingestgen render`` on the same repository serially
(``INGESTGEN_WORKERS=1``) and with two workers and compare every byte written, and every problem
reported for bad job files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingestgen.errors import ConfigError
from ingestgen.render import parallel
from ingestgen.render.repository import rendered

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TENANTS = 2 * parallel.MIN_PER_WORKER + 3
JOB = """\
tenant_id: {tenant}
source:
  type: gdrive_csv
  local_folder: configs/{tenant}/data
  files:
    - file_id: deals_2026_11_24.csv
      object: deals_daily
target:
  type: iceberg
  catalog: embedded
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""


def _many_tenants(root: Path) -> None:
    data = REPO / "configs" / "acme" / "data" / "deals_2026_11_24.csv"
    schedules = []
    for index in range(TENANTS):
        tenant = f"t{index:03d}"
        (root / "configs" / tenant / "data").mkdir(parents=True)
        shutil.copyfile(data, root / "configs" / tenant / "data" / data.name)
        (root / "configs" / tenant / "deals_daily.yaml").write_text(JOB.format(tenant=tenant))
        schedules.append(
            f"      - {{name: {tenant}_daily, config: configs/{tenant}/deals_daily.yaml, "
            f'cron: "{index % 60} 3 * * *"}}\n'
        )
    (root / "configs" / "runner.yaml").write_text(
        "runner:\n  mode: orchestrated\n  orchestrator:\n    type: dagster\n"
        "    concurrency_per_tenant: 1\n    shards: 3\n    schedules:\n" + "".join(schedules)
    )


def _cli(root: Path, workers: int) -> subprocess.CompletedProcess[str]:
    # A fresh process, as users run it (one that runs no other thread, so it forks).
    return subprocess.run(
        [str(BIN / "ingestgen"), "render", "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "INGESTGEN_WORKERS": str(workers)},
    )


def _files(root: Path) -> dict[str, bytes]:
    projects = root / "projects"
    found = sorted(p for p in projects.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in found}


def test_two_workers_render_every_byte_a_serial_render_does(
    sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many_tenants(sandbox)
    monkeypatch.setenv("INGESTGEN_WORKERS", "2")
    assert parallel.workers_for(TENANTS) == 2
    other = tmp_path / "other"
    shutil.copytree(sandbox, other, symlinks=True)
    serial, forked = _cli(sandbox, 1), _cli(other, 2)
    assert (serial.returncode, forked.returncode) == (0, 0), forked.stderr[-3000:]
    assert _files(other) == _files(sandbox)
    assert len(list((sandbox / "projects").glob("*/meltano.yml"))) == TENANTS
    assert "t130_daily" in (other / "projects" / "t130" / "meltano.yml").read_text()
    # And in this process (serial when other threads run here), the same files again.
    assert {f.path: f.text.encode() for f in rendered(sandbox)}.items() <= _files(other).items()


def test_two_workers_report_every_problem_a_serial_render_does(sandbox: Path) -> None:
    _many_tenants(sandbox)
    # One bad file in each worker's slice.
    for tenant in ("t001", "t129"):
        path = sandbox / "configs" / tenant / "deals_daily.yaml"
        path.write_text(path.read_text().replace("type: iceberg", "type: icebreg"))
    serial, forked = _cli(sandbox, 1), _cli(sandbox, 2)
    assert serial.returncode == forked.returncode == 2, serial.stderr[-3000:]
    assert forked.stdout == serial.stdout and forked.stderr == serial.stderr
    report = serial.stdout + serial.stderr
    assert "configs/t001/deals_daily.yaml" in report and "configs/t129/deals_daily.yaml" in report
    assert "icebreg" in report and "Traceback" not in report
    assert not list((sandbox / "projects").iterdir())  # nothing written
    with pytest.raises(ConfigError) as caught:
        rendered(sandbox)
    assert {p.file for p in caught.value.problems} == {
        "configs/t001/deals_daily.yaml",
        "configs/t129/deals_daily.yaml",
    }


def test_few_tenants_are_rendered_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGESTGEN_WORKERS", "8")
    assert parallel.workers_for(parallel.MIN_PER_WORKER - 1) == 1
    assert parallel.workers_for(3 * parallel.MIN_PER_WORKER) == 3
    monkeypatch.setenv("INGESTGEN_WORKERS", "1")
    assert parallel.workers_for(10_000) == 1
