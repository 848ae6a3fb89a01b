"""Rolling Parquet writer: Arrow tables in, Iceberg data files (not yet committed) out.

Files are cut by their size **on disk** (the output stream's position after each row group),
one open file per partition value, with a bounded number of open files and a bounded amount of
buffered Arrow data, so memory does not grow with the run. Files carry Iceberg field ids and
go where the table's location provider says; their statistics come from the Parquet footer.
This module never commits: `close` returns `DataFile`s for the committer, `abort` deletes what
was written.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io import FileIO, OutputStream
from pyiceberg.io.pyarrow import (
    _determine_partitions,
    _get_parquet_writer_kwargs,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.partitioning import PartitionKey, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.locations import LocationProvider
from pyiceberg.typedef import Record

logger = logging.getLogger(__name__)

MB = 1024 * 1024


class BufferBudget:
    """Arrow bytes buffered by all writers of a run (they share one `WriterSettings`)."""

    def __init__(self) -> None:
        self.total = 0
        self._lock = threading.Lock()

    def add(self, delta: int) -> int:
        """Account ``delta`` bytes; return the new total."""
        with self._lock:
            self.total += delta
            return self.total


@dataclass(frozen=True)
class WriterSettings:
    """How big files and row groups get."""

    target_file_bytes: int = 128 * MB
    row_group_bytes: int = 64 * MB
    """Arrow bytes buffered per file before a row group is written."""
    max_buffered_bytes: int = 192 * MB
    """Arrow bytes buffered over all writers of the run; beyond it a writer receiving rows
    flushes its own buffers, largest first."""
    max_open_files: int = 16
    """Open files (one per partition value); beyond it the least recently used is closed."""
    budget: BufferBudget = field(default_factory=BufferBudget, compare=False)


@dataclass
class _OpenFile:
    path: str
    stream: OutputStream
    writer: pq.ParquetWriter
    partition: PartitionKey | None
    buffer: list[pa.Table] = field(default_factory=list)
    buffered: int = 0
    rows: int = 0


@dataclass
class WriteStats:
    """What a writer produced so far."""

    files: int = 0
    bytes: int = 0
    rows: int = 0
    paths: list[str] = field(default_factory=list)


class RollingWriter:
    """Writes one table's data files during a run."""

    def __init__(
        self,
        *,
        io: FileIO,
        locations: LocationProvider,
        schema: Schema,
        arrow_schema: pa.Schema,
        spec: PartitionSpec,
        table_properties: dict[str, str],
        file_prefix: str,
        settings: WriterSettings,
    ) -> None:
        self._io = io
        self._locations = locations
        self._spec = spec
        self._properties = table_properties
        self._prefix = file_prefix
        self._settings = settings
        self._open: OrderedDict[tuple[Any, ...], _OpenFile] = OrderedDict()
        self._done: list[DataFile] = []
        self._sequence = 0
        self._buffered = 0
        self._arrow_written = 0
        self._disk_written = 0
        self._disk_ratio = 0.25  # a first guess; learned from the row groups written
        self.stats = WriteStats()
        self.set_schema(schema, arrow_schema)

    def set_schema(self, schema: Schema, arrow_schema: pa.Schema) -> None:
        """Write further rows with a new schema (a Parquet file has one, so open files close)."""
        if self._open:
            self._close_all()
        self._schema = schema
        self._arrow_schema = arrow_schema
        self._stats_plan = compute_statistics_plan(schema, self._properties)
        self._id_mapping = parquet_path_to_id_mapping(schema)

    def write(self, table: pa.Table) -> None:
        """Add rows (already in the writer's Arrow schema)."""
        if table.num_rows == 0:
            return
        if self._spec.is_unpartitioned():
            self._add(None, table)
            return
        for part in _determine_partitions(self._spec, self._schema, table):
            self._add(part.partition_key, part.arrow_table_partition)

    def _add(self, key: PartitionKey | None, table: pa.Table) -> None:
        ident = tuple(f.value for f in key.field_values) if key else ()
        handle = self._open.get(ident)
        if handle is None:
            handle = self._new_file(key)
            self._open[ident] = handle
            if len(self._open) > self._settings.max_open_files:
                _, oldest = self._open.popitem(last=False)
                self._finish(oldest)
        else:
            self._open.move_to_end(ident)
        handle.buffer.append(table)
        handle.buffered += table.nbytes
        self._account(table.nbytes)
        if handle.buffered >= self._settings.row_group_bytes:
            self._flush(handle, ident)
        cap = self._settings.max_buffered_bytes
        while self._buffered and (self._buffered > cap or self._settings.budget.total > cap):
            ident, largest = max(self._open.items(), key=lambda kv: kv[1].buffered)
            self._flush(largest, ident)

    def _account(self, delta: int) -> None:
        self._buffered += delta
        self._settings.budget.add(delta)

    def _new_file(self, key: PartitionKey | None) -> _OpenFile:
        self._sequence += 1
        name = f"{self._prefix}-{self._sequence:05d}.parquet"
        path = self._locations.new_data_location(data_file_name=name, partition_key=key)
        stream = self._io.new_output(path).create(overwrite=False)
        writer = pq.ParquetWriter(
            stream,
            schema=self._arrow_schema,
            store_decimal_as_integer=True,
            **_get_parquet_writer_kwargs(self._properties),
        )
        self.stats.paths.append(path)
        return _OpenFile(path, stream, writer, key)

    def _flush(self, handle: _OpenFile, ident: tuple[Any, ...]) -> None:
        """Write the buffer as row groups, starting new files whenever one reaches the target.

        How many rows still fit is estimated from the bytes-on-disk per Arrow byte seen so
        far, and checked against the stream position after each row group, so a file is
        closed as soon as it reaches the target, whatever the compression achieves.
        """
        if not handle.buffer:
            return
        data = pa.concat_tables(handle.buffer) if len(handle.buffer) > 1 else handle.buffer[0]
        self._account(-handle.buffered)
        handle.buffer, handle.buffered = [], 0
        target = self._settings.target_file_bytes
        while data.num_rows:
            room = target - handle.stream.tell()
            per_row = max(self._disk_ratio * data.nbytes / data.num_rows, 1.0)
            rows = min(data.num_rows, max(1, math.ceil(room / per_row)))
            part = data.slice(0, rows) if rows < data.num_rows else data
            before = handle.stream.tell()
            handle.writer.write_table(part, row_group_size=max(part.num_rows, 1))
            self._learn(part.nbytes, handle.stream.tell() - before)
            handle.rows += part.num_rows
            data = data.slice(rows)
            if handle.stream.tell() >= target:
                self._open.pop(ident, None)
                self._finish(handle)
                if data.num_rows:
                    handle = self._new_file(handle.partition)
                    self._open[ident] = handle

    def _learn(self, arrow_bytes: int, disk_bytes: int) -> None:
        self._arrow_written += arrow_bytes
        self._disk_written += disk_bytes
        if self._arrow_written:
            self._disk_ratio = max(self._disk_written / self._arrow_written, 0.001)

    def _finish(self, handle: _OpenFile) -> None:
        if handle.buffer:
            data = pa.concat_tables(handle.buffer)
            handle.writer.write_table(data, row_group_size=max(data.num_rows, 1))
            handle.rows += data.num_rows
            self._account(-handle.buffered)
            handle.buffer, handle.buffered = [], 0
        handle.writer.close()
        size = handle.stream.tell()
        handle.stream.close()
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=handle.writer.writer.metadata,
            stats_columns=self._stats_plan,
            parquet_column_mapping=self._id_mapping,
        )
        self._done.append(
            DataFile.from_args(
                content=DataFileContent.DATA,
                file_path=handle.path,
                file_format=FileFormat.PARQUET,
                partition=handle.partition.partition if handle.partition else Record(),
                file_size_in_bytes=size,
                sort_order_id=None,
                spec_id=self._spec.spec_id,
                equality_ids=None,
                key_metadata=None,
                **statistics.to_serialized_dict(),
            )
        )
        self.stats.files += 1
        self.stats.bytes += size
        self.stats.rows += handle.rows
        logger.debug("wrote %s (%d rows, %d bytes)", handle.path, handle.rows, size)

    def _close_all(self) -> None:
        while self._open:
            _, handle = self._open.popitem(last=False)
            self._finish(handle)

    def close(self) -> list[DataFile]:
        """Finish all files and return them, ready to be committed."""
        self._close_all()
        return list(self._done)

    def abort(self) -> None:
        """Delete every file this writer created (best effort); nothing of it stays behind."""
        for handle in self._open.values():
            try:
                handle.writer.close()
                handle.stream.close()
            except Exception:
                logger.debug("could not close %s", handle.path)
        self._open.clear()
        for path in self.stats.paths:
            try:
                self._io.delete(path)
            except Exception:
                logger.warning("could not delete uncommitted file %s", path)
        self._done.clear()
