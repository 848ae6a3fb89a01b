"""The one type visitor: asset type tree <-> Iceberg types -> Arrow types.

JSON Schema reaches this module already turned into a type tree (`contract.jsonschema`), so
every path into a table goes through the same three functions:

- `to_iceberg(node, ids)`: a type tree to an Iceberg type, taking fresh field ids from `ids`;
- `from_iceberg(type)`: an Iceberg type back to a type tree (to compare with a contract);
- `to_arrow(type, node)`: the Arrow type of a data file, carrying Iceberg field ids, limited
  to the struct fields that ``node`` names (files may omit optional columns; readers fill nulls).

`json_read_type` says how pyarrow's JSON reader must read a type (dates as text, decimals wide
enough to detect overflow) or that it cannot (maps, JSON text): such streams use the row path.
This module never touches data.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from pyiceberg import types as it

from target_iceberg.contract.model import JsonText
from target_iceberg.types import DecimalType, ListType, MapType, Primitive, StructType, TypeNode

FIELD_ID_KEY = b"PARQUET:field_id"

_PRIMITIVE_TO_ICEBERG: dict[str, it.PrimitiveType] = {
    "boolean": it.BooleanType(),
    "int": it.IntegerType(),
    "long": it.LongType(),
    "float": it.FloatType(),
    "double": it.DoubleType(),
    "date": it.DateType(),
    "time": it.TimeType(),
    "timestamp": it.TimestampType(),
    "timestamptz": it.TimestamptzType(),
    "string": it.StringType(),
    "uuid": it.UUIDType(),
    "binary": it.BinaryType(),
}
_ICEBERG_TO_PRIMITIVE: dict[type, str] = {type(v): k for k, v in _PRIMITIVE_TO_ICEBERG.items()}

_PRIMITIVE_TO_ARROW: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "string": pa.string(),
    "uuid": pa.uuid(),
    "binary": pa.binary(),
}
# Types the JSON reader cannot produce directly: read as text, converted afterwards.
_READ_AS_TEXT = {"date", "time", "uuid", "binary"}


class UnsupportedType(ValueError):
    """An Iceberg type the contract grammar has no name for (e.g. fixed, geometry)."""


def to_iceberg(node: TypeNode, ids: Callable[[], int]) -> it.IcebergType:
    """Map a type tree to an Iceberg type; nested fields take fresh ids from ``ids``."""
    if isinstance(node, Primitive):
        return _PRIMITIVE_TO_ICEBERG[node.name]
    if isinstance(node, DecimalType):
        return it.DecimalType(node.precision, node.scale)
    if isinstance(node, ListType):
        element_id = ids()
        return it.ListType(element_id, to_iceberg(node.element, ids), element_required=False)
    if isinstance(node, MapType):
        key_id, value_id = ids(), ids()
        return it.MapType(
            key_id,
            to_iceberg(node.key, ids),
            value_id,
            to_iceberg(node.value, ids),
            value_required=False,
        )
    field_ids = [ids() for _ in node.fields]
    return it.StructType(
        *(
            it.NestedField(fid, name, to_iceberg(sub, ids), required=False)
            for fid, (name, sub) in zip(field_ids, node.fields, strict=True)
        )
    )


def from_iceberg(typ: it.IcebergType) -> TypeNode:
    """Map an Iceberg type back to a type tree.

    Raises:
        UnsupportedType: the table uses a type the contract grammar cannot express.
    """
    if isinstance(typ, it.DecimalType):
        return DecimalType(typ.precision, typ.scale)
    if isinstance(typ, it.ListType):
        return ListType(from_iceberg(typ.element_type))
    if isinstance(typ, it.MapType):
        return MapType(from_iceberg(typ.key_type), from_iceberg(typ.value_type))
    if isinstance(typ, it.StructType):
        return StructType(tuple((f.name, from_iceberg(f.field_type)) for f in typ.fields))
    name = _ICEBERG_TO_PRIMITIVE.get(type(typ))
    if name is None:
        raise UnsupportedType(f"Iceberg type {typ} has no equivalent in the asset type grammar")
    return Primitive(name)


def _with_id(field: pa.Field, field_id: int) -> pa.Field:
    return field.with_metadata({FIELD_ID_KEY: str(field_id).encode()})


def to_arrow_field(field: it.NestedField, node: TypeNode, *, nullable: bool) -> pa.Field:
    """The Arrow field for an Iceberg field, typed as ``node`` and carrying field ids."""
    return _with_id(
        pa.field(field.name, to_arrow(field.field_type, node), nullable), field.field_id
    )


def to_arrow(typ: it.IcebergType, node: TypeNode) -> pa.DataType:
    """The Arrow type of ``typ``, restricted to the struct fields ``node`` names."""
    if isinstance(node, Primitive):
        return _PRIMITIVE_TO_ARROW[node.name]
    if isinstance(node, DecimalType):
        return pa.decimal128(node.precision, node.scale)
    if isinstance(node, ListType):
        assert isinstance(typ, it.ListType)
        element = _with_id(
            pa.field("element", to_arrow(typ.element_type, node.element), True), typ.element_id
        )
        return pa.list_(element)
    if isinstance(node, MapType):
        assert isinstance(typ, it.MapType)
        key = _with_id(pa.field("key", to_arrow(typ.key_type, node.key), False), typ.key_id)
        value = _with_id(
            pa.field("value", to_arrow(typ.value_type, node.value), True), typ.value_id
        )
        return pa.map_(key, value)
    assert isinstance(typ, it.StructType)
    by_name = {f.name: f for f in typ.fields}
    return pa.struct(
        [to_arrow_field(by_name[name], sub, nullable=True) for name, sub in node.fields]
    )


def needs_row_path(node: TypeNode, *, top: bool = True) -> bool:
    """True if pyarrow's JSON reader cannot read this type, even as text.

    That is maps, JSON text, and text-read types (time, uuid, binary) inside lists or structs.
    """
    if isinstance(node, JsonText | MapType):
        return True
    if isinstance(node, Primitive):
        return node.name in {"time", "uuid", "binary"} and not top
    if isinstance(node, DecimalType):
        return False
    if isinstance(node, ListType):
        return needs_row_path(node.element, top=False)
    return any(needs_row_path(sub, top=False) for _, sub in node.fields)


def json_read_type(node: TypeNode) -> pa.DataType:
    """The type pyarrow's JSON reader reads ``node`` as, before `coerce.arrow` finishes it.

    Only valid when `needs_row_path` is false. Decimals are read with precision 38 so that a
    value too wide for the contract fails the later cast instead of passing unnoticed.
    """
    if isinstance(node, Primitive):
        if node.name == "float":
            # Read wide: a value too large for 32 bits must be seen, not turned into inf.
            return pa.float64()
        return pa.string() if node.name in _READ_AS_TEXT else _PRIMITIVE_TO_ARROW[node.name]
    if isinstance(node, DecimalType):
        return pa.decimal128(38, node.scale)
    if isinstance(node, ListType):
        return pa.list_(json_read_type(node.element))
    if isinstance(node, MapType):  # pragma: no cover - excluded by needs_row_path
        raise ValueError("maps cannot be read by the JSON reader")
    return pa.struct([pa.field(name, json_read_type(sub)) for name, sub in node.fields])
