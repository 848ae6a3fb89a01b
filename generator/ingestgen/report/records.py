"""Run records, read back as typed runs.

A record is ``projects/<tenant>/.meltano/runs/<job>/<run id>.json`` as
`ingestgen.record.model.build_record` writes it (the loader's ``<run id>.summary.json`` and the
``.log`` beside it are not records). A file that is not a record of this shape is skipped and
listed, never counted silently.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestgen.errors import UserError
from ingestgen.meltano.project import PROJECTS, project_dir
from ingestgen.record.store import default_record_dir, read_json

_RELATIVE = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Run:
    """One run of one job, from its record."""

    tenant: str
    job: str
    run_id: str
    status: str
    exit_code: int
    reason: str
    started_at: dt.datetime
    duration_s: float
    rows_read: int
    rows_landed: int
    rows_rejected: int
    files: int
    bytes_written: int
    cpu_s: float
    max_rss_mb: float
    catalog: str
    snapshots: dict[str, int]
    """Snapshot id per table the run committed to."""
    rejected_tables: tuple[str, ...]
    """Quarantine tables the run wrote rejects to."""
    record: str
    """The record file, relative to the repository."""


@dataclass
class Records:
    """The runs found, and the files that were not records."""

    runs: list[Run] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def parse_since(text: str, now: dt.datetime) -> dt.datetime:
    """``--since``: an ISO date or time (UTC unless it says otherwise) or ``<n>m|h|d|w`` ago.

    Raises:
        UserError: neither; the message shows both forms.
    """
    match = _RELATIVE.match(text.strip())
    if match:
        return now - dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"--since {text!r} is neither a date or time (2026-11-01, 2026-11-01T08:00:00+01:00) "
            "nor an age (90m, 24h, 7d, 4w)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def tenants_of(root: Path, given: list[str]) -> list[str]:
    """The tenants to report on: those given (checked), else every rendered project.

    Raises:
        UserError: a given name is not a tenant id, or has no rendered project.
    """
    if given:
        for tenant in given:
            if not (project_dir(root, tenant) / "meltano.yml").is_file():
                raise UserError(
                    f"tenant {tenant!r} has no rendered project (projects/{tenant}/meltano.yml); "
                    "give the tenant_id of a job under configs/, or run `ingestgen render`"
                )
        return sorted(set(given))
    folder = root / PROJECTS
    return sorted(
        p.parent.name
        for p in folder.glob("*/meltano.yml")
        if not p.parent.name.startswith(("_", "."))
    )


def read_runs(root: Path, tenants: list[str], since: dt.datetime | None) -> Records:
    """Every run of ``tenants`` that started at or after ``since``, oldest first."""
    found = Records()
    for tenant in tenants:
        runs_dir = default_record_dir(project_dir(root, tenant), "x").parent
        for path in sorted(runs_dir.glob("*/*.json")):
            if path.name.endswith(".summary.json") or path.name.startswith("."):
                continue
            rel = path.relative_to(root).as_posix()
            run = _run(read_json(path), tenant, path.parent.name, rel)
            if isinstance(run, str):
                found.skipped.append(f"{rel}: {run}")
            elif since is None or run.started_at >= since:
                found.runs.append(run)
    found.runs.sort(key=lambda r: (r.started_at, r.tenant, r.job, r.run_id))
    return found


def _run(data: dict[str, Any] | None, tenant: str, job: str, rel: str) -> Run | str:
    if data is None:
        return "not a JSON object"
    try:
        if data["tenant"] != tenant or data["job"] != job:
            return f"a record of {data['tenant']}/{data['job']} filed under {tenant}/{job}"
        totals, usage = data["totals"], data["usage"]
        streams = data.get("streams") or []
        started = dt.datetime.fromisoformat(data["started_at"])
        return Run(
            tenant=tenant,
            job=job,
            run_id=str(data["run_id"]),
            status=str(data["status"]),
            exit_code=int(data["exit_code"]),
            reason=str(data.get("reason") or ""),
            started_at=started if started.tzinfo else started.replace(tzinfo=dt.UTC),
            duration_s=float(data["durations"]["total_s"]),
            rows_read=int(totals["rows_read"]),
            rows_landed=int(totals["rows_landed"]),
            rows_rejected=int(totals["rows_rejected"]),
            files=int(totals["files"]),
            bytes_written=int(usage.get("bytes_written") or totals["bytes"]),
            cpu_s=float(usage["cpu_s"]),
            max_rss_mb=float(usage.get("max_rss_mb") or 0.0),
            catalog=str((data.get("iceberg") or {}).get("catalog") or ""),
            snapshots={
                str(k): int(v)
                for k, v in ((data.get("iceberg") or {}).get("snapshot_ids") or {}).items()
            },
            rejected_tables=tuple(
                sorted(
                    {
                        str(s["rejected_table"])
                        for s in streams
                        if s.get("rejected_table") and s.get("rows_rejected")
                    }
                )
            ),
            record=rel,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"not a run record ({type(exc).__name__}: {exc})"
