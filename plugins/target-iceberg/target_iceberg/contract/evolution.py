"""Plan a table's schema for a run: the current Iceberg schema (if any) + the contract.

Allowed, and applied in the run's commit: new columns (added as optional, since existing rows
have no value), new struct fields, and Iceberg's legal promotions int->long, float->double,
decimal(p,s)->decimal(p',s) with p' > p, and a required column the spec makes optional (not a
primary-key column). A contract type narrower than the table's (long column,
``int`` in the spec) keeps the table type. Everything else is an `EvolutionError` raised before
any data is written. Field ids of new columns are assigned here, once, because data files are
written with them before the commit. This module never talks to a catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from pyiceberg import types as it
from pyiceberg.schema import Schema

from target_iceberg.contract.mapping import from_iceberg, to_arrow_field, to_iceberg
from target_iceberg.contract.model import Contract, ContractColumn
from target_iceberg.errors import EvolutionError
from target_iceberg.types import DecimalType, ListType, MapType, Primitive, StructType, TypeNode


@dataclass(frozen=True)
class PlannedColumn:
    """A contract column as it will be written: its type (possibly the table's wider one)."""

    name: str
    type: TypeNode
    required: bool
    field: it.NestedField


@dataclass(frozen=True)
class SchemaPlan:
    """The schema the run's commit leaves on the table, and how files are written."""

    schema: Schema
    columns: tuple[PlannedColumn, ...]
    last_column_id: int
    changed: bool
    changes: tuple[str, ...]
    """Human-readable list of evolutions, e.g. ``add column note: string``."""

    def arrow_schema(self) -> pa.Schema:
        """The data files' Arrow schema: the contract's columns, with Iceberg field ids."""
        return pa.schema(
            [to_arrow_field(c.field, c.type, nullable=not c.field.required) for c in self.columns]
        )


class _Ids:
    def __init__(self, last: int) -> None:
        self.last = last

    def __call__(self) -> int:
        self.last += 1
        return self.last


def _promotion(old: TypeNode, new: TypeNode) -> bool:
    """True if Iceberg may promote a column of type ``old`` to ``new``."""
    if isinstance(old, Primitive) and isinstance(new, Primitive):
        return (old.name, new.name) in {("int", "long"), ("float", "double")}
    if isinstance(old, DecimalType) and isinstance(new, DecimalType):
        return old.scale == new.scale and new.precision > old.precision
    return False


def _same(a: TypeNode, b: TypeNode) -> bool:
    return str(a) == str(b)


def _reconcile(
    field: it.NestedField, node: TypeNode, path: str, ids: _Ids, changes: list[str]
) -> tuple[it.NestedField, TypeNode]:
    """Return the field as the table will have it and the type the run writes."""
    typ = field.field_type
    if isinstance(node, Primitive | DecimalType):
        if isinstance(typ, it.StructType | it.ListType | it.MapType):
            raise EvolutionError(f"column {path}: the table has {typ}, the contract says {node}")
        current = from_iceberg(typ)
        if _same(current, node):
            return field, node
        if _promotion(node, current):
            return field, current
        if _promotion(current, node):
            changes.append(f"promote {path}: {current} -> {node}")
            return _replace(field, to_iceberg(node, ids)), node
        raise EvolutionError(
            f"column {path}: cannot change {current} to {node}; Iceberg allows only int->long, "
            "float->double and widening a decimal's precision. Keep the old type in the spec "
            "or write to a new table"
        )
    if isinstance(node, ListType):
        if not isinstance(typ, it.ListType):
            raise EvolutionError(f"column {path}: the table has {typ}, the contract says {node}")
        element, sub = _reconcile(typ.element_field, node.element, f"{path}.element", ids, changes)
        new = it.ListType(typ.element_id, element.field_type, element_required=typ.element_required)
        return _replace(field, new), ListType(sub)
    if isinstance(node, MapType):
        if not isinstance(typ, it.MapType) or not _same(from_iceberg(typ.key_type), node.key):
            raise EvolutionError(f"column {path}: the table has {typ}, the contract says {node}")
        value, sub = _reconcile(typ.value_field, node.value, f"{path}.value", ids, changes)
        new_map = it.MapType(
            typ.key_id,
            typ.key_type,
            typ.value_id,
            value.field_type,
            value_required=typ.value_required,
        )
        return _replace(field, new_map), MapType(node.key, sub)
    if not isinstance(typ, it.StructType):
        raise EvolutionError(f"column {path}: the table has {typ}, the contract says {node}")
    struct_node: StructType = node
    fields, subs = _reconcile_fields(list(typ.fields), struct_node.fields, path, ids, changes)
    return _replace(field, it.StructType(*fields)), StructType(tuple(subs))


def _reconcile_fields(
    existing: list[it.NestedField],
    wanted: tuple[tuple[str, TypeNode], ...],
    path: str,
    ids: _Ids,
    changes: list[str],
) -> tuple[list[it.NestedField], list[tuple[str, TypeNode]]]:
    by_name = {f.name: i for i, f in enumerate(existing)}
    fields = list(existing)
    subs: list[tuple[str, TypeNode]] = []
    for name, sub in wanted:
        where = f"{path}.{name}" if path else name
        if name in by_name:
            new_field, new_sub = _reconcile(fields[by_name[name]], sub, where, ids, changes)
            fields[by_name[name]] = new_field
        else:
            fid = ids()
            new_field = it.NestedField(fid, name, to_iceberg(sub, ids), required=False)
            fields.append(new_field)
            changes.append(f"add column {where}: {sub}")
            new_sub = sub
        subs.append((name, new_sub))
    return fields, subs


def _replace(field: it.NestedField, typ: it.IcebergType) -> it.NestedField:
    return it.NestedField(field.field_id, field.name, typ, required=field.required, doc=field.doc)


def plan_schema(current: Schema | None, last_column_id: int, contract: Contract) -> SchemaPlan:
    """Plan the table schema for ``contract``.

    Args:
        current: the table's current schema, or None for a table the run creates.
        last_column_id: the table metadata's last assigned column id (0 for a new table).
        contract: what the run writes.

    Raises:
        EvolutionError: the change is not additive or not a legal promotion.
    """
    ids = _Ids(last_column_id)
    changes: list[str] = []

    def required(column: ContractColumn) -> bool:
        # A tap's SCHEMA changes often; only an asset spec may make table columns required.
        return column.required and not contract.singer_derived

    if current is None:
        fields = [
            it.NestedField(ids(), c.name, it.StringType(), required=required(c), doc=c.doc)
            for c in contract.columns
        ]
        fields = [
            it.NestedField(
                f.field_id, f.name, to_iceberg(c.type, ids), required=f.required, doc=f.doc
            )
            for f, c in zip(fields, contract.columns, strict=True)
        ]
        schema = Schema(*fields, identifier_field_ids=_key_ids(fields, contract))
        columns = tuple(
            PlannedColumn(c.name, c.type, c.required, f)
            for c, f in zip(contract.columns, fields, strict=True)
        )
        return SchemaPlan(schema, columns, ids.last, True, ("create table",))
    wanted = tuple((c.name, c.type) for c in contract.columns)
    fields, subs = _reconcile_fields(list(current.fields), wanted, "", ids, changes)
    dropped = [f.name for f in current.fields if f.required and f.name not in contract.names]
    if dropped:
        raise EvolutionError(
            f"required table column(s) {dropped} are not in the contract; put them back in the "
            "spec (removing columns is not an additive change)"
        )
    if not contract.singer_derived:
        fields = _relax(fields, contract, set(current.identifier_field_ids), changes)
    by_name = {f.name: f for f in fields}
    columns = tuple(
        # A column the table requires stays required for the run whatever the contract says
        # (a Singer-derived one never requires): its null rows are quarantined, not written.
        PlannedColumn(
            name,
            sub,
            contract.column(name).required or by_name[name].required,  # type: ignore[union-attr]
            by_name[name],
        )
        for name, sub in subs
    )
    if not changes:
        return SchemaPlan(current, columns, last_column_id, False, ())
    schema = Schema(
        *fields,
        schema_id=current.schema_id + 1,
        identifier_field_ids=list(current.identifier_field_ids),
    )
    return SchemaPlan(schema, columns, ids.last, True, tuple(changes))


def _relax(
    fields: list[it.NestedField], contract: Contract, keys: set[int], changes: list[str]
) -> list[it.NestedField]:
    """Top-level columns the spec no longer requires become optional (a legal Iceberg change).

    Raises:
        EvolutionError: the column is in the table's primary key (identifier fields), which
            Iceberg requires to stay required.
    """
    relaxed = []
    for field in fields:
        column = contract.column(field.name)
        if field.required and column is not None and not column.required:
            if field.field_id in keys:
                raise EvolutionError(
                    f"column {field.name!r} is in the table's primary key, which must stay "
                    f"required: mark it `required: true` in the spec again, or leave it out of "
                    "primary_key in a new table"
                )
            changes.append(f"make column {field.name} optional")
            relaxed.append(
                it.NestedField(
                    field.field_id, field.name, field.field_type, required=False, doc=field.doc
                )
            )
            continue
        relaxed.append(field)
    return relaxed


def _key_ids(fields: list[it.NestedField], contract: Contract) -> list[int]:
    if contract.singer_derived:
        # Singer key_properties describe the source; the table's columns stay optional.
        return []
    by_name = {f.name: f.field_id for f in fields}
    return [by_name[k] for k in contract.key]
