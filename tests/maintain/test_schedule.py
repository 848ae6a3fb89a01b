"""Maintenance schedules: runner.yaml's ``maintenance.tenants.<id>.cron`` as a Dagster schedule.

Definitions-level (no daemon): the tenant's shard (code location) is loaded in a fresh interpreter
(dagster-meltano keeps one Meltano project per process), its maintenance job is checked to
carry the tenant tag the run queue limits on, and run in process; the table is then compacted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from ingestgen import api

from .conftest import Load, write_runner

pytestmark = [pytest.mark.upkeep, pytest.mark.slow]

PROBE = """
import json, runpy, sys
from dagster import DefaultScheduleStatus, DagsterInstance
repo = runpy.run_path(sys.argv[1])["tenant_acme"]
upkeep = repo.get_job("ingestgen_maintain")
result = upkeep.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
print(json.dumps({
    "jobs": {j.name: dict(j.tags) for j in repo.get_all_jobs()},
    "schedules": {s.name: {"cron": s.cron_schedule, "job": s.job_name,
                           "running": s.default_status == DefaultScheduleStatus.RUNNING}
                  for s in repo.schedule_defs},
    "success": result.success,
}))
"""


def test_maintenance_schedule_runs_in_the_tenants_queue(
    repo: Path, catalog: Catalog, load: Load, tmp_path: Path
) -> None:
    write_runner(
        repo,
        "    defaults: {keep_days: 0, keep_snapshots: 1}\n"
        "    tenants:\n      acme: {cron: '30 4 * * *'}\n",
        mode="orchestrated",
    )
    api.render(repo)
    # acme's shard: its code location module and the data it lists.
    location = next(
        p
        for p in sorted((repo / "projects" / "_dagster").glob("shard_*.py"))
        if "acme" in json.loads(p.with_suffix(".json").read_text())["tenants"]
    )
    shard = json.loads(location.with_suffix(".json").read_text())
    assert shard["tenants"]["acme"]["maintenance_cron"] == "30 4 * * *"
    dagster_yaml = (repo / "projects" / "_dagster" / "dagster.yaml").read_text()
    assert "key: tenant" in dagster_yaml
    for n in range(4):
        load([{"id": n, "name": "x"}], state={"n": n})
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(location)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["schedules"]["acme_maintain"] == {
        "cron": "30 4 * * *",
        "job": "ingestgen_maintain",
        "running": True,
    }
    # Tagged like the loads: the run queue's tenant limit holds one back while the other runs.
    assert found["jobs"]["ingestgen_maintain"]["tenant"] == "acme"
    assert found["jobs"]["deals_daily"]["tenant"] == "acme"
    assert found["success"] is True
    table = catalog.load_table(("acme", "events"))
    assert len(list(table.scan().plan_files())) == 1
    assert len(table.snapshots()) == 1
    assert len(table.scan().to_arrow()) == 4
