"""Singer SCHEMA (JSON Schema) -> contract, for streams that have no asset spec.

The mapping is deliberately small and total: every schema maps to some type tree, and what
JSON Schema can say but the table cannot (objects without properties, unions of unrelated
types, empty schemas) becomes a `JsonText` column holding the value's JSON text. Numbers map
to ``double`` (JSON Schema has no precision), integers to ``long``. Never reads records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from target_iceberg.contract.model import Contract, ContractColumn, JsonText
from target_iceberg.errors import ContractError
from target_iceberg.types import ListType, Primitive, StructType, TypeNode

_FORMATS = {"date-time": "timestamptz", "date": "date", "time": "time"}


def _variants(schema: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], bool]:
    """The non-null alternatives of ``schema`` and whether null is allowed."""
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = schema[union]
            if not isinstance(options, list):
                return [], True  # not a union JSON Schema knows: any value, as JSON text
            found: list[Mapping[str, Any]] = []
            nullable = False
            for option in options:
                sub, sub_null = _variants(option if isinstance(option, Mapping) else {})
                found.extend(sub)
                nullable = nullable or sub_null
            return found, nullable
    kinds = schema.get("type")
    if kinds is None:
        return ([schema] if schema else []), not schema
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list):
        return [], True  # e.g. "type": 7: any value, as JSON text
    nullable = "null" in kinds
    return [{**schema, "type": k} for k in kinds if k != "null" and isinstance(k, str)], nullable


def to_type(schema: Mapping[str, Any]) -> tuple[TypeNode, bool]:
    """Map one property schema to a type tree.

    Returns:
        The type and whether the schema allows null.
    """
    variants, nullable = _variants(schema)
    nodes = [_single(v) for v in variants]
    distinct = {str(n) + type(n).__name__ for n in nodes}
    if len(distinct) == 1:
        return nodes[0], nullable
    if {str(n) for n in nodes} <= {"string", "timestamptz", "date", "time"} and nodes:
        # A formatted string or any string: only plain text holds both.
        return Primitive("string"), nullable
    return JsonText(), nullable or not nodes


def _single(schema: Mapping[str, Any]) -> TypeNode:
    kind = schema.get("type")
    if kind == "integer":
        return Primitive("long")
    if kind == "number":
        return Primitive("double")
    if kind == "boolean":
        return Primitive("boolean")
    if kind == "string":
        return Primitive(_FORMATS.get(str(schema.get("format")), "string"))
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, Mapping) or not items:
            return JsonText()
        return ListType(to_type(items)[0])
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, Mapping) or not properties:
            return JsonText()
        return StructType(tuple((name, to_type(sub)[0]) for name, sub in properties.items()))
    return JsonText()


def contract_from_schema(
    schema: Mapping[str, Any], key_properties: Sequence[str] | None
) -> Contract:
    """The contract of a stream whose Singer SCHEMA message is the authority.

    Raises:
        ContractError: the schema has no ``properties`` or a key property is not one of them.
    """
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        raise ContractError(
            "the SCHEMA message has no 'properties' object; fix the tap, or give the stream an "
            "asset spec in the `streams` setting"
        )
    listed = schema.get("required")
    names = listed if isinstance(listed, list) else []
    required = {n for n in names if isinstance(n, str)} | set(key_properties or ())
    columns = []
    for name, sub in properties.items():
        node, _ = to_type(sub if isinstance(sub, Mapping) else {})
        columns.append(ContractColumn(str(name), node, name in required))
    missing = [k for k in key_properties or () if k not in properties]
    if missing:
        raise ContractError(f"key_properties {missing} are not in the SCHEMA message's properties")
    return Contract(columns=tuple(columns), key=tuple(key_properties or ()), singer_derived=True)


def extra_columns(schema: Mapping[str, Any], known: frozenset[str]) -> list[ContractColumn]:
    """Columns of a SCHEMA message that a contract lacks, all optional (`evolve` policy)."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    return [
        ContractColumn(str(name), to_type(sub if isinstance(sub, Mapping) else {})[0], False)
        for name, sub in properties.items()
        if name not in known
    ]
