"""mapper-contract: target-iceberg's contract and quarantine in front of a stock Singer loader."""
