"""Publish (or discard) a run's audit branch: move each table's ``main`` to its audited snapshot.

The run's snapshots sit on the branch `branch_name(run_id)` of each table, cut from ``main``.
Publishing stages, per table, ``set-snapshot-ref main -> audited snapshot`` with the requirement
``assert-ref-snapshot-id main == the snapshot the branch was cut from`` and removes the branch,
and hands those changes to the run's `Committer` (one REST ``transactions/commit`` for every
table on REST catalogs; table by table, in name order, on the embedded catalog). A writer that
appended to ``main`` meanwhile makes the requirement fail: the run's files are then appended
again on the branch, cut from the new ``main``, the checks run again, and the publish is
retried. Never writes data files; never touches ``main`` unless every check passed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table
from pyiceberg.table.refs import MAIN_BRANCH, SnapshotRefType
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update import AssertRefSnapshotId, RemoveSnapshotRefUpdate

from target_iceberg.audit.checks import added_files, evaluate
from target_iceberg.audit.model import AuditChecks
from target_iceberg.commit import RUN_ID, Committer, TableChange, committed_snapshot
from target_iceberg.errors import CommitError
from target_iceberg.summary import CheckResult

logger = logging.getLogger(__name__)

BRANCH_PREFIX = "ingestgen-audit-"
ATTEMPTS = 3


def branch_name(run_id: str) -> str:
    """The audit branch of a run (the same name in every table of the run)."""
    return BRANCH_PREFIX + run_id


@dataclass(frozen=True)
class AuditTarget:
    """One table of the run to audit and publish."""

    identifier: tuple[str, str]
    checks: AuditChecks | None = None
    key: tuple[str, ...] = ()
    read: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class Audited:
    """A table's audited snapshot on the run's branch."""

    table: Table
    snapshot: Snapshot
    base: int | None
    """``main``'s snapshot when the branch was cut (None: main had none)."""

    @property
    def name(self) -> str:
        """``namespace.table``."""
        return ".".join(self.table.name())

    @property
    def main(self) -> int | None:
        """``main``'s snapshot now (as loaded)."""
        return self.table.metadata.current_snapshot_id


def audited_snapshot(table: Table, branch: str, run_id: str) -> Audited | None:
    """The run's snapshot at the head of ``branch`` in ``table``, if there is one."""
    snapshot = table.metadata.snapshot_by_name(branch)
    if snapshot is None or snapshot.summary is None:
        return None
    if snapshot.summary.additional_properties.get(RUN_ID) != run_id:
        return None
    base = snapshot.parent_snapshot_id
    # The branch may have more than one snapshot of the run on top of main (a rebase replaces
    # the head only, so the parent is main's snapshot).
    return Audited(table, snapshot, base)


@dataclass
class Outcome:
    """What the audit found and whether ``main`` now holds the run."""

    checks: list[CheckResult]
    snapshots: dict[str, int]
    published: bool

    @property
    def failing(self) -> list[CheckResult]:
        """The checks that failed."""
        return [c for c in self.checks if not c.passed]


class Publisher:
    """Audits a run's branch and publishes it through the run's committer."""

    def __init__(
        self, catalog: Catalog, committer: Committer, *, run_id: str, branch: str | None = None
    ) -> None:
        self.catalog = catalog
        self.committer = committer
        self.run_id = run_id
        self.branch = branch or branch_name(run_id)

    def _load(self, identifier: tuple[str, str]) -> Table | None:
        try:
            return self.catalog.load_table(identifier)
        except NoSuchTableError:
            return None

    def audit(self, targets: Sequence[AuditTarget]) -> tuple[list[Audited], list[CheckResult]]:
        """The tables still to publish and every check's result on their audited snapshots."""
        pending: list[Audited] = []
        results: list[CheckResult] = []
        now = dt.datetime.now(dt.UTC)
        for target in sorted(targets, key=lambda t: t.identifier):
            table = self._load(target.identifier)
            if table is None:
                continue
            found = audited_snapshot(table, self.branch, self.run_id)
            if found is not None:
                pending.append(found)
            elif committed_snapshot(table, self.run_id) is not None:
                continue  # published before (a half-done per-table publish)
            if target.checks is None:
                continue
            if found is None and committed_snapshot(table, self.run_id) is None:
                snapshot_id = None
            else:
                snapshot_id = found.snapshot.snapshot_id if found else None
            results += evaluate(
                table,
                snapshot_id,
                target.checks,
                target.key,
                read=target.read,
                rejected=target.rejected,
                now=now,
            )
        return pending, results

    def run(self, targets: Sequence[AuditTarget]) -> Outcome:
        """Audit, then publish if every check passed (rebasing on a moved ``main``).

        Raises:
            CommitError: ``main`` kept moving, the run's snapshot cannot be re-applied on it
                (a merge run), or the catalog refused; ``main`` holds nothing of the run
                (embedded catalog: the tables published before it are named).
        """
        for attempt in range(ATTEMPTS):
            pending, results = self.audit(targets)
            moved = [a for a in pending if a.main != a.base]
            if moved:
                self._rebase(moved)
                continue
            snapshots = {a.name: a.snapshot.snapshot_id for a in pending}
            if any(not r.passed for r in results):
                return Outcome(results, snapshots, published=False)
            if pending:
                try:
                    self.committer.commit([self._publish_change(a) for a in pending])
                except CommitError:
                    if attempt == ATTEMPTS - 1:
                        raise
                    logger.info("publish of %s conflicted; auditing again", self.branch)
                    continue
            logger.info("published %s: %s", self.branch, snapshots)
            return Outcome(results, snapshots, published=True)
        raise CommitError(
            f"main of the run's tables kept moving while {self.branch} was published "
            f"({ATTEMPTS} attempts); nothing more was published. Re-run the job, or publish it "
            "later with ingestgen audit --publish"
        )

    def _publish_change(self, audited: Audited) -> TableChange:
        tx = audited.table.transaction()
        updates, requirements = tx._set_ref_snapshot(
            snapshot_id=audited.snapshot.snapshot_id,
            ref_name=MAIN_BRANCH,
            type=SnapshotRefType.BRANCH,
        )
        # The requirement says main is still where the branch was cut (None: no snapshot yet).
        requirements = (AssertRefSnapshotId(ref=MAIN_BRANCH, snapshot_id=audited.base),)
        tx._apply(updates, requirements)
        tx._apply(
            (RemoveSnapshotRefUpdate(ref_name=self.branch),),
            (AssertRefSnapshotId(ref=self.branch, snapshot_id=audited.snapshot.snapshot_id),),
        )
        identifier = (audited.table.name()[0], audited.table.name()[1])
        return TableChange(identifier, tx, files=0, created=False)

    def _rebase(self, moved: Sequence[Audited]) -> None:
        """Re-apply each moved table's run files on a branch cut from the new ``main``."""
        for audited in moved:
            operation = audited.snapshot.summary.operation if audited.snapshot.summary else None
            if operation is None or operation.value != "append":
                raise CommitError(
                    f"main of {audited.name} moved since the run wrote {self.branch} and its "
                    f"{operation.value if operation else 'unknown'} snapshot cannot be applied "
                    "again on top of it; main is unchanged: discard the branch (ingestgen "
                    "audit --discard) and re-run the job"
                )
            files = added_files(audited.table, audited.snapshot.snapshot_id)
            properties = {
                k: v
                for k, v in audited.snapshot.summary.additional_properties.items()  # type: ignore[union-attr]
                if k.startswith("ingestgen.")
            }
            tx = audited.table.transaction()
            main = audited.main
            if main is not None:
                tx._apply(
                    *tx._set_ref_snapshot(
                        snapshot_id=main, ref_name=self.branch, type=SnapshotRefType.BRANCH
                    )
                )
            else:
                tx._apply(
                    (RemoveSnapshotRefUpdate(ref_name=self.branch),),
                    (
                        AssertRefSnapshotId(
                            ref=self.branch, snapshot_id=audited.snapshot.snapshot_id
                        ),
                    ),
                )
            with tx.update_snapshot(
                snapshot_properties=properties, branch=self.branch
            ).fast_append() as append:
                for data_file in files:
                    append.append_data_file(data_file)
            tx.commit_transaction()
            logger.info(
                "main of %s moved (%s -> %s): the run's %d file(s) applied again on %s",
                audited.name,
                audited.base,
                main,
                len(files),
                self.branch,
            )

    def discard(self, identifiers: Sequence[tuple[str, str]]) -> list[str]:
        """Remove the run's branch from each table (its snapshots go with the next expiry)."""
        removed = []
        for identifier in sorted(identifiers):
            table = self._load(identifier)
            if table is None or self.branch not in table.metadata.refs:
                continue
            table.manage_snapshots().remove_branch(self.branch).commit()
            removed.append(".".join(identifier))
        return removed
