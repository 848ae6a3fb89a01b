"""One stream's pipeline during a run: buffer -> block -> coerce -> rolling files.

RECORD payloads arrive as raw JSON bytes and are buffered per stream; full blocks go through
the fast JSON reader, or the row path when a block has a doubtful row. BATCH files (parquet,
jsonl) are read block by block and stay in Arrow. Good rows go to the table's rolling writer,
rejected ones to the quarantine table's writer. A sink never commits: `stage` hands the staged
changes to the target, which commits all tables of the run at once.

These sinks are not singer-sdk `Sink`s on purpose: the SDK's sink is fed one parsed, validated
dict per record, which is the per-record cost this loader exists to avoid.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from target_iceberg import crashpoint, quarantine
from target_iceberg.blocks import (
    BlockShape,
    Landed,
    arrow_block,
    join_lines,
    read_json_block,
    rows_block,
)
from target_iceberg.coerce.values import Rejected
from target_iceberg.contract.evolution import plan_schema
from target_iceberg.contract.model import Contract
from target_iceberg.errors import RejectThresholdError, StreamError
from target_iceberg.pipeline import RunContext
from target_iceberg.reader import escape_bad_utf8
from target_iceberg.summary import RejectSample, StreamSummary

if TYPE_CHECKING:
    # Imported by the run's opening (`target_iceberg.opening`), not before the first block.
    from target_iceberg.commit import TableChange
    from target_iceberg.outputs import TableOutput

logger = logging.getLogger(__name__)

_FAST_FAILURES_BEFORE_ROW_PATH = 3
_FAST_RETRY_EVERY = 8
_SAMPLE_REJECTS = 20

__all__ = ["RunContext", "StreamSink", "threshold_message"]


class StreamSink:
    """Loads one Singer stream into one table (plus its quarantine table)."""

    def __init__(
        self,
        stream: str,
        table: str,
        contract: Contract,
        ctx: RunContext,
        *,
        opened_later: bool = False,
    ) -> None:
        """Open the stream's table, or with ``opened_later`` leave that to `open_output`."""
        self.stream = stream
        self.ctx = ctx
        self.contract = contract
        self.summary = StreamSummary(table=f"{ctx.namespace}.{table}")
        self.table_name = table
        self._output: TableOutput | None = None
        self.shape: BlockShape
        """What the blocks must look like (set when the table is open)."""
        self._guess: BlockShape | None = None
        if opened_later:
            # Blocks prepared before the table is open assume the table the contract plans
            # (a new one); a block whose table turns out otherwise is prepared again.
            with contextlib.suppress(Exception):  # then blocks wait for the table
                plan = plan_schema(None, 0, contract)
                self._guess = BlockShape(plan.columns, plan.arrow_schema(), contract, ctx.unknown)
        else:
            self.open_output()
        self._rejected: TableOutput | None = None
        self.buffer: list[bytes] = []
        """RECORD lines not yet processed, each piece ending with a line break; the reader
        appends to this very list."""
        self._fast_failures = 0
        self._blocks = 0
        self._staged = False
        # What the run lands and rejects, in order: tells an exact replay (commit.replay_of).
        self._content = hashlib.blake2b(digest_size=16)

    def open_output(self) -> None:
        """Open (or create) the stream's table and plan its schema: what blocks must look like."""
        ctx = self.ctx
        output = ctx.backend.open(ctx, (ctx.namespace, self.table_name), self.contract, "data")
        plan = output.plan
        self.shape = BlockShape(plan.columns, plan.arrow_schema(), self.contract, ctx.unknown)
        self._output = output

    @property
    def output(self) -> TableOutput:
        """The stream's table (waits for the run to open)."""
        if self._output is None:
            self.ctx.wait_open()
        assert self._output is not None
        return self._output

    # Contract changes -------------------------------------------------------------------

    def update_contract(self, contract: Contract) -> None:
        """Apply a changed contract (a new SCHEMA message) to rows that come after it."""
        self.flush()
        self.ctx.drain()
        self.output.replan(contract)
        self.contract = contract
        plan = self.output.plan
        self.shape = BlockShape(plan.columns, plan.arrow_schema(), contract, self.ctx.unknown)

    # Input --------------------------------------------------------------------------------

    def add_raw(self, raw: bytes) -> None:
        """Buffer one record given as bare JSON (e.g. a line of a JSONL BATCH file)."""
        self.buffer.append(b'{"type":"RECORD","record":' + raw + b"}\n")
        if len(self.buffer) >= self.ctx.block_records:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered records to the worker."""
        if not self.buffer:
            return
        data, count = join_lines(self.buffer)
        self.buffer.clear()
        self.summary.rows_read += count
        self._submit(lambda shape: self._prepare(data, count, shape))
        crashpoint.reached("flush")

    def _submit(self, prepare: Callable[[BlockShape], Landed]) -> None:
        """Have a block prepared in the stream's shape (parse worker), then landed (write worker).

        While the run opens, the block is prepared in the shape the contract plans, and again
        once the table is open if the table's is another.
        """
        output = self._output  # read before the shape: `open_output` sets the shape first
        guess = self._guess
        redo = None
        if output is not None or guess is None:
            _ = self.output  # waits for the table
            shape = self.shape
        else:
            shape = guess

            def redo() -> Callable[[], Landed] | None:
                now = self.shape  # called once the run is open
                return None if now.same(guess) else lambda: prepare(now)

        self.ctx.submit(lambda: prepare(shape), self._land, redo)

    def _prepare(self, data: pa.Buffer, count: int, shape: BlockShape) -> Landed:
        """Parse and coerce a block (on the parse worker)."""
        landed = None
        self._blocks += 1
        # After a few failing blocks in a row, try the fast path only now and then.
        hopeful = (
            self._fast_failures < _FAST_FAILURES_BEFORE_ROW_PATH
            or self._blocks % _FAST_RETRY_EVERY == 0
        )
        if shape.fast and hopeful:
            try:
                landed = read_json_block(data, count, shape)
                self._fast_failures = 0
            except (pa.ArrowException, Rejected):
                # Some row is doubtful; the row path finds which and why.
                self._fast_failures += 1
        if landed is None:
            landed = rows_block(data.to_pybytes().split(b"\n")[:-1], shape)
        return landed

    def add_arrow(self, table: pa.Table) -> None:
        """Load Arrow rows (a BATCH file's block)."""
        self.flush()
        self.summary.rows_read += table.num_rows
        self._submit(lambda shape: arrow_block(table, shape))

    def process_batch_files(self, encoding: dict[str, Any], files: Sequence[str]) -> None:
        """Load the files of a BATCH message (``parquet`` or ``jsonl``, optionally gzip).

        Raises:
            StreamError: a file is missing, unreadable, not of its format, or a format or
                compression is not supported (the tap is broken: nothing is committed).
        """
        fmt = str(encoding.get("format", "")).lower()
        compression = encoding.get("compression")
        if fmt not in ("parquet", "jsonl"):
            raise StreamError(
                f"stream {self.stream}: BATCH encoding format {fmt!r} is not supported; use "
                "parquet or jsonl"
            )
        if compression not in (None, "none", "gzip") or (fmt == "parquet" and compression):
            raise StreamError(
                f"stream {self.stream}: BATCH compression {compression!r} is not supported "
                f"for {fmt}; use gzip for jsonl, none for parquet (its pages carry their own)"
            )
        for url in files:
            path = _local_path(url, self.ctx.batch_root)
            try:
                if fmt == "parquet":
                    self._load_parquet(path)
                else:
                    self._load_jsonl(path, gzipped=compression == "gzip")
            except _BatchFileBroken as exc:
                raise StreamError(
                    f"stream {self.stream}: BATCH file {url!r} cannot be read as {fmt}"
                    f"{' (gzip)' if compression == 'gzip' else ''}: {exc.__cause__}"
                ) from exc.__cause__

    def _load_parquet(self, path: Path) -> None:
        with _reading():
            parquet = pq.ParquetFile(path)
        with parquet:
            batches = parquet.iter_batches(batch_size=self.ctx.block_records)
            while True:
                with _reading():
                    batch = next(batches, None)
                    if batch is None:
                        return
                    table = pa.Table.from_batches([batch])
                    # Text must be UTF-8 (a file can hold any bytes in a string column).
                    table.validate(full=True)
                self.add_arrow(table)

    def _load_jsonl(self, path: Path, *, gzipped: bool) -> None:
        with _reading():
            raw = path.open("rb")
        with raw, gzip.open(raw) if gzipped else contextlib.nullcontext(raw) as handle:
            while True:
                with _reading():
                    line = handle.readline()
                    if not line:
                        break
                    line = line.rstrip(b"\r\n")
                    if not line.strip():
                        continue
                    _check_json_value(line)
                self.add_raw(line)
        self.flush()

    def _land(self, landed: Landed) -> None:
        """Hash, count, quarantine and write a block's outcome (on the write worker)."""
        for batch in landed.table.to_batches():
            self._content.update(batch.serialize())
        for reject in landed.rejects:
            self._content.update(reject.raw.encode(errors="replace") + b"\n")
        self.output.write(landed.table)
        self.summary.rows_landed += landed.table.num_rows
        if landed.rejects:
            self._quarantine(landed.rejects)

    def _quarantine(self, rejects: list[quarantine.Reject]) -> None:
        self.summary.rows_rejected += len(rejects)
        self.ctx.rejected += len(rejects)
        room = _SAMPLE_REJECTS - len(self.summary.sample_rejects)
        for reject in rejects[: max(room, 0)]:
            self.summary.sample_rejects.append(
                RejectSample(
                    columns=list(reject.columns), reason=reject.reason, raw=reject.raw[:500]
                )
            )
        limit = self.ctx.max_rejected_rows
        if limit is not None and self.ctx.rejected > limit:
            # No need to read the rest: the run fails whatever comes.
            raise RejectThresholdError(threshold_message(self.ctx.rejected, limit))
        if self._rejected is None:
            name = self.table_name + quarantine.SUFFIX
            self._rejected = self.ctx.backend.open(
                self.ctx, (self.ctx.namespace, name), quarantine.CONTRACT, "rejects"
            )
            self.summary.rejected_table = f"{self.ctx.namespace}.{name}"
        output = self._rejected
        if output.skip:
            return
        output.write(
            quarantine.rejects_table(
                rejects,
                schema=output.plan.arrow_schema(),
                run_id=self.ctx.run_id,
                stream=self.stream,
                spec_version=self.contract.version,
            )
        )

    # End of run ---------------------------------------------------------------------------

    def stage(self, properties: dict[str, str]) -> list[TableChange]:
        """Close the files and stage this stream's table changes (not committed)."""
        from target_iceberg.commit import CONTENT, RUN_ID, SPEC_VERSION, STREAM

        self.flush()
        self.ctx.drain()
        self._staged = True
        props = {
            **properties,
            STREAM: self.stream,
            RUN_ID: self.ctx.run_id,
            CONTENT: self._content.hexdigest(),
        }
        if self.contract.version:
            props[SPEC_VERSION] = self.contract.version
        changes = []
        for output in (self.output, self._rejected):
            if output is None:
                continue
            change = output.stage(props)
            if change is not None:
                change.content = props[CONTENT]
                changes.append(change)
        outputs = [o for o in (self.output, self._rejected) if o is not None]
        self.summary.files = sum(o.stats.files for o in outputs)
        self.summary.bytes = sum(o.stats.bytes for o in outputs)
        self.summary.schema_changes = self.output.schema_changes
        self.summary.merge = self.output.counts
        return changes

    def already_committed(self) -> int | None:
        """The snapshot of this run id in the stream's table, if the run committed before."""
        return self.output.already_committed()

    def abort(self) -> None:
        """Delete every file this sink wrote; nothing becomes visible."""
        self.buffer.clear()
        self.ctx.cancel()
        for output in (self._output, self._rejected):
            if output is not None:
                # A table whose commit went through before the failure keeps its files.
                output.abort(staged=self._staged)


def threshold_message(rejected: int, limit: int) -> str:
    """The failure message of `max_rejected_rows`."""
    return (
        f"more than max_rejected_rows={limit} record(s) broke the contract (at least "
        f"{rejected}); nothing was committed. See sample_rejects in the run summary, fix the "
        "source or the spec, or raise max_rejected_rows"
    )


class _BatchFileBroken(Exception):
    """Reading a BATCH file failed; the cause says why."""


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """Mark failures of the enclosed reading as the BATCH file's (not the loader's)."""
    try:
        yield
    except (OSError, EOFError, zlib.error, pa.ArrowException, msgspec.DecodeError) as exc:
        raise _BatchFileBroken from exc


_VALUE = msgspec.json.Decoder(msgspec.Raw)


def _check_json_value(line: bytes) -> None:
    """A JSONL line must be exactly one JSON value: it is wrapped in a RECORD envelope.

    What the row path reads as a bad record (too deep, text that is not UTF-8) or keeps (NaN
    and Infinity tokens) is the record's business, not the file's.

    Raises:
        msgspec.DecodeError: the line is not one JSON value (two glued, truncated, garbage).
    """
    try:
        _VALUE.decode(line)
    except RecursionError:
        return
    except msgspec.DecodeError as exc:
        try:
            json.loads(escape_bad_utf8(line), parse_int=str, parse_float=str)
        except RecursionError:
            return
        except ValueError:
            raise exc from None


def _local_path(url: str, root: Path | None) -> Path:
    """The local file a BATCH manifest names, inside ``root`` when one is set.

    Raises:
        StreamError: not a local file, or outside ``root``.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("", "file") or parsed.netloc not in ("", "localhost"):
        raise StreamError(
            f"BATCH file {url!r}: only local files (file:///path or a path) are supported"
        )
    path = Path(url2pathname(parsed.path) if parsed.scheme else url)
    if root is not None:
        real = path.resolve()
        if not real.is_relative_to(root.resolve()):
            raise StreamError(
                f"BATCH file {url!r} is outside batch_root {str(root)!r}: the loader reads "
                "BATCH files only there; point the tap's batch_config storage root inside it"
            )
    if not path.is_file():
        raise StreamError(
            f"BATCH file {url!r} does not exist (or is not a file): the tap must keep its "
            "BATCH files until the loader has read them"
        )
    return path
