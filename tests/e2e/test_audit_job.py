"""Write-audit-publish end to end: a job with target.audit rendered by ingestgen, run by
`meltano run`; a passing run is published, a failing one keeps main and its branch, which
`ingestgen audit` shows and publishes by hand."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pyiceberg.catalog import load_catalog

from ingestgen.cli.console import cli
from ingestgen.meltano.tool import environment

from .test_demo_job import meltano

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.wap]
BIN = Path(sys.executable).parent


def ingestgen(root: Path, *args: str) -> Result:
    # In-process (the CLI's own code path): a subprocess would only add interpreter start-ups.
    return CliRunner().invoke(cli, [*args, "--root", str(root)])


def rows(project: Path) -> int:
    catalog = load_catalog(
        "acme_embedded",
        type="sql",
        uri=f"sqlite:///{project}/.lake/catalog.db",
        warehouse=f"file://{project}/.lake/warehouse",
    )
    return catalog.load_table(("acme", "deals_daily")).scan().to_arrow().num_rows


def test_audited_job_publishes_a_good_run_and_keeps_a_bad_one(
    sandbox: Path, repo_root: Path
) -> None:
    configs = sandbox / "configs" / "acme"
    shutil.copytree(repo_root / "configs" / "acme", configs)
    job = configs / "deals_daily.yaml"
    job.write_text(
        job.read_text().replace(
            "  catalog: embedded\n", "  catalog: embedded\n  audit: {enabled: true, on_fail: 1}\n"
        )
    )
    done = ingestgen(sandbox, "render")
    assert done.exit_code == 0, done.output
    project = sandbox / "projects" / "acme"
    assert meltano(project, "install").returncode == 0

    good = meltano(project, "run", "deals_daily")
    assert good.returncode == 0, good.stderr[-3000:]
    assert rows(project) == 50
    assert ingestgen(sandbox, "audit", "acme").stdout.strip() == (
        "no run is kept on an audit branch"
    )

    # A changed file with a stage the spec does not accept: the audit fails, main keeps 50 rows.
    data = configs / "data" / "deals_2026_11_25.csv"
    text = data.read_text().replace(",proposal,", ",bogus,", 1)
    time.sleep(1.1)  # a newer modification time: the tap reads the file again
    data.write_text(text)
    # Through `ingestgen run`, which writes the run record: its audit block says what failed.
    bad = subprocess.run(
        [str(BIN / "ingestgen"), "run", str(job), "--output", "json", "--no-install"],
        cwd=sandbox,
        env=environment(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert bad.returncode == 1, bad.stderr[-3000:]
    assert "accepted_values.stage" in bad.stderr and "main is unchanged" in bad.stderr
    assert rows(project) == 50
    record = json.loads(bad.stdout)
    kept = project / ".meltano" / "runs" / "deals_daily" / f"{record['run_id']}.json"
    assert json.loads(kept.read_text())["audit"] == record["audit"]
    audit = record["audit"]
    assert audit["branch"] == f"ingestgen-audit-{record['run_id']}"
    assert (audit["passed"], audit["published"], audit["on_fail"]) == (False, False, 1)
    assert "acme.deals_daily accepted_values.stage" in audit["failing"]
    checks = {c["check"]: c for c in audit["checks"] if c["table"] == "acme.deals_daily"}
    stage = checks["accepted_values.stage"]
    assert stage["passed"] is False and stage["figures"]["outside"] == 1
    assert "won" in stage["figures"]["allowed"]
    assert checks["row_count"]["passed"] is True
    assert checks["row_count"]["figures"]["rows"] == 25
    assert checks["unique_key"]["figures"]["duplicate_keys"] == 25
    assert audit["snapshots"]["acme.deals_daily"] > 0
    assert record["exit_code"] == 1 and "the audit failed" in record["reason"]

    shown = ingestgen(sandbox, "audit", "acme", "deals_daily")
    assert shown.exit_code == 1, shown.output
    assert "FAIL acme.deals_daily accepted_values.stage: 1 row(s) outside" in shown.stdout
    assert "FAIL acme.deals_daily unique_key" in shown.stdout  # the file's rows came again
    run_id = shown.stdout.split()[1]
    # A person decides the run is fine after all: main moves to it and its bookmark is recorded,
    # so the next run does not read the file again.
    published = ingestgen(sandbox, "audit", "acme", "--publish", run_id)
    assert published.exit_code == 0, published.output
    assert f"published run {run_id}" in published.stdout
    assert rows(project) == 75
    assert ingestgen(sandbox, "audit", "acme").exit_code == 0
    state_id = "dev:tap-gdrive-csv--deals_daily-to-target-iceberg--deals_daily"
    state = meltano(project, "state", "get", state_id)
    assert state.returncode == 0, state.stderr[-2000:]
    assert "deals_2026_11_25.csv" in state.stdout
