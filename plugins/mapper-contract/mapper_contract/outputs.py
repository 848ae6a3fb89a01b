"""The mapper's write backend: the stream's rows leave as RECORD messages, rejects stay native.

`SingerOutput` is a `target_iceberg.outputs.TableOutput` whose ``write`` turns the coerced
rows into Singer RECORD lines. It opens the stream's table the way target-iceberg does
(`target_iceberg.tables.TableHandle`): a missing table is created from the contract (schema,
partition spec) before any row leaves, and a schema evolution the contract allows is committed
then too, so the loader appends to the table the contract describes. Quarantine tables are
`NativeOutput`s: their rows are written and committed by this process at the end of the run.

The Singer lines (SCHEMA and RECORD, in the order they arise) are held back in an unlinked
temporary file (`HeldLines`) until the run's own commit (the quarantine tables) went through;
`ReleasingCommitter` then passes them on. A
run that fails before (a reject threshold, a broken stream, the tap stopping early) sends the
loader no row at all: a stock loader commits batch by batch, and Meltano closes its input
rather than stopping it when a mapper fails after the tap finished, so whatever it had
received would be committed.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING

import pyarrow as pa
from pyiceberg.catalog import Catalog

from mapper_contract.singer import record_lines
from target_iceberg.commit import Committer, TableChange
from target_iceberg.config import LoaderConfig
from target_iceberg.contract.evolution import SchemaPlan
from target_iceberg.contract.model import Contract
from target_iceberg.errors import CommitError
from target_iceberg.outputs import NativeOutput, Role, TableOutput, native_committer
from target_iceberg.summary import MergeCounts
from target_iceberg.tables import TableHandle
from target_iceberg.writer import WriteStats

if TYPE_CHECKING:
    from target_iceberg.sinks import RunContext

logger = logging.getLogger(__name__)

Emit = Callable[[bytes], None]
_CHUNK = 1024 * 1024


class HeldLines:
    """The run's outgoing Singer lines, in order, on disk until released."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self._file: IO[bytes] | None = None
        self.records = 0

    def write(self, data: bytes, *, records: int = 0) -> None:
        """Hold ``data`` (whole lines) back."""
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="mapper-contract-")  # noqa: SIM115
        self._file.write(data)
        self.records += records

    def release(self) -> None:
        """Pass every held line on, then forget them."""
        held, self._file = self._file, None
        if held is None:
            return
        with held:
            held.seek(0)
            while chunk := held.read(_CHUNK):
                self.emit(chunk)
        logger.info("%d record(s) passed on to the loader", self.records)

    def discard(self) -> None:
        """Drop the held lines: none of them leaves."""
        held, self._file = self._file, None
        if held is not None:
            held.close()


class SingerOutput:
    """A stream's table as the mapper sees it: rows go downstream, the loader writes them."""

    skip = False
    counts: MergeCounts | None = None

    def __init__(
        self, ctx: RunContext, identifier: tuple[str, str], contract: Contract, held: HeldLines
    ) -> None:
        self.ctx = ctx
        self.identifier = identifier
        self.held = held
        self.stream = ""
        """The stream whose rows these are (set by the mapper before the first row)."""
        self.contract = contract
        self._changes: list[str] = []
        self.handle = self._open()
        self.name = self.handle.name
        self.stats = WriteStats()

    def _open(self) -> TableHandle:
        """The table, created from the contract if missing, its planned evolution committed.

        The loader must find the schema the contract plans before it sees a row.

        Raises:
            CommitError: the catalog refused the schema change.
        """
        handle = TableHandle(self.ctx.catalog, self.identifier, self.contract, create_now=True)
        if not handle.plan.changed:
            return handle
        change = handle.stage([], {})
        if change is None:
            return handle
        try:
            change.transaction.commit_transaction()
        except Exception as exc:
            raise CommitError(
                f"the catalog refused the schema change of {handle.name} ({exc}); nothing was "
                "sent to the loader. Run again (someone changed the table meanwhile) or check "
                "the spec"
            ) from exc
        self._changes.extend(handle.plan.changes)
        logger.info("%s: schema evolved before loading: %s", handle.name, "; ".join(self._changes))
        return TableHandle(self.ctx.catalog, self.identifier, self.contract)

    @property
    def plan(self) -> SchemaPlan:
        """The planned schema (the SCHEMA message the loader gets is derived from it)."""
        return self.handle.plan

    @property
    def schema_changes(self) -> list[str]:
        """The evolutions committed before loading."""
        return list(self._changes)

    def replan(self, contract: Contract) -> bool:
        """Follow a changed contract: plan it and commit its schema change right away."""
        before = self.handle.plan.columns
        self.contract = contract
        self.handle = self._open()
        return self.handle.plan.columns != before

    def write(self, table: pa.Table) -> None:
        """Hold the rows back as RECORD lines (in the order the sink hands them over)."""
        if table.num_rows:
            lines = b"".join(record_lines(self.stream, table, self.handle.plan.columns))
            self.held.write(lines, records=table.num_rows)

    def stage(self, properties: dict[str, str]) -> TableChange | None:
        """Nothing to commit: the loader commits the rows."""
        del properties
        return None

    def already_committed(self) -> int | None:
        """The loader's snapshots are not the mapper's to find."""
        return None

    def abort(self, *, staged: bool) -> None:
        """Drop the run's held lines: none of them reaches the loader."""
        del staged
        self.held.discard()


class ReleasingCommitter:
    """The mapper's commit: the quarantine tables first, then the held lines go downstream."""

    def __init__(self, committer: Committer, held: HeldLines) -> None:
        self.committer = committer
        self.held = held

    def commit(self, changes: Sequence[TableChange]) -> dict[str, int]:
        """Commit the quarantine tables' changes, then release the run's lines."""
        done = self.committer.commit(changes)
        self.held.release()
        return done


class SingerBackend:
    """The mapper's backend: `SingerOutput` for stream tables, `NativeOutput` for rejects."""

    def __init__(self, emit: Emit) -> None:
        self.held = HeldLines(emit)

    def open(
        self, ctx: RunContext, identifier: tuple[str, str], contract: Contract, role: Role
    ) -> TableOutput:
        """The output of ``identifier``."""
        if role == "rejects":
            return NativeOutput(ctx, identifier, contract)
        return SingerOutput(ctx, identifier, contract, self.held)

    def committer(self, catalog: Catalog, settings: LoaderConfig) -> Committer:
        """The quarantine tables' native committer, releasing the held rows once it committed."""
        return ReleasingCommitter(native_committer(catalog, settings), self.held)

    def close(self) -> None:
        """Nothing to release."""
