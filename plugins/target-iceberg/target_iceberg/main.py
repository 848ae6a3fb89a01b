"""The loader's entry point (``target-iceberg``): tune this process, then run the target.

The loader's start imports singer-sdk, pyiceberg and pyarrow: about a million long-lived
objects and hardly any garbage, over which the collector's default thresholds (a young
collection every 700 allocations) spend ~15% of the start's CPU. Young collections are
therefore rarer in the loader's process (the run's own hot path allocates few Python
objects). Set here, before the imports, and never on importing the package: a program that
imports target_iceberg as a library keeps its own collector settings.
"""

from __future__ import annotations

import gc


def tune_collector() -> None:
    """Rarer young collections, for a process that mostly imports and then streams."""
    gc.set_threshold(50_000, 20, 100)


def main() -> None:
    """Run ``target-iceberg`` (the console script)."""
    tune_collector()
    from target_iceberg.target import TargetIceberg

    TargetIceberg.cli()
