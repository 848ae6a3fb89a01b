"""Quarantine: records that break the contract are kept, never dropped.

A rejected record lands in the table ``<table>__rejected`` next to its table, with its raw
payload (the JSON the tap sent, or the BATCH row as JSON), the stream, the failing column(s),
the reason and the run id; the run summary counts them. This module only shapes those rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from target_iceberg.contract.model import Contract, ContractColumn
from target_iceberg.types import ListType, Primitive

if TYPE_CHECKING:
    import pyarrow as pa

SUFFIX = "__rejected"

CONTRACT = Contract(
    columns=(
        ContractColumn("run_id", Primitive("string"), True, "Run that read the record."),
        ContractColumn("stream", Primitive("string"), True, "Singer stream of the record."),
        ContractColumn(
            "rejected_at", Primitive("timestamptz"), True, "When it was rejected (UTC)."
        ),
        ContractColumn("columns", ListType(Primitive("string")), False, "Failing column paths."),
        ContractColumn("reason", Primitive("string"), True, "Why, per failing column."),
        ContractColumn("raw", Primitive("string"), True, "The record as received (JSON)."),
        ContractColumn("spec_version", Primitive("string"), False, "Asset spec version, if any."),
    ),
    origin="target-iceberg quarantine",
)


@dataclass(frozen=True)
class Reject:
    """One rejected record."""

    raw: str
    columns: tuple[str, ...]
    reason: str


def rejects_table(
    rejects: Sequence[Reject],
    *,
    schema: pa.Schema,
    run_id: str,
    stream: str,
    spec_version: str | None,
) -> pa.Table:
    """The quarantine rows for ``rejects`` in the quarantine table's Arrow schema."""
    # Imported here: ingestgen reads SUFFIX at every start, and needs no Arrow for it.
    import pyarrow as pa

    count = len(rejects)
    now = dt.datetime.now(dt.UTC)
    columns = {
        "run_id": [run_id] * count,
        "stream": [stream] * count,
        "rejected_at": [now] * count,
        "columns": [list(r.columns) for r in rejects],
        "reason": [r.reason for r in rejects],
        "raw": [r.raw for r in rejects],
        "spec_version": [spec_version] * count,
    }
    return pa.Table.from_arrays(
        [pa.array(columns[f.name], type=f.type) for f in schema], schema=schema
    )
