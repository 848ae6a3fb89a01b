"""``write_mode: merge`` on the native engine: upsert by primary key, copy-on-write, one snapshot.

Not pyiceberg's ``upsert`` (which compares every row of the table with every row of the run in
Python). The run's rows are spooled (`target_iceberg.spool`) and reduced to one version per key.
Then only the table's data files that can hold one of those keys are read, and of them only the
key and cursor columns: files are pruned by the scan's partition and min/max statistics on the
key range, and, for a one-column key, by each file's own key bounds against the sorted keys of
the run. A file holding a replaced key is rewritten without those rows; the run's new versions
are written like an append; one overwrite snapshot removes the rewritten files and adds the new
ones (pyiceberg validates at commit time that the removed files are still live).

With a cursor column, the version with the larger cursor wins, also against the table: a
record older than the table's row is dropped (counted as ``stale``). Never commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.conversions import from_bytes
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    LessThanOrEqual,
)
from pyiceberg.io.pyarrow import ArrowScan, schema_to_pyarrow
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.schema import Schema
from pyiceberg.table import FileScanTask, Table
from pyiceberg.types import PrimitiveType

from target_iceberg.commit import TableChange
from target_iceberg.contract.model import Contract
from target_iceberg.errors import ContractError
from target_iceberg.outputs import NativeOutput, merge_key
from target_iceberg.spool import RowSpool, conform, keys_in
from target_iceberg.summary import MergeCounts
from target_iceberg.writer import RollingWriter

if TYPE_CHECKING:
    from target_iceberg.pipeline import RunContext

logger = logging.getLogger(__name__)


@dataclass
class Replacement:
    """What the run does to the table's existing rows."""

    tasks: list[FileScanTask] = field(default_factory=list)
    """Files holding at least one replaced key (rewritten without those rows)."""
    replaced: pa.Table | None = None
    """The keys whose table rows the run replaces."""
    stale: pa.Table | None = None
    """The keys where the table's row is newer (by cursor) than the run's: the run's is dropped."""
    probed_files: int = 0
    live_files: int = 0


class MergeOutput(NativeOutput):
    """The data table of a native merge run."""

    def __init__(self, ctx: RunContext, identifier: tuple[str, str], contract: Contract) -> None:
        super().__init__(ctx, identifier, contract)
        self.key = merge_key(contract, self.name)
        self.cursor = contract.cursor
        self.spool = RowSpool(self.key, self.cursor, root=ctx.spool_dir)
        self.counts: MergeCounts | None = MergeCounts()
        self._rewriter: RollingWriter | None = None

    def replan(self, contract: Contract) -> bool:
        """Follow a changed contract; the key may not change within a run."""
        if contract.key != self.key:
            raise ContractError(
                f"{self.name}: the stream's key changed from {list(self.key)} to "
                f"{list(contract.key)} within the run; write_mode merge needs one key"
            )
        return super().replan(contract)

    def write(self, table: pa.Table) -> None:
        """Spool the rows (written at the end, once the run's versions are known)."""
        if not self.skip:
            self.spool.write(table)

    def stage(self, properties: dict[str, str]) -> TableChange | None:
        """Keep one version per key, rewrite the files it replaces, stage one snapshot."""
        if self.skip:
            return None
        try:
            return self._stage(properties)
        finally:
            self.spool.close()

    def _stage(self, properties: dict[str, str]) -> TableChange | None:
        assert self.counts is not None
        counts = self.counts
        keep = self.spool.winners()
        keys = self.spool.keys()
        if keep is not None:
            keys = keys.filter(pa.array(keep))
        counts.duplicates = self.spool.rows - keys.num_rows
        plan = Replacement()
        if self.handle.table is not None and keys.num_rows:
            plan = find_replaced(self.handle.table, self.key, self.cursor, keys)
        if plan.stale is not None and plan.stale.num_rows:
            counts.stale = plan.stale.num_rows
            fresh = pc.invert(keys_in(self.spool.keys(), self.key, plan.stale))
            keep = np.asarray(fresh) if keep is None else keep & np.asarray(fresh)
        arrow_schema = self.handle.plan.arrow_schema()
        for batch in self.spool.batches(arrow_schema, keep):
            self.writer.write(batch)
        replaced_rows = plan.replaced.num_rows if plan.replaced is not None else 0
        counts.updated = replaced_rows
        counts.inserted = keys.num_rows - counts.stale - replaced_rows
        counts.files_rewritten = len(plan.tasks)
        counts.files_probed = plan.probed_files
        rewritten = self._rewrite(plan) if plan.tasks else []
        files = self.writer.close()
        logger.info(
            "%s: merge of %d record(s): %d new, %d replaced, %d superseded in the run, %d older "
            "than the table; %d of %d file(s) read, %d rewritten",
            self.name,
            self.spool.rows,
            counts.inserted,
            counts.updated,
            counts.duplicates,
            counts.stale,
            plan.probed_files,
            plan.live_files,
            len(plan.tasks),
        )
        return self.handle.stage(
            [*files, *rewritten], properties, replaced=[t.file for t in plan.tasks]
        )

    def _rewrite(self, plan: Replacement) -> list[DataFile]:
        """The affected files' rows without the replaced ones, as new files."""
        assert self.handle.table is not None
        assert plan.replaced is not None
        table = self.handle.table
        self._rewriter = self.new_writer("-rewrite", whole_schema=True)
        target = schema_to_pyarrow(self.handle.plan.schema)
        scan = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
        for task in plan.tasks:
            rows = scan.to_table([task])
            kept = rows.filter(pc.invert(keys_in(rows, self.key, plan.replaced)))
            if kept.num_rows:
                self._rewriter.write(conform(kept, target))
        return self._rewriter.close()

    def abort(self, *, staged: bool) -> None:
        """Delete the spool and every file written, unless the commit went through."""
        self.spool.close()
        if self._rewriter is not None and not (
            staged and self.handle.committed_in_catalog(self.ctx.catalog, self.ctx.run_id)
        ):
            self._rewriter.abort()
        super().abort(staged=staged)


def find_replaced(
    table: Table, key: tuple[str, ...], cursor: str | None, incoming: pa.Table
) -> Replacement:
    """Which of the table's rows the run's versions (``incoming``: keys, cursor) replace.

    Reads only the key and cursor columns of the files that can hold an incoming key.
    """
    schema = table.schema()
    missing = [c for c in (*key, *([cursor] if cursor else [])) if c not in schema.column_names]
    if missing:
        # A key column the table lacks (added by this run): no existing row can match.
        return Replacement()
    tasks = list(table.scan(row_filter=_key_range(incoming, key)).plan_files())
    plan = Replacement(live_files=len(tasks))
    if len(key) == 1:
        tasks = _within_bounds(tasks, schema, key[0], incoming[key[0]])
    plan.probed_files = len(tasks)
    if not tasks:
        return plan
    columns = [*key, *([cursor] if cursor else [])]
    projected = schema.select(*columns)
    scan = ArrowScan(table.metadata, table.io, projected, AlwaysTrue())
    hits: list[pa.Table] = []
    hit_tasks: list[tuple[FileScanTask, pa.Table]] = []
    for task in tasks:
        existing = scan.to_table([task])
        if existing.num_rows == 0:
            continue
        matched = existing.filter(keys_in(existing, key, incoming))
        if matched.num_rows:
            hits.append(matched)
            hit_tasks.append((task, matched))
    if not hits:
        return plan
    found = pa.concat_tables(hits, promote_options="permissive")
    replaced = found.select(list(key)).group_by(list(key)).aggregate([])
    if cursor is not None:
        newest = found.group_by(list(key)).aggregate([(cursor, "max")])
        run = incoming.select([*key, cursor]).rename_columns([*key, "__run_cursor"])
        pairs = newest.join(run, keys=list(key), join_type="inner")
        table_wins = pc.greater(pairs[f"{cursor}_max"], pairs["__run_cursor"])
        plan.stale = pairs.filter(table_wins).select(list(key))
        replaced = pairs.filter(pc.invert(pc.fill_null(table_wins, False))).select(list(key))
    plan.replaced = replaced
    plan.tasks = [
        task for task, matched in hit_tasks if pc.any(keys_in(matched, key, replaced)).as_py()
    ]
    return plan


def _key_range(incoming: pa.Table, key: tuple[str, ...]) -> BooleanExpression:
    """A row filter on the incoming keys' range (pyiceberg prunes partitions and files by it)."""
    expression: BooleanExpression = AlwaysTrue()
    for column in key:
        bounds = pc.min_max(incoming[column])
        low, high = _literal(bounds["min"].as_py()), _literal(bounds["max"].as_py())
        if low is None or high is None:
            continue
        expression = And(
            expression,
            And(
                GreaterThanOrEqual(term=column, value=low),
                LessThanOrEqual(term=column, value=high),
            ),
        )
    return expression


def _literal(value: Any) -> Any:
    # pyiceberg takes these as literals directly; temporal and decimal values as their text.
    if isinstance(value, bool | int | float | str):
        return value
    if value is None:
        return None
    return str(value) if not hasattr(value, "isoformat") else value.isoformat()


def _within_bounds(
    tasks: list[FileScanTask], schema: Schema, column: str, keys: pa.ChunkedArray
) -> list[FileScanTask]:
    """The tasks whose file's min/max of ``column`` contains at least one of ``keys``."""
    field_ = schema.find_field(column)
    if not isinstance(field_.field_type, PrimitiveType):
        return tasks
    ordered = keys.combine_chunks().sort()
    if pa.types.is_temporal(ordered.type):
        # Iceberg bounds of dates, times and timestamps decode as days or microseconds.
        ordered = (
            ordered.cast(pa.int64())
            if not pa.types.is_date(ordered.type)
            else (ordered.cast(pa.int32()).cast(pa.int64()))
        )
    values = ordered.to_numpy(zero_copy_only=False)
    kept = []
    for task in tasks:
        data = task.file
        if data.content != DataFileContent.DATA:
            continue
        lower = (data.lower_bounds or {}).get(field_.field_id)
        upper = (data.upper_bounds or {}).get(field_.field_id)
        if lower is None or upper is None:
            kept.append(task)
            continue
        try:
            low = from_bytes(field_.field_type, lower)
            high = from_bytes(field_.field_type, upper)
            start = np.searchsorted(values, low, side="left")
            stop = np.searchsorted(values, high, side="right")
        except (TypeError, ValueError):
            kept.append(task)  # bounds not comparable here: read the file
            continue
        if stop > start:
            kept.append(task)
    return kept
