"""target-iceberg: a Singer loader that enforces an asset contract and commits to Iceberg.

The console script is `target_iceberg.main` (which also tunes the loader's process).
"""

from __future__ import annotations
