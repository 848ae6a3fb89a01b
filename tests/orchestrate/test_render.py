"""Rendering the runner config: Meltano schedules in each tenant's project, the Dagster workspace
in projects/_dagster/ (golden files), the drift gate over both, and the definitions Dagster loads
from them through dagster-meltano (one tenant per process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ingestgen import api
from ingestgen.meltano.tool import environment

GOLDEN = Path(__file__).parent / "golden" / "_dagster"
RUNNER = """\
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
      - name: acme_daily
        config: configs/acme/deals_daily.yaml
        cron: "0 3 * * *"
      - name: initech_nightly
        config: /app/configs/initech/deals_daily.yaml
        cron: "30 2 * * *"
      - name: acme_weekly
        config: configs/acme/deals_daily.yaml
        cron: "0 6 * * 1"
    concurrency_per_tenant: 2
"""


@pytest.fixture
def rendered(repo: Path) -> Path:
    (repo / "configs" / "runner.yaml").write_text(RUNNER)
    api.render(repo)
    return repo


def test_workspace_matches_golden(rendered: Path, update_golden: bool) -> None:
    got = {p.name: p.read_text() for p in sorted((rendered / "projects" / "_dagster").iterdir())}
    if update_golden:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(rendered / "projects" / "_dagster", GOLDEN)
    expected = {p.name: p.read_text() for p in sorted(GOLDEN.iterdir())}
    assert got == expected
    assert sorted(got) == ["acme.py", "dagster.yaml", "initech.py", "workspace.yaml"]


def test_schedules_land_in_each_tenants_project(rendered: Path) -> None:
    def schedules(tenant: str) -> list[dict[str, str]]:
        data = yaml.safe_load((rendered / "projects" / tenant / "meltano.yml").read_text())
        assert {j["name"] for j in data["jobs"]} == {"deals_daily"}
        return list(data["schedules"])

    assert schedules("acme") == [
        {"name": "acme_daily", "job": "deals_daily", "interval": "0 3 * * *"},
        {"name": "acme_weekly", "job": "deals_daily", "interval": "0 6 * * 1"},
    ]
    assert schedules("initech") == [
        {"name": "initech_nightly", "job": "deals_daily", "interval": "30 2 * * *"}
    ]


def test_run_queue_limits_runs_per_tenant(rendered: Path) -> None:
    instance = yaml.safe_load((rendered / "projects" / "_dagster" / "dagster.yaml").read_text())
    assert instance["run_queue"]["tag_concurrency_limits"] == [
        {"key": "tenant", "value": {"applyLimitPerUniqueValue": True}, "limit": 2}
    ]
    workspace = yaml.safe_load((rendered / "projects" / "_dagster" / "workspace.yaml").read_text())
    assert workspace["load_from"] == [
        {"python_file": {"relative_path": "acme.py", "location_name": "acme"}},
        {"python_file": {"relative_path": "initech.py", "location_name": "initech"}},
    ]


def test_render_is_deterministic_and_checked(rendered: Path) -> None:
    again = api.render(rendered)
    assert again.written == [] and again.clean
    runner = rendered / "configs" / "runner.yaml"
    runner.write_text(RUNNER.replace('"30 2 * * *"', '"45 2 * * *"'))
    report = api.render(rendered, check=True)
    assert report.drifted == ["projects/initech/meltano.yml"]
    assert "-  interval: 30 2 * * *\n+  interval: 45 2 * * *\n" in report.diff
    runner.write_text(RUNNER.replace("concurrency_per_tenant: 2", "concurrency_per_tenant: 1"))
    assert api.render(rendered, check=True).drifted == ["projects/_dagster/dagster.yaml"]
    runner.write_text(RUNNER)
    location = rendered / "projects" / "_dagster" / "acme.py"
    location.write_text(location.read_text() + "print('hand edit')\n")
    assert api.render(rendered, check=True).drifted == ["projects/_dagster/acme.py"]
    # Rendering one job re-renders the workspace too.
    api.render(rendered, [rendered / "configs" / "acme" / "deals_daily.yaml"])
    assert api.render(rendered, check=True).clean


def test_committed_projects_are_current(repo_root: Path) -> None:
    report = api.render(repo_root, check=True)
    assert report.clean, report.diff
    assert (repo_root / "projects" / "_dagster" / "globex.py").is_file()


# Runs in a fresh interpreter per tenant: dagster-meltano keeps one Meltano project per process.
PROBE = """
import json, runpy, sys
from dagster import DefaultScheduleStatus
defs = runpy.run_path(sys.argv[1])["defs"]
repo = defs.get_repository_def()
print(json.dumps({
    "jobs": {j.name: {"tags": dict(j.tags), "executor": j.executor_def.name,
                      "ops": sorted(n.name for n in j.nodes),
                      "retry": [j.op_retry_policy.max_retries, j.op_retry_policy.delay]}
             for j in repo.get_all_jobs()},
    "schedules": {s.name: {"cron": s.cron_schedule, "job": s.job_name,
                           "tz": s.execution_timezone,
                           "running": s.default_status == DefaultScheduleStatus.RUNNING}
                  for s in repo.schedule_defs},
}))
"""


@pytest.mark.slow
def test_each_location_loads_its_own_tenant(rendered: Path, tmp_path: Path) -> None:
    env = environment(os.environ, DAGSTER_HOME=str(tmp_path))
    found = {}
    for tenant in ("acme", "initech"):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(rendered / "projects" / "_dagster" / f"{tenant}.py")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        found[tenant] = json.loads(done.stdout.strip().splitlines()[-1])
    op = "tap_gdrive_csv__deals_daily_target_iceberg__deals_daily"
    for tenant in ("acme", "initech"):
        job = found[tenant]["jobs"]["deals_daily"]
        assert job["tags"] == {"tenant": tenant}
        assert job["executor"] == "in_process"
        assert job["ops"] == [op]
        # The job's execution settings from the registry template: 2 retries, 30 s apart.
        assert job["retry"] == [2, 30]
    assert found["acme"]["schedules"] == {
        "acme_daily": {"cron": "0 3 * * *", "job": "deals_daily", "tz": None, "running": True},
        "acme_weekly": {"cron": "0 6 * * 1", "job": "deals_daily", "tz": None, "running": True},
    }
    assert found["initech"]["schedules"] == {
        "initech_nightly": {"cron": "30 2 * * *", "job": "deals_daily", "tz": None, "running": True}
    }


def test_location_refuses_a_missing_project(rendered: Path, tmp_path: Path) -> None:
    shutil.rmtree(rendered / "projects" / "initech")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import runpy, sys; runpy.run_path(sys.argv[1])",
            str(rendered / "projects" / "_dagster" / "initech.py"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert done.returncode == 1
    assert "projects/initech/meltano.yml does not exist; run `ingestgen render`" in done.stderr
