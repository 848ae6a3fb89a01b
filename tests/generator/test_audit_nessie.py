"""`ingestgen audit` on a Nessie job: the runs kept on their own Nessie branches, shown, published
(merged into the tenant's branch) or discarded (the branch deleted).

No Nessie server runs here: ``fake_nessie`` answers Nessie's API v2 and checks every request
against Nessie's published OpenAPI document; the tables of each run branch live in an embedded
SQLite catalog standing in for Nessie's Iceberg endpoint at that branch (what Nessie's merge
does to the tables is not proven here). The kept run is made by the loader itself, with the
rendered project's own loader configuration.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from ingestgen_services.nessie_api import nessie_error

from ingestgen.cli.console import cli
from ingestgen.meltano.project import Project
from ingestgen.meltano.tool import expand
from target_iceberg import nessie as wap_nessie
from target_iceberg.errors import AuditFailedError, CommitError
from target_iceberg.target import TargetIceberg

if TYPE_CHECKING:
    from ingestgen_services.nessie_api import FakeNessie

pytestmark = pytest.mark.wap
CASE = (
    Path(__file__).parents[1] / "cases" / "nessie_branch" / "configs" / "acme" / "deals_daily.yaml"
)
PROPS = {
    "deal_id": {"type": "integer"},
    "snapshot_date": {"type": "string", "format": "date"},
    "account": {"type": "string"},
    "stage": {"type": "string"},
    "amount": {"type": "number"},
    "currency": {"type": "string"},
    "probability": {"type": "number"},
    "is_won": {"type": "boolean"},
    "updated_at": {"type": "string", "format": "date-time"},
}


def _record(deal: int, stage: str) -> dict[str, Any]:
    row = {
        "deal_id": deal,
        "snapshot_date": "2026-11-24",
        "account": "Initech",
        "stage": stage,
        "amount": 100.0,
        "currency": "EUR",
        "probability": 0.5,
        "is_won": False,
        "updated_at": "2026-11-24T16:13:00Z",
    }
    return {"type": "RECORD", "stream": "deals_daily", "record": row}


@pytest.fixture
def project(
    sandbox: Path, fake_nessie: FakeNessie, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """The rendered Nessie job with audit on, and its Nessie and Iceberg stand-ins."""
    job = sandbox / "configs" / "acme" / "deals_daily.yaml"
    job.parent.mkdir(parents=True)
    job.write_text(
        CASE.read_text().replace(
            "  branch: acme__sales\n",
            "  branch: acme__sales\n  audit: {enabled: true, on_fail: 1}\n",
        )
    )
    done = CliRunner().invoke(cli, ["render", "--root", str(sandbox)])
    assert done.exit_code == 0, done.output
    env = {
        "NESSIE_URI": fake_nessie.api_uri,
        "NESSIE_ICEBERG_URI": "http://127.0.0.1:9/iceberg",  # never called: see below
        "S3_ENDPOINT": "http://127.0.0.1:9",
        "AWS_REGION": "us-east-1",
        "ACME__S3_ACCESS_KEY_ID": "k",
        "ACME__S3_SECRET_ACCESS_KEY": "s",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def at_branch(properties: Any, branch: str, other: str) -> dict[str, str]:
        (tmp_path / other).mkdir(exist_ok=True)
        return {
            "type": "sql",
            "uri": f"sqlite:///{tmp_path / other / 'catalog.db'}",
            "warehouse": (tmp_path / other).as_uri(),
        }

    monkeypatch.setattr(wap_nessie, "branch_properties", at_branch)
    return sandbox / "projects" / "acme"


def _failing_run(
    project: Path, run_id: str, stage: str = "bogus", error: type = AuditFailedError
) -> None:
    """The loader with the project's own configuration; a stage the spec does not accept."""
    config = Project.read(project).jobs["deals_daily"].loader.config
    env = {**os.environ, "MELTANO_PROJECT_ROOT": str(project)}
    text = expand(json.dumps(config), env)
    settings = {**json.loads(text), "run_id": run_id, "commit_mode": "per_table"}
    schema = {"type": "SCHEMA", "stream": "deals_daily", "schema": {"properties": PROPS}}
    lines = [schema, _record(1, "won"), _record(2, stage)]
    target = TargetIceberg(config=settings)
    data = io.StringIO("".join(json.dumps(m) + "\n" for m in lines))
    with redirect_stdout(io.StringIO()):
        target.process_lines(data)
        with pytest.raises(error):
            target.process_endofpipe()


def _audit(root: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["audit", "acme", *args, "--root", str(root)])


def test_a_kept_nessie_run_is_shown_then_published_by_a_merge(
    project: Path, fake_nessie: FakeNessie
) -> None:
    _failing_run(project, "r-1")
    branch = wap_nessie.audit_branch("acme__sales", "r-1")
    assert branch == "acme__sales_audit_r_1" and branch in fake_nessie.branches
    shown = _audit(project.parents[1], "deals_daily")
    assert shown.exit_code == 1, shown.output
    assert (
        "run r-1 of job deals_daily (branch ingestgen-audit-r-1 on Nessie branch "
        "acme__sales_audit_r_1)"
    ) in shown.stdout
    assert "FAIL acme.deals_daily accepted_values.stage: 1 row(s) outside" in shown.stdout
    published = _audit(project.parents[1], "--publish", "r-1")
    assert published.exit_code == 0, published.output
    assert len(fake_nessie.merges) == 1
    assert fake_nessie.merges[0]["fromRefName"] == branch
    assert fake_nessie.merges[0]["commitMeta"]["allProperties"]["ingestgen.run-id"] == ["r-1"]
    assert branch not in fake_nessie.branches
    assert _audit(project.parents[1]).stdout.strip() == "no run is kept on an audit branch"
    assert fake_nessie.problems == []


def test_a_kept_nessie_run_is_discarded_with_its_branch(
    project: Path, fake_nessie: FakeNessie
) -> None:
    _failing_run(project, "r-2")
    discarded = _audit(project.parents[1], "deals_daily", "--discard", "r-2")
    assert discarded.exit_code == 0, discarded.output
    assert wap_nessie.audit_branch("acme__sales", "r-2") not in fake_nessie.branches
    assert fake_nessie.merges == []
    assert ("DELETE", "/api/v2/trees/acme__sales_audit_r_2") in [
        (m, p.split("@")[0]) for m, p in fake_nessie.requests
    ]
    assert fake_nessie.problems == []


def test_a_run_whose_merge_conflicted_is_merged_by_hand(
    project: Path, fake_nessie: FakeNessie
) -> None:
    conflict = nessie_error(409, "Conflict", "REFERENCE_CONFLICT", "keys changed: acme.deals_daily")
    fake_nessie.fail_next["POST /v2/trees/acme__sales/history/merge"] = (409, conflict)
    _failing_run(project, "r-3", stage="lost", error=CommitError)  # the audit passed
    shown = _audit(project.parents[1])
    assert shown.exit_code == 1, shown.output
    assert "run r-3 of job deals_daily" in shown.stdout
    assert "published on its Nessie branch; the merge is what is left" in shown.stdout
    published = _audit(project.parents[1], "--publish", "r-3")
    assert published.exit_code == 0, published.output
    assert [m["fromRefName"] for m in fake_nessie.merges] == ["acme__sales_audit_r_3"]
    assert "acme__sales_audit_r_3" not in fake_nessie.branches
    assert fake_nessie.problems == []
