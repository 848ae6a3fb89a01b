"""The asset definition (``specs/<source>/<version>/<asset>.yaml``): the contract a table keeps.

Parsed into frozen pydantic models. Both the generator (at render time) and the loader (at run
time) validate specs with these models, so a spec that renders is a spec that loads.
This module reads no files and knows nothing about Singer or Iceberg.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from target_iceberg.audit.model import ACCEPTED, NUMERIC, TEMPORAL, AuditChecks
from target_iceberg.strict import Hint, StrictModel
from target_iceberg.types import (
    DecimalType,
    ListType,
    MapType,
    Primitive,
    StructType,
    TypeNode,
    TypeSyntaxError,
    parse_type,
)

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
    Hint("identifier", "use lower-case letters, digits or '_', not starting with a digit"),
]
"""Lower-case SQL-safe name: letters, digits and underscores, not starting with a digit."""

TRANSFORM = re.compile(r"^(identity|year|month|day|hour|bucket\[(\d+)\]|truncate\[(\d+)\])$")
_TEMPORAL = {"date", "timestamp", "timestamptz"}
_ORDERED = {"int", "long", "float", "double", "date", "time", "timestamp", "timestamptz", "string"}
"""Primitive types a cursor may have: totally ordered (decimals too)."""


class Column(StrictModel):
    """One column of the asset."""

    name: Identifier = Field(description="Column name; also the Singer property it is read from.")
    type: str = Field(
        description="Column type, e.g. long, decimal(18,2), timestamptz, list<string>."
    )
    required: bool = Field(
        default=False, description="If true, a record without a value here is rejected."
    )
    description: str | None = Field(default=None, description="Free text for catalogs.")

    @field_validator("type")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            return str(parse_type(value))
        except TypeSyntaxError as exc:
            raise ValueError(str(exc)) from None

    @property
    def parsed_type(self) -> TypeNode:
        """The column's type tree."""
        return parse_type(self.type)


class PartitionField(StrictModel):
    """One partition field: a transform of a column."""

    column: Identifier = Field(description="Source column.")
    transform: str = Field(
        default="identity",
        description="identity, year, month, day, hour, bucket[N] or truncate[W].",
    )

    @field_validator("transform")
    @classmethod
    def _known(cls, value: str) -> str:
        match = TRANSFORM.match(value)
        if not match:
            raise ValueError(
                f"unknown transform {value!r}; use identity, year, month, day, hour, "
                "bucket[N] or truncate[W]"
            )
        if match.group(2) == "0" or match.group(3) == "0":
            raise ValueError(f"{value!r}: the bucket count or truncate width must be positive")
        return value


class AssetSchema(StrictModel):
    """The columns, key and partitioning of the asset."""

    columns: list[Column] = Field(min_length=1, description="The asset's columns, in order.")
    primary_key: list[Identifier] = Field(
        default_factory=list, description="Columns that identify a row; each must be required."
    )
    partitioning: list[PartitionField] = Field(
        default_factory=list, description="Partition spec of the Iceberg table."
    )
    cursor: Identifier | None = Field(
        default=None,
        description=(
            "With write_mode merge: the column whose larger value wins when two versions of a "
            "primary key meet (two records of a run, or a record and the table's row); equal "
            "values: the later record wins. Must be a required column of an ordered type. "
            "Without it, the last record of the run wins and replaces the table's row."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> AssetSchema:
        by_name: dict[str, Column] = {}
        for column in self.columns:
            if column.name in by_name:
                raise ValueError(f"column {column.name!r} is defined twice")
            by_name[column.name] = column
        for key in self.primary_key:
            if key not in by_name:
                raise ValueError(f"primary_key names {key!r}, which is not a column")
            if not by_name[key].required:
                raise ValueError(f"primary_key column {key!r} must be `required: true`")
        if self.cursor is not None:
            _check_cursor(self.cursor, by_name, self.primary_key)
        for part in self.partitioning:
            source = by_name.get(part.column)
            if source is None:
                raise ValueError(f"partitioning names {part.column!r}, which is not a column")
            _check_transform(part, source.parsed_type)
        return self


def _check_cursor(cursor: str, by_name: dict[str, Column], key: list[str]) -> None:
    column = by_name.get(cursor)
    if column is None:
        raise ValueError(f"cursor names {cursor!r}, which is not a column")
    if not key:
        raise ValueError(
            f"cursor {cursor!r} needs a primary_key: it decides between versions of one key"
        )
    if cursor in key:
        raise ValueError(f"cursor {cursor!r} is a primary_key column; name a version column")
    typ = column.parsed_type
    if not (isinstance(typ, DecimalType) or (isinstance(typ, Primitive) and str(typ) in _ORDERED)):
        raise ValueError(
            f"cursor {cursor!r} is {typ}: use a column of type int, long, float, double, "
            "decimal, date, time, timestamp, timestamptz or string"
        )
    if not column.required:
        raise ValueError(
            f"cursor column {cursor!r} must be `required: true` (a version without a cursor "
            "value could not be ordered)"
        )


def _check_transform(part: PartitionField, typ: TypeNode) -> None:
    if isinstance(typ, ListType | MapType | StructType):
        raise ValueError(f"cannot partition by {part.column!r}: nested type {typ}")
    name = str(typ)
    kind = part.transform.split("[")[0]
    if kind in {"year", "month", "day"} and name not in _TEMPORAL:
        raise ValueError(
            f"transform {kind!r} needs a date or timestamp column, {part.column!r} is {name}"
        )
    if kind == "hour" and name not in {"timestamp", "timestamptz"}:
        raise ValueError(f"transform 'hour' needs a timestamp column, {part.column!r} is {name}")
    if kind == "truncate" and not (
        isinstance(typ, DecimalType)
        or (isinstance(typ, Primitive) and name in {"int", "long", "string", "binary"})
    ):
        raise ValueError(f"transform 'truncate' does not apply to {part.column!r} of type {name}")


def _check_audit(audit: AuditChecks, schema: AssetSchema) -> None:
    """Every column an audit check names exists and has a type the check applies to."""
    types = {c.name: c.type for c in schema.columns}
    known = ", ".join(types)

    def typed(check: str, column: str, allowed: str, ok: bool) -> None:
        if column not in types:
            raise ValueError(f"{check} names {column!r}, which is not a column ({known})")
        if not ok:
            raise ValueError(
                f"{check}: column {column!r} is {types[column]}; {check} needs {allowed}"
            )

    for column in audit.not_null:
        typed("not_null", column, "", True)
    for column, values in audit.accepted_values.items():
        kind = types.get(column, "")
        typed(
            "accepted_values",
            column,
            "a string, int, long or boolean column",
            bool(ACCEPTED.match(kind)),
        )
        if not values:
            raise ValueError(f"accepted_values.{column}: list at least one value")
        wrong = [v for v in values if _value_kind(v) != _column_kind(kind)]
        if wrong:
            raise ValueError(
                f"accepted_values.{column}: {wrong[:3]!r} do not match the column type {kind}"
            )
    for column in audit.ranges:
        typed(
            "ranges",
            column,
            "a numeric column (int, long, float, double, decimal)",
            bool(NUMERIC.match(types.get(column, ""))),
        )
    if audit.freshness is not None:
        column = audit.freshness.column
        typed(
            "freshness",
            column,
            "a date, timestamp or timestamptz column",
            types.get(column) in TEMPORAL,
        )
    if audit.unique_key and not schema.primary_key:
        raise ValueError("unique_key needs schema.primary_key (the columns to check)")


def _value_kind(value: object) -> str:
    return "boolean" if isinstance(value, bool) else "int" if isinstance(value, int) else "string"


def _column_kind(kind: str) -> str:
    return "int" if kind in ("int", "long") else kind


class AssetSpec(StrictModel):
    """An asset definition file."""

    asset: Identifier = Field(description="Asset name; the default table name.")
    version: str = Field(description="Spec version, e.g. '1.0'; matches the folder name 'v1.0'.")
    description: str | None = Field(default=None, description="Free text for catalogs.")
    kind: Literal["table"] = Field(default="table", description="Only tables for now.")
    table_schema: AssetSchema = Field(alias="schema", description="The contract the table keeps.")
    audit: AuditChecks | None = Field(
        default=None,
        description=(
            "Checks a run's data must pass before it is published (write-audit-publish; the "
            "job turns it on with target.audit)."
        ),
    )

    @field_validator("audit")
    @classmethod
    def _audit_fits(cls, value: AuditChecks | None, info: ValidationInfo) -> AuditChecks | None:
        # Located at `audit`: the schema (validated before it) says which columns exist.
        schema = info.data.get("table_schema")
        if value is not None and isinstance(schema, AssetSchema):
            _check_audit(value, schema)
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        # YAML reads `version: 1.0` as a float; keep the author's spelling.
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    def column(self, name: str) -> Column | None:
        """The column named ``name``, if any."""
        return next((c for c in self.table_schema.columns if c.name == name), None)
