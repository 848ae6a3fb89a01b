"""Run a stage of a render over many items on every core, results in item order.

A render of a thousand tenants is the same work done a thousand times, each independent of the
others. The items are cut into contiguous slices, one per forked worker; each worker runs the
stage on its slice and the results are joined slice by slice, so the output (and the first error
raised, and every problem listed) is the same as in a serial run. Workers are forked, so the
stage and its inputs are never pickled, only its results. Serial, in this process, when the
items are few, there is one core, ``fork`` is not available, the process runs other threads, or
``INGESTGEN_WORKERS=1``.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_PER_WORKER = 64
"""Fewer items than this per worker are not worth a fork."""
MAX_WORKERS = 8
YOUNG_OBJECTS = 20_000
"""Objects allocated between two collections of the youngest generation while a stage runs.

A stage allocates millions of short-lived objects (parsed YAML, models, rendered text) that
are nearly all freed by reference counting; at CPython's default (700) the cyclic collector
ran about 700 times per thousand tenants, a tenth of the render's CPU, finding almost nothing.
"""

# What the forked workers run: set just before the fork, read by `_run_slice` in the child.
_STAGE: tuple[Callable[[Sequence[Any]], Any], Sequence[Any]] | None = None


def workers_for(count: int) -> int:
    """How many workers a stage over ``count`` items gets (1: run it here)."""
    given = os.environ.get("INGESTGEN_WORKERS", "").strip()
    if given.isdigit() and int(given) > 0:
        cores = int(given)
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(cores, MAX_WORKERS, count // MIN_PER_WORKER))


def map_slices(stage: Callable[[Sequence[T]], R], items: Sequence[T]) -> list[R]:
    """``stage`` applied to consecutive slices of ``items`` (one per worker), in order.

    Raises:
        Exception: what ``stage`` raised on the first slice (in item order) that failed.
    """
    workers = workers_for(len(items))
    if workers <= 1 or threading.active_count() > 1:
        # Forking a process that runs other threads may copy a lock one of them holds: the
        # children could hang. Such a caller (a test session with servers in threads) runs here.
        with _fewer_collections():
            return [stage(items)]
    size = -(-len(items) // workers)
    bounds = [(start, min(start + size, len(items))) for start in range(0, len(items), size)]
    global _STAGE  # noqa: PLW0603 - handed to the forked children, never shared otherwise
    _STAGE = (stage, items)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=len(bounds), mp_context=context) as pool:
            futures = [pool.submit(_run_slice, start, stop) for start, stop in bounds]
            return [future.result() for future in futures]
    finally:
        _STAGE = None


def _run_slice(start: int, stop: int) -> Any:
    assert _STAGE is not None, "map_slices sets the stage before forking"
    stage, items = _STAGE
    # What the worker inherited is only read: never scanned again by the cyclic collector.
    gc.freeze()
    with _fewer_collections():
        return stage(items[start:stop])


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    # Cycles are still collected, only less often; the thresholds are restored afterwards.
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], YOUNG_OBJECTS), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
