"""ingestgen's own catalog reads against a hung REST catalog: ``plan``, ``report`` and
``maintain`` give up after ``INGESTGEN_CATALOG_TIMEOUT_S`` (the loader's kind of timeout), say
which project, loader and address did not answer and what to raise, and end with their
documented exit codes: ``maintain`` 1 (a catalog failed), ``report`` 0 with the catalog under
its notes, ``plan`` with the table compared with its spec alone.

The hang is the fault tests' proxy in front of the session's reference REST catalog, stopped
forwarding: the connection is accepted and no answer ever comes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ingestgen import api
from ingestgen.record.model import Outcome, RunFacts, build_record, parse_summary

from .faulty_proxy import FaultyProxy
from .loader import record

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import TenantS3

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TENANT = "hung"
TIMEOUT_S = 2
JOB = (Path(__file__).parents[1] / "orchestrate" / "job.yaml.in").read_text()
CATEGORY = "faults: services hanging (REST catalog, Nessie API, S3)"
LIMIT_S = 120  # a command that ignored the timeout would hang: fail it instead
INGESTGEN = Path(sys.executable).parent / "ingestgen"


def ingestgen(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(INGESTGEN), *args], capture_output=True, text=True, check=False, timeout=LIMIT_S
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"ingestgen {' '.join(args)} hung for {LIMIT_S} s") from None


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        check=True,
    )


def write_record(sandbox: Path) -> None:
    """One run record of the job, naming a snapshot: the report looks it up in the catalog."""
    summary = {
        "run_id": "r1",
        "namespace": TENANT,
        "tenant": TENANT,
        "job": "deals_daily",
        "status": "success",
        "streams": {
            "deals_daily": {"table": f"{TENANT}.deals_daily", "rows_read": 5, "rows_landed": 5,
                            "snapshot_id": 42, "files": 1, "bytes": 100},
        },
    }  # fmt: skip
    now = time.time()
    facts = RunFacts(
        tenant=TENANT,
        job="deals_daily",
        run_id="r1",
        state_id="dev:x",
        extractor="tap-gdrive-csv--deals_daily",
        loader="target-iceberg--deals_daily",
        streams=["deals_daily"],
        source_type="gdrive_csv",
        catalog=f"{TENANT}_rest",
        started_at=now - 5,
        ended_at=now,
        summary=parse_summary(summary),
    )
    data = build_record(facts, Outcome("success", 0, "everything landed"))
    runs = sandbox / "projects" / TENANT / ".meltano" / "runs" / "deals_daily"
    runs.mkdir(parents=True)
    (runs / "r1.json").write_text(json.dumps(data))


def test_plan_report_and_maintain_give_up_on_a_hung_catalog(
    sandbox: Path,
    repo_root: Path,
    rest_proxy: FaultyProxy,
    tenant_s3: Callable[[str], TenantS3],
    monkeypatch: pytest.MonkeyPatch,
    record_property: Any,
) -> None:
    started = time.monotonic()
    keys = tenant_s3(TENANT)
    env = {
        "ICEBERG_REST_URI": rest_proxy.url,
        "S3_ENDPOINT": keys.endpoint,
        "AWS_REGION": keys.region,
        "INGESTGEN_CATALOG_TIMEOUT_S": str(TIMEOUT_S),
        **keys.env(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    folder = sandbox / "configs" / TENANT
    shutil.copytree(repo_root / "configs" / "acme" / "data", folder / "data")
    git(sandbox, "init", "-q", "-b", "main")
    git(sandbox, "add", "-A")
    git(sandbox, "commit", "-q", "-m", "before the job")
    job = JOB.format(tenant=TENANT).replace("catalog: embedded", "catalog: rest")
    (folder / "deals_daily.yaml").write_text(job)
    api.render(sandbox)
    write_record(sandbox)
    rest_proxy.stall()
    located = (
        f"projects/{TENANT}/meltano.yml, loader target-iceberg--deals_daily: the Iceberg "
        f"catalog at {rest_proxy.url} did not answer GET /v1/config within {TIMEOUT_S} s"
    )
    fix = "set INGESTGEN_CATALOG_TIMEOUT_S to change it"

    upkeep = ingestgen("maintain", TENANT, "--root", str(sandbox))
    assert upkeep.returncode == 1, upkeep.stderr  # a catalog failed: the documented 1
    assert located in upkeep.stdout and fix in upkeep.stdout, upkeep.stdout
    assert "Traceback" not in upkeep.stdout + upkeep.stderr

    report = ingestgen("report", TENANT, "--root", str(sandbox), "--output", "json")
    assert report.returncode == 0, report.stderr
    notes = json.loads(report.stdout)["notes"]
    assert any(located in n and fix in n for n in notes), notes

    plan = ingestgen("plan", "--root", str(sandbox))
    assert plan.returncode == 1, plan.stderr  # new files and a new table: changes
    compared = [ln for ln in plan.stdout.splitlines() if "compared with:" in ln]
    assert len(compared) == 1 and "the spec alone" in compared[0], plan.stdout
    assert located in compared[0] and fix in compared[0], compared

    record(
        record_property,
        CATEGORY,
        f"REST catalog hangs under ingestgen plan, report, maintain "
        f"(INGESTGEN_CATALOG_TIMEOUT_S={TIMEOUT_S})",
        "each gives up after the timeout, naming the project, loader, catalog URI and the "
        "variable to raise: maintain exits 1, report lists it in its notes (0), plan compares "
        "the table with its spec alone",
        started,
    )
