"""One atomic commit of a whole run on a SQL catalog (pyiceberg's ``SqlCatalog``).

The embedded SQLite catalog (and a PostgreSQL one with ``type: sql``) keeps one row per table
in ``iceberg_tables``: Iceberg's JDBC catalog schema, which pyiceberg and Spark's
``JdbcCatalog`` both read. A table's state is the metadata file its row points to. So the
run's commit is done in two steps:

1. write every table's new metadata file (each an immutable new file, which no reader sees
   while no row points to it);
2. in ONE database transaction, move every table's pointer with a compare-and-set on the
   metadata location the run started from (``UPDATE ... WHERE metadata_location = <old>``),
   and insert the rows of the tables the run creates.

The database commits all pointers or none: a crash or a conflict before the transaction's
commit leaves every table as it was (metadata files written in step 1 stay unreferenced,
like the run's data files, for ``ingestgen maintain`` to remove). A conflict (another run
moved a pointer meanwhile) rolls back the whole transaction; appends are re-staged on the
tables' new state and the commit retried, as pyiceberg does for one table.

Never writes data files; writes metadata files only under the tables' own locations.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import TypeGuard

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.table import CreateTableTransaction, StagedTable, Table
from pyiceberg.table.update import AssertCreate, AssertTableUUID, TableRequirement
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from target_iceberg import crashpoint
from target_iceberg.commit import JOB, RUN_ID, TableChange, refuse_deferred
from target_iceberg.errors import CommitError

logger = logging.getLogger(__name__)


def takes_atomic_commits(catalog: Catalog) -> TypeGuard[SqlCatalog]:
    """Whether ``catalog`` is a SQL catalog whose database reports updated row counts."""
    return isinstance(catalog, SqlCatalog) and bool(catalog.engine.dialect.supports_sane_rowcount)


class AtomicSqlCommitter:
    """Commits every table of a run in one SQL transaction (all or nothing)."""

    def __init__(
        self,
        catalog: SqlCatalog,
        *,
        job: str | None = None,
        run_id: str = "",
        retries: int = 4,
        backoff: float = 0.1,
    ) -> None:
        self.catalog = catalog
        self.job, self.run_id = job, run_id
        self.retries, self.backoff = retries, backoff

    def commit(self, changes: Sequence[TableChange]) -> dict[str, int]:
        """Write the new metadata files, then move every pointer at once.

        Raises:
            CommitError: still conflicting after the retries, or a table the run creates was
                created by someone else meanwhile; nothing of the run was committed.
        """
        if not changes:
            return {}
        refuse_deferred(changes, "the atomic SQL commit")
        ordered = sorted(changes, key=lambda c: c.identifier)
        for attempt in range(self.retries + 1):
            staged: list[tuple[Table | None, StagedTable]] = []
            try:
                for change in ordered:
                    staged.append(self._stage(change))
                self._flip(staged)
                break
            except (CommitFailedException, CommitError) as exc:
                _delete_metadata(staged)  # referenced by no table: the transaction rolled back
                if isinstance(exc, CommitError):
                    raise
                if attempt == self.retries:
                    raise CommitError(
                        f"the catalog refused the run's commit ({exc}); nothing was committed. "
                        "Another run changed these tables meanwhile: run again"
                    ) from exc
                time.sleep(self.backoff * (2**attempt) * (1 + random.random()))  # noqa: S311
                # Tables the run creates are new rows: only a duplicate insert conflicts there,
                # and that is not retried. Existing tables are re-read and appends re-staged.
                for change in ordered:
                    tx = change.transaction
                    if isinstance(tx, CreateTableTransaction):
                        continue
                    tx._table.refresh()
                    self._refuse_same_job(tx._table)
                    if tx._snapshot_producers:
                        tx._rebuild_snapshot_updates()
        done: dict[str, int] = {}
        for change in ordered:
            tx = change.transaction
            tx._cleanup_uncommitted_manifests()
            tx._updates, tx._requirements, tx._snapshot_producers = (), (), []
            name = ".".join(change.identifier)
            done[name] = change.snapshot_id(self.catalog.load_table(change.identifier))
            # The same line as the per-table committer's: `ingestgen run` follows it.
            logger.info("committed %s: snapshot %s, %d file(s)", name, done[name], change.files)
        logger.info("committed %d table(s) in one catalog transaction", len(done))
        return done

    def _refuse_same_job(self, table: Table) -> None:
        """Two runs of one job at once read from the same bookmark: the later one must not land.

        Its rows overlap the other run's, so re-staging its appends would land them twice;
        it fails instead, and its next run starts from the state the other run stored.
        """
        snapshot = table.current_snapshot()
        summary = snapshot.summary if snapshot else None
        if self.job is None or summary is None or summary[JOB] != self.job:
            return
        if summary[RUN_ID] in (None, self.run_id):
            return
        raise CommitError(
            f"another run of job {self.job} (run {summary[RUN_ID]}) committed to "
            f"{'.'.join(table.name())} while this run was loading; nothing of this run was "
            "committed (its rows overlap that run's). Run the job again: it resumes from the "
            "state that run stored"
        )

    def _stage(self, change: TableChange) -> tuple[Table | None, StagedTable]:
        """The table's new metadata, written to its new metadata file (not yet referenced)."""
        tx = change.transaction
        ident = tx._table.name()
        current: Table | None = None
        requirements: tuple[TableRequirement, ...]
        # pyiceberg 0.12 keeps the staged updates on private attributes, as in rest.py.
        if isinstance(tx, CreateTableTransaction):
            requirements = (AssertCreate(),)
        else:
            try:
                current = self.catalog.load_table(ident)
            except NoSuchTableError as exc:
                raise CommitFailedException(f"{'.'.join(ident)} was dropped meanwhile") from exc
            uuid_check = AssertTableUUID(uuid=tx.table_metadata.table_uuid)
            requirements = (*tx._requirements, uuid_check)
        staged = self.catalog._update_and_stage_table(current, ident, requirements, tx._updates)
        self.catalog._write_metadata(
            metadata=staged.metadata, io=staged.io, metadata_path=staged.metadata_location
        )
        crashpoint.reached("metadata")
        return current, staged

    def _flip(self, staged: Sequence[tuple[Table | None, StagedTable]]) -> None:
        """Move every table's pointer in one transaction; any miss rolls all of them back."""
        catalog = self.catalog
        with Session(catalog.engine) as session, session.begin():
            for current, table in staged:
                ident = table.name()
                namespace = Catalog.namespace_to_string(Catalog.namespace_from(ident))
                name = Catalog.table_name_from(ident)
                if current is None:
                    row = catalog._create_table_row(namespace, name, table.metadata_location)
                    try:
                        session.execute(insert(IcebergTables).values(**row))
                    except IntegrityError as exc:
                        raise CommitError(
                            f"{namespace}.{name} was created by another run meanwhile; nothing "
                            "was committed. Run again"
                        ) from exc
                    continue
                result = session.execute(
                    update(IcebergTables)
                    .where(
                        IcebergTables.catalog_name == catalog.name,
                        IcebergTables.table_namespace == namespace,
                        IcebergTables.table_name == name,
                        IcebergTables.metadata_location == current.metadata_location,
                    )
                    .values(
                        metadata_location=table.metadata_location,
                        previous_metadata_location=current.metadata_location,
                    )
                )
                if result.rowcount < 1:  # type: ignore[attr-defined]
                    raise CommitFailedException(
                        f"{namespace}.{name} was changed by another run meanwhile"
                    )
            crashpoint.reached("flip")


def _delete_metadata(staged: Sequence[tuple[Table | None, StagedTable]]) -> None:
    """Delete the metadata files of a commit attempt that did not go through."""
    for _, table in staged:
        try:
            table.io.delete(table.metadata_location)
        except OSError:
            logger.warning("could not delete unused metadata file %s", table.metadata_location)
