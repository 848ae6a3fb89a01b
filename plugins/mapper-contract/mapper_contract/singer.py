"""The contract's rows as Singer messages: the JSON Schema of a planned table, and RECORD lines.

The schema is derived from the Iceberg table the contract plans (required columns, element and
value nullability, struct fields), so a stock loader that builds its Arrow schema from the
SCHEMA message writes what the table holds. Values are coerced rows (Arrow, in the planned
schema) turned into JSON: dates and times as ISO 8601 text, timestamps with their offset,
decimals as exact JSON numbers, binary as base64. Never reads input and never talks to a catalog.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
import pyarrow as pa
from pyiceberg import types as it

from target_iceberg.contract.evolution import PlannedColumn
from target_iceberg.types import ListType, MapType, Primitive, StructType, TypeNode

# Decimals are written as JSON numbers, digit for digit (never through a float).
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def column_schema(typ: it.IcebergType, node: TypeNode, *, nullable: bool) -> dict[str, Any]:
    """The JSON Schema of one value of Iceberg type ``typ`` (restricted to ``node``'s fields)."""
    schema = _schema(typ, node)
    if nullable:
        kinds = schema["type"]
        schema = {**schema, "type": ["null", kinds]}
    return schema


def _schema(typ: it.IcebergType, node: TypeNode) -> dict[str, Any]:
    if isinstance(typ, it.ListType):
        element = node.element if isinstance(node, ListType) else Primitive("string")
        return {
            "type": "array",
            "items": column_schema(typ.element_type, element, nullable=not typ.element_required),
        }
    if isinstance(typ, it.MapType):
        value = node.value if isinstance(node, MapType) else Primitive("string")
        return {
            "type": "object",
            "additionalProperties": column_schema(
                typ.value_type, value, nullable=not typ.value_required
            ),
        }
    if isinstance(typ, it.StructType):
        by_name = {f.name: f for f in typ.fields}
        names = [n for n, _ in node.fields] if isinstance(node, StructType) else list(by_name)
        subs = dict(node.fields) if isinstance(node, StructType) else {}
        properties = {
            name: column_schema(
                by_name[name].field_type,
                subs.get(name, Primitive("string")),
                nullable=not by_name[name].required,
            )
            for name in names
        }
        required = [n for n in names if by_name[n].required]
        return {"type": "object", "properties": properties, "required": required}
    return _primitive(typ)


def _primitive(typ: it.IcebergType) -> dict[str, Any]:
    if isinstance(typ, it.BooleanType):
        return {"type": "boolean"}
    if isinstance(typ, it.IntegerType):
        return {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
    if isinstance(typ, it.LongType):
        return {"type": "integer"}
    if isinstance(typ, it.FloatType | it.DoubleType):
        return {"type": "number"}
    if isinstance(typ, it.DecimalType):
        return {"type": "number", "multipleOf": float(Decimal(1).scaleb(-typ.scale))}
    if isinstance(typ, it.DateType):
        return {"type": "string", "format": "date"}
    if isinstance(typ, it.TimeType):
        return {"type": "string", "format": "time"}
    if isinstance(typ, it.TimestampType | it.TimestamptzType):
        return {"type": "string", "format": "date-time"}
    if isinstance(typ, it.UUIDType):
        return {"type": "string", "format": "uuid"}
    if isinstance(typ, it.BinaryType | it.FixedType):
        return {"type": "string", "contentEncoding": "base64"}
    return {"type": "string"}


def stream_schema(columns: tuple[PlannedColumn, ...]) -> dict[str, Any]:
    """The SCHEMA message's JSON Schema of a stream whose rows follow ``columns``."""
    return {
        "type": "object",
        "properties": {
            c.name: column_schema(c.field.field_type, c.type, nullable=not c.field.required)
            for c in columns
        },
        "required": [c.name for c in columns if c.field.required],
        "additionalProperties": False,
    }


def _json_value(value: Any, node: TypeNode) -> Any:
    """A coerced Python value (from Arrow) as a JSON-ready value."""
    if value is None:
        return None
    if isinstance(node, ListType):
        return [_json_value(v, node.element) for v in value]
    if isinstance(node, MapType):
        # Arrow maps come back as (key, value) pairs.
        return {str(_json_value(k, node.key)): _json_value(v, node.value) for k, v in value}
    if isinstance(node, StructType):
        subs = dict(node.fields)
        return {k: _json_value(v, subs[k]) for k, v in value.items() if k in subs}
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def record_lines(
    stream: str, table: pa.Table, columns: tuple[PlannedColumn, ...]
) -> Iterator[bytes]:
    """One RECORD line (ending with a line break) per row of ``table``."""
    nodes = {c.name: c.type for c in columns}
    for batch in table.to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            record = {k: _json_value(v, nodes[k]) for k, v in row.items()}
            yield _ENCODER.encode({"type": "RECORD", "stream": stream, "record": record}) + b"\n"
