"""A render of many tenants runs on every core and gives what a serial render gives.

`ingestgen.render.parallel` cuts the tenants (and the job files) into slices, one per forked
worker; these tests render the same repository serially (``INGESTGEN_WORKERS=1``) and with two
workers and compare every byte, and every problem reported for bad job files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingestgen.errors import ConfigError
from ingestgen.render import parallel
from ingestgen.render.repository import rendered

REPO = Path(__file__).resolve().parents[2]
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


def _render(root: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("INGESTGEN_WORKERS", str(workers))
    assert parallel.workers_for(TENANTS) == workers
    return {f.path: f.text for f in rendered(root)}


def test_two_workers_render_every_byte_a_serial_render_does(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many_tenants(sandbox)
    serial = _render(sandbox, 1, monkeypatch)
    forked = _render(sandbox, 2, monkeypatch)
    assert list(forked) == list(serial)  # same files, same order
    assert forked == serial
    assert len([p for p in serial if p.endswith("/meltano.yml")]) == TENANTS
    assert "t130_daily" in serial["projects/t130/meltano.yml"]


def test_two_workers_report_every_problem_a_serial_render_does(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many_tenants(sandbox)
    # One bad file in each worker's slice, and one that resolves badly.
    for tenant in ("t001", "t129"):
        path = sandbox / "configs" / tenant / "deals_daily.yaml"
        path.write_text(path.read_text().replace("type: iceberg", "type: icebreg"))
    problems = []
    for workers in (1, 2):
        with pytest.raises(ConfigError) as caught:
            _render(sandbox, workers, monkeypatch)
        problems.append(caught.value.problems)
    assert problems[0] == problems[1]
    assert {p.file for p in problems[0]} == {
        "configs/t001/deals_daily.yaml",
        "configs/t129/deals_daily.yaml",
    }
    assert "icebreg" in str(problems[0])


def test_few_tenants_are_rendered_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGESTGEN_WORKERS", "8")
    assert parallel.workers_for(parallel.MIN_PER_WORKER - 1) == 1
    assert parallel.workers_for(3 * parallel.MIN_PER_WORKER) == 3
    monkeypatch.setenv("INGESTGEN_WORKERS", "1")
    assert parallel.workers_for(10_000) == 1
