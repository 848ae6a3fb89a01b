"""Stage 2: the connector registry (data in ``registry/``) and the engine resolver."""
