"""What the tables say about the runs: snapshot summaries and quarantined rows.

Each run's snapshot gives the rows and bytes it added and the table's size after it; the
quarantine tables (``<table>__rejected``) give the reasons and the rows themselves. The catalog of
each job is the one its rendered loader writes to, opened read-only. A catalog that cannot be read
is reported as such; the figures from the run records stand without it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestgen.errors import UserError
from ingestgen.lake import Timeouts, catalog_properties, open_catalog
from ingestgen.meltano.project import Project, project_dir
from ingestgen.report.records import Run

SAMPLES = 3
"""Sample rows kept per reject reason."""
MAX_REJECT_ROWS = 100_000
"""At most this many quarantined rows are read per table (the counts say when it was reached)."""
_LITERAL = re.compile(
    r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?"
)


@dataclass(frozen=True)
class SnapshotFacts:
    """A run's snapshot of one table, from its summary."""

    table: str
    snapshot_id: int
    added_records: int | None
    added_bytes: int | None
    total_records: int | None


@dataclass
class RejectReason:
    """One kind of reject in one quarantine table: the reason with its values left out."""

    tenant: str
    table: str
    columns: tuple[str, ...]
    reason: str
    count: int = 0
    samples: list[dict[str, str]] = field(default_factory=list)


@dataclass
class LakeFacts:
    """What the catalogs said."""

    snapshots: dict[str, list[SnapshotFacts]] = field(default_factory=dict)
    """Per run id."""
    rejects: list[RejectReason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Catalogs or tables that could not be read, and why."""


def reason_kind(reason: str) -> str:
    """The loader's reject reason with the offending values replaced by ``…``."""
    return _LITERAL.sub("…", reason)


def read_lake(root: Path, runs: list[Run], environ: Mapping[str, str] | None = None) -> LakeFacts:
    """Snapshot summaries of every run's commits and the reasons of its rejects."""
    env = os.environ if environ is None else environ
    facts = LakeFacts()
    by_job: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        by_job.setdefault((run.tenant, run.job), []).append(run)
    catalogs: dict[tuple[str, str], Any] = {}
    rejects: dict[tuple[str, str, str], RejectReason] = {}
    for (tenant, job), job_runs in sorted(by_job.items()):
        catalog = _catalog(root, tenant, job, env, catalogs, facts.notes)
        if catalog is None:
            continue
        for run in job_runs:
            facts.snapshots[run.run_id] = [
                s for t, sid in sorted(run.snapshots.items()) if (s := _snapshot(catalog, t, sid))
            ]
        tables = sorted({t for r in job_runs for t in r.rejected_tables})
        ids = [r.run_id for r in job_runs if r.rejected_tables]
        for table in tables:
            _rejects(catalog, tenant, table, ids, rejects, facts.notes)
    facts.rejects = sorted(rejects.values(), key=lambda r: (r.tenant, -r.count, r.table, r.reason))
    return facts


def _catalog(
    root: Path,
    tenant: str,
    job: str,
    env: Mapping[str, str],
    cache: dict[tuple[str, str], Any],
    notes: list[str],
) -> Any:
    folder = project_dir(root, tenant)
    try:
        loader = Project.read(folder).job(job).contract
    except UserError as exc:
        notes.append(f"{tenant}/{job}: tables not read ({exc})")
        return None
    if loader.catalog is None:
        return None
    key = (tenant, loader.catalog.name)
    if key not in cache:
        props = catalog_properties(loader, folder, env)
        try:
            cache[key] = (
                None
                if isinstance(props, str)
                else open_catalog(
                    key[1],
                    props,
                    timeouts=Timeouts.of(loader, env),
                    where=f"projects/{tenant}/meltano.yml, loader {loader.name}",
                )
            )
            if isinstance(props, str):
                notes.append(f"{tenant}: catalog {key[1]} not read: {props}")
            elif cache[key] is None:
                notes.append(f"{tenant}: catalog {key[1]} holds no tables yet")
        except Exception as exc:
            cache[key] = None
            notes.append(f"{tenant}: catalog {key[1]} not reachable ({type(exc).__name__}: {exc})")
    return cache[key]


def _snapshot(catalog: Any, table: str, snapshot_id: int) -> SnapshotFacts | None:
    try:
        snap = catalog.load_table(tuple(table.split(".", 1))).snapshot_by_id(snapshot_id)
    except Exception:
        return None
    if snap is None:
        return None
    summary = dict(snap.summary.additional_properties) if snap.summary else {}

    def number(key: str) -> int | None:
        value = summary.get(key)
        return int(value) if value is not None and str(value).isdigit() else None

    return SnapshotFacts(
        table,
        snapshot_id,
        number("added-records"),
        number("added-files-size"),
        number("total-records"),
    )


def _rejects(
    catalog: Any,
    tenant: str,
    table: str,
    run_ids: list[str],
    found: dict[tuple[str, str, str], RejectReason],
    notes: list[str],
) -> None:
    from pyiceberg.expressions import In

    try:
        rows = (
            catalog.load_table(tuple(table.split(".", 1)))
            .scan(
                row_filter=In(term="run_id", literals=set(run_ids)),
                selected_fields=("run_id", "rejected_at", "columns", "reason", "raw"),
                limit=MAX_REJECT_ROWS,
            )
            .to_arrow()
            .sort_by([("rejected_at", "ascending")])
            .to_pylist()
        )
    except Exception as exc:
        notes.append(f"{tenant}: quarantine {table} not read ({type(exc).__name__}: {exc})")
        return
    if len(rows) >= MAX_REJECT_ROWS:
        notes.append(f"{tenant}: only the first {MAX_REJECT_ROWS:,} rows of {table} were read")
    for row in rows:
        kind = reason_kind(str(row["reason"]))
        item = found.setdefault(
            (tenant, table, kind),
            RejectReason(tenant, table, tuple(row["columns"] or ()), kind),
        )
        item.count += 1
        if len(item.samples) < SAMPLES:
            item.samples.append(
                {
                    "run_id": str(row["run_id"]),
                    "rejected_at": row["rejected_at"].isoformat(),
                    "reason": str(row["reason"]),
                    "raw": str(row["raw"]),
                }
            )
