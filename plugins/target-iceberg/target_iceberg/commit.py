"""The committer seam: a run's staged table changes become visible, all at the end.

`TableChange` is one table's pending change: a pyiceberg transaction holding the schema update
(if the contract evolved) and one fast-append snapshot of the run's data files, plus the
snapshot properties (run id, tenant, job, Singer state). An engine that makes the snapshot
itself at commit time (Spark) stages the metadata in the transaction and its snapshot as the
change's `DeferredWrite`. A `Committer` makes a whole run's changes visible in one call; which
one a run uses is its engine's choice (`target_iceberg.outputs.Backend.committer`):

- `PerTableCommitter` (any pyiceberg catalog, the embedded SQLite one included) commits table
  by table in identifier order, each change's deferred write right after its transaction. If
  it stops half-way, re-running with the same run id commits only the tables that lack a
  snapshot of that run (`committed_snapshot`).
- `MultiTableCommitter` (REST catalogs) sends every change of the run as one Iceberg REST
  multi-table commit (`target_iceberg.rest`): on Nessie one commit, new tables included.

This module never writes data files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction
from pyiceberg.table.refs import MAIN_BRANCH, SnapshotRefType
from pyiceberg.table.update import (
    AddSchemaUpdate,
    AssertCurrentSchemaId,
    SetCurrentSchemaUpdate,
    SetSnapshotRefUpdate,
)

from target_iceberg.errors import CommitError, ConfigError

logger = logging.getLogger(__name__)

RUN_ID = "ingestgen.run-id"
TENANT = "ingestgen.tenant"
JOB = "ingestgen.job"
STREAM = "ingestgen.stream"
STATE = "ingestgen.singer-state"
SPEC_VERSION = "ingestgen.spec-version"
CONTENT = "ingestgen.content-digest"
"""A digest of the rows a run landed (and rejected) in a stream, in order."""


class DeferredWrite(Protocol):
    """A table's snapshot that an engine makes at commit time, after the change's transaction."""

    def run(self) -> Table:
        """Write the snapshot; return the table as committed.

        Raises:
            CommitFailedException: a concurrent change made the commit fail (retry).
        """
        ...

    def discard(self) -> None:
        """Drop what the write would have written; it can no longer run."""
        ...


@dataclass
class TableChange:
    """One table's staged change for a run; nothing of it is visible until committed."""

    identifier: tuple[str, str]
    transaction: Transaction
    """The table's metadata change and, unless ``deferred`` is set, its snapshot."""
    files: int
    created: bool
    rows: int = -1
    """Rows the change adds (its data files' record counts); -1 when unknown."""
    content: str = ""
    """The `CONTENT` digest its snapshot records."""
    deferred: DeferredWrite | None = None
    """The snapshot, when the engine makes it at commit time (only `PerTableCommitter` runs it)."""
    branch: str | None = None
    """The branch its snapshot goes to (a write-audit-publish audit branch); None: ``main``."""

    def snapshot_id(self, table: Table) -> int:
        """The id of the snapshot this change made in ``table`` (committed): its branch's head.

        After an audit-branch write ``main`` still holds the snapshot before the run, so the
        head of the change's own branch is what the run made (-1: the table has none).
        """
        if self.branch is not None:
            snapshot = table.metadata.snapshot_by_name(self.branch)
        else:
            snapshot = table.current_snapshot()
        return snapshot.snapshot_id if snapshot else -1

    def discard(self) -> None:
        """Delete the manifests staging wrote; the change can no longer be committed."""
        for producer in self.transaction._snapshot_producers:
            producer._clean_all_uncommitted()
        self.transaction._updates, self.transaction._snapshot_producers = (), []
        if self.deferred is not None:
            self.deferred.discard()


def refuse_deferred(changes: Sequence[TableChange], committer: str) -> None:
    """Fail before committing anything when a change needs a per-table commit.

    Raises:
        CommitError: a change carries a deferred write, which ``committer`` cannot run.
    """
    deferred = [".".join(c.identifier) for c in changes if c.deferred is not None]
    if deferred:
        raise CommitError(
            f"{committer} cannot commit {', '.join(sorted(deferred))}: their snapshots are made "
            "by the engine at commit time, table by table; use commit_mode per_table"
        )


class Committer(Protocol):
    """Makes all staged changes of a run visible."""

    def commit(self, changes: Sequence[TableChange]) -> dict[str, int]:
        """Commit every change; return each table's new snapshot id by ``namespace.table``.

        Called once at the end of every run that got that far, also with no changes.

        Raises:
            CommitError: the catalog refused; what was not committed stays invisible.
        """
        ...


class PerTableCommitter:
    """Commits table by table in a deterministic order (identifier order)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def commit(self, changes: Sequence[TableChange]) -> dict[str, int]:
        """Commit each change in identifier order (its deferred write right after it)."""
        done: dict[str, int] = {}
        for change in sorted(changes, key=lambda c: c.identifier):
            name = ".".join(change.identifier)
            try:
                table = change.transaction.commit_transaction()
                if change.deferred is not None:
                    table = change.deferred.run()
            except CommitFailedException as exc:
                raise CommitError(
                    f"the catalog refused the commit of {name} ({exc}); tables committed before "
                    f"it: {sorted(done) or 'none'}. Re-run with the same run_id to finish"
                ) from exc
            done[name] = change.snapshot_id(table)
            logger.info("committed %s: snapshot %s, %d file(s)", name, done[name], change.files)
        return done


class MultiTableCommitter:
    """One multi-table commit for the whole run (Iceberg REST ``transactions/commit``).

    On Project Nessie that call becomes a single Nessie commit (tables the run creates
    included): every table of the run becomes visible at once, or none does. The transport
    lives in `target_iceberg.rest`; the commit metadata is `target_iceberg.nessie.CommitInfo`.
    """

    def __init__(self, catalog: Catalog, *, tenant: str, job: str | None, run_id: str) -> None:
        from pyiceberg.catalog.rest import RestCatalog  # only this mode needs the REST client

        if not isinstance(catalog, RestCatalog):
            raise CommitError(
                "commit_mode multi_table needs a REST catalog (Nessie's Iceberg REST endpoint); "
                f"the configured catalog is {type(catalog).__name__}. Set catalog_properties "
                "type: rest, or use commit_mode: per_table"
            )
        self.catalog = catalog
        self.tenant, self.job, self.run_id = tenant, job, run_id

    def commit(self, changes: Sequence[TableChange]) -> dict[str, int]:
        """Send every change in one call, in identifier order."""
        from target_iceberg.errors import CatalogRequestError, CatalogUnavailableError
        from target_iceberg.nessie import CommitInfo
        from target_iceberg.rest import commit_transactions

        if not changes:
            return {}
        refuse_deferred(changes, "the multi-table commit")
        ordered = sorted(changes, key=lambda c: c.identifier)
        try:
            info = CommitInfo.for_run(tenant=self.tenant, job=self.job, run_id=self.run_id)
        except ValueError as exc:
            raise ConfigError(f"cannot describe the run's Nessie commit: {exc}") from None
        try:
            tables = commit_transactions(
                self.catalog, [c.transaction for c in ordered], headers=info.headers()
            )
        except CatalogRequestError as exc:
            # A commit that got no answer says itself what is known of its outcome.
            known = "" if isinstance(exc, CatalogUnavailableError) else ", nothing was committed"
            error = CommitError(f"the multi-table commit failed{known}: {exc}")
            error.kind = exc.kind  # a refused request stays refused; a conflict may pass
            raise error from exc
        done = {}
        for change, table in zip(ordered, tables, strict=True):
            done[".".join(change.identifier)] = change.snapshot_id(table)
        logger.info("committed %d table(s) in one multi-table commit", len(done))
        return done


def replay_of(changes: Sequence[TableChange], state: str | None, run_id: str) -> str | None:
    """The run id of an earlier run that this run repeats exactly, if there is one.

    A run killed after its commit but before its STATE reached Meltano is run again from the
    older state: the tap sends the same records and ends at the same state. That is the case
    when every table this run changes has, as its current snapshot, a snapshot of one other
    run that recorded the same (non-empty) final Singer state and added as many rows as this
    run would. Such a run must not be committed a second time.

    Args:
        changes: the run's staged changes.
        state: the run's final Singer state as the snapshots record it (None: no state).
        run_id: this run's id.
    """
    if not changes or not state:
        return None
    if any(not change.content for change in changes):
        return None
    runs = set()
    for change in changes:
        if change.created or change.rows < 0:
            return None
        if change.deferred is not None:
            return None  # the engine makes its snapshot at commit time: nothing to compare yet
        snapshot = change.transaction._table.current_snapshot()  # the table as the run found it
        summary = snapshot.summary if snapshot else None
        if summary is None or summary[STATE] != state or summary[RUN_ID] in (None, run_id):
            return None
        if summary["added-records"] != str(change.rows) or summary[CONTENT] != change.content:
            return None
        runs.add(str(summary[RUN_ID]))
    return runs.pop() if len(runs) == 1 else None


def committed_snapshot(table: Table | None, run_id: str) -> int | None:
    """The id of the snapshot ``run_id`` committed to the table's ``main``, if it did.

    Only ``main``'s history counts: a snapshot of the run on an audit branch is not
    published (see `written_snapshot`).
    """
    if table is None:
        return None
    metadata = table.metadata
    snapshot = metadata.current_snapshot()
    seen: set[int] = set()
    while snapshot is not None and snapshot.snapshot_id not in seen:
        seen.add(snapshot.snapshot_id)
        if snapshot.summary is not None and snapshot.summary[RUN_ID] == run_id:
            return snapshot.snapshot_id
        parent = snapshot.parent_snapshot_id
        snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    return None


def written_snapshot(table: Table | None, run_id: str) -> int | None:
    """The id of a snapshot of ``run_id`` anywhere in the table (``main`` or a branch)."""
    if table is None:
        return None
    for snapshot in table.metadata.snapshots:
        if snapshot.summary is not None and snapshot.summary[RUN_ID] == run_id:
            return snapshot.snapshot_id
    return None


def stage(
    transaction: Transaction,
    *,
    base_schema_id: int | None,
    new_schema: Schema | None,
    files: Sequence[DataFile],
    properties: dict[str, str],
    replaced: Sequence[DataFile] = (),
    branch: str | None = None,
) -> None:
    """Stage a schema change (if any) and one snapshot of the run's files on ``transaction``.

    The snapshot is a fast append, or, when the run replaces files (``write_mode: merge``), one
    overwrite that removes ``replaced`` and adds ``files`` (pyiceberg validates at commit
    time that the replaced files are still live).

    Args:
        transaction: a table or create-table transaction; not committed here.
        base_schema_id: the schema id the plan started from (None for a new table): the
            commit fails if someone changed the schema meanwhile.
        new_schema: the planned schema with the ids the files were written with, or None.
        files: the run's data files.
        properties: snapshot summary properties.
        replaced: live data files the snapshot removes (their rows are rewritten in ``files``).
        branch: write the snapshot to this branch (write-audit-publish), cut from ``main``
            first when it does not exist; None: ``main``.
    """
    if new_schema is not None:
        requirements = (
            (AssertCurrentSchemaId(current_schema_id=base_schema_id),)
            if base_schema_id is not None
            else ()
        )
        # The data files already carry the planned field ids, so the schema is added as
        # planned rather than through UpdateSchema, which would assign ids of its own.
        transaction._apply(
            (AddSchemaUpdate(schema_=new_schema), SetCurrentSchemaUpdate(schema_id=-1)),
            requirements,
        )
    main = transaction.table_metadata.current_snapshot_id
    if branch is not None and main is not None and branch not in transaction.table_metadata.refs:
        # Cut from main, so the branch holds main's rows plus the run's.
        transaction._apply(
            *transaction._set_ref_snapshot(
                snapshot_id=main, ref_name=branch, type=SnapshotRefType.BRANCH
            )
        )
    # pyiceberg writes a table's first snapshot to main only: on a table without snapshots the
    # run's snapshot is staged without a ref, and the branch is pointed at it.
    unreferenced = branch is not None and main is None
    target = None if unreferenced else (branch or MAIN_BRANCH)
    producer = transaction.update_snapshot(snapshot_properties=properties, branch=target)
    if replaced:
        with producer.overwrite() as change:
            for data_file in replaced:
                change.delete_data_file(data_file)
            for data_file in files:
                change.append_data_file(data_file)
        snapshot_id = change.snapshot_id
    elif files:
        with producer.fast_append() as append:
            for data_file in files:
                append.append_data_file(data_file)
        snapshot_id = append.snapshot_id
    else:
        return
    if unreferenced:
        transaction._apply(
            (
                SetSnapshotRefUpdate(
                    snapshot_id=snapshot_id,
                    ref_name=branch,
                    type=SnapshotRefType.BRANCH,
                    max_ref_age_ms=None,
                    max_snapshot_age_ms=None,
                    min_snapshots_to_keep=None,
                ),
            ),
            (),
        )
