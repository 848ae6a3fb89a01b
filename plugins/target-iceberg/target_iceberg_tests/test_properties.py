"""Property-based tests of the type mapping and of coercion (hypothesis).

The per-value rules (`coerce.values`) define what a contract accepts; the fast paths (pyarrow's
JSON reader, vectorised casts) must never accept more or produce different values.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Context, Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pyiceberg.io.pyarrow import pyarrow_to_schema
from pyiceberg.schema import Schema, index_by_id

from target_iceberg.blocks import BlockShape, read_json_block, rows_block
from target_iceberg.coerce.arrow import coerce_column, coerce_values
from target_iceberg.coerce.values import Rejected, value_coercer
from target_iceberg.contract.evolution import plan_schema
from target_iceberg.contract.jsonschema import to_type
from target_iceberg.contract.mapping import from_iceberg, to_iceberg
from target_iceberg.contract.model import Contract, ContractColumn
from target_iceberg.types import (
    PRIMITIVES,
    DecimalType,
    ListType,
    MapType,
    Primitive,
    StructType,
    TypeNode,
    parse_type,
)

NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
PRIMITIVE_NODES = st.sampled_from(PRIMITIVES).map(Primitive) | st.builds(
    lambda p, s: DecimalType(p, min(s, p)), st.integers(1, 38), st.integers(0, 38)
)


def _struct(children: st.SearchStrategy[TypeNode]) -> st.SearchStrategy[TypeNode]:
    return st.lists(
        st.tuples(NAMES, children), min_size=1, max_size=4, unique_by=lambda f: f[0]
    ).map(lambda fields: StructType(tuple(fields)))


NODES: st.SearchStrategy[TypeNode] = st.recursive(
    PRIMITIVE_NODES,
    lambda children: (
        children.map(ListType) | st.builds(MapType, PRIMITIVE_NODES, children) | _struct(children)
    ),
    max_leaves=8,
)


@given(NODES)
def test_grammar_round_trip(node: TypeNode) -> None:
    assert parse_type(str(node)) == node


@given(
    st.lists(
        st.tuples(NAMES, NODES, st.booleans()), min_size=1, max_size=5, unique_by=lambda c: c[0]
    )
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_iceberg_and_arrow_agree(columns: list[tuple[str, TypeNode, bool]]) -> None:
    contract = Contract(columns=tuple(ContractColumn(n, t, r) for n, t, r in columns))
    plan = plan_schema(None, 0, contract)
    # Iceberg -> type tree gives back the contract's types.
    for column, field in zip(contract.columns, plan.schema.fields, strict=True):
        assert from_iceberg(field.field_type) == column.type
        assert field.required == column.required
    # pyiceberg's own Arrow -> Iceberg conversion of our file schema gives the table schema.
    converted = pyarrow_to_schema(plan.arrow_schema())
    assert Schema(*converted.fields) == Schema(*plan.schema.fields)


@given(NODES)
def test_fresh_ids_are_unique_and_dense(node: TypeNode) -> None:
    counter = iter(range(1, 10_000))
    iceberg = to_iceberg(StructType((("c", node),)), lambda: next(counter))
    schema = Schema(*iceberg.fields)
    assert len(index_by_id(schema)) == schema.highest_field_id


JSON_SCHEMAS = st.recursive(
    st.sampled_from(
        [
            {"type": "integer"},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "string"},
            {"type": "string", "format": "date-time"},
            {"type": "string", "format": "date"},
            {},
        ]
    ),
    lambda children: (
        st.builds(lambda items: {"type": "array", "items": items}, children)
        | st.dictionaries(NAMES, children, min_size=0, max_size=3).map(
            lambda props: {"type": "object", "properties": props}
        )
        | st.lists(children, min_size=1, max_size=3).map(lambda options: {"anyOf": options})
        | children.map(
            lambda s: {**s, "type": [s["type"], "null"]} if isinstance(s.get("type"), str) else s
        )
    ),
    max_leaves=6,
)


@given(JSON_SCHEMAS)
def test_json_schema_mapping_is_total(schema: dict[str, Any]) -> None:
    node, nullable = to_type(schema)
    assert parse_type(str(node)) is not None
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        assert nullable


# --- coercion --------------------------------------------------------------------------


def _shape(node: TypeNode, required: bool = False) -> BlockShape:
    contract = Contract(columns=(ContractColumn("c", node, required),))
    plan = plan_schema(None, 0, contract)
    return BlockShape(plan.columns, plan.arrow_schema(), contract, "reject")


def _fast_path_agrees_with_rules(raws: list[bytes], shape: BlockShape) -> None:
    """The JSON-reader path may refuse a block, but never accept more than the row rules."""
    slow = rows_block(raws, shape)
    try:
        fast = read_json_block(b"\n".join(raws), len(raws), shape)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, Rejected):
        event("fast path refused the block")
        return
    event("fast path accepted the block")
    assert not slow.rejects, f"fast path accepted what the rules reject: {slow.rejects}"
    assert fast.table.equals(slow.table), (fast.table.to_pylist(), slow.table.to_pylist())


SCALAR_TYPES = [
    "boolean",
    "int",
    "long",
    "float",
    "double",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "string",
    "uuid",
    "decimal(9,2)",
    "list<long>",
    "struct<a:int,b:date>",
    "map<string,long>",
]
TEXTY = st.sampled_from(
    [
        "1",
        "-7",
        "42.0",
        "1.50",
        "1.505",
        "true",
        "FALSE",
        "0",
        "",
        " 3 ",
        "2024-02-29",
        "2023-02-29",
        "10:30",
        "10:30:01.123456",
        "2024-01-01T10:00:00Z",
        "2024-01-01 10:00:00+05:30",
        "2024-01-01T10:00:00.1234567Z",
        "12345678-1234-5678-1234-567812345678",
        "9999999999",
        "3.5e38",
        "1e400",
        "abc",
    ]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXTY,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "x"]), children, max_size=3)
    ),
    max_leaves=5,
)


@given(st.sampled_from(SCALAR_TYPES), st.lists(JSON_VALUES, min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_fast_json_path_never_accepts_more_than_the_rules(
    type_text: str, values: list[Any]
) -> None:
    shape = _shape(parse_type(type_text))
    assume(shape.fast)  # maps have no JSON-reader path
    raws = [
        json.dumps({"type": "RECORD", "stream": "s", "record": {"c": v}}).encode() for v in values
    ]
    _fast_path_agrees_with_rules(raws, shape)


@given(
    st.sampled_from([*SCALAR_TYPES[:11], "decimal(9,2)"]),
    st.lists(TEXTY | st.none(), min_size=1, max_size=8),
)
@settings(max_examples=300, deadline=None)
def test_vectorised_text_cast_matches_the_rules(type_text: str, cells: list[str | None]) -> None:
    node = parse_type(type_text)
    target = _shape(node).schema.field("c").type
    vectorised, errors = coerce_column(
        pa.array(cells, pa.string()), node, target, "c", ignore_unknown=False
    )
    reference, ref_errors = coerce_values(cells, node, target, "c", ignore_unknown=False)
    assert errors.keys() == ref_errors.keys()
    assert vectorised.equals(reference)


@given(st.integers(-(2**70), 2**70), st.sampled_from(["int", "long"]))
def test_integers_from_text_are_exact_or_rejected(number: int, name: str) -> None:
    coerce = value_coercer(Primitive(name), "c")
    bits = 32 if name == "int" else 64
    if -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        assert coerce(str(number)) == number
        assert coerce(number) == number
    else:
        with pytest.raises(Rejected, match="overflows"):
            coerce(str(number))


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.integers(1, 20),
    st.integers(0, 6),
)
def test_decimals_are_never_rounded(value: Decimal, precision: int, scale: int) -> None:
    assume(scale <= precision)
    assume(abs(value.adjusted()) < 60)
    coerce = value_coercer(DecimalType(precision, scale), "c")
    fits_scale = value == value.quantize(Decimal(1).scaleb(-scale), context=Context(prec=200))
    fits_precision = abs(value) < Decimal(10) ** (precision - scale)
    if fits_scale and fits_precision:
        assert coerce(str(value)) == value
    else:
        with pytest.raises(Rejected):
            coerce(str(value))


@given(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    st.integers(-14 * 60, 14 * 60),
)
def test_timestamps_with_offsets_normalise_to_utc(moment: dt.datetime, offset_minutes: int) -> None:
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes))
    aware = moment.replace(tzinfo=zone)
    coerce = value_coercer(Primitive("timestamptz"), "c")
    assert coerce(aware.isoformat()) == aware.astimezone(dt.UTC)
    naive = value_coercer(Primitive("timestamp"), "c")
    assert naive(aware.isoformat()) == aware.astimezone(dt.UTC).replace(tzinfo=None)


OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
MOMENTS = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))


def _raw_number(value: Decimal) -> str:
    return str(value)


PLAUSIBLE: dict[str, st.SearchStrategy[str]] = {
    "boolean": st.booleans().map(json.dumps),
    "int": st.integers(-(2**31), 2**31 - 1).map(str),
    "long": st.integers(-(2**63), 2**63 - 1).map(str),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32).map(json.dumps),
    "double": st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    "date": st.dates().map(lambda d: json.dumps(d.isoformat())),
    "time": st.times().map(lambda t: json.dumps(t.isoformat())),
    "timestamp": MOMENTS.map(lambda m: json.dumps(m.isoformat())),
    "timestamptz": st.builds(
        lambda m, z: json.dumps(m.replace(tzinfo=z).isoformat()), MOMENTS, OFFSETS
    ),
    "string": st.text(max_size=20).map(json.dumps),
    "uuid": st.uuids().map(lambda u: json.dumps(str(u))),
    "decimal(9,2)": st.decimals(min_value=-9999999, max_value=9999999, places=2).map(_raw_number),
    "list<long>": st.lists(st.integers(-(2**63), 2**63 - 1) | st.none(), max_size=3).map(
        json.dumps
    ),
    "map<string,long>": st.dictionaries(
        st.text(max_size=3), st.integers(-(2**63), 2**63 - 1) | st.none() | st.just("7"), max_size=3
    ).map(json.dumps),
    "struct<a:int,b:date>": st.fixed_dictionaries(
        {"a": st.integers(-(2**31), 2**31 - 1) | st.none(), "b": st.dates().map(str) | st.none()}
    ).map(json.dumps),
}


PLAUSIBLE_CELLS = st.one_of(*PLAUSIBLE.values()).map(lambda text: "RAW:" + text)


@st.composite
def _typed_rows(draw: st.DrawFn) -> tuple[str, list[bytes]]:
    type_text = draw(st.sampled_from(sorted(PLAUSIBLE)))
    cells = draw(st.lists(PLAUSIBLE[type_text] | st.just("null"), min_size=1, max_size=6))
    lines = [f'{{"type": "RECORD", "stream": "s", "record": {{"c": {cell}}}}}' for cell in cells]
    return type_text, [line.encode() for line in lines]


@given(_typed_rows())
@settings(max_examples=400, deadline=None)
def test_fast_json_path_equals_the_rules_on_plausible_input(case: tuple[str, list[bytes]]) -> None:
    type_text, raws = case
    shape = _shape(parse_type(type_text))
    assume(shape.fast)  # maps have no JSON-reader path
    _fast_path_agrees_with_rules(raws, shape)


@given(
    st.sampled_from(SCALAR_TYPES), st.lists(JSON_VALUES | PLAUSIBLE_CELLS, min_size=1, max_size=6)
)
@settings(max_examples=400, deadline=None)
def test_vectorised_row_path_equals_the_rules(type_text: str, cells: list[Any]) -> None:
    shape = _shape(parse_type(type_text))
    lines = []
    for cell in cells:
        value = cell if isinstance(cell, str) and cell.startswith("RAW:") else json.dumps(cell)
        lines.append(
            f'{{"type": "RECORD", "record": {{"c": {value.removeprefix("RAW:")}}}}}'.encode()
        )
    fast = rows_block(lines, shape)
    reference = rows_block(lines, shape, vectorised=False)
    assert fast.table.equals(reference.table), (fast.table.to_pylist(), reference.table.to_pylist())
    assert fast.rejects == reference.rejects


@given(_typed_rows())
@settings(max_examples=300, deadline=None)
def test_vectorised_row_path_on_plausible_input(case: tuple[str, list[bytes]]) -> None:
    type_text, lines = case
    shape = _shape(parse_type(type_text))
    fast = rows_block(lines, shape)
    reference = rows_block(lines, shape, vectorised=False)
    assert fast.table.equals(reference.table), (fast.table.to_pylist(), reference.table.to_pylist())
    assert fast.rejects == reference.rejects
