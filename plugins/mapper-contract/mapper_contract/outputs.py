"""The mapper's write backend: the stream's rows leave as RECORD messages, rejects stay native.

`SingerOutput` is a `target_iceberg.outputs.TableOutput` whose ``write`` emits the coerced
rows as Singer RECORD lines. It opens the stream's table the way target-iceberg does
(`target_iceberg.tables.TableHandle`): a missing table is created from the contract (schema,
partition spec) before any row leaves, and a schema evolution the contract allows is committed
then too, so the loader appends to the table the contract describes. Quarantine tables are
`NativeOutput`s: their rows are written and committed by this process at the end of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa

from mapper_contract.singer import record_lines
from target_iceberg.commit import TableChange
from target_iceberg.contract.evolution import SchemaPlan
from target_iceberg.contract.model import Contract
from target_iceberg.errors import CommitError
from target_iceberg.outputs import NativeOutput, Role, TableOutput
from target_iceberg.summary import MergeCounts
from target_iceberg.tables import TableHandle
from target_iceberg.writer import WriteStats

if TYPE_CHECKING:
    from target_iceberg.sinks import RunContext

logger = logging.getLogger(__name__)

Emit = Callable[[bytes], None]


class SingerOutput:
    """A stream's table as the mapper sees it: rows go downstream, the loader writes them."""

    skip = False
    counts: MergeCounts | None = None

    def __init__(
        self, ctx: RunContext, identifier: tuple[str, str], contract: Contract, emit: Emit
    ) -> None:
        self.ctx = ctx
        self.identifier = identifier
        self.emit = emit
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
        """Emit the rows as RECORD lines (in the order the sink hands them over)."""
        if table.num_rows:
            self.emit(b"".join(record_lines(self.stream, table, self.handle.plan.columns)))

    def stage(self, properties: dict[str, str]) -> TableChange | None:
        """Nothing to commit: the loader commits the rows."""
        del properties
        return None

    def already_committed(self) -> int | None:
        """The loader's snapshots are not the mapper's to find."""
        return None

    def abort(self, *, staged: bool) -> None:
        """Nothing of the mapper's own is pending for this table."""
        del staged


class SingerBackend:
    """The mapper's backend: `SingerOutput` for stream tables, `NativeOutput` for rejects."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def open(
        self, ctx: RunContext, identifier: tuple[str, str], contract: Contract, role: Role
    ) -> TableOutput:
        """The output of ``identifier``."""
        if role == "rejects":
            return NativeOutput(ctx, identifier, contract)
        return SingerOutput(ctx, identifier, contract, self.emit)

    def close(self) -> None:
        """Nothing to release."""
