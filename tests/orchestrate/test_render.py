"""Rendering the runner config: Meltano schedules in each tenant's project, the Dagster workspace
in projects/_dagster/ (golden files), the drift gate over both, and the definitions Dagster loads
from them: tenants sharded over a few code locations, one repository per tenant, each job running
dagster-meltano's `meltano run` op in its own tenant's project."""

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
    # acme and initech hash to different shards of the default four; empty shards are left out.
    assert sorted(got) == [
        "dagster.yaml",
        "shard_0.json",
        "shard_0.py",
        "shard_2.json",
        "shard_2.py",
        "workspace.yaml",
    ]


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
        {"python_file": {"relative_path": "shard_0.py", "location_name": "shard_0"}},
        {"python_file": {"relative_path": "shard_2.py", "location_name": "shard_2"}},
    ]


def test_render_is_deterministic_and_checked(rendered: Path) -> None:
    again = api.render(rendered)
    assert again.written == [] and again.clean
    runner = rendered / "configs" / "runner.yaml"
    runner.write_text(RUNNER.replace('"30 2 * * *"', '"45 2 * * *"'))
    report = api.render(rendered, check=True)
    # The schedule lives in the tenant's project and in its shard's data.
    assert report.drifted == ["projects/initech/meltano.yml", "projects/_dagster/shard_0.json"]
    assert "-  interval: 30 2 * * *\n+  interval: 45 2 * * *\n" in report.diff
    runner.write_text(RUNNER.replace("concurrency_per_tenant: 2", "concurrency_per_tenant: 1"))
    assert api.render(rendered, check=True).drifted == ["projects/_dagster/dagster.yaml"]
    runner.write_text(RUNNER)
    location = rendered / "projects" / "_dagster" / "shard_2.py"
    location.write_text(location.read_text() + "print('hand edit')\n")
    assert api.render(rendered, check=True).drifted == ["projects/_dagster/shard_2.py"]
    # Moving a tenant to another shard moves its jobs and schedules with it.
    runner.write_text(RUNNER + "    shards: 1\n")
    report = api.render(rendered, check=True)
    assert (report.drifted, report.stale) == (
        ["projects/_dagster/workspace.yaml", "projects/_dagster/shard_0.json"],
        ["projects/_dagster/shard_2.json", "projects/_dagster/shard_2.py"],
    )
    runner.write_text(RUNNER)
    # Rendering one job re-renders the workspace too.
    api.render(rendered, [rendered / "configs" / "acme" / "deals_daily.yaml"])
    assert api.render(rendered, check=True).clean


def test_committed_projects_are_current(repo_root: Path) -> None:
    report = api.render(repo_root, check=True)
    assert report.clean, report.diff
    assert (repo_root / "projects" / "_dagster" / "shard_2.py").is_file()


# Loaded as Dagster loads a code location: every repository of the module.
PROBE = """
import json, sys
from dagster import DefaultScheduleStatus
from dagster._core.workspace.autodiscovery import loadable_targets_from_python_file
out = {}
for target in loadable_targets_from_python_file(sys.argv[1]):
    repo = target.target_definition
    out[repo.name] = {
        "jobs": {j.name: {"tags": dict(j.tags), "executor": j.executor_def.name,
                          "ops": sorted(n.name for n in j.nodes),
                          "retry": [j.op_retry_policy.max_retries, j.op_retry_policy.delay],
                          "project": j.resource_defs["meltano"].resource_fn(None).project_dir}
                 for j in repo.get_all_jobs()},
        "schedules": {s.name: {"cron": s.cron_schedule, "job": s.job_name,
                               "tz": s.execution_timezone,
                               "running": s.default_status == DefaultScheduleStatus.RUNNING}
                      for s in repo.schedule_defs},
    }
print(json.dumps(out))
"""


@pytest.mark.slow
def test_one_location_builds_each_tenant_in_its_own_project(repo: Path, tmp_path: Path) -> None:
    # One shard, both tenants, one process: each tenant's repository runs in its own project.
    (repo / "configs" / "runner.yaml").write_text(RUNNER + "    shards: 1\n")
    api.render(repo)
    assert sorted(p.name for p in (repo / "projects" / "_dagster").glob("shard_*")) == [
        "shard_0.json",
        "shard_0.py",
    ]
    env = environment(os.environ, DAGSTER_HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo / "projects" / "_dagster" / "shard_0.py")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(found) == ["acme", "initech"]
    op = "tap_gdrive_csv__deals_daily_target_iceberg__deals_daily"
    for tenant in ("acme", "initech"):
        job = found[tenant]["jobs"]["deals_daily"]
        assert job["tags"] == {"tenant": tenant}
        assert job["executor"] == "in_process"
        assert job["ops"] == [op]
        # The job's execution settings from the registry template: 2 retries, 30 s apart.
        assert job["retry"] == [2, 30]
        assert Path(job["project"]) == (repo / "projects" / tenant).resolve()
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
            str(rendered / "projects" / "_dagster" / "shard_0.py"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=environment(os.environ, DAGSTER_HOME=str(tmp_path)),
    )
    assert done.returncode == 1
    assert "projects/initech/meltano.yml does not exist; run `ingestgen render`" in done.stderr
