"""target-iceberg: a Singer loader that enforces an asset contract and commits to Iceberg.

The loader's start imports singer-sdk, pyiceberg and pyarrow: about a million long-lived
objects and hardly any garbage, over which the collector's default thresholds (a young
collection every 700 allocations) spend ~15% of the start's CPU. Young collections are
therefore rarer in this process; the run's own hot path allocates few Python objects.
"""
from __future__ import annotations

import gc

gc.set_threshold(50_000, 20, 100)
