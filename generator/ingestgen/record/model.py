"""Build the run record from what the runner observed and what the loader summarised.

The record is plain JSON. Its ``openmetadata.status`` part is exactly the payload of
OpenMetadata's ``PUT /api/v1/pipelines/{fqn}/status`` (only the model's fields, since the model
forbids extra ones); everything users need besides (rows, snapshots, bytes, usage for FinOps)
sits beside it. Building a record never reads the environment and never sends anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from target_iceberg.summary import RunSummary, StreamSummary

RECORD_VERSION = 1
Status = Literal["success", "partial", "failed"]
StreamStatus = Literal["landed", "partial", "unchanged", "failed"]
# OpenMetadata's StatusType: Successful | Failed | Pending | Skipped.
_OM_TASK = {"landed": "Successful", "unchanged": "Skipped", "partial": "Failed", "failed": "Failed"}
_TOTALS = ("rows_read", "rows_landed", "rows_rejected", "files", "bytes")


@dataclass(frozen=True)
class InvalidSummary:
    """A summary file that is not a `target_iceberg.summary.RunSummary` (drift or damage)."""

    problem: str


def parse_summary(data: Mapping[str, Any] | None) -> RunSummary | InvalidSummary | None:
    """The loader's summary, validated against the loader's own model (None: none written)."""
    if data is None:
        return None
    try:
        return RunSummary.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'summary'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        return InvalidSummary(f"the loader's run summary does not match its model: {problems}")


@dataclass(frozen=True)
class Outcome:
    """The run's status and exit code, and the reason in words."""

    status: Status
    exit_code: int
    reason: str


@dataclass
class Usage:
    """Resources the run used, so costs can be attributed per tenant.

    CPU and memory cover Meltano and every plugin process (``RUSAGE_CHILDREN``); ``io_*`` are the
    bytes those processes moved through read/write calls (files, pipes and sockets, from
    ``/proc/self/io``; Linux only), ``storage_*`` the part that reached block devices.
    """

    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0
    max_rss_mb: float = 0.0
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    storage_read_bytes: int | None = None
    storage_write_bytes: int | None = None

    @property
    def cpu_s(self) -> float:
        """User plus system CPU seconds."""
        return round(self.cpu_user_s + self.cpu_system_s, 3)


@dataclass
class RunFacts:
    """Everything the runner knows about one run, before judging it."""

    tenant: str
    job: str
    run_id: str
    state_id: str
    extractor: str
    loader: str
    streams: list[str]
    source_type: str
    catalog: str
    started_at: float
    ended_at: float
    durations: dict[str, float] = field(default_factory=dict)
    meltano_exit_code: int | None = None
    summary: RunSummary | InvalidSummary | None = None
    usage: Usage = field(default_factory=Usage)
    files: dict[str, str] = field(default_factory=dict)


def stream_status(stream: StreamSummary | None, committed: bool) -> StreamStatus:
    """How one stream of the loader's summary ended."""
    if not committed:
        return "failed"
    if stream is None:
        return "unchanged"
    if stream.rows_rejected:
        return "partial"
    if stream.snapshot_id is None and not stream.rows_landed:
        return "unchanged"
    return "landed"


def build_record(facts: RunFacts, outcome: Outcome) -> dict[str, Any]:
    """The run record (see the module docstring)."""
    summary = facts.summary if isinstance(facts.summary, RunSummary) else None
    error = facts.summary.problem if isinstance(facts.summary, InvalidSummary) else None
    committed = summary is not None and summary.committed
    start_ms, end_ms = _ms(facts.started_at), _ms(facts.ended_at)
    # The loader writes every stream at once: its own window is each stream's window.
    task_start, task_end = start_ms, end_ms
    if summary is not None and summary.started_at is not None:
        task_start = _ms(summary.started_at)
        task_end = _ms(summary.started_at + summary.duration_s)
    by_stream = summary.streams if summary is not None else {}
    streams: list[dict[str, Any]] = []
    for name in sorted(set(facts.streams) | set(by_stream)):
        figures = by_stream.get(name)
        streams.append(
            {
                "name": name,
                "status": stream_status(figures, committed),
                "table": figures.table if figures else None,
                **{key: getattr(figures, key) if figures else 0 for key in _TOTALS},
                "snapshot_id": figures.snapshot_id if figures else None,
                "rejected_table": figures.rejected_table if figures else None,
                "rejected_snapshot_id": figures.rejected_snapshot_id if figures else None,
                "schema_changes": list(figures.schema_changes) if figures else [],
                "started_at_ms": task_start,
                "ended_at_ms": task_end,
            }
        )
    totals = {key: sum(int(s[key]) for s in streams) for key in _TOTALS}
    usage = {
        **asdict(facts.usage),
        "cpu_s": facts.usage.cpu_s,
        "bytes_written": totals["bytes"],
        "files_committed": totals["files"],
    }
    return {
        "record_version": RECORD_VERSION,
        "tenant": facts.tenant,
        "job": facts.job,
        "run_id": facts.run_id,
        "status": outcome.status,
        "exit_code": outcome.exit_code,
        "reason": outcome.reason,
        "error": summary.error if summary is not None else error,
        "timestamp": start_ms,
        "started_at": _iso(facts.started_at),
        "ended_at": _iso(facts.ended_at),
        "durations": {
            "total_s": round(facts.ended_at - facts.started_at, 3),
            **{k: round(v, 3) for k, v in facts.durations.items()},
            "loader_s": summary.duration_s if summary is not None else None,
            "commit_s": summary.commit_s if summary is not None else None,
        },
        "totals": totals,
        "streams": streams,
        "iceberg": {
            "catalog": facts.catalog,
            "snapshot_ids": {
                s["table"]: s["snapshot_id"]
                for s in streams
                if s["table"] and s["snapshot_id"] is not None
            },
        },
        "nessie": _nessie(summary),
        "audit": _audit(summary),
        "usage": usage,
        "meltano": {
            "exit_code": facts.meltano_exit_code,
            "state_id": facts.state_id,
            "extractor": facts.extractor,
            "loader": facts.loader,
        },
        "loader_status": summary.status if summary is not None else None,
        # The loader's own code (75: transient, a retry may help), not the run's `exit_code`.
        "loader_exit_code": summary.loader_exit() if summary is not None else None,
        "error_kind": summary.error_kind.value if summary and summary.error_kind else None,
        "openmetadata": {"status": pipeline_status(outcome, streams, start_ms, end_ms)},
        "files": dict(facts.files),
    }


def pipeline_status(
    outcome: Outcome, streams: list[dict[str, Any]], start_ms: int, end_ms: int
) -> dict[str, Any]:
    """OpenMetadata's ``PipelineStatus`` for the run.

    Only ``timestamp``, ``executionStatus`` and ``taskStatus[{name, executionStatus, startTime,
    endTime}]``: the fields every server version accepts.
    """
    return {
        "timestamp": start_ms,
        "executionStatus": "Successful" if outcome.exit_code == 0 else "Failed",
        "taskStatus": [
            {
                "name": s["name"],
                "executionStatus": _OM_TASK[s["status"]],
                "startTime": s["started_at_ms"] or start_ms,
                "endTime": s["ended_at_ms"] or end_ms,
            }
            for s in streams
        ],
    }


def _nessie(summary: RunSummary | None) -> dict[str, Any]:
    # The loader's own `nessie` block (Nessie catalogs only); null fields otherwise.
    nessie = summary.nessie if summary is not None else None
    return {
        "branch": nessie.branch if nessie else None,
        "commit_hash": nessie.commit_hash if nessie else None,
    }


def _audit(summary: RunSummary | None) -> dict[str, Any] | None:
    """The loader's write-audit-publish outcome, structured (None: the job does not audit).

    Every check with its result, what it measured and the bound it was held to (``figures``),
    the audit branch (and the run's Nessie branch, on Nessie), and whether ``main`` now holds
    the run (``published``).
    """
    audit = summary.audit if summary is not None else None
    if audit is None:
        return None
    return {
        "branch": audit.branch,
        "nessie_branch": audit.nessie_branch,
        "passed": audit.passed,
        "published": audit.published,
        "on_fail": audit.on_fail,
        "failing": [f"{c.table} {c.check}" for c in audit.failing],
        "checks": [c.model_dump(mode="json") for c in audit.checks],
        "snapshots": dict(audit.snapshots),
    }


def _ms(epoch_s: float) -> int:
    return round(epoch_s * 1000)


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).isoformat(timespec="milliseconds")
