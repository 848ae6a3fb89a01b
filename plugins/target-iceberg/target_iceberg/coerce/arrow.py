"""Vectorised coercion of whole columns with Arrow compute, falling back to the row rules.

`finish_json` turns what pyarrow's JSON reader read (dates as text, decimals at precision 38)
into the contract's types, raising on any doubt so the caller takes the row path.
`coerce_column` coerces any column (e.g. the all-text columns of a CSV BATCH file): a strict
Arrow cast first, and only if that fails the per-value rules of `coerce.values`, collecting a
reason for each bad row. Never drops a row silently: every row is either in the result or in
the returned rejections.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from target_iceberg.coerce.values import Rejected, value_coercer
from target_iceberg.contract.model import JsonText
from target_iceberg.types import DecimalType, ListType, MapType, Primitive, StructType, TypeNode

_CASTABLE_TEXT = {"boolean", "int", "long", "float", "double", "date", "timestamptz", "string"}
_ZONE = r"(Z|z|[+-]\d\d(:?\d\d)?)$"


def _is_text(typ: pa.DataType) -> bool:
    return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ))


# 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999 (UTC), in microseconds and in days.
_MIN_MICROS, _MAX_MICROS = -62_135_596_800_000_000, 253_402_300_799_999_999
_MIN_DAY, _MAX_DAY = -719_162, 2_932_896


def _no_new_infinities(before: pa.Array, after: pa.Array) -> None:
    if pc.any(pc.and_(pc.is_inf(after), pc.invert(pc.is_inf(before)))).as_py():
        raise pa.ArrowInvalid("float overflow")


def _has_temporal(typ: pa.DataType) -> bool:
    if pa.types.is_timestamp(typ) or pa.types.is_date32(typ):
        return True
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return _has_temporal(typ.value_type)
    if pa.types.is_map(typ):
        return _has_temporal(typ.key_type) or _has_temporal(typ.item_type)
    if pa.types.is_struct(typ):
        return any(_has_temporal(typ.field(i).type) for i in range(typ.num_fields))
    return False


def check_range(arr: pa.Array | pa.ChunkedArray) -> None:
    """Every timestamp and date lies in 0001-01-01..9999-12-31 (what readers can represent).

    Arrow parses and casts moments beyond year 9999 (``9999-12-31T23:00-05:00``); the row
    rules reject them, so the fast paths must not let them through either.

    Raises:
        pyarrow.ArrowInvalid: a value is outside; the caller takes the row rules.
    """
    typ = arr.type
    if not _has_temporal(typ) or len(arr) == arr.null_count:
        return
    if pa.types.is_timestamp(typ) or pa.types.is_date32(typ):
        low, high = (_MIN_DAY, _MAX_DAY) if pa.types.is_date32(typ) else (_MIN_MICROS, _MAX_MICROS)
        bounds = pc.min_max(arr.cast(pa.int32() if pa.types.is_date32(typ) else pa.int64()))
        if bounds["min"].as_py() < low or bounds["max"].as_py() > high:
            raise pa.ArrowInvalid("a date or timestamp is outside 0001-01-01..9999-12-31")
    elif pa.types.is_struct(typ):
        for i in range(typ.num_fields):
            check_range(pc.struct_field(arr, [i]))
    elif pa.types.is_map(typ):
        check_range(pc.map_keys(arr))
        check_range(pc.map_values(arr))
    else:
        check_range(pc.list_flatten(arr))


def _python(arr: pa.Array, node: TypeNode, target: pa.DataType) -> pa.Array:
    coerce = value_coercer(node, "")
    return pa.array([None if v is None else coerce(v) for v in arr.to_pylist()], type=target)


def finish_json(arr: pa.Array, node: TypeNode, target: pa.DataType) -> pa.Array:
    """Finish a column read by the JSON reader with `json_read_type(node)`.

    Raises:
        pyarrow.ArrowInvalid: (or `Rejected`) some value breaks the contract; use the row path.
    """
    if isinstance(node, Primitive) and node.name in {"time", "uuid", "binary"}:
        return _python(arr, node, target)
    result = arr if arr.type == target else pc.cast(arr, target, safe=True)
    if isinstance(node, Primitive) and node.name == "float":
        _no_new_infinities(arr, result)
    check_range(result)
    return result


def _fast_cast(arr: pa.Array, node: TypeNode, target: pa.DataType) -> pa.Array:
    """A strict vectorised cast that accepts a subset of what the row rules accept."""
    result = _cast(arr, node, target)
    check_range(result)
    return result


def _cast(arr: pa.Array, node: TypeNode, target: pa.DataType) -> pa.Array:
    if arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    if _is_text(arr.type) and isinstance(node, Primitive | DecimalType):
        name = str(node)
        if isinstance(node, JsonText) or name == "string":
            return arr.cast(target)
        if not (isinstance(node, DecimalType) or name in _CASTABLE_TEXT):
            raise pa.ArrowInvalid(f"no vectorised cast from text to {name}")
        # An empty cell means null for every non-text type.
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
        if name == "timestamptz":
            arr = pc.if_else(
                pc.match_substring_regex(arr, _ZONE), arr, pc.binary_join_element_wise(arr, "Z", "")
            )
        result = pc.cast(arr, target, safe=True)
        if name in {"float", "double"} and pc.any(pc.invert(pc.is_finite(result))).as_py():
            # "1e400" casts to inf: the row rules tell an overflow from a spelled infinity.
            raise pa.ArrowInvalid("a non-finite value from text")
        return result
    if not _castable(arr.type, node):
        raise pa.ArrowInvalid(f"no vectorised cast from {arr.type} to {node}")
    if isinstance(node, ListType | MapType | StructType) and not _same_shape(arr.type, target):
        raise pa.ArrowInvalid("nested shapes differ")
    return pc.cast(arr, target, safe=True)


def _castable(source: pa.DataType, node: TypeNode) -> bool:
    """Whether Arrow's safe cast from non-text ``source`` to ``node`` keeps to the row rules.

    A whitelist: Arrow also casts numbers to text, integers to booleans or timestamps, which
    the rules reject; those, and anything not listed, take the row rules.
    """
    if pa.types.is_null(source):
        return True
    if isinstance(node, JsonText | MapType):
        return False
    if isinstance(node, DecimalType):
        return bool(pa.types.is_integer(source) or pa.types.is_decimal(source))
    if isinstance(node, ListType):
        return bool(pa.types.is_list(source) or pa.types.is_large_list(source)) and _castable(
            source.value_type, node.element
        )
    if isinstance(node, StructType):
        if not pa.types.is_struct(source):
            return False
        wanted = dict(node.fields)
        fields = [source.field(i) for i in range(source.num_fields)]
        return all(f.name in wanted and _castable(f.type, wanted[f.name]) for f in fields)
    name = node.name
    if name in {"int", "long", "double"}:
        return bool(pa.types.is_integer(source) or pa.types.is_floating(source))
    checks = {
        "boolean": pa.types.is_boolean,
        "date": pa.types.is_date32,
        "timestamp": pa.types.is_timestamp,
        "timestamptz": pa.types.is_timestamp,
        "binary": pa.types.is_binary,
    }
    check = checks.get(name)
    return bool(check and check(source))


def _same_shape(source: pa.DataType, target: pa.DataType) -> bool:
    if pa.types.is_struct(source) and pa.types.is_struct(target):
        names = [source.field(i).name for i in range(source.num_fields)]
        wanted = [target.field(i).name for i in range(target.num_fields)]
        return names == wanted and all(
            _same_shape(source.field(i).type, target.field(i).type) for i in range(len(names))
        )
    if pa.types.is_list(source) and pa.types.is_list(target):
        return _same_shape(source.value_type, target.value_type)
    if pa.types.is_map(source) or pa.types.is_map(target):
        return False
    return not (pa.types.is_nested(source) or pa.types.is_nested(target))


def coerce_values(
    values: list[Any], node: TypeNode, target: pa.DataType, path: str, *, ignore_unknown: bool
) -> tuple[pa.Array, dict[int, Rejected]]:
    """Coerce Python values by the row rules; rejected positions become null in the array."""
    coerce = value_coercer(node, path, ignore_unknown=ignore_unknown)
    text_type = isinstance(node, Primitive) and node.name == "string"
    out: list[Any] = []
    errors: dict[int, Rejected] = {}
    for index, value in enumerate(values):
        if value is None or (value == "" and not text_type):
            out.append(None)
            continue
        try:
            out.append(coerce(value))
        except Rejected as exc:
            errors[index] = exc
            out.append(None)
    return pa.array(out, type=target), errors


def column_from_values(
    values: list[Any], node: TypeNode, target: pa.DataType, path: str, *, ignore_unknown: bool
) -> tuple[pa.Array, dict[int, Rejected]]:
    """Coerce decoded JSON values, vectorised when their own types allow it.

    The values become one Arrow array and are cast when `_castable` allows; otherwise (or if
    the cast fails) they are coerced one by one by the row rules.
    """
    try:
        if isinstance(node, MapType):
            return _map_from_values(values, node, target, path, ignore_unknown=ignore_unknown), {}
        return _fast_cast(pa.array(values), node, target), {}
    except (pa.ArrowException, OverflowError):
        return coerce_values(values, node, target, path, ignore_unknown=ignore_unknown)


def _map_from_values(
    values: list[Any], node: MapType, target: pa.DataType, path: str, *, ignore_unknown: bool
) -> pa.Array:
    """JSON objects as a map column: keys and values coerced as two flat columns.

    Raises:
        pyarrow.ArrowInvalid: any value or entry breaks the rules (the caller then coerces
            value by value, which names the entry).
    """
    offsets: list[int] = [0]
    keys: list[Any] = []
    items: list[Any] = []
    valid: list[bool] = []
    for value in values:
        if value is None:
            valid.append(False)
        elif isinstance(value, dict):
            keys.extend(value.keys())
            items.extend(value.values())
            valid.append(True)
        else:
            raise pa.ArrowInvalid("not an object")
        offsets.append(len(keys))
    key_field, item_field = target.key_field, target.item_field
    key_array, key_errors = column_from_values(
        keys, node.key, key_field.type, path, ignore_unknown=ignore_unknown
    )
    item_array, item_errors = column_from_values(
        items, node.value, item_field.type, path, ignore_unknown=ignore_unknown
    )
    if key_errors or item_errors or key_array.null_count:
        raise pa.ArrowInvalid("an entry breaks the rules")
    mask = pa.array([not ok for ok in valid])
    return pa.MapArray.from_arrays(
        pa.array(offsets, pa.int32()), key_array, item_array, type=target, mask=mask
    )


def coerce_column(
    arr: pa.Array, node: TypeNode, target: pa.DataType, path: str, *, ignore_unknown: bool
) -> tuple[pa.Array, dict[int, Rejected]]:
    """Coerce an Arrow column to ``target``: vectorised if possible, else value by value."""
    try:
        return _fast_cast(arr, node, target), {}
    except pa.ArrowException:
        return coerce_values(arr.to_pylist(), node, target, path, ignore_unknown=ignore_unknown)
