"""`ingestgen render`: the committed projects, the drift gate, partial renders and output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from ingestgen.cli.console import cli

CASES = Path(__file__).parents[1] / "cases"


def test_committed_projects_match_a_fresh_render(repo_root: Path) -> None:
    # The GitOps gate, exactly as CI and users run it.
    done = subprocess.run(
        [sys.executable, "-m", "ingestgen", "render", "--check"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "drift" not in done.stdout


def _case(sandbox: Path, case: str) -> Path:
    shutil.rmtree(sandbox / "configs")
    shutil.copytree(CASES / case / "configs", sandbox / "configs")
    return sandbox


def test_check_reports_drift_with_a_diff_and_exit_1(sandbox: Path) -> None:
    root = _case(sandbox, "two_tenants")
    assert CliRunner().invoke(cli, ["render", "--root", str(root)]).exit_code == 0
    project = root / "projects" / "acme" / "meltano.yml"
    project.write_text(project.read_text().replace("namespace: acme", "namespace: hacked"))
    result = CliRunner().invoke(cli, ["render", "--root", str(root), "--check"])
    assert result.exit_code == 1
    assert "--- a/projects/acme/meltano.yml\n+++ b/projects/acme/meltano.yml" in result.stdout
    assert "-      namespace: hacked\n+      namespace: acme" in result.stdout
    assert "drift projects/acme/meltano.yml: differs from a fresh render" in result.stdout
    assert "initech" not in result.stdout.split("drift")[-1]
    # --check never writes.
    assert "namespace: hacked" in project.read_text()


def test_check_reports_a_missing_project(sandbox: Path) -> None:
    root = _case(sandbox, "engine_default")
    result = CliRunner().invoke(cli, ["render", "--root", str(root), "--check", "--output", "json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["status"] == "drift"
    assert payload["drifted"] == ["projects/acme/meltano.yml"]
    assert payload["diff"].startswith("--- /dev/null\n+++ b/projects/acme/meltano.yml")


def test_stale_project_is_reported_not_deleted(sandbox: Path) -> None:
    root = _case(sandbox, "two_tenants")
    CliRunner().invoke(cli, ["render", "--root", str(root)])
    shutil.rmtree(root / "configs" / "initech")
    result = CliRunner().invoke(cli, ["render", "--root", str(root), "--check"])
    assert result.exit_code == 1
    assert (
        "stale projects/initech/meltano.yml: no job or runner config renders it any more"
        in result.stdout
    )
    assert (root / "projects" / "initech" / "meltano.yml").exists()


def test_rendering_one_job_renders_its_whole_tenant(sandbox: Path) -> None:
    root = _case(sandbox, "two_jobs_one_tenant")
    one = root / "configs" / "acme" / "contacts.yaml"
    result = CliRunner().invoke(cli, ["render", "--root", str(root), str(one)])
    assert result.exit_code == 0, result.output
    project = yaml.safe_load((root / "projects" / "acme" / "meltano.yml").read_text())
    assert [j["name"] for j in project["jobs"]] == ["contacts", "deals_daily"]


def test_rendered_project_shape(sandbox: Path) -> None:
    root = _case(sandbox, "two_jobs_one_tenant")
    CliRunner().invoke(cli, ["render", "--root", str(root)])
    text = (root / "projects" / "acme" / "meltano.yml").read_text()
    project = yaml.safe_load(text)
    plugins = project["plugins"]["extractors"] + project["plugins"]["loaders"]
    bases = [p for p in plugins if "inherit_from" not in p]
    assert {p["name"] for p in bases} == {"tap-gdrive-csv", "tap-hubspot", "target-iceberg"}
    for plugin in bases:  # complete definitions: Meltano never asks its Hub
        assert plugin["namespace"] and plugin["pip_url"] and plugin["executable"]
    names = [p["name"] for p in plugins]
    assert len(names) == len(set(names))
    assert project["cli"] == {"disable_version_check": True}
    assert project["send_anonymous_usage_stats"] is False
    # Secrets stay environment references.
    hubspot = next(p for p in plugins if p["name"] == "tap-hubspot--contacts")
    assert hubspot["config"]["client_secret"] == "${ACME__HUBSPOT_CLIENT_SECRET}"
    assert hubspot["config"]["refresh_token"] == "${ACME__HUBSPOT_REFRESH_TOKEN}"
    assert hubspot["select"] == ["contacts.*"]
    tasks = {j["name"]: j["tasks"] for j in project["jobs"]}
    assert tasks == {
        "contacts": ["tap-hubspot--contacts target-iceberg--contacts"],
        "deals_daily": ["tap-gdrive-csv--deals_daily target-iceberg--deals_daily"],
    }


def test_validate_text_output(repo_root: Path) -> None:
    result = CliRunner().invoke(
        cli, ["validate", "--root", str(repo_root), str(repo_root / "configs" / "acme")]
    )
    assert result.exit_code == 0
    assert (
        "ok  configs/acme/deals_daily.yaml: tenant acme, job deals_daily, gdrive_csv via "
        "native -> iceberg via native, streams deals_daily"
    ) in result.stdout


def test_root_without_registry(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert f"--root {tmp_path} has no registry/ folder" in result.stderr


def test_no_repository_above_the_working_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ingestgen", "validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert (
        "no ingestgen repository (a folder with registry/ and configs/) at or above" in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_registry_missing(sandbox: Path) -> None:
    (sandbox / "registry" / "connectors.yaml").unlink()
    result = CliRunner().invoke(cli, ["validate", "--root", str(sandbox)])
    assert result.exit_code == 2
    assert "registry/connectors.yaml: the connector registry is missing" in result.stderr


def test_stale_dagster_workspace_is_reported(sandbox: Path, repo_root: Path) -> None:
    root = _case(sandbox, "two_tenants")
    shutil.copy(
        repo_root / "configs" / "examples" / "runner.yaml", root / "configs" / "runner.yaml"
    )
    (root / "configs" / "examples").mkdir()
    shutil.copy(repo_root / "configs" / "examples" / "stripe.yaml", root / "configs" / "examples")
    assert CliRunner().invoke(cli, ["render", "--root", str(root)]).exit_code == 0
    assert (root / "projects" / "_dagster" / "workspace.yaml").exists()
    (root / "configs" / "runner.yaml").unlink()
    result = CliRunner().invoke(cli, ["render", "--root", str(root), "--check"])
    assert result.exit_code == 1
    assert "stale projects/_dagster/workspace.yaml: no job or runner config renders it" in (
        result.stdout
    )
