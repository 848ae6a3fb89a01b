"""A run's coerced rows kept on local disk until the end of the run, and one version per key.

``write_mode: merge`` (both engines) and the ``spark`` engine need the whole run before they
write: a key may come back later in the stream, and Spark writes the table in one job. The
spool keeps the rows as compressed Arrow IPC files in a private temporary folder (memory stays
flat) and, in memory, only the key and cursor columns of every row, numbered in stream order.
`RowSpool.winners` picks the version of each key that the run keeps: the one with the largest
cursor, and of equal cursors (or without one) the last in stream order. Never writes a table.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from target_iceberg.errors import SpoolFullError

_SEQ = "__ingestgen_seq"
_ROW = "__ingestgen_row"
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass
class _Segment:
    """Rows spooled with one Arrow schema (a contract change starts a new segment)."""

    path: Path
    schema: pa.Schema
    writer: pa.ipc.RecordBatchFileWriter | None
    rows: int = 0


@dataclass
class RowSpool:
    """The run's rows of one table, in stream order."""

    key: tuple[str, ...]
    """Key columns; empty: no version selection (append)."""
    cursor: str | None = None
    root: Path | None = None
    """Where the spool's private folder is made (the spool_dir setting); None: TMPDIR."""
    rows: int = 0
    _dir: Path | None = None
    _segments: list[_Segment] = field(default_factory=list)
    _keys: list[pa.Table] = field(default_factory=list)

    def write(self, table: pa.Table) -> None:
        """Append coerced rows (any schema; a new schema starts a new segment).

        Raises:
            SpoolFullError: the spool's file system is full (the message names the folder).
        """
        if table.num_rows == 0:
            return
        try:
            self._write(table)
        except OSError as exc:
            raise self._full(exc) from exc

    def _write(self, table: pa.Table) -> None:
        segment = self._segments[-1] if self._segments else None
        if segment is None or segment.writer is None or not segment.schema.equals(table.schema):
            segment = self._open(table.schema)
        assert segment.writer is not None
        segment.writer.write_table(table)
        segment.rows += table.num_rows
        if self.key:
            self._keys.append(table.select([*self.key, *([self.cursor] if self.cursor else [])]))
        self.rows += table.num_rows

    def _open(self, schema: pa.Schema) -> _Segment:
        self._finish()
        if self._dir is None:
            if self.root is not None:
                self.root.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix="ingestgen-spool-", dir=self.root))
        path = self._dir / f"segment-{len(self._segments):04d}.arrow"
        writer = pa.ipc.new_file(str(path), schema, options=_IPC)
        segment = _Segment(path, schema, writer)
        self._segments.append(segment)
        return segment

    def _finish(self) -> None:
        for segment in self._segments:
            if segment.writer is not None:
                segment.writer.close()
                segment.writer = None

    def _full(self, exc: OSError) -> Exception:
        """A full disk as `SpoolFullError` naming the folder and the setting; else ``exc``."""
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) and "No space left" not in str(exc):
            return exc
        where = self._dir.parent if self._dir is not None else Path(tempfile.gettempdir())
        return SpoolFullError(
            f"the spool folder {where} is full ({exc}); nothing was committed. The run keeps "
            "its rows there until it commits (write_mode merge, engine spark): free space "
            "there, or point the spool_dir setting (or TMPDIR) at a file system with room for "
            "the run's rows, then run again"
        )

    def keys(self) -> pa.Table:
        """Key (and cursor) columns of every spooled row, in stream order."""
        if not self._keys:
            return pa.table({})
        keys = pa.concat_tables(self._keys, promote_options="permissive")
        self._keys = [keys]
        return keys

    def winners(self) -> np.ndarray | None:
        """Which rows the run keeps (one per key); None when every row is kept."""
        if not self.key or self.rows == 0:
            return None
        keys = self.keys()
        seq = pa.array(np.arange(keys.num_rows, dtype=np.int64))
        numbered = keys.append_column(_SEQ, seq)
        if self.cursor is None:
            # The last record of a key in stream order wins.
            picked = numbered.group_by(list(self.key)).aggregate([(_SEQ, "max")])
            column = f"{_SEQ}_max"
        else:
            # The largest cursor wins; of equal cursors, the later record.
            ordered = numbered.sort_by([(self.cursor, "ascending"), (_SEQ, "ascending")])
            picked = ordered.group_by(list(self.key), use_threads=False).aggregate([(_SEQ, "last")])
            column = f"{_SEQ}_last"
        if picked.num_rows == keys.num_rows:
            return None
        mask = np.zeros(keys.num_rows, dtype=bool)
        mask[picked[column].to_numpy()] = True
        return mask

    def batches(self, schema: pa.Schema, keep: np.ndarray | None = None) -> Iterator[pa.Table]:
        """The spooled rows in stream order, conformed to ``schema``, those ``keep`` marks."""
        try:
            self._finish()
        except OSError as exc:
            raise self._full(exc) from exc
        offset = 0
        for segment in self._segments:
            with pa.memory_map(str(segment.path)) as source:
                reader = pa.ipc.open_file(source)
                for index in range(reader.num_record_batches):
                    batch = pa.Table.from_batches([reader.get_batch(index)])
                    count = batch.num_rows
                    if keep is not None:
                        batch = batch.filter(pa.array(keep[offset : offset + count]))
                    offset += count
                    if batch.num_rows:
                        yield conform(batch, schema)

    def close(self) -> None:
        """Delete the spool's files (also after a failed write: a full disk, say)."""
        for segment in self._segments:
            if segment.writer is not None:
                with contextlib.suppress(OSError):  # the files are deleted either way
                    segment.writer.close()
                segment.writer = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._segments.clear()
        self._keys.clear()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``: missing columns null, promoted types cast, order as ``schema``."""
    if table.schema.equals(schema, check_metadata=True):
        return table
    columns = []
    for target in schema:
        if target.name in table.column_names:
            column = table[target.name]
            columns.append(column if column.type == target.type else column.cast(target.type))
        else:
            columns.append(pa.nulls(table.num_rows, target.type))
    return pa.Table.from_arrays(columns, schema=schema)


def keys_in(values: pa.Table, key: tuple[str, ...], probe: pa.Table) -> pa.Array:
    """A mask of the rows of ``values`` whose key is among ``probe``'s keys."""
    if len(key) == 1:
        return pc.is_in(values[key[0]], value_set=probe[key[0]])
    numbered = values.select(list(key)).append_column(
        _ROW, pa.array(np.arange(values.num_rows, dtype=np.int64))
    )
    distinct = probe.select(list(key)).group_by(list(key)).aggregate([])
    hits = numbered.join(distinct, keys=list(key), join_type="left semi")
    mask = np.zeros(values.num_rows, dtype=bool)
    mask[hits[_ROW].to_numpy()] = True
    return pa.array(mask)
