"""The run's block pipeline: two worker threads, and the blocks held while the run opens.

`RunContext` is what all sinks of a run share: the catalog and the engine's backend (once
the run is open, `target_iceberg.opening`), the run's settings, and the workers that prepare
(parse, coerce) and land (hash, quarantine, encode) every block in input order. Never decides
what a block holds: the sinks do.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from target_iceberg.blocks import Landed
    from target_iceberg.outputs import Backend
    from target_iceberg.writer import WriterSettings

BLOCK_RECORDS = 25_000
_IN_FLIGHT = 8
"""Blocks submitted and not yet written (parsed ones are compact Arrow; the write worker
encodes a row group at a time, and parsing goes on meanwhile)."""
_UNPARSED = 2
"""Blocks submitted and not yet parsed (raw JSON, the larger form)."""


class RunContext:
    """What all sinks of a run share, including the two worker threads that process blocks.

    A block goes through two stages, each on its own thread: the parse worker reads and
    coerces it (`Landed`), the write worker hashes, counts, quarantines and encodes it to
    Parquet. Both stages and the main thread (which keeps splitting input) overlap: Arrow's
    JSON reader, its casts and the Parquet writer release the GIL. Each worker takes blocks in
    submission order, so every table sees its blocks in input order; at most `_UNPARSED`
    blocks wait as raw input and `_IN_FLIGHT` in all, which bounds memory.

    The run may still be opening (`open_in_background`: catalog, namespace, the first table)
    when the first blocks come: they are parsed meanwhile and written once it is open
    (`wait_open`), each re-parsed first if the opened table changed its shape.
    """

    def __init__(
        self,
        *,
        catalog: Any,
        namespace: str,
        run_id: str,
        unknown: str,
        settings: WriterSettings | None,
        create_tables_first: bool = False,
        block_records: int = BLOCK_RECORDS,
        max_rejected_rows: int | None = None,
        batch_root: Path | None = None,
        backend: Backend | None = None,
        audit_branch: str | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.catalog = catalog
        self.properties: dict[str, str] = {}
        """The catalog's properties, once known (to name storage in errors)."""
        self.spool_dir = spool_dir
        """Where runs that spool their rows keep them (None: the system's temporary folder)."""
        self.audit_branch = audit_branch
        """Write every table's snapshot to this branch, not ``main`` (write-audit-publish)."""
        if backend is None and catalog is not None:
            from target_iceberg.outputs import NativeBackend

            backend = NativeBackend()
        self.backend: Backend = backend  # type: ignore[assignment]
        """Who writes the tables (the engine's seam; set by the opening when it runs later)."""
        self.batch_root = batch_root
        """BATCH files must lie inside this folder, when set."""
        self.max_rejected_rows = max_rejected_rows
        self.rejected = 0
        """Records rejected so far over all streams (counted on the write worker)."""
        self.block_records = block_records
        self.create_tables_first = create_tables_first
        self.namespace = namespace
        self.run_id = run_id
        self.unknown = unknown
        self.settings: WriterSettings = settings  # type: ignore[assignment]
        # Unique per attempt: a re-run with the same run id never meets its own old files.
        self.file_prefix = f"{run_id}-{uuid.uuid4().hex[:8]}"
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="target-iceberg-parse")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="target-iceberg-write")
        self._pending: deque[Future[None]] = deque()
        self._unparsed: deque[Future[Landed]] = deque()
        self._opening: Future[None] | None = None
        self._held: list[_Held] = []

    # Opening ------------------------------------------------------------------------------

    def open_in_background(self, open_run: Callable[[], None]) -> None:
        """Run ``open_run`` (which completes this context) on its own thread.

        A daemon thread: a loader stopped by a signal while a catalog hangs exits at once, as
        it did when the main thread opened the run.
        """
        opening: Future[None] = Future()
        opening.set_running_or_notify_cancel()

        def run() -> None:
            try:
                open_run()
            except BaseException as exc:
                opening.set_exception(exc)
            else:
                opening.set_result(None)

        self._opening = opening
        threading.Thread(target=run, name="target-iceberg-open", daemon=True).start()

    @property
    def opening(self) -> bool:
        """True while the run opens in the background (blocks are held, not written)."""
        return self._opening is not None

    def opening_failure(self) -> BaseException | None:
        """Wait for a background opening; its failure, if it failed."""
        if self._opening is None:
            return None
        return self._opening.exception()

    def wait_open(self) -> None:
        """Wait until the run is open; then write the blocks held meanwhile.

        Raises:
            Exception: the opening's failure (every time: the run cannot go on).
        """
        opening = self._opening
        if opening is None:
            return
        opening.result()
        self._opening = None
        held, self._held = self._held, []
        for block in held:
            prepared = block.prepared
            again = block.redo() if block.redo is not None else None
            if again is not None:
                prepared = self._parser.submit(again)
            self._pending.append(self._writer.submit(_landing(block.land, prepared)))

    # Blocks -------------------------------------------------------------------------------

    def submit(
        self,
        prepare: Callable[[], Landed],
        land: Callable[[Landed], None],
        redo: Callable[[], Callable[[], Landed] | None] | None = None,
    ) -> None:
        """Run ``prepare`` on the parse worker, then ``land`` with its result on the write worker.

        Waits while too many blocks are in flight. A failure of ``prepare`` surfaces through
        the block's ``land`` (in `submit` or `drain`), in input order like any other. While
        the run opens, the block is held; once it is open, ``redo`` says whether the block
        must be prepared again (the prepare to run instead) or not (None).
        """
        while len(self._pending) >= _IN_FLIGHT:
            self._pending.popleft().result()
        while self._unparsed and self._unparsed[0].done():
            self._unparsed.popleft()
        if len(self._unparsed) >= _UNPARSED:
            wait([self._unparsed.popleft()])  # its failure, if any, surfaces with its block
        prepared = self._parser.submit(prepare)
        self._unparsed.append(prepared)
        if self._opening is not None:
            self._held.append(_Held(prepared, land, redo))
            if self._opening.done() or len(self._held) + len(self._pending) >= _IN_FLIGHT:
                self.wait_open()
            return
        self._pending.append(self._writer.submit(_landing(land, prepared)))

    def drain(self) -> None:
        """Wait for every submitted block; re-raises the first failure."""
        self.wait_open()
        while self._pending:
            self._pending.popleft().result()

    def cancel(self) -> None:
        """Stop the worker: drop waiting blocks, wait for the running one (run failed).

        Afterwards no file is written any more, so deleting the run's files is final.
        """
        self._pending.clear()
        self._unparsed.clear()
        self._held.clear()
        # The parse worker first: a waiting write then fails on its cancelled block.
        self._parser.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class _Held:
    """A block parsed while the run opened, waiting to be written."""

    prepared: Future[Landed]
    land: Callable[[Landed], None]
    redo: Callable[[], Callable[[], Landed] | None] | None


def _landing(land: Callable[[Landed], None], prepared: Future[Landed]) -> Callable[[], None]:
    return lambda: land(prepared.result())
