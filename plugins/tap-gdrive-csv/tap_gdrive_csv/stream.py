"""One Singer stream per object: read its files' rows as strings, keep a bookmark per file.

Files are read whole, one after the other, in configuration order. With the
``file_modified_time`` strategy a file whose bookmark still matches is skipped without being
downloaded; a changed file is read again from its first row. A file's bookmark is written
only after its last row has been emitted, so a failed run never skips rows the next time.
Records carry exactly the CSV's columns (no provenance columns: the loader rejects unknown
columns); provenance goes to the log and the state.

Three ways out, chosen per run: BATCH messages with Parquet files when ``batch_config`` asks
for Parquet; RECORD messages a chunk at a time through :class:`FastSingerWriter` when stream
maps are not in use; otherwise the SDK's per-record path (stream maps, other writers).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.exceptions import MaxRecordsLimitException
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_gdrive_csv.bookmarks import (
    file_bookmarks,
    make_bookmark,
    unchanged_by_content,
    unchanged_by_metadata,
)
from tap_gdrive_csv.csvfile import BATCH_BLOCK_SIZE, BLOCK_SIZE, header_of, iter_batches
from tap_gdrive_csv.exceptions import HeaderMismatchError
from tap_gdrive_csv.output import FastSingerWriter

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import Context

    from tap_gdrive_csv.configuration import Settings
    from tap_gdrive_csv.sources.base import FileSource, FileVersion


def string_schema(header: Sequence[str]) -> dict[str, Any]:
    """JSON schema of an object: every column a nullable string, in header order."""
    return th.PropertiesList(*(th.Property(name, th.StringType) for name in header)).to_dict()


def rows_of(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The batch as one dict per row (column lists zipped: faster than ``to_pylist``)."""
    names = batch.schema.names
    if not names:  # every column deselected: the rows still count
        return [{} for _ in range(batch.num_rows)]
    columns = [column.to_pylist() for column in batch.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def header_difference(expected: Sequence[str], actual: Sequence[str]) -> str:
    """Describe how two headers differ, for error messages."""
    missing = [name for name in expected if name not in actual]
    extra = [name for name in actual if name not in expected]
    parts = []
    if missing:
        parts.append(f"missing {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"unexpected {', '.join(map(repr, extra))}")
    return "; ".join(parts)


class CsvObjectStream(Stream):
    """All rows of the CSV files that feed one object."""

    # Values are already str or None: the SDK's per-record type conforming has nothing to do.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self,
        tap: Tap,
        *,
        name: str,
        header: Sequence[str],
        file_ids: Sequence[str],
        settings: Settings,
        source: FileSource,
    ) -> None:
        super().__init__(tap, schema=string_schema(header), name=name)
        self.header = list(header)
        self.file_ids = list(file_ids)
        self.settings = settings
        self.source = source
        self.block_size = BLOCK_SIZE

    # Reading --------------------------------------------------------------------------

    @property
    def selected_columns(self) -> list[str]:
        """The header columns selected in the catalog, in header order."""
        mask = self.mask
        return [name for name in self.header if mask.get(("properties", name), True)]

    def _check_header(self, header: Sequence[str], version: FileVersion) -> None:
        if set(header) != set(self.header):
            msg = (
                f"file {version.file_id!r} ({version.name}) of object {self.name!r} does not "
                f"have the object's columns ({header_difference(self.header, header)}): every "
                "file of one object must share the same header. If the header changed on "
                "purpose, run discovery again (Meltano: --refresh-catalog) or set "
                "headers_from_files, and update the asset spec"
            )
            raise HeaderMismatchError(msg, file_id=version.file_id)

    def iter_arrow_batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the rows of every file to read now; bookmark each file after its last row."""
        bookmarks = file_bookmarks(self.stream_state)
        incremental = self.settings.incremental_strategy == "file_modified_time"
        columns = self.selected_columns
        for file_id in self.file_ids:
            version = self.source.describe(file_id)
            previous = bookmarks.get(file_id) if incremental else None
            if previous and unchanged_by_metadata(previous, version):
                self.logger.info(
                    "Skipping file %s (%s) of %s: unchanged since %s",
                    file_id, version.name, self.name, previous.get("modified_time"),
                )
                if previous.get("modified_time") != version.modified_time:
                    # Same md5 under a new modified time: remember the new time.
                    entry = make_bookmark(version, previous["md5"], previous.get("rows"))
                    self._save(bookmarks, file_id, entry)
                continue
            with self.source.fetch(version) as copy:
                if unchanged_by_content(previous, copy.md5):
                    self.logger.info(
                        "Skipping file %s (%s) of %s: modified at %s but content unchanged",
                        file_id, version.name, self.name, version.modified_time,
                    )
                    rows_then = previous.get("rows") if previous else None
                    self._save(bookmarks, file_id, make_bookmark(version, copy.md5, rows_then))
                    continue
                header = header_of(copy.path, version, self.settings.csv)
                self._check_header(header, version)
                rows = 0
                for batch in iter_batches(copy.path, version, self.settings.csv, header,
                                          columns, block_size=self.block_size):
                    rows += batch.num_rows
                    yield batch
            self.logger.info(
                "Read %d rows of %s from file %s (%s, modified %s, md5 %s)",
                rows, self.name, file_id, version.name, version.modified_time, copy.md5,
            )
            self._save(bookmarks, file_id, make_bookmark(version, copy.md5, rows))
        # Forget files no longer configured, so the state only describes this job.
        for stale in set(bookmarks) - set(self.file_ids):
            del bookmarks[stale]

    def _save(self, bookmarks: dict[str, Any], file_id: str, entry: dict[str, Any]) -> None:
        bookmarks[file_id] = entry
        self.state_manager.is_flushed = False

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Yield records one by one (the SDK's path, used with stream maps).

        Args:
            context: Unused; these streams have no partitions.

        Yields:
            One dict per CSV row.
        """
        for batch in self.iter_arrow_batches():
            yield from rows_of(batch)

    # RECORD output, a chunk at a time --------------------------------------------------

    def _fast_path(self, *, write_messages: bool) -> FastSingerWriter | None:
        writer = self._tap.message_writer
        maps = self.stream_maps
        identity = (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
        )
        if write_messages and identity and isinstance(writer, FastSingerWriter):
            return writer
        return None

    def _sync_records(
        self,
        context: Context | None = None,
        *,
        write_messages: bool = True,
    ) -> Generator[dict[str, Any], Any, Any]:
        """Emit RECORD messages per Arrow chunk, or defer to the SDK when maps are in use.

        Mirrors the SDK's bookkeeping: record counter, sync timer, the dry-run record limit,
        a STATE message after each file, final state.
        """
        writer = self._fast_path(write_messages=write_messages)
        if writer is None:
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        limit = self.ABORT_AT_RECORD_COUNT
        emitted = 0
        with self.get_record_counter() as counter, self.get_sync_timer():
            for batch in self.iter_arrow_batches():
                if not self.state_manager.is_flushed:
                    self._write_state_message()  # the previous file's bookmark
                chunk = batch
                if limit is not None and emitted + batch.num_rows > limit:
                    chunk = batch.slice(0, limit - emitted)
                writer.write_columns(
                    self.name,
                    chunk.schema.names,
                    [column.to_pylist() for column in chunk.columns],
                    num_rows=chunk.num_rows,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )
                counter.increment(chunk.num_rows)
                emitted += chunk.num_rows
                if chunk is not batch:
                    self._abort_sync(
                        abort_reason=MaxRecordsLimitException(
                            f"Stream {self.name!r} stopped at the dry-run limit of {limit} "
                            "records."
                        )
                    )
        self._finalize_state(self.stream_state)
        self._write_state_message()

    # BATCH output -------------------------------------------------------------------------

    def get_batches(
        self,
        batch_config: BatchConfig,
        context: Context | None = None,
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """Write Arrow chunks straight to Parquet files of ``batch_size`` rows each.

        Other formats (jsonl) go through the SDK's batcher.

        Args:
            batch_config: The tap's ``batch_config`` setting.
            context: Unused; these streams have no partitions.

        Yields:
            (encoding, manifest) per Parquet file written.
        """
        if batch_config.encoding.format != "parquet":
            yield from super().get_batches(batch_config, context)
            return
        self.block_size = BATCH_BLOCK_SIZE
        parts = _ParquetParts(self, batch_config)
        try:
            for batch in self.iter_arrow_batches():
                offset = 0
                while offset < batch.num_rows:
                    offset += parts.write(batch.slice(offset))
                    if parts.full:
                        yield batch_config.encoding, parts.close()
            if parts.rows:
                yield batch_config.encoding, parts.close()
        finally:
            parts.abandon()


class _ParquetParts:
    """Parquet files of at most ``batch_size`` rows, written as the rows arrive."""

    def __init__(self, stream: CsvObjectStream, config: BatchConfig) -> None:
        self.config = config
        self.compression = config.encoding.compression
        self.suffix = ".parquet.gz" if self.compression == "gzip" else ".parquet"
        self.sync_id = f"{stream.tap_name}--{stream.name}-{uuid.uuid4()}"
        self.schema = pa.schema([pa.field(name, pa.string()) for name in stream.selected_columns])
        self.logger = stream.logger
        self.part = 0
        self.rows = 0
        self._stack: contextlib.ExitStack | None = None
        self._writer: pq.ParquetWriter | None = None
        self._filename = ""

    @property
    def full(self) -> bool:
        """Whether the open file reached ``batch_size`` rows."""
        return self.rows >= self.config.batch_size

    def write(self, batch: pa.RecordBatch) -> int:
        """Append as many rows as fit in the open file (opening one); return how many."""
        if self._writer is None:
            self.part += 1
            self._filename = f"{self.config.storage.prefix or ''}{self.sync_id}={self.part}"
            self._filename += self.suffix
            self._stack = contextlib.ExitStack()
            handle = self._stack.enter_context(self.config.storage.open(self._filename, "wb"))
            self._writer = self._stack.enter_context(
                pq.ParquetWriter(handle, self.schema, compression=self.compression or "snappy")
            )
        take = min(batch.num_rows, self.config.batch_size - self.rows)
        self._writer.write_batch(batch.slice(0, take))
        self.rows += take
        return int(take)

    def close(self) -> list[str]:
        """Finish the open file and return its manifest."""
        assert self._stack is not None
        self._stack.close()
        self.logger.info("Wrote %d rows to %s", self.rows, self._filename)
        self._stack, self._writer, self.rows = None, None, 0
        return [self.config.storage.get_url(self._filename)]

    def abandon(self) -> None:
        """Close a half-written file after an error (it is never announced)."""
        if self._stack is not None:
            self._stack.close()
            self._stack, self._writer = None, None
