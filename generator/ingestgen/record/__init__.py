"""The run record (the seed's Metadata Emitter).

What one run did, as JSON next to the run, as an OpenMetadata pipeline status and as
OpenLineage run events.

Stages: `model` builds the record from facts the runner gathered, `store` writes it, and
`openmetadata` / `openlineage` send it. Nothing here runs a job or decides an exit code.
"""
