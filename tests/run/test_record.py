"""The run record and its emitters: the record's fields, OpenMetadata's own model accepting the
status payload over real HTTP, and OpenLineage START/COMPLETE/FAIL events keyed by the run id."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ingestgen.record.emit import Emitters
from ingestgen.record.model import InvalidSummary, RunFacts, Usage, build_record, parse_summary
from ingestgen.record.openmetadata import OpenMetadataError, OpenMetadataTarget, send_status
from ingestgen.redact import Redactor
from ingestgen.run.outcome import judge
from tests.fixtures.openmetadata import OpenMetadataServer

FQN = "ingestgen.acme_deals_daily"


def summary(
    status: str = "success",
    rejected: int = 0,
    error: str | None = None,
    snapshot: int | None = 4293729381510967003,
) -> dict[str, Any]:
    return {
        "run_id": "r",
        "namespace": "acme",
        "tenant": "acme",
        "job": "deals_daily",
        "status": status,
        "error": error,
        "duration_s": 3.4,
        "commit_s": 0.3,
        "streams": {
            "deals_daily": {
                "table": "acme.deals_daily",
                "rows_read": 50,
                "rows_landed": 50 - rejected,
                "rows_rejected": rejected,
                "rejected_table": "acme.deals_daily__rejected" if rejected else None,
                "snapshot_id": snapshot,
                "rejected_snapshot_id": 7 if rejected else None,
                "files": 2 if rejected else 1,
                "bytes": 4656,
                "schema_changes": [],
            }
        },
    }


def facts(loader_summary: dict[str, Any] | None, meltano_rc: int = 0) -> RunFacts:
    now = time.time()
    return RunFacts(
        tenant="acme",
        job="deals_daily",
        run_id=str(uuid.uuid4()),
        state_id="dev:tap-gdrive-csv--deals_daily-to-target-iceberg--deals_daily",
        extractor="tap-gdrive-csv--deals_daily",
        loader="target-iceberg--deals_daily",
        streams=["deals_daily"],
        source_type="gdrive_csv",
        catalog="acme_embedded",
        started_at=now - 12.5,
        ended_at=now,
        durations={"meltano_s": 12.0},
        meltano_exit_code=meltano_rc,
        summary=parse_summary(loader_summary),
        usage=Usage(
            cpu_user_s=6.5,
            cpu_system_s=0.5,
            max_rss_mb=180.0,
            io_read_bytes=10_000,
            io_write_bytes=20_000,
        ),
    )


def record_for(loader_summary: dict[str, Any] | None, meltano_rc: int = 0) -> dict[str, Any]:
    f = facts(loader_summary, meltano_rc)
    return build_record(f, judge(parse_summary(loader_summary), meltano_rc))


# The judgement ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loader_summary", "rc", "expected", "words"),
    [
        (summary(), 0, 0, "everything landed"),
        (summary(status="already_committed"), 0, 0, "already committed"),
        (summary(status="partial", rejected=3), 0, 1, "3 rows did not meet the asset contract"),
        (summary(), 1, 1, "committed 50 rows but meltano run exited 1"),
        (
            summary(status="failed", error="catalog unreachable", snapshot=None),
            1,
            2,
            "catalog unreachable",
        ),
        (None, 1, 2, "before the loader committed anything"),
        (None, 0, 2, "wrote no run summary"),
    ],
)
def test_exit_code_comes_from_the_summary_and_meltano_code(
    loader_summary: dict[str, Any] | None, rc: int, expected: int, words: str
) -> None:
    outcome = judge(parse_summary(loader_summary), rc)
    assert outcome.exit_code == expected
    assert words in outcome.reason


# The record ---------------------------------------------------------------------------------


def test_record_holds_what_users_and_finops_need() -> None:
    record = record_for(summary())
    assert record["status"] == "success" and record["exit_code"] == 0
    assert record["tenant"] == "acme" and record["job"] == "deals_daily"
    assert record["totals"] == {
        "rows_read": 50,
        "rows_landed": 50,
        "rows_rejected": 0,
        "files": 1,
        "bytes": 4656,
    }
    assert record["iceberg"]["snapshot_ids"] == {"acme.deals_daily": 4293729381510967003}
    assert record["usage"]["cpu_s"] == 7.0
    assert record["usage"]["bytes_written"] == 4656 and record["usage"]["files_committed"] == 1
    assert record["durations"]["total_s"] == pytest.approx(12.5, abs=0.01)
    assert record["streams"][0]["status"] == "landed"
    json.dumps(record)  # plain JSON


def test_status_payload_has_only_the_fields_every_openmetadata_accepts() -> None:
    # additionalProperties is false in every version: newer optional fields break older servers.
    for rec in (record_for(summary()), record_for(summary("partial", 2)), record_for(None, 1)):
        status = rec["openmetadata"]["status"]
        assert set(status) == {"timestamp", "executionStatus", "taskStatus"}
        for task in status["taskStatus"]:
            assert set(task) == {"name", "executionStatus", "startTime", "endTime"}
            assert task["startTime"] <= task["endTime"]
    assert record_for(summary())["openmetadata"]["status"]["executionStatus"] == "Successful"
    partial = record_for(summary("partial", 2))["openmetadata"]["status"]
    assert partial["executionStatus"] == "Failed"
    assert partial["taskStatus"] == [
        {
            "name": "deals_daily",
            "executionStatus": "Failed",
            "startTime": partial["timestamp"],
            "endTime": partial["taskStatus"][0]["endTime"],
        }
    ]


def test_a_stream_without_new_rows_is_skipped() -> None:
    empty = {**summary(), "streams": {}}
    rec = record_for(empty)
    assert rec["exit_code"] == 0
    assert rec["streams"][0]["status"] == "unchanged"
    assert rec["openmetadata"]["status"]["taskStatus"][0]["executionStatus"] == "Skipped"


# OpenMetadata over HTTP ---------------------------------------------------------------------


def target(
    server: OpenMetadataServer, fqn: str = FQN, token: str | None = None
) -> OpenMetadataTarget:
    return OpenMetadataTarget(server.url, token or server.token, fqn)


@pytest.mark.parametrize("case", ["success", "partial", "tap_crash"])
def test_openmetadata_model_accepts_the_status(
    openmetadata_server: OpenMetadataServer, case: str
) -> None:
    rec = {
        "success": lambda: record_for(summary()),
        "partial": lambda: record_for(summary("partial", 4)),
        "tap_crash": lambda: record_for(None, 1),
    }[case]()
    answer = send_status(target(openmetadata_server), rec["openmetadata"]["status"])
    assert answer["fullyQualifiedName"] == FQN
    assert answer["pipelineStatus"]["timestamp"] == rec["timestamp"]
    puts = [r for r in openmetadata_server.requests() if r["method"] == "PUT"]
    assert [r["status"] for r in puts] == [200]
    assert json.loads(puts[0]["body"]) == rec["openmetadata"]["status"]
    assert puts[0]["path"] == f"/api/v1/pipelines/{FQN}/status"


def test_openmetadata_model_rejects_our_extra_fields(
    openmetadata_server: OpenMetadataServer,
) -> None:
    # The server really validates: the whole record is not a PipelineStatus.
    rec = record_for(summary())
    bad = {**rec["openmetadata"]["status"], "rows_landed": 50}
    with pytest.raises(OpenMetadataError, match="HTTP 400.*rows_landed"):
        send_status(target(openmetadata_server), bad)
    seconds = {**rec["openmetadata"]["status"], "timestamp": str(rec["timestamp"])}
    with pytest.raises(OpenMetadataError, match="HTTP 400"):
        send_status(target(openmetadata_server), seconds)


def test_openmetadata_errors_name_the_fix(openmetadata_server: OpenMetadataServer) -> None:
    status = record_for(summary())["openmetadata"]["status"]
    with pytest.raises(OpenMetadataError, match="does not exist.*OPENMETADATA_PIPELINE_FQN"):
        send_status(target(openmetadata_server, fqn="ingestgen.nope"), status)
    with pytest.raises(OpenMetadataError, match="refused the token.*OPENMETADATA_TOKEN"):
        send_status(target(openmetadata_server, token="wrong"), status)
    with pytest.raises(OpenMetadataError, match="cannot reach.*OPENMETADATA_URL"):
        send_status(OpenMetadataTarget("http://127.0.0.1:9", "t", FQN), status)
    with pytest.raises(OpenMetadataError, match="OPENMETADATA_TOKEN is not"):
        OpenMetadataTarget.from_env({"OPENMETADATA_URL": "http://x"}, "acme", "j")


def test_target_from_env_builds_the_fqn() -> None:
    env = {"OPENMETADATA_URL": "http://om:8585/api/", "OPENMETADATA_TOKEN": "t"}
    assert OpenMetadataTarget.from_env(env, "acme", "deals") == OpenMetadataTarget(
        "http://om:8585", "t", "ingestgen.acme_deals"
    )
    env["OPENMETADATA_PIPELINE_FQN"] = "etl.{tenant}-{job}"
    assert OpenMetadataTarget.from_env(env, "acme", "deals").fqn == "etl.acme-deals"  # type: ignore[union-attr]
    assert OpenMetadataTarget.from_env({}, "acme", "deals") is None


# Emitters: OpenMetadata + OpenLineage together -----------------------------------------------


def test_emitters_send_lineage_start_and_complete_and_the_status(
    openmetadata_server: OpenMetadataServer, tmp_path: Path
) -> None:
    events = tmp_path / "lineage.jsonl"
    env = {
        **openmetadata_server.env(),
        "OPENLINEAGE__TRANSPORT__TYPE": "file",
        "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": str(events),
        "OPENLINEAGE__TRANSPORT__APPEND": "true",
    }
    rec = record_for(summary())
    emitters = Emitters(
        environ=env, tenant="acme", job="deals_daily", source_type="gdrive_csv", redactor=Redactor()
    )
    emitters.start(rec["run_id"], ["deals_daily"], time.time() - 5)
    results = emitters.finish(rec)
    assert results == {
        "openmetadata": f"status sent to pipeline {FQN}",
        "openlineage": "START and COMPLETE sent",
    }
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["eventType"] for e in lines] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in lines} == {rec["run_id"]}
    assert lines[0]["job"] == {"namespace": "ingestgen", "name": "acme.deals_daily", "facets": {}}
    output = lines[1]["outputs"][0]
    assert output["name"] == "acme.deals_daily"
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 50
    assert lines[1]["run"]["facets"]["ingestgen"]["exitCode"] == 0


def test_failed_run_sends_fail_with_the_error_over_http(
    openmetadata_server: OpenMetadataServer,
) -> None:
    env = {
        "OPENLINEAGE_URL": openmetadata_server.url,
        "OPENLINEAGE_API_KEY": openmetadata_server.token,
    }
    rec = record_for(
        summary("failed", error="catalog at http://u:pw-123456@x unreachable", snapshot=None), 1
    )
    redactor = Redactor()
    rec = redactor.redact_obj(rec)
    emitters = Emitters(
        environ=env, tenant="acme", job="deals_daily", source_type="gdrive_csv", redactor=redactor
    )
    emitters.start(rec["run_id"], ["deals_daily"], time.time() - 5)
    assert emitters.finish(rec)["openlineage"] == "START and FAIL sent"
    posts = [r for r in openmetadata_server.requests() if r["method"] == "POST"]
    assert [r["status"] for r in posts] == [201, 201]
    fail = json.loads(posts[1]["body"])
    assert fail["eventType"] == "FAIL" and fail["run"]["runId"] == rec["run_id"]
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert message == "catalog at http://u:***@x unreachable"
    assert fail["outputs"] == []


def test_unreachable_services_are_reported_not_raised() -> None:
    env = {"OPENMETADATA_URL": "http://127.0.0.1:9", "OPENMETADATA_TOKEN": "tok-secret-1"}
    emitters = Emitters(
        environ=env, tenant="acme", job="deals_daily", source_type="gdrive_csv", redactor=Redactor()
    )
    results = emitters.finish(record_for(summary()))
    assert results["openmetadata"].startswith("failed: cannot reach OpenMetadata")
    assert results["openlineage"] == "not configured"


# The loader's summary, read through its published model --------------------------------------


def test_the_nessie_block_reads_what_the_loader_writes() -> None:
    from target_iceberg.summary import NessieCommit, RunSummary, StreamSummary

    written = RunSummary(
        run_id="r",
        namespace="acme",
        status="success",
        streams={"deals_daily": StreamSummary(table="acme.deals_daily", rows_read=1)},
        nessie=NessieCommit(branch="acme", commit_hash="2e1cfa82b035c26cbbbdae632cea070514eb8b77"),
    )
    rec = record_for(written.to_dict())
    assert rec["nessie"] == {
        "branch": "acme",
        "commit_hash": "2e1cfa82b035c26cbbbdae632cea070514eb8b77",
    }
    assert record_for(summary())["nessie"] == {"branch": None, "commit_hash": None}


def test_the_audit_block_holds_every_check_with_its_figures() -> None:
    from ingestgen.cli.output import run_summary
    from target_iceberg.summary import AuditSummary, CheckResult

    failing = CheckResult(
        table="acme.deals_daily",
        check="accepted_values.stage",
        passed=False,
        detail="1 row(s) outside ['won', 'lost'], e.g. ['bogus']",
        figures={"rows": 25, "outside": 1, "allowed": ["won", "lost"]},
    )
    passing = CheckResult(
        table="acme.deals_daily",
        check="row_count",
        passed=True,
        detail="25 row(s) added, allowed 1..",
        figures={"rows": 25, "allowed_min": 1, "allowed_max": None},
    )
    loader = {
        **summary(status="failed", error="the audit of run r failed", snapshot=None),
        "audit": AuditSummary(
            branch="ingestgen-audit-r",
            on_fail=1,
            checks=[passing, failing],
            snapshots={"acme.deals_daily": 648461601336130765},
        ).model_dump(mode="json"),
    }
    rec = record_for(loader)
    assert rec["audit"] == {
        "branch": "ingestgen-audit-r",
        "nessie_branch": None,
        "passed": False,
        "published": False,
        "on_fail": 1,
        "failing": ["acme.deals_daily accepted_values.stage"],
        "checks": [passing.model_dump(mode="json"), failing.model_dump(mode="json")],
        "snapshots": {"acme.deals_daily": 648461601336130765},
    }
    assert rec["exit_code"] == 1
    rec["files"] = {"record": "r.json"}
    _, text = run_summary(rec)
    assert (
        "audit: 1 of 2 checks passed, not published, kept on its branch (ingestgen-audit-r)" in text
    )
    assert "  FAIL acme.deals_daily accepted_values.stage: 1 row(s) outside" in text
    assert record_for(summary())["audit"] is None


def test_a_summary_that_drifted_from_the_model_fails_the_run() -> None:
    drifted = {**summary(), "nessie_branch": "acme"}  # a key the model does not know
    rec = record_for(drifted)
    assert rec["exit_code"] == 2
    assert "does not match its model" in rec["reason"]
    assert "nessie_branch" in rec["reason"]
    assert rec["streams"][0]["status"] == "failed"


def test_a_failed_summary_names_the_error_kind() -> None:
    failed = {**summary("failed", error="commit conflict", snapshot=None)}
    failed["error_kind"] = "transient"
    outcome = judge(parse_summary(failed), 1)
    assert outcome.exit_code == 2
    assert "(transient): commit conflict" in outcome.reason


@pytest.mark.parametrize(
    ("kind", "loader_code"), [("transient", 75), ("terminal", 2), ("internal", 3)]
)
def test_a_failed_run_records_the_loaders_own_exit_code(kind: str, loader_code: int) -> None:
    # The loader exits 75 for a transient failure; the run (the seed's codes) exits 2 for any.
    failed = {**summary("failed", error="the catalog did not answer", snapshot=None)}
    failed["error_kind"] = kind
    rec = record_for(failed, meltano_rc=1)
    assert (rec["exit_code"], rec["loader_exit_code"], rec["error_kind"]) == (2, loader_code, kind)
    assert rec["meltano"]["exit_code"] == 1
    # The loader's summary says the same once sealed, as the loader writes it.
    sealed = parse_summary(failed)
    assert not isinstance(sealed, InvalidSummary) and sealed is not None
    sealed.seal()
    assert (sealed.exit_code, sealed.loader_exit_code) == (2, loader_code)


def test_a_committed_run_records_loader_exit_code_zero() -> None:
    rec = record_for(summary(status="partial", rejected=3))
    assert (rec["exit_code"], rec["loader_exit_code"], rec["error_kind"]) == (1, 0, None)
    assert record_for(None, meltano_rc=1)["loader_exit_code"] is None
