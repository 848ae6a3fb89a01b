"""Build the run record from what the runner observed and what the loader summarised.

The record is plain JSON. Its ``openmetadata.status`` part is exactly the payload of
OpenMetadata's ``PUT /api/v1/pipelines/{fqn}/status`` (only the model's fields, since the model
forbids extra ones); everything users need besides (rows, snapshots, bytes, usage for FinOps)
sits beside it. Building a record never reads the environment and never sends anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

RECORD_VERSION = 1
Status = Literal["success", "partial", "failed"]
StreamStatus = Literal["landed", "partial", "unchanged", "failed"]
# OpenMetadata's StatusType: Successful | Failed | Pending | Skipped.
_OM_TASK = {"landed": "Successful", "unchanged": "Skipped", "partial": "Failed", "failed": "Failed"}
_TOTALS = ("rows_read", "rows_landed", "rows_rejected", "files", "bytes")


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
    summary: dict[str, Any] | None = None
    usage: Usage = field(default_factory=Usage)
    files: dict[str, str] = field(default_factory=dict)


def stream_status(stream: dict[str, Any], committed: bool) -> StreamStatus:
    """How one stream of the loader's summary ended."""
    if not committed:
        return "failed"
    if stream.get("rows_rejected"):
        return "partial"
    if stream.get("snapshot_id") is None and not stream.get("rows_landed"):
        return "unchanged"
    return "landed"


def build_record(facts: RunFacts, outcome: Outcome) -> dict[str, Any]:
    """The run record (see the module docstring)."""
    summary = facts.summary or {}
    committed = summary.get("status") in ("success", "partial", "already_committed")
    start_ms, end_ms = _ms(facts.started_at), _ms(facts.ended_at)
    # The loader writes every stream at once: its own window is each stream's window.
    loader_start = summary.get("started_at")
    task_start, task_end = start_ms, end_ms
    if isinstance(loader_start, int | float) and isinstance(summary.get("duration_s"), int | float):
        task_start = _ms(loader_start)
        task_end = _ms(loader_start + summary["duration_s"])
    by_stream = summary.get("streams") or {}
    streams: list[dict[str, Any]] = []
    for name in sorted(set(facts.streams) | set(by_stream)):
        figures = by_stream.get(name) or {}
        status = stream_status(figures, committed)
        streams.append(
            {
                "name": name,
                "status": status,
                "table": figures.get("table"),
                **{key: int(figures.get(key) or 0) for key in _TOTALS},
                "snapshot_id": figures.get("snapshot_id"),
                "rejected_table": figures.get("rejected_table"),
                "rejected_snapshot_id": figures.get("rejected_snapshot_id"),
                "schema_changes": list(figures.get("schema_changes") or []),
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
        "error": summary.get("error"),
        "timestamp": start_ms,
        "started_at": _iso(facts.started_at),
        "ended_at": _iso(facts.ended_at),
        "durations": {
            "total_s": round(facts.ended_at - facts.started_at, 3),
            **{k: round(v, 3) for k, v in facts.durations.items()},
            "loader_s": summary.get("duration_s"),
            "commit_s": summary.get("commit_s"),
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
        "usage": usage,
        "meltano": {
            "exit_code": facts.meltano_exit_code,
            "state_id": facts.state_id,
            "extractor": facts.extractor,
            "loader": facts.loader,
        },
        "loader_status": summary.get("status"),
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


def _nessie(summary: dict[str, Any]) -> dict[str, Any]:
    # The loader reports these only for Nessie catalogs; absent keys stay null.
    found = summary.get("nessie")
    nessie: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "branch": nessie.get("branch") or summary.get("nessie_branch"),
        "commit_hash": nessie.get("commit_hash") or summary.get("nessie_commit_hash"),
    }


def _ms(epoch_s: float) -> int:
    return round(epoch_s * 1000)


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).isoformat(timespec="milliseconds")
