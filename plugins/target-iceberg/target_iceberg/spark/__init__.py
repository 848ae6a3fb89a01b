"""The ``spark`` engine: a Spark session writes the tables the sink pipeline prepared.

`jars` finds (or fetches once, with Maven) the Iceberg runtime jars; `session` turns the
loader's pyiceberg catalog properties into the same catalog for Spark and starts the session;
`backend` is the engine's side of the write-backend seam (`target_iceberg.outputs`). Nothing
here decides what lands: contract, quarantine and de-duplication happen before, in the code
both engines share.
"""
