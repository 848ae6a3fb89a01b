"""Engine ``spark``: the run's coerced rows are appended, or merged, into the table by Spark.

Everything before the write is the shared pipeline: contract, coercion, quarantine (written
natively: a loader-owned, append-only table), thresholds, and for ``write_mode: merge`` the
spool's one version per key. At commit time, table by table:

1. pyiceberg commits what the run plans for the table's metadata (the change's transaction):
   its creation (with the contract's schema, field ids and partitioning) or a schema
   evolution; no snapshot;
2. Spark writes the one snapshot (the change's deferred write, `SparkWrite`): ``INSERT INTO``
   (append) or ``MERGE INTO`` on the primary key (``WHEN MATCHED [AND the table's cursor is not
   newer] THEN UPDATE``, ``WHEN NOT MATCHED THEN INSERT``); the snapshot summary carries the
   same ``ingestgen.*`` properties as a native one (Iceberg's
   ``spark.sql.iceberg.snapshot-property.*`` session settings).

Rows reach Spark as Parquet files in a private temporary folder for a ``local`` master, and
through the driver (Arrow) for a cluster or Spark Connect, which cannot read this machine's
files. Unlike the native engine, step 1 becomes visible just before step 2: a failure between
them leaves the new table empty, or the new columns without values, and no data of the run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table

from target_iceberg.commit import (
    RUN_ID,
    Committer,
    PerTableCommitter,
    TableChange,
    committed_snapshot,
)
from target_iceberg.config import LoaderConfig
from target_iceberg.contract.model import Contract
from target_iceberg.errors import LoaderError
from target_iceberg.outputs import NativeOutput, Role, TableOutput, merge_key
from target_iceberg.spark.session import SparkSessionHandle
from target_iceberg.spool import RowSpool
from target_iceberg.summary import MergeCounts
from target_iceberg.tables import TableHandle
from target_iceberg.writer import WriteStats

if TYPE_CHECKING:
    from target_iceberg.pipeline import RunContext

logger = logging.getLogger(__name__)

_SNAPSHOT_PROPERTY = "spark.sql.iceberg.snapshot-property."
_COMMIT_CONFLICTS = ("CommitFailedException", "ValidationException", "CommitStateUnknownException")


class SparkWriteError(LoaderError):
    """Spark failed to write a table; nothing of the run's rows is visible there."""

    terminal = False


class SparkBackend:
    """Opens Spark outputs for data tables, native ones for quarantine tables; commits per table."""

    def __init__(self, settings: LoaderConfig, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog_name = catalog.name
        self.sessions = SparkSessionHandle(
            settings.spark, catalog.name, {k: str(v) for k, v in catalog.properties.items()}
        )

    def open(
        self, ctx: RunContext, identifier: tuple[str, str], contract: Contract, role: Role
    ) -> TableOutput:
        """A Spark output for the stream's table; quarantine tables are written natively."""
        if role == "rejects":
            return NativeOutput(ctx, identifier, contract)
        return SparkOutput(ctx, identifier, contract, self)

    def committer(self, catalog: Catalog, settings: LoaderConfig) -> Committer:
        """Table by table: Spark makes each data table's snapshot through its own catalog."""
        del settings
        return PerTableCommitter(catalog)

    def close(self) -> None:
        """Stop the session."""
        self.sessions.stop()


class SparkOutput:
    """A data table Spark writes at commit time."""

    def __init__(
        self,
        ctx: RunContext,
        identifier: tuple[str, str],
        contract: Contract,
        backend: SparkBackend,
    ) -> None:
        self.ctx = ctx
        self.backend = backend
        self.handle = TableHandle(ctx.catalog, identifier, contract)
        self.name = self.handle.name
        self.merge = backend.settings.write_mode == "merge"
        self.key = merge_key(contract, self.name) if self.merge else ()
        self.cursor = contract.cursor if self.merge else None
        self.spool = RowSpool(self.key, self.cursor, root=ctx.spool_dir)
        self.skip = self.handle.already_committed(ctx.run_id) is not None
        self.counts: MergeCounts | None = MergeCounts() if self.merge else None
        self.stats = WriteStats()

    @property
    def plan(self) -> Any:
        """The planned schema (the same plan as the native engine's)."""
        return self.handle.plan

    @property
    def schema_changes(self) -> list[str]:
        """The planned evolutions."""
        return self.handle.schema_changes

    def replan(self, contract: Contract) -> bool:
        """Follow a changed contract (new rows spool in the new schema)."""
        return self.handle.replan(contract)

    def write(self, table: pa.Table) -> None:
        """Spool the rows until the commit."""
        if not self.skip:
            self.spool.write(table)

    def stage(self, properties: dict[str, str]) -> TableChange | None:
        """Stage the table's metadata change and the Spark write that follows it."""
        if self.skip:
            self.spool.close()
            return None
        keep = self.spool.winners() if self.merge else None
        if self.counts is not None:
            self.counts.duplicates = self.spool.rows - (
                int(keep.sum()) if keep is not None else self.spool.rows
            )
        metadata = self.handle.stage([], properties)
        if self.spool.rows == 0 and metadata is None:
            self.spool.close()
            return None
        # The transaction holds the metadata change only (none: it commits nothing); Spark's
        # write makes the snapshot right after it.
        return TableChange(
            self.handle.identifier,
            self.handle.transaction,
            0,
            self.handle.created,
            deferred=SparkWrite(self, properties, keep),
        )

    def already_committed(self) -> int | None:
        """The snapshot of this run id, if any."""
        return self.handle.already_committed(self.ctx.run_id)

    def abort(self, *, staged: bool) -> None:
        """Delete the spool (Spark never wrote what did not commit)."""
        self.spool.close()


class SparkWrite:
    """A Spark table's snapshot, made at commit time (the change's `DeferredWrite`).

    `PerTableCommitter` commits the change's transaction (the table's creation or schema
    evolution, no snapshot) and then runs this: Spark appends or merges the spooled rows.
    """

    def __init__(self, output: SparkOutput, properties: dict[str, str], keep: Any) -> None:
        self.output = output
        self.properties = properties
        self.keep = keep

    def run(self) -> Table:
        """Run the Spark write; return the table as committed.

        Raises:
            CommitFailedException: a concurrent change made Spark's commit fail (retry).
            SparkWriteError: Spark failed otherwise.
        """
        output = self.output
        try:
            if output.spool.rows:
                spark = output.backend.sessions.session()
                self._write(spark)
        finally:
            output.spool.close()
        table: Table = output.ctx.catalog.load_table(output.handle.identifier)
        if output.spool.rows and committed_snapshot(table, output.ctx.run_id) is None:
            raise SparkWriteError(
                f"{output.name}: Spark reported success but the table has no snapshot of run "
                f"{output.ctx.run_id} (property {RUN_ID}); check the Spark catalog settings"
            )
        return table

    def discard(self) -> None:
        """Delete the spooled rows; Spark never sees them."""
        self.output.spool.close()

    def _write(self, spark: Any) -> None:
        output = self.output
        schema = output.handle.plan.arrow_schema()
        view = f"ingestgen_run_{uuid.uuid4().hex[:12]}"
        source = _dataframe(spark, output, schema, self.keep)
        source.createOrReplaceTempView(view)
        target = _quoted(output.backend.catalog_name, *output.handle.identifier)
        table_columns = [f.name for f in output.handle.plan.schema.fields]
        ours = [f.name for f in schema]
        for key, value in self.properties.items():
            spark.conf.set(_SNAPSHOT_PROPERTY + key, value)
        try:
            if output.merge:
                spark.sql(_merge_sql(target, view, output.key, output.cursor, ours, table_columns))
            else:
                values = ", ".join(f"s.{_q(c)}" if c in ours else "NULL" for c in table_columns)
                columns = ", ".join(_q(c) for c in table_columns)
                # Every name is a validated identifier, quoted; no value is interpolated.
                spark.sql(f"INSERT INTO {target} ({columns}) SELECT {values} FROM {view} s")  # noqa: S608
        except Exception as exc:
            _raise_write_error(output.name, exc)
        finally:
            for key in self.properties:
                spark.conf.unset(_SNAPSHOT_PROPERTY + key)
            spark.catalog.dropTempView(view)
        self._count(output)

    def _count(self, output: SparkOutput) -> None:
        table = output.ctx.catalog.load_table(output.handle.identifier)
        snapshot = table.current_snapshot()
        summary = snapshot.summary if snapshot is not None else None
        if summary is None:
            return
        output.stats.files = int(summary.get("added-data-files", "0") or 0)
        output.stats.bytes = int(summary.get("added-files-size", "0") or 0)
        if output.counts is None:
            return
        inserted = int(summary.get("spark.merge-into.num-target-rows-inserted", "0") or 0)
        updated = int(summary.get("spark.merge-into.num-target-rows-matched-updated", "0") or 0)
        if summary.get("spark.merge-into.num-target-rows-inserted") is None:
            inserted = int(summary.get("added-records", "0") or 0)
        kept = output.spool.rows - output.counts.duplicates
        output.counts.inserted = inserted
        output.counts.updated = updated
        output.counts.stale = max(kept - inserted - updated, 0)


def _dataframe(spark: Any, output: SparkOutput, schema: pa.Schema, keep: Any) -> Any:
    """The run's rows as a Spark DataFrame: local Parquet files, or Arrow through the driver."""
    batches = output.spool.batches(schema, keep)
    if output.backend.settings.spark.master.startswith("local"):
        folder = output.backend.sessions.folder / f"input-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        for index, batch in enumerate(_plain(batches)):
            pq.write_table(batch, folder / f"part-{index:05d}.parquet", compression="lz4")
        return spark.read.parquet(folder.as_uri())
    frames = [spark.createDataFrame(batch) for batch in _plain(_chunks(batches))]
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other)
    return frame


def _chunks(batches: Iterator[pa.Table], rows: int = 200_000) -> Iterator[pa.Table]:
    pending: list[pa.Table] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.concat_tables(pending)
            pending, count = [], 0
    if pending:
        yield pa.concat_tables(pending)


def _plain(batches: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """Rows as Spark reads them: no field-id metadata, UUIDs as their text."""
    for batch in batches:
        columns = []
        fields = []
        for field, column in zip(batch.schema, batch.columns, strict=True):
            plain = column
            if isinstance(field.type, pa.ExtensionType) or pa.types.is_fixed_size_binary(
                field.type
            ):
                # Iceberg's Spark type of a uuid column is a string.
                texts = [
                    None if v is None else str(uuid.UUID(bytes=bytes(v)))
                    for v in column.to_pylist()
                ]
                plain = pa.chunked_array([pa.array(texts, pa.string())])
            columns.append(plain)
            fields.append(pa.field(field.name, plain.type, nullable=field.nullable))
        yield pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _merge_sql(
    target: str,
    view: str,
    key: tuple[str, ...],
    cursor: str | None,
    ours: list[str],
    table_columns: list[str],
) -> str:
    on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in key)
    # A new version replaces the whole row: columns outside the contract become null, as natively.
    sets = ", ".join(
        f"t.{_q(c)} = " + (f"s.{_q(c)}" if c in ours else "NULL")
        for c in table_columns
        if c not in key
    )
    columns = ", ".join(_q(c) for c in table_columns)
    values = ", ".join(f"s.{_q(c)}" if c in ours else "NULL" for c in table_columns)
    matched = "WHEN MATCHED"
    if cursor is not None:
        matched += f" AND (t.{_q(cursor)} IS NULL OR s.{_q(cursor)} >= t.{_q(cursor)})"
    # Every name is a validated identifier, quoted; no value is interpolated.
    return (
        f"MERGE INTO {target} t USING {view} s ON {on} "  # noqa: S608
        f"{matched} THEN UPDATE SET {sets} "
        f"WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
    )


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _quoted(*parts: str) -> str:
    return ".".join(_q(p) for p in parts)


def _raise_write_error(name: str, exc: Exception) -> None:
    text = str(exc)
    if any(marker in text for marker in _COMMIT_CONFLICTS):
        raise CommitFailedException(f"Spark's commit of {name} conflicted: {text[:300]}") from exc
    first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
    raise SparkWriteError(f"Spark could not write {name}: {first[:400]}") from exc
