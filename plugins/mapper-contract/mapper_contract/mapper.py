"""mapper-contract: the asset contract and quarantine of target-iceberg, in front of any loader.

It is target-iceberg with another write backend (`target_iceberg.outputs`' seam): the reader,
the contract (asset spec or SCHEMA message), the coercion rules, the unknown-column policy, the
quarantine tables, the reject thresholds, the tenant guard and the catalog are target-iceberg's
own code. What changes is where the good rows go: instead of Parquet files they leave on
standard output as Singer messages for the next plugin of ``meltano run tap mapper loader``:

- one SCHEMA message per stream (again when its contract changes) whose JSON Schema is the
  planned table's: the contract's columns, required where the table requires them, the key
  as ``key_properties``;
- the coerced rows as RECORD messages, in input order;
- the last STATE, once, at the end of the input.

Nothing leaves before the run's own commit: the messages are held back on disk until every
check passed and the run's quarantine rows are committed to ``<table>__rejected``
(`mapper_contract.outputs.ReleasingCommitter`). A run that fails sends the loader nothing, so a
stock loader commits nothing of it, and a bookmark never passes rejects that are not durable.

The stream's table is created from the contract (columns, partitioning, identifier fields) and
its schema evolved before the first row leaves, so the loader finds the table the contract
describes. The mapper never writes the stream's table itself: the loader does, and commits as
it does (a stock loader commits batch by batch, not once per run; it starts once the mapper
has read the whole input).
"""

from __future__ import annotations

import json
import sys
import threading
import typing as t

import msgspec

from mapper_contract.outputs import SingerBackend, SingerOutput
from mapper_contract.singer import stream_schema
from target_iceberg.config import SETTINGS
from target_iceberg.errors import ConfigError
from target_iceberg.target import TargetIceberg

if t.TYPE_CHECKING:
    from target_iceberg.outputs import Backend

# How the stream's table is written is the loader's business, not a setting of the mapper.
_LOADER_ONLY = ("engine", "write_mode", "spark", "commit_mode", "target_file_size_mb")
MAPPER_SETTINGS: dict[str, t.Any] = {
    **SETTINGS,
    "properties": {k: v for k, v in SETTINGS["properties"].items() if k not in _LOADER_ONLY},
}


class MapperContract(TargetIceberg):
    """A Singer mapper: contract-checked records out, rejects into quarantine tables."""

    name = "mapper-contract"
    config_jsonschema: t.ClassVar[dict[str, t.Any]] = MAPPER_SETTINGS
    # Only the quarantine tables are the mapper's: that they hold a run's rejects says nothing
    # of whether the loader committed its rows, so a repeated run passes its rows on again.
    detects_replays = False

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._out_lock = threading.Lock()
        self._schemas: dict[str, tuple[dict[str, t.Any], tuple[str, ...]]] = {}

    def _backend(self, catalog: t.Any) -> Backend:
        """The rows go out as RECORD messages; quarantine tables are written natively."""
        if self.settings.write_mode != "append" or self.settings.engine != "native":
            raise ConfigError(
                "mapper-contract passes rows on to a loader: write_mode must be append and "
                "engine native (the loader decides how it writes); remove those settings"
            )
        return SingerBackend(self.emit)

    def emit(self, data: bytes) -> None:
        """Write Singer lines to standard output (called by the worker and the main thread)."""
        with self._out_lock:
            out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
            if out is not None:
                out.write(data)
                out.flush()
            else:  # a text stream (tests)
                sys.stdout.write(data.decode())
                sys.stdout.flush()

    def _process_schema_message(self, message_dict: dict[str, t.Any]) -> None:
        super()._process_schema_message(message_dict)
        stream = message_dict["stream"]
        sink = self.sinks[stream]
        assert isinstance(sink.output, SingerOutput)
        sink.output.stream = stream
        schema = stream_schema(sink.output.plan.columns)
        key = sink.contract.key or tuple(message_dict.get("key_properties") or ())
        if self._schemas.get(stream) == (schema, key):
            return
        self._schemas[stream] = (schema, key)
        line = {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": list(key)}
        # Held in order with the stream's records (a new SCHEMA applies to the records after it).
        sink.output.held.write(msgspec.json.encode(line) + b"\n")

    def _write_state_message(self, state: dict[str, t.Any]) -> None:
        """The STATE goes out on the same stream as the records, after them."""
        line = json.dumps({"type": "STATE", "value": state}, default=str)
        self.emit(line.encode() + b"\n")

    def _process_activate_version_message(self, message_dict: dict[str, t.Any]) -> None:
        """Not passed on: an ACTIVATE_VERSION would let a loader delete rows the run kept."""
        super()._process_activate_version_message(message_dict)


if __name__ == "__main__":
    MapperContract.cli()
