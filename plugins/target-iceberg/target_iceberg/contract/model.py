"""The table contract: ordered columns with types, required flags, key and partitioning.

A contract comes either from an asset spec (the authority) or from a Singer SCHEMA message
(streams without a spec). It never reads files or talks to a catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from target_iceberg.audit.model import AuditChecks
from target_iceberg.spec import AssetSpec, PartitionField
from target_iceberg.types import Primitive, TypeNode


@dataclass(frozen=True)
class JsonText(Primitive):
    """A ``string`` column that stores any JSON value as its JSON text.

    Used for JSON Schema parts that have no typed equivalent (objects without properties,
    unions of unrelated types). Never produced from an asset spec.
    """

    name: str = "string"


@dataclass(frozen=True)
class ContractColumn:
    """One top-level column of the contract."""

    name: str
    type: TypeNode
    required: bool = False
    doc: str | None = None


@dataclass(frozen=True)
class Contract:
    """What every landed row satisfies."""

    columns: tuple[ContractColumn, ...]
    key: tuple[str, ...] = ()
    partitioning: tuple[PartitionField, ...] = ()
    origin: str = "schema message"
    """Where the contract came from, for messages: a spec path or ``schema message``."""
    version: str | None = None
    cursor: str | None = None
    """The spec's cursor column: decides between two versions of a key (write_mode merge)."""
    singer_derived: bool = False
    """True when the contract comes from a Singer SCHEMA message. Then a record missing a key
    property is a protocol error (the tap is broken), not a contract violation, and table
    columns are created optional."""
    audit: AuditChecks | None = field(default=None, compare=False)
    """The spec's audit checks (write-audit-publish), if it declares any."""
    names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(c.name for c in self.columns))

    def column(self, name: str) -> ContractColumn | None:
        """The column named ``name``, if any."""
        return next((c for c in self.columns if c.name == name), None)

    def with_extra(self, extra: list[ContractColumn]) -> Contract:
        """This contract plus the ``extra`` columns it lacks (``unknown_columns: evolve``)."""
        added = tuple(c for c in extra if c.name not in self.names)
        if not added:
            return self
        return Contract(
            columns=self.columns + added,
            key=self.key,
            partitioning=self.partitioning,
            origin=self.origin,
            version=self.version,
            cursor=self.cursor,
            singer_derived=self.singer_derived,
            audit=self.audit,
        )

    @classmethod
    def from_spec(cls, spec: AssetSpec, origin: str) -> Contract:
        """The contract an asset spec defines."""
        schema = spec.table_schema
        return cls(
            columns=tuple(
                ContractColumn(c.name, c.parsed_type, c.required, c.description)
                for c in schema.columns
            ),
            key=tuple(schema.primary_key),
            partitioning=tuple(schema.partitioning),
            origin=origin,
            version=spec.version,
            cursor=schema.cursor,
            audit=spec.audit,
        )
