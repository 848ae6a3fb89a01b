"""Named crash points: the trust suite kills the loader here, deterministically.

``TARGET_ICEBERG_CRASH_AT=<point>:<n>`` makes the process SIGKILL itself the ``n``-th time
it reaches ``<point>`` (no clean-up, no exit handler runs: as if the machine died). Unset,
`reached` is two dictionary lookups. The points, in the order a run reaches them:

- ``schema``: after a SCHEMA message was handled (parse),
- ``flush``: after a stream's buffered records went to the writer (mid-stream),
- ``state``: after a STATE message was read (mid-stream),
- ``stage``: after one table's change was staged (data files closed, nothing committed),
- ``metadata``: after one table's new metadata file was written (between tables),
- ``flip``: inside the catalog transaction, every pointer moved, before it commits,
- ``committed``: after the commit, before the STATE is emitted,
- ``state-emitted``: after the STATE line was written out.

``TARGET_ICEBERG_STOP_AT=<point>:<n>`` instead stops the process there (SIGSTOP) until a
SIGCONT: the services-failing tests kill a catalog or S3 server at that exact point, then let
the run go on and meet the fault.

Only tests set the variables; they are not settings and are never rendered into projects.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

ENV = "TARGET_ICEBERG_CRASH_AT"
STOP_ENV = "TARGET_ICEBERG_STOP_AT"
POINTS = ("schema", "flush", "state", "stage", "metadata", "flip", "committed", "state-emitted")

_seen: Counter[str] = Counter()


def reached(point: str) -> None:
    """Count ``point``; SIGKILL (or SIGSTOP) this process if the environment names it."""
    for variable, sig in ((ENV, signal.SIGKILL), (STOP_ENV, signal.SIGSTOP)):
        wanted = os.environ.get(variable)
        if not wanted:
            continue
        name, _, nth = wanted.partition(":")
        if name != point:
            continue
        _seen[f"{variable}:{point}"] += 1
        if _seen[f"{variable}:{point}"] == int(nth or "1"):
            # What was written to standard output reached the reader; nothing else happens.
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), sig)
