"""target-iceberg: a Singer loader that enforces an asset contract and commits to Iceberg."""
