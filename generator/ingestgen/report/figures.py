"""The report's figures: runs per job over time, sums per job and tenant, reject reasons.

Every figure is a sum or a median of the run records' own numbers, so what the report shows can
be checked against the records one by one. "Cost" is what the records measure for attribution:
CPU seconds of Meltano and its plugins, and the bytes committed to the tenant's tables.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingestgen.report.records import Run, parse_since, read_runs, tenants_of
from ingestgen.report.tables import RejectReason, SnapshotFacts, read_lake

STATUSES = ("success", "partial", "failed")


@dataclass(frozen=True)
class JobFigures:
    """One job's runs and their sums."""

    tenant: str
    job: str
    runs: tuple[Run, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Runs per status (success, partial, failed)."""
        return {s: sum(1 for r in self.runs if r.status == s) for s in STATUSES}

    @property
    def rows_landed(self) -> int:
        """Rows landed over all runs."""
        return sum(r.rows_landed for r in self.runs)

    @property
    def rows_rejected(self) -> int:
        """Rows quarantined over all runs."""
        return sum(r.rows_rejected for r in self.runs)

    @property
    def bytes_written(self) -> int:
        """Bytes committed over all runs."""
        return sum(r.bytes_written for r in self.runs)

    @property
    def cpu_s(self) -> float:
        """CPU seconds over all runs."""
        return round(sum(r.cpu_s for r in self.runs), 3)

    @property
    def median_duration_s(self) -> float:
        """Median run duration."""
        return round(statistics.median(r.duration_s for r in self.runs), 3)

    @property
    def last(self) -> Run:
        """The latest run."""
        return self.runs[-1]


@dataclass(frozen=True)
class TenantFigures:
    """A tenant's jobs and what they cost."""

    tenant: str
    jobs: tuple[JobFigures, ...]

    @property
    def runs(self) -> int:
        """Runs of all jobs."""
        return sum(len(j.runs) for j in self.jobs)

    @property
    def cpu_s(self) -> float:
        """CPU seconds of all runs."""
        return round(sum(j.cpu_s for j in self.jobs), 3)

    @property
    def bytes_written(self) -> int:
        """Bytes committed by all runs."""
        return sum(j.bytes_written for j in self.jobs)

    @property
    def rows_landed(self) -> int:
        """Rows landed by all runs."""
        return sum(j.rows_landed for j in self.jobs)

    @property
    def rows_rejected(self) -> int:
        """Rows quarantined by all runs."""
        return sum(j.rows_rejected for j in self.jobs)


@dataclass(frozen=True)
class Report:
    """Everything ``ingestgen report`` shows."""

    generated_at: dt.datetime
    since: dt.datetime | None
    tenants: tuple[TenantFigures, ...]
    snapshots: Mapping[str, list[SnapshotFacts]]
    rejects: tuple[RejectReason, ...]
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def runs(self) -> list[Run]:
        """Every run, oldest first."""
        return sorted(
            (r for t in self.tenants for j in t.jobs for r in j.runs),
            key=lambda r: (r.started_at, r.tenant, r.job, r.run_id),
        )


def make_report(
    root: Path,
    tenants: list[str] | None = None,
    *,
    since: str | None = None,
    now: dt.datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> Report:
    """Read the records of ``tenants`` (default: every rendered project) since ``since``.

    Raises:
        UserError: a tenant without a project, or a ``since`` that is no time or age.
    """
    now = now or dt.datetime.now(dt.UTC)
    start = parse_since(since, now) if since else None
    names = tenants_of(root, tenants or [])
    found = read_runs(root, names, start)
    lake = read_lake(root, found.runs, os.environ if environ is None else environ)
    by_job: dict[tuple[str, str], list[Run]] = {}
    for run in found.runs:
        by_job.setdefault((run.tenant, run.job), []).append(run)
    figures = tuple(
        TenantFigures(
            tenant,
            tuple(
                JobFigures(tenant, job, tuple(runs))
                for (t, job), runs in sorted(by_job.items())
                if t == tenant
            ),
        )
        for tenant in names
        if any(t == tenant for t, _ in by_job)
    )
    return Report(
        generated_at=now,
        since=start,
        tenants=figures,
        snapshots=lake.snapshots,
        rejects=tuple(lake.rejects),
        skipped=tuple(found.skipped),
        notes=tuple(
            [
                f"{t}: no run records{' since then' if start else ''}"
                for t in names
                if t not in {f.tenant for f in figures}
            ]
            + lake.notes
        ),
    )
