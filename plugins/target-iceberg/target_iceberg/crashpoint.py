"""Named crash points: the trust suite kills the loader here, deterministically.

``TARGET_ICEBERG_CRASH_AT=<point>:<n>`` makes the process SIGKILL itself the ``n``-th time
it reaches ``<point>`` (no clean-up, no exit handler runs: as if the machine died). Unset,
`reached` is one dictionary lookup. The points, in the order a run reaches them:

- ``schema``: after a SCHEMA message was handled (parse),
- ``flush``: after a stream's buffered records went to the writer (mid-stream),
- ``state``: after a STATE message was read (mid-stream),
- ``stage``: after one table's change was staged (data files closed, nothing committed),
- ``metadata``: after one table's new metadata file was written (between tables),
- ``flip``: inside the catalog transaction, every pointer moved, before it commits,
- ``committed``: after the commit, before the STATE is emitted,
- ``state-emitted``: after the STATE line was written out.

Only tests set the variable; it is not a setting and is never rendered into projects.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

ENV = "TARGET_ICEBERG_CRASH_AT"
POINTS = ("schema", "flush", "state", "stage", "metadata", "flip", "committed", "state-emitted")

_seen: Counter[str] = Counter()


def reached(point: str) -> None:
    """Count ``point``; SIGKILL this process if the environment names it and its count."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    _seen[point] += 1
    if _seen[point] == int(nth or "1"):
        # What was written to standard output reached the reader; nothing else happens.
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
