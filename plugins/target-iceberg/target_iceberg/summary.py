"""The run summary: rows read, landed and rejected per stream, snapshots, status, error kind.

Published as a model, like the asset spec (`target_iceberg.spec`): the loader fills it during
the run and writes it as JSON to ``run_summary_path`` (and always logs it); ingestgen reads
the file back with `RunSummary.read` and never walks its keys by hand. Two exit codes, kept
apart because they differ: ``exit_code`` is the runner's (the seed's codes, what ``ingestgen
run`` exits with: success 0, already_committed 0, partial 1 (rows quarantined), failed 2), and
``loader_exit_code`` the loader process's own (plugin_errors: 0 for every committed status, 2
terminal, 75 transient, 3 internal, a failed audit's ``on_fail``). Never decides anything.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from plugin_errors import EXIT_CODES, EXIT_OK, ErrorKind

logger = logging.getLogger(__name__)

Status = Literal["success", "partial", "failed", "already_committed"]
Figure = int | float | str | bool | list[str | int | bool] | None
"""One measured value or bound of an audit check."""
COMMITTED: frozenset[Status] = frozenset({"success", "partial", "already_committed"})
"""The statuses after which the run's data is in the tables (the one list of them)."""
_EXIT_CODES: dict[Status, int] = {"success": 0, "already_committed": 0, "partial": 1, "failed": 2}
_TOTALS = ("rows_read", "rows_landed", "rows_rejected", "files", "bytes")


class _Model(BaseModel):
    # Mutable: the loader counts into it during the run. Unknown keys are drift, not data.
    model_config = ConfigDict(extra="forbid")


class RejectSample(_Model):
    """One rejected record, as kept in the summary (the quarantine table has them all)."""

    columns: list[str] = Field(description="Failing column paths.")
    reason: str = Field(description="Why, per failing column.")
    raw: str = Field(description="The record as received, cut to 500 characters.")


class MergeCounts(_Model):
    """What a ``write_mode: merge`` run did with its records' keys."""

    inserted: int = Field(default=0, description="Keys new to the table.")
    updated: int = Field(default=0, description="Keys whose table row was replaced.")
    duplicates: int = Field(
        default=0, description="Records superseded by a later (or newer) one of the run."
    )
    stale: int = Field(
        default=0,
        description="Records older (by the spec's cursor) than the table's row: kept out.",
    )
    files_probed: int = Field(default=0, description="Data files whose keys were read.")
    files_rewritten: int = Field(
        default=0, description="Data files rewritten without replaced rows."
    )


class StreamSummary(_Model):
    """One stream's figures."""

    table: str = Field(description="The table, as <namespace>.<table>.")
    rows_read: int = Field(default=0, description="Records read from the tap.")
    rows_landed: int = Field(default=0, description="Records written to the table.")
    rows_rejected: int = Field(default=0, description="Records quarantined.")
    rejected_table: str | None = Field(default=None, description="The quarantine table, if used.")
    snapshot_id: int | None = Field(default=None, description="The run's snapshot of the table.")
    rejected_snapshot_id: int | None = Field(
        default=None, description="The run's snapshot of the quarantine table."
    )
    files: int = Field(default=0, description="Data files written (table and quarantine).")
    bytes: int = Field(default=0, description="Bytes of those files.")
    schema_changes: list[str] = Field(default_factory=list, description="Schema evolutions.")
    sample_rejects: list[RejectSample] = Field(
        default_factory=list, description="Up to 20 rejected records."
    )
    merge: MergeCounts | None = Field(
        default=None, description="With write_mode merge: inserted, updated, superseded keys."
    )


class Totals(_Model):
    """Sums over the streams."""

    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    files: int = 0
    bytes: int = 0


class NessieCommit(_Model):
    """Where a Nessie run committed."""

    branch: str = Field(description="The Nessie branch the run committed to.")
    commit_hash: str | None = Field(default=None, description="The commit's hash, if known.")


class CheckResult(_Model):
    """One audit check on one table."""

    table: str = Field(description="The table, as <namespace>.<table>.")
    check: str = Field(description="The check, e.g. not_null.account or unique_key.")
    passed: bool = Field(description="Whether the audit branch's data passed it.")
    detail: str = Field(description="What was measured, against what bound.")
    figures: dict[str, Figure] = Field(
        default_factory=dict,
        description=(
            "The same, as figures: what was measured (rows, share, min, max, newest, ...) and "
            "the bound it was held to (allowed_min, allowed_max, required, ...)."
        ),
    )


class AuditSummary(_Model):
    """Write-audit-publish: the run's audit branch, its checks, and whether it was published."""

    branch: str = Field(description="The audit branch of every table of the run.")
    nessie_branch: str | None = Field(
        default=None,
        description="On Nessie: the run's own Nessie branch, merged into the tenant's on publish.",
    )
    passed: bool = Field(default=False, description="Every check passed.")
    published: bool = Field(default=False, description="main now holds the audited snapshots.")
    on_fail: int = Field(default=2, description="The exit code of a failed audit (1 or 2).")
    checks: list[CheckResult] = Field(default_factory=list, description="Every check's result.")
    snapshots: dict[str, int] = Field(
        default_factory=dict, description="The audited snapshot of each table, by table."
    )

    @property
    def failing(self) -> list[CheckResult]:
        """The checks that failed."""
        return [c for c in self.checks if not c.passed]


class RunSummary(_Model):
    """The whole run."""

    run_id: str = Field(description="The run id recorded in every snapshot.")
    namespace: str = Field(description="The Iceberg namespace.")
    tenant: str | None = Field(default=None, description="Tenant id.")
    job: str | None = Field(default=None, description="Job name.")
    status: Status = Field(default="success", description="How the run ended.")
    exit_code: int = Field(
        default=0,
        description=(
            "The status as a runner's exit code (ingestgen run's: 0 success, 1 partial, 2 "
            "failed, or a failed audit's on_fail), whatever the kind of failure."
        ),
    )
    loader_exit_code: int = Field(
        default=0,
        description=(
            "The exit code of the loader process that wrote this summary: 0 when it committed "
            "(with quarantined rows too), else by error_kind: 2 terminal, 75 transient (a "
            "retry may help), 3 internal; a failed audit's on_fail. A loader stopped by signal "
            "N exits 128+N instead (its error_kind says transient)."
        ),
    )
    error: str | None = Field(default=None, description="Why the run failed, in one line.")
    error_kind: ErrorKind | None = Field(
        default=None, description="terminal, transient or internal when the run failed."
    )
    started_at: float | None = Field(default=None, description="Start, epoch seconds.")
    duration_s: float = Field(default=0.0, description="Wall seconds of the whole run.")
    commit_s: float = Field(default=0.0, description="Wall seconds of staging and commit.")
    streams: dict[str, StreamSummary] = Field(default_factory=dict, description="Per stream.")
    totals: Totals = Field(default_factory=Totals, description="Sums over the streams.")
    nessie: NessieCommit | None = Field(
        default=None, description="The Nessie branch and commit, for Nessie catalogs."
    )
    audit: AuditSummary | None = Field(
        default=None, description="The audit branch and checks, when the job audits its runs."
    )

    @property
    def committed(self) -> bool:
        """Whether the run's data is in the tables."""
        return self.status in COMMITTED

    def seal(self) -> None:
        """Fill the derived fields (exit code, totals) from the status and the streams."""
        self.exit_code = _EXIT_CODES[self.status]
        if self.status == "failed" and self.audit is not None and self.audit.failing:
            self.exit_code = self.audit.on_fail
        self.loader_exit_code = self.loader_exit()
        self.totals = Totals(
            **{key: sum(getattr(s, key) for s in self.streams.values()) for key in _TOTALS}
        )

    def loader_exit(self) -> int:
        """The loader process's exit code for this status and error kind (see the field)."""
        if self.status != "failed":
            return EXIT_OK
        if self.audit is not None and self.audit.failing:
            return self.audit.on_fail
        # The loader always names the kind; a summary without one gets the generic 2.
        return EXIT_CODES[self.error_kind or ErrorKind.TERMINAL]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        self.seal()
        return self.model_dump(mode="json")

    def finish(self, path: str | None) -> None:
        """Stamp the duration, log the summary and write it to ``path`` if given."""
        if self.started_at is not None:
            self.duration_s = round(time.time() - self.started_at, 3)
        data = self.to_dict()
        logger.info("run summary: %s", json.dumps(data))
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> RunSummary:
        """Read a summary file the loader wrote.

        Raises:
            OSError: the file cannot be read.
            pydantic.ValidationError: it is not a run summary of this loader.
        """
        return cls.model_validate_json(path.read_bytes())
