"""The schema change a changed spec implies for its table, decided as the loader decides it.

The baseline is the live table when the tenant's catalog can be read (embedded SQLite, opened
read-only, or REST), else the table the base revision's spec would have created ("spec alone").
The decision is target-iceberg's own: `target_iceberg.contract.evolution.plan_schema` over the
baseline and the new contract. Its refusal (an `EvolutionError`) is what the next run would fail
on; the planner stops at the first, so each column is also planned on its own to list them all.
What the planner keeps as it is (a narrower type, a removed optional column, a column the spec
makes required, the partition spec, the identifier fields) is reported as ``kept``; a required
column the spec makes optional is relaxed in the run's commit (``allowed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from pyiceberg.schema import Schema

from ingestgen.lake import Timeouts, catalog_properties, open_catalog
from ingestgen.meltano.project import Project
from ingestgen.plan.sides import Side, TableRef
from target_iceberg.contract.evolution import SchemaPlan, plan_schema
from target_iceberg.contract.mapping import from_iceberg
from target_iceberg.contract.model import Contract, ContractColumn
from target_iceberg.errors import EvolutionError

Verdict = Literal["allowed", "kept", "refused"]
BaselineKind = Literal["live", "spec", "none"]


@dataclass(frozen=True)
class SchemaItem:
    """One consequence for the table."""

    verdict: Verdict
    """allowed: the next run's commit applies it; kept: the table stays as it is; refused: the
    next run fails on it, before writing anything."""
    kind: str
    """create, add, promote, narrow, required, column, partition, key or type."""
    column: str | None
    text: str


@dataclass(frozen=True)
class TablePlan:
    """A table whose spec changed, and what the change does to it."""

    table: str
    catalog: str
    tenant: str
    jobs: tuple[str, ...]
    spec: str | None
    spec_before: str | None
    baseline: BaselineKind
    source: str
    """Where the baseline came from, in words."""
    items: tuple[SchemaItem, ...]

    @property
    def verdict(self) -> Literal["refused", "allowed", "unchanged"]:
        """Refused if anything is; allowed if anything changes or is kept; else unchanged."""
        if any(i.verdict == "refused" for i in self.items):
            return "refused"
        return "allowed" if self.items else "unchanged"


@dataclass(frozen=True)
class _Baseline:
    kind: BaselineKind
    source: str
    schema: Schema | None = None
    last_column_id: int = 0
    partitioning: tuple[str, ...] = ()
    key: tuple[str, ...] = ()


def table_plans(
    before: Side, after: Side, root: Path, environ: Mapping[str, str]
) -> list[TablePlan]:
    """A plan for every table whose contract differs between the sides (or that is new)."""
    old_refs = before.tables()
    plans = []
    for key, refs in sorted(after.tables().items()):
        ref = refs[0]
        new = after.contract(ref.spec)
        olds = old_refs.get(key, [])
        old = before.contract(olds[0].spec) if olds else None
        if not isinstance(new, Contract):
            if isinstance(new, str) or olds:
                plans.append(_unplannable(ref, refs, new))
            continue
        if isinstance(old, Contract) and _shape(old) == _shape(new):
            continue
        project = after.projects.get(ref.tenant)
        live = _live(ref, project, root, environ) if isinstance(project, Project) else None
        if isinstance(live, _Baseline):
            baseline = live
        else:
            baseline = _from_spec(old, live or "the loader names no catalog")
        plans.append(
            TablePlan(
                table=ref.table,
                catalog=ref.catalog,
                tenant=ref.tenant,
                jobs=tuple(sorted({r.job for r in refs})),
                spec=ref.spec.as_posix() if ref.spec else None,
                spec_before=olds[0].spec.as_posix() if olds and olds[0].spec else None,
                baseline=baseline.kind,
                source=baseline.source,
                items=tuple(_items(baseline, old if isinstance(old, Contract) else None, new)),
            )
        )
    return plans


def _unplannable(ref: TableRef, refs: list[TableRef], why: Contract | str | None) -> TablePlan:
    text = why if isinstance(why, str) else "the stream has no asset spec: its tap's SCHEMA decides"
    return TablePlan(
        table=ref.table,
        catalog=ref.catalog,
        tenant=ref.tenant,
        jobs=tuple(sorted({r.job for r in refs})),
        spec=ref.spec.as_posix() if ref.spec else None,
        spec_before=None,
        baseline="none",
        source="not planned",
        items=(SchemaItem("kept", "type", None, text),),
    )


def _shape(contract: Contract) -> tuple[object, ...]:
    # Descriptions and the version do not change a table's schema.
    return (
        tuple((c.name, str(c.type), c.required) for c in contract.columns),
        contract.key,
        _partitioning(contract),
    )


def _partitioning(contract: Contract) -> tuple[str, ...]:
    return tuple(f"{p.transform}({p.column})" for p in contract.partitioning)


def _live(
    ref: TableRef, project: Project, root: Path, environ: Mapping[str, str]
) -> _Baseline | str | None:
    """The live table; None if no catalog is configured; a message if it cannot be read."""
    loader = project.job(ref.job).contract
    if loader.catalog is None:
        return None
    name = loader.catalog.name
    props = catalog_properties(loader, root / "projects" / ref.tenant, environ)
    if isinstance(props, str):
        return f"catalog {name} not readable: {props}"
    try:
        catalog = open_catalog(
            name,
            props,
            timeouts=Timeouts.of(loader, environ),
            where=f"projects/{ref.tenant}/meltano.yml, loader {loader.name}",
        )
        if catalog is None:
            return _Baseline("none", f"catalog {name} holds no tables yet: the next run creates it")
        table = catalog.load_table(tuple(ref.table.split(".", 1)))
    except (NoSuchTableError, NoSuchNamespaceError):
        return _Baseline("none", f"catalog {name} has no table {ref.table}: the next run makes it")
    except Exception as exc:
        return f"catalog {name} not reachable: {type(exc).__name__}: {exc}"
    schema = table.schema()
    snapshot = table.current_snapshot()
    parts = tuple(
        f"{f.transform}({schema.find_column_name(f.source_id)})" for f in table.spec().fields
    )
    return _Baseline(
        "live",
        f"live table in catalog {name}"
        + (f" (snapshot {snapshot.snapshot_id})" if snapshot else " (no snapshot yet)"),
        schema,
        table.metadata.last_column_id,
        parts,
        tuple(str(schema.find_column_name(i)) for i in schema.identifier_field_ids),
    )


def _from_spec(old: Contract | str | None, why: str) -> _Baseline:
    if not isinstance(old, Contract):
        return _Baseline("none", f"the spec alone, no earlier one: a new table ({why})")
    created = plan_schema(None, 0, old)
    return _Baseline(
        "spec",
        f"the spec alone: the table that the base's {old.origin} creates ({why})",
        created.schema,
        created.last_column_id,
        _partitioning(old),
        old.key,
    )


def _items(base: _Baseline, old: Contract | None, new: Contract) -> list[SchemaItem]:
    if base.schema is None:
        return [_create(new)]
    items: list[SchemaItem] = []
    try:
        plan: SchemaPlan | None = plan_schema(base.schema, base.last_column_id, new)
    except EvolutionError as exc:
        refused, repaired = _refusals(base, new, exc)
        items += refused
        try:
            plan = plan_schema(base.schema, base.last_column_id, repaired) if repaired else None
        except EvolutionError as again:
            items.append(SchemaItem("refused", "column", None, str(again)))
            plan = None
    if plan is not None:
        columns = {i.column for i in items}
        kept = [i for i in _kept(plan, base, old, new) if i.column not in columns]
        items = _applied(plan, new) + kept + items
    return items + _layout(base, new)


def _create(new: Contract) -> SchemaItem:
    plan_schema(None, 0, new)  # raises if the contract cannot become a table at all
    text = f"create table with {len(new.columns)} columns"
    if new.partitioning:
        text += f", partitioned by {', '.join(_partitioning(new))}"
    if new.key:
        text += f", identifier fields {', '.join(new.key)}"
    return SchemaItem("allowed", "create", None, text)


def _refusals(
    base: _Baseline, new: Contract, error: EvolutionError
) -> tuple[list[SchemaItem], Contract | None]:
    """Every column the planner refuses, and the contract with those columns left as they are."""
    assert base.schema is not None
    by_name = {f.name: f for f in base.schema.fields}
    refused: list[SchemaItem] = []
    columns: list[ContractColumn] = []
    for column in new.columns:
        field = by_name.get(column.name)
        alone = Schema(*([field] if field else []))
        try:
            plan_schema(alone, base.last_column_id, Contract(columns=(column,)))
        except EvolutionError as exc:
            refused.append(SchemaItem("refused", "type", column.name, str(exc)))
            if field is not None:
                columns.append(replace(column, type=from_iceberg(field.field_type)))
                continue
        columns.append(column)
    if not refused:
        return [SchemaItem("refused", "column", None, str(error))], None
    return refused, replace(new, columns=tuple(columns))


def _applied(plan: SchemaPlan, new: Contract) -> list[SchemaItem]:
    items = []
    for change in plan.changes:
        kind, _, rest = change.partition(" ")
        if kind == "add":
            column = rest.removeprefix("column ").split(":", 1)[0]
            text = change
            top = new.column(column)
            if top is not None and top.required:
                text += " (added optional: existing rows have no value; new records must have it)"
            items.append(SchemaItem("allowed", "add", column, text))
        elif kind == "make":  # "make column <name> optional"
            column = rest.removeprefix("column ").removesuffix(" optional")
            text = f"{column} becomes optional: the table column is relaxed in the run's commit"
            items.append(SchemaItem("allowed", "required", column, text))
        else:
            items.append(SchemaItem("allowed", kind, rest.split(":", 1)[0], change))
    return items


def _kept(
    plan: SchemaPlan, base: _Baseline, old: Contract | None, new: Contract
) -> list[SchemaItem]:
    assert base.schema is not None
    existing = {f.name: f for f in base.schema.fields}
    items = []
    for planned in plan.columns:
        wanted = new.column(planned.name)
        assert wanted is not None
        if str(planned.type) != str(wanted.type):
            items.append(
                SchemaItem(
                    "kept",
                    "narrow",
                    planned.name,
                    f"{planned.name}: the spec says {wanted.type}, the table keeps "
                    f"{planned.type} (values are written as {planned.type})",
                )
            )
        if planned.name not in existing:
            continue
        was = old.column(planned.name) if old else None
        if was is not None and was.required == wanted.required:
            continue
        if wanted.required and not planned.field.required:
            items.append(
                SchemaItem(
                    "allowed",
                    "required",
                    planned.name,
                    f"{planned.name} becomes required: records without it are quarantined "
                    "(the table column stays optional)",
                )
            )
        elif not wanted.required and planned.field.required:
            items.append(
                SchemaItem(
                    "kept",
                    "required",
                    planned.name,
                    f"{planned.name} is optional in the spec but required in the table (a "
                    "primary-key column): records without a value are quarantined",
                )
            )
    for name, field in existing.items():
        if field.required or new.column(name) is not None or (old and old.column(name) is None):
            continue
        items.append(
            SchemaItem(
                "kept",
                "column",
                name,
                f"{name} is no longer in the spec: the table keeps the column, new rows leave "
                "it empty",
            )
        )
    return items


def _layout(base: _Baseline, new: Contract) -> list[SchemaItem]:
    items = []
    wanted = _partitioning(new)
    if wanted != base.partitioning:
        have = ", ".join(base.partitioning) or "none"
        items.append(
            SchemaItem(
                "kept",
                "partition",
                None,
                f"partitioning: the table keeps {have}; the spec asks for "
                f"{', '.join(wanted) or 'none'} (the loader does not evolve partition specs)",
            )
        )
    if new.key != base.key:
        items.append(
            SchemaItem(
                "kept",
                "key",
                None,
                f"primary key: the table keeps identifier fields {', '.join(base.key) or 'none'}; "
                f"the spec says {', '.join(new.key) or 'none'} (identifier fields are set when "
                "a table is created; key columns are enforced as required)",
            )
        )
    return items
