"""The write-backend seam: who turns a stream's coerced Arrow rows into a table change.

The sink pipeline (`target_iceberg.sinks`) is the same for every engine: it reads, enforces the
contract, quarantines and counts. What it does with the good rows of a block is this seam's:
a `Backend` opens one `TableOutput` per table of the run (the stream's table and, when a record
is rejected, its quarantine table), each output stages at most one change at the end of the
run, and the backend's `Committer` makes the run's changes visible. That is the whole write
path of an engine: nothing else in the loader asks which engine runs.

- `NativeBackend` (engine ``native``): pyiceberg plans the table and this process writes the
  Parquet files (`target_iceberg.writer`); ``write_mode: merge`` spools the run's rows, keeps
  one version per key and stages a copy-on-write overwrite (`target_iceberg.merge`). Its
  committer is the catalog's best (`native_committer`): one multi-table commit, one SQL
  transaction, or table by table.
- `target_iceberg.spark.backend.SparkBackend` (engine ``spark``): the same plan, the same
  spool and de-duplication; each data table's change carries a deferred write (a Spark session
  appends or runs ``MERGE INTO`` at commit time), so its committer goes table by table.
- The contract mapper (plugins/mapper-contract) emits the rows as Singer RECORD messages for a
  stock loader, once its own commit (the quarantine tables) went through.

Quarantine tables are always written natively: they are the loader's own, append-only tables.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal, Protocol

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.io.pyarrow import schema_to_pyarrow

from target_iceberg.commit import Committer, MultiTableCommitter, PerTableCommitter, TableChange
from target_iceberg.config import LoaderConfig
from target_iceberg.contract.evolution import SchemaPlan
from target_iceberg.contract.model import Contract
from target_iceberg.errors import ConfigError
from target_iceberg.sqlcommit import AtomicSqlCommitter, takes_atomic_commits
from target_iceberg.summary import MergeCounts
from target_iceberg.tables import TableHandle
from target_iceberg.writer import RollingWriter, WriteStats

if TYPE_CHECKING:
    from target_iceberg.pipeline import RunContext

logger = logging.getLogger(__name__)

Role = Literal["data", "rejects"]


class TableOutput(Protocol):
    """One table of the run, as the sink sees it."""

    name: str
    """``namespace.table``."""
    skip: bool
    """This run id already committed here (a re-run): rows are counted, not written."""
    stats: WriteStats
    counts: MergeCounts | None
    """What a merge did (None: the output appends)."""

    @property
    def plan(self) -> SchemaPlan:
        """The schema the rows are coerced to (columns, Arrow schema with field ids)."""
        ...

    @property
    def schema_changes(self) -> list[str]:
        """Schema evolutions the run's change applies (for the summary)."""
        ...

    def replan(self, contract: Contract) -> bool:
        """Follow a changed contract; True if the rows' schema changed."""
        ...

    def write(self, table: pa.Table) -> None:
        """Take coerced rows in ``plan.arrow_schema()`` (called on the worker, in order)."""
        ...

    def stage(self, properties: dict[str, str]) -> TableChange | None:
        """Finish the rows and stage the table's one change (None: nothing to commit)."""
        ...

    def already_committed(self) -> int | None:
        """The snapshot of this run id in the table, if the run committed before."""
        ...

    def abort(self, *, staged: bool) -> None:
        """Delete what was written and is not committed."""
        ...


class Backend(Protocol):
    """Opens the outputs of a run."""

    def open(
        self, ctx: RunContext, identifier: tuple[str, str], contract: Contract, role: Role
    ) -> TableOutput:
        """The output of table ``identifier`` for rows following ``contract``."""
        ...

    def committer(self, catalog: Catalog, settings: LoaderConfig) -> Committer:
        """Who makes the run's staged changes visible (called once, before the first change)."""
        ...

    def close(self) -> None:
        """Release the engine (e.g. stop a Spark session) once the run is over."""
        ...


def native_committer(catalog: Catalog, settings: LoaderConfig) -> Committer:
    """The committer of changes this process staged whole (transactions holding the snapshots).

    ``commit_mode: multi_table``: one REST multi-table commit; a SQL catalog: one database
    transaction for every table (`target_iceberg.sqlcommit`); otherwise table by table.
    """
    if settings.commit_mode == "multi_table":
        return MultiTableCommitter(
            catalog,
            tenant=settings.tenant or settings.namespace,
            job=settings.job,
            run_id=settings.run_id,
        )
    if takes_atomic_commits(catalog):
        return AtomicSqlCommitter(catalog, job=settings.job, run_id=settings.run_id)
    return PerTableCommitter(catalog)


def merge_key(contract: Contract, table: str) -> tuple[str, ...]:
    """The columns ``write_mode: merge`` upserts by.

    Raises:
        ConfigError: the contract has no primary key.
    """
    if not contract.key:
        raise ConfigError(
            f"write_mode merge needs a primary key for table {table}: give the asset spec a "
            "primary_key (or the stream key_properties), or use write_mode append"
        )
    return contract.key


class NativeOutput:
    """A table written by this process: rolling Parquet files, one fast append."""

    def __init__(self, ctx: RunContext, identifier: tuple[str, str], contract: Contract) -> None:
        self.ctx = ctx
        self.handle = TableHandle(
            ctx.catalog,
            identifier,
            contract,
            create_now=ctx.create_tables_first,
            branch=ctx.audit_branch,
        )
        self.name = self.handle.name
        self.skip = self.handle.already_committed(ctx.run_id) is not None
        if self.skip:
            logger.info(
                "%s: run %s already committed here; not writing it again", self.name, ctx.run_id
            )
        elif ctx.audit_branch is not None and self.handle.table is not None:
            # A re-run of a run that wrote its audit branch but never published (killed, or
            # its audit failed): the branch is audited and published as it is.
            written = self.handle.table.metadata.snapshot_by_name(ctx.audit_branch)
            if written is not None:
                self.skip = True
                logger.info(
                    "%s: run %s already wrote %s; auditing it as it is",
                    self.name,
                    ctx.run_id,
                    ctx.audit_branch,
                )
        self.writer = self.new_writer()
        self.stats = self.writer.stats
        self.counts: MergeCounts | None = None

    def new_writer(self, tag: str = "", *, whole_schema: bool = False) -> RollingWriter:
        """A rolling writer for this table's files in the planned schema.

        Args:
            tag: added to the file names.
            whole_schema: write every column of the planned table schema (rewriting a file's
                rows), not only the contract's.
        """
        handle = self.handle
        return RollingWriter(
            io=handle.io,
            locations=handle.locations(),
            schema=handle.plan.schema,
            arrow_schema=(
                schema_to_pyarrow(handle.plan.schema)
                if whole_schema
                else handle.plan.arrow_schema()
            ),
            spec=handle.spec,
            table_properties=handle.metadata.properties,
            file_prefix=f"{self.ctx.file_prefix}-{self.handle.identifier[1]}{tag}",
            settings=self.ctx.settings,
        )

    @property
    def plan(self) -> SchemaPlan:
        """The planned schema."""
        return self.handle.plan

    @property
    def schema_changes(self) -> list[str]:
        """The table's planned evolutions."""
        return self.handle.schema_changes

    def replan(self, contract: Contract) -> bool:
        """Plan for a changed contract; open files close when the schema changes."""
        changed = self.handle.replan(contract)
        if changed:
            self.writer.set_schema(self.handle.plan.schema, self.handle.plan.arrow_schema())
        return changed

    def write(self, table: pa.Table) -> None:
        """Write the rows to rolling files (not when the run already committed here)."""
        if not self.skip:
            self.writer.write(table)

    def stage(self, properties: dict[str, str]) -> TableChange | None:
        """Close the files and stage one fast append."""
        if self.skip:
            return None
        return self.handle.stage(self.writer.close(), properties)

    def already_committed(self) -> int | None:
        """The snapshot of this run id, if any."""
        return self.handle.already_committed(self.ctx.run_id)

    def abort(self, *, staged: bool) -> None:
        """Delete the run's files unless the table's commit already went through."""
        if self.skip:
            return
        if staged and self.handle.committed_in_catalog(self.ctx.catalog, self.ctx.run_id):
            return
        self.writer.abort()


class NativeBackend:
    """Engine ``native``: pyiceberg plans and commits, this process writes every file."""

    def __init__(self, write_mode: Literal["append", "merge"] = "append") -> None:
        self.write_mode = write_mode

    def committer(self, catalog: Catalog, settings: LoaderConfig) -> Committer:
        """The catalog's best committer (`native_committer`)."""
        return native_committer(catalog, settings)

    def open(
        self, ctx: RunContext, identifier: tuple[str, str], contract: Contract, role: Role
    ) -> TableOutput:
        """An appending output, or a merging one for the data table in merge mode."""
        if role == "data" and self.write_mode == "merge":
            from target_iceberg.merge import MergeOutput

            return MergeOutput(ctx, identifier, contract)
        return NativeOutput(ctx, identifier, contract)

    def close(self) -> None:
        """Nothing to release."""
