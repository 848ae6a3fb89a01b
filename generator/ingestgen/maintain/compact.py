"""Compact a table's small data files into files of the target size, rows unchanged.

A table is compacted when its current snapshot has at least two data files averaging under
half the target size and no delete files. Its rows are read, written again with the loader's
own rolling writer (files cut by their size on disk), checked against the old rows by count and
an order-independent checksum *before* the commit, and committed as one overwrite snapshot that
removes exactly the old files and adds the new ones. If another writer committed meanwhile,
pyiceberg retries on the new head and its conflict check (files added since the read) refuses
the commit; the new files are then deleted and the table is left as it was.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from target_iceberg.commit import RUN_ID, STATE, TENANT
from target_iceberg.writer import MB, RollingWriter, WriterSettings

MAINTENANCE = "ingestgen.maintenance"
"""Snapshot property naming the upkeep step that wrote the snapshot (``compact``)."""


class CompactionMismatch(Exception):
    """The rewritten files do not hold the same rows: nothing was committed."""


@dataclass(frozen=True)
class CompactPlan:
    """What compaction would do to a table, or why it leaves it alone."""

    files: int
    bytes: int
    target_bytes: int
    reason: str
    """Why it compacts, or why not."""
    run: bool


@dataclass(frozen=True)
class Compacted:
    """A committed compaction."""

    files_before: int
    files_after: int
    rows: int
    checksum: str
    snapshot_id: int


def plan_compaction(table: Table, target_mb: float) -> CompactPlan:
    """Whether ``table``'s current files are small enough to compact."""
    target = int(target_mb * MB)
    if table.current_snapshot() is None:
        return CompactPlan(0, 0, target, "no snapshot yet", run=False)
    tasks = list(table.scan().plan_files())
    size = sum(t.file.file_size_in_bytes for t in tasks)
    if any(t.delete_files for t in tasks):
        return CompactPlan(len(tasks), size, target, "has delete files (not rewritten)", False)
    if len(tasks) < 2:
        return CompactPlan(len(tasks), size, target, f"{len(tasks)} data file", run=False)
    average = size / len(tasks)
    words = f"{len(tasks)} files averaging {average / MB:.3f} MB"
    if average >= target / 2:
        return CompactPlan(len(tasks), size, target, f"{words}: not small", run=False)
    return CompactPlan(len(tasks), size, target, f"{words} < half of {target_mb:g} MB", True)


def fingerprint(data: pa.Table) -> tuple[int, str]:
    """Row count and an order-independent checksum of the rows (column order ignored too)."""
    total = 0
    for batch in data.to_batches():
        for row in batch.to_pylist():
            text = json.dumps(row, sort_keys=True, default=repr, separators=(",", ":"))
            digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
            total = (total + int.from_bytes(digest, "big")) % (1 << 64)
    return data.num_rows, f"{total:016x}"


def compact(table: Table, plan: CompactPlan, *, tenant: str) -> Compacted:
    """Rewrite the table's current files; one overwrite snapshot marked as maintenance.

    Raises:
        CompactionMismatch: the new files hold other rows (they are deleted, nothing committed).
        CommitFailedException: the table changed meanwhile (new files deleted).
        ValidationException: the same, found by pyiceberg's conflict check on retry.
    """
    snapshot = table.current_snapshot()
    assert snapshot is not None
    old: list[DataFile] = [t.file for t in table.scan().plan_files()]
    data = table.scan(snapshot_id=snapshot.snapshot_id).to_arrow()
    rows, checksum = fingerprint(data)
    schema = table.schema()
    writer = RollingWriter(
        io=table.io,
        locations=table.location_provider(),
        schema=schema,
        arrow_schema=schema_to_pyarrow(schema),
        spec=table.spec(),
        table_properties=dict(table.metadata.properties),
        file_prefix=f"compact-{uuid.uuid4().hex[:12]}",
        settings=WriterSettings(target_file_bytes=plan.target_bytes),
    )
    try:
        writer.write(data.cast(schema_to_pyarrow(schema)) if data.num_rows else data)
        new = writer.close()
    except BaseException:
        writer.abort()
        raise
    try:
        again = (
            pa.concat_tables([pq.read_table(table.io.new_input(f.file_path).open()) for f in new])
            if new
            else data.slice(0, 0)
        )
        if fingerprint(again) != (rows, checksum):
            raise CompactionMismatch(
                f"the rewritten files hold {again.num_rows} rows with another checksum than the "
                f"{rows} rows read; nothing was committed"
            )
        properties = {MAINTENANCE: "compact", RUN_ID: f"maintain-{uuid.uuid4()}", TENANT: tenant}
        state = snapshot.summary[STATE] if snapshot.summary is not None else None
        if state:
            # The loader's state stays on the branch head, where readers look for it first.
            properties[STATE] = state
        with table.transaction() as transaction:
            update = transaction.update_snapshot(snapshot_properties=properties)
            with update.overwrite() as change:
                for data_file in old:
                    change.delete_data_file(data_file)
                for data_file in new:
                    change.append_data_file(data_file)
    except BaseException:
        for data_file in new:
            table.io.delete(data_file.file_path)
        raise
    table.refresh()
    head = table.current_snapshot()
    assert head is not None
    return Compacted(len(old), len(new), rows, checksum, head.snapshot_id)
