"""Write-audit-publish on Nessie: a per-run branch, merged into the tenant's branch in one step.

No Nessie server runs here, so what is checked is the loader's side: the Nessie requests it
sends (each checked by ``fake_nessie`` against the OpenAPI document of the ``nessie-model`` jar,
and against `FACTS`, read in Nessie's source), when it sends them (merge only after every check
passed, never on a failed audit), and what it does with Nessie's answers (a merge conflict keeps
the branch). The tables of the run branch live, for these tests, in an embedded SQLite catalog
standing in for Nessie's Iceberg endpoint at that branch: what Nessie does with the tables on a
merge is not proven here.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ingestgen_services.nessie_api import nessie_error
from pyiceberg.catalog import load_catalog

from target_iceberg import nessie as nessie_module
from target_iceberg.errors import AuditFailedError, CommitError
from target_iceberg.nessie import (
    CommitInfo,
    NessieClient,
    Reference,
    audit_branch,
    audit_prefix,
)
from target_iceberg.target import TargetIceberg
from target_iceberg.tenancy import branch_problem

from .conftest import catalog_props
from .test_audit import CHECKS, rows, spec_file, text

if TYPE_CHECKING:
    from ingestgen_services.nessie_api import FakeNessie, OpenApi

pytestmark = pytest.mark.wap

# Nessie REST API v2 as read in projectnessie/nessie (commit 8fbeb3dc, 2026-08):
# api/model/.../api/v2/http/HttpTreeApi.java (paths, methods, parameters, answers),
# api/v2/params/Merge.java (the merge body), model/CommitMeta.java and
# services/impl/TreeApiImpl.java (validateCommitMeta: the server sets committer, commit time and
# hash, and refuses parent hashes from clients). The first test holds them to the OpenAPI
# document of the nessie-model jar, so a fact that drifted from Nessie's published API fails.
FACTS: dict[str, dict[str, Any]] = {
    "getAllReferencesV2": {
        "method": "get",
        "path": "/v2/trees",
        "query": {"max-records": False, "page-token": False},
        "success": "200",
    },
    "createReferenceV2": {
        "method": "post",
        "path": "/v2/trees",
        "query": {"name": True, "type": True},
        "body": ("Reference", True),
        "success": "200",
        "conflict": "409",
    },
    "mergeV2": {
        "method": "post",
        # {branch} is "<name>@<expected hash>": the hash the target branch is expected at.
        "path": "/v2/trees/{branch}/history/merge",
        "query": {},
        "body": ("Merge", True),
        "body_required": ["fromRefName"],
        "body_fields": ["fromRefName", "fromHash", "commitMeta"],
        "success": "204",  # documented so, with a MergeResponse body
        "conflict": "409",
    },
    "deleteReferenceV2": {
        "method": "delete",
        # {ref} is "<name>@<hash>": deleted only if it still is at that hash.
        "path": "/v2/trees/{ref}",
        "query": {"type": False},
        "success": "200",
        "conflict": "409",
    },
}
CLIENT_SET = ("committer", "commitTime", "hash")
"""CommitMeta fields a client must not send (TreeApiImpl.validateCommitMeta)."""


def _operation(doc: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return path, method, op
    raise AssertionError(f"{operation_id} is not in Nessie's OpenAPI document")


def _schema(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


@pytest.mark.parametrize("operation_id", sorted(FACTS))
def test_the_facts_hold_in_nessies_published_document(
    nessie_openapi: OpenApi, operation_id: str
) -> None:
    doc = nessie_openapi.doc
    fact = FACTS[operation_id]
    path, method, op = _operation(doc, operation_id)
    assert (path, method) == (fact["path"], fact["method"])
    query = {p["name"]: bool(p.get("required")) for p in op["parameters"] if p["in"] == "query"}
    assert {k: query.get(k) for k in fact["query"]} == fact["query"]
    assert fact["success"] in op["responses"]
    if "conflict" in fact:
        assert fact["conflict"] in op["responses"]
    if "body" in fact:
        title, required = fact["body"]
        body = op["requestBody"]
        schema = _schema(doc, body["content"]["application/json"]["schema"])
        assert body.get("required") is required
        assert schema["title"].startswith(title)
        assert set(fact.get("body_required", [])) <= set(schema.get("required", []))
        assert set(fact.get("body_fields", [])) <= set(schema["properties"])


def test_the_merge_commit_meta_is_what_nessie_takes_from_a_client(nessie_openapi: OpenApi) -> None:
    meta = CommitInfo.for_run(tenant="acme", job="deals", run_id="r-1").commit_meta()
    schema = nessie_openapi.doc["components"]["schemas"]["CommitMeta"]
    assert set(schema["required"]) <= set(meta)
    assert not set(CLIENT_SET) & set(meta)
    assert meta["parentCommitHashes"] == []
    assert meta["allProperties"]["ingestgen.run-id"] == ["r-1"]


@pytest.mark.parametrize(
    ("tenant", "branch", "run_id", "expected"),
    [
        ("acme", "acme", "0e9ee108-2f29-4435", "acme__audit_0e9ee108_2f29_4435"),
        ("acme", "acme__sales", "R-1", "acme__sales_audit_r_1"),
    ],
)
def test_the_audit_branch_is_one_of_the_tenants_own(
    tenant: str, branch: str, run_id: str, expected: str
) -> None:
    name = audit_branch(branch, run_id)
    assert name == expected and name.startswith(audit_prefix(branch))
    assert branch_problem(name, tenant) is None


def test_merge_delete_and_list_are_requests_nessie_takes(fake_nessie: FakeNessie) -> None:
    client = NessieClient(fake_nessie.api_uri)
    client.ensure_branch("acme")
    run = audit_branch("acme", "r1")
    client.ensure_branch(run, "acme")
    base = client.get_reference("acme")
    head = Reference(run, fake_nessie.commit(run, "load", {"ingestgen.run-id": "r1"}))
    assert [r.name for r in client.branches(audit_prefix("acme"))] == [run]
    info = CommitInfo.for_run(tenant="acme", job="deals", run_id="r1")
    merged = client.merge(base, head, info)
    assert merged == client.get_reference("acme").hash != base.hash
    assert fake_nessie.merges == [
        {"fromRefName": run, "fromHash": head.hash, "commitMeta": info.commit_meta()}
    ]
    client.delete_branch(head)
    assert run not in fake_nessie.branches
    assert ("POST", f"/api/v2/trees/acme@{base.hash}/history/merge") in fake_nessie.requests
    assert ("DELETE", f"/api/v2/trees/{run}@{head.hash}") in fake_nessie.requests
    assert fake_nessie.problems == []


@pytest.fixture
def nessie_run(fake_nessie: FakeNessie, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run the loader on Nessie with audit; the run branch's tables in a SQLite catalog."""
    iceberg = "http://127.0.0.1:9/iceberg"  # never called: the run branch is the SQLite one
    env = {
        "NESSIE_ICEBERG_URI": iceberg,
        "NESSIE_URI": fake_nessie.api_uri,
        "S3_ENDPOINT": "http://127.0.0.1:9",
        "ACME__S3_ACCESS_KEY_ID": "k",
        "ACME__S3_SECRET_ACCESS_KEY": "s",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MELTANO_PROJECT_ROOT", raising=False)
    opened: list[str] = []

    def at_branch(properties: Any, branch: str, other: str) -> dict[str, str]:
        opened.append(other)
        return catalog_props(tmp_path / other)

    monkeypatch.setattr(nessie_module, "branch_properties", at_branch)
    props = {
        "type": "rest",
        "uri": f"{iceberg}/acme",
        "warehouse": "acme",
        "s3.endpoint": env["S3_ENDPOINT"],
        "s3.access-key-id": "k",
        "s3.secret-access-key": "s",
    }

    def run(data: str, run_id: str, **audit: Any) -> tuple[TargetIceberg, list[str]]:
        target = TargetIceberg(
            config={
                "namespace": "acme",
                "tenant": "acme",
                "run_id": run_id,
                "catalog_properties": props,
                "nessie": {"branch": "acme", "api_uri": fake_nessie.api_uri},
                "streams": {"deals": {"asset_spec": spec_file(tmp_path, **CHECKS)}},
                "audit": {"enabled": True, **audit},
            }
        )
        out = io.StringIO()
        try:
            with redirect_stdout(out):
                target.process_lines(io.StringIO(data))
                target.process_endofpipe()
        finally:
            run.opened = list(opened)  # type: ignore[attr-defined]
        return target, [line for line in out.getvalue().splitlines() if line.strip()]

    return run


def _rows_on(tmp_path: Path, branch: str) -> int:
    catalog = load_catalog("default", **catalog_props(tmp_path / branch))
    return catalog.load_table("acme.deals").scan().to_arrow().num_rows


def test_a_passing_audit_merges_the_run_branch_in_one_step(
    nessie_run: Any, fake_nessie: FakeNessie, tmp_path: Path
) -> None:
    target, out = nessie_run(text(rows(range(5)), 5), "r1")
    run = audit_branch("acme", "r1")
    assert nessie_run.opened == [run]  # the run's tables were written on its own branch
    assert _rows_on(tmp_path, run) == 5  # and audited there
    assert len(fake_nessie.merges) == 1 and fake_nessie.merges[0]["fromRefName"] == run
    assert run not in fake_nessie.branches  # deleted once merged
    calls = [f"{m} {p.removeprefix('/api/v2/trees')}" for m, p in fake_nessie.requests]
    merge = next(i for i, c in enumerate(calls) if c.endswith("/history/merge"))
    assert calls[merge].startswith("POST /acme@")  # into the tenant branch, at its expected hash
    deleted = f"DELETE /{run}@{fake_nessie.merges[0]['fromHash']}"
    assert calls[merge + 1 :] == [deleted, "GET /acme/history"]  # then the commit is looked up
    audit = target.summary.audit
    assert audit is not None and audit.published and audit.nessie_branch == run
    assert target.summary.nessie is not None
    assert target.summary.nessie.commit_hash == fake_nessie.branches["acme"][0]["hash"]
    assert out == ['{"bookmarks": {"deals": 5}}']
    assert fake_nessie.problems == []


def test_a_failing_audit_keeps_the_run_branch_and_merges_nothing(
    nessie_run: Any, fake_nessie: FakeNessie
) -> None:
    with pytest.raises(AuditFailedError, match="Nessie branch acme__audit_r2") as failed:
        nessie_run(text(rows(range(3), stage="open"), 3), "r2", on_fail=1)
    assert failed.value.exit_code == 1
    assert fake_nessie.merges == []
    assert audit_branch("acme", "r2") in fake_nessie.branches  # the evidence
    assert fake_nessie.branches["acme"] == fake_nessie.branches["main"]  # no commit there
    assert fake_nessie.problems == []


def test_a_merge_conflict_keeps_the_branch_and_emits_no_state(
    nessie_run: Any, fake_nessie: FakeNessie, capsys: pytest.CaptureFixture[str]
) -> None:
    conflict = nessie_error(409, "Conflict", "REFERENCE_CONFLICT", "keys changed: acme.deals")
    fake_nessie.fail_next["POST /v2/trees/acme/history/merge"] = (409, conflict)
    with pytest.raises(CommitError, match="refused to merge acme__audit_r3 into acme"):
        nessie_run(text(rows(range(2)), 2), "r3")
    assert audit_branch("acme", "r3") in fake_nessie.branches
    assert fake_nessie.merges == []
    assert json.dumps({"bookmarks": {"deals": 2}}) not in capsys.readouterr().out
    assert fake_nessie.problems == []


def test_a_retry_after_a_refused_merge_finds_its_branch_and_merges_it(
    nessie_run: Any, fake_nessie: FakeNessie, tmp_path: Path
) -> None:
    conflict = nessie_error(409, "Conflict", "REFERENCE_CONFLICT", "keys changed: acme.deals")
    fake_nessie.fail_next["POST /v2/trees/acme/history/merge"] = (409, conflict)
    with pytest.raises(CommitError):
        nessie_run(text(rows(range(4)), 4), "r4")
    run = audit_branch("acme", "r4")
    created = [p for m, p in fake_nessie.requests if m == "POST" and p == "/api/v2/trees"]
    # The same run again (a runner's retry): its branch is found, nothing is written twice.
    target, out = nessie_run(text(rows(range(4)), 4), "r4")
    assert [p for m, p in fake_nessie.requests if m == "POST" and p == "/api/v2/trees"] == created
    assert _rows_on(tmp_path, run) == 4
    assert [m["fromRefName"] for m in fake_nessie.merges] == [run]
    assert run not in fake_nessie.branches
    assert target.summary.audit is not None and target.summary.audit.published
    assert out == ['{"bookmarks": {"deals": 4}}']
    assert fake_nessie.problems == []
