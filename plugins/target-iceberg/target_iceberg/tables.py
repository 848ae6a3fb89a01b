"""One Iceberg table as a run sees it.

Loaded, or staged for creation; its planned schema, where its files go, and its change staged
for the committer.

A table the run creates is staged with pyiceberg's create-table transaction, so it becomes
visible only with the run's commit. Never writes data and never commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction
from pyiceberg.table.locations import LocationProvider, load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.transforms import parse_transform

from plugin_errors import message
from target_iceberg.commit import TableChange, committed_snapshot, stage, written_snapshot
from target_iceberg.contract.evolution import SchemaPlan, plan_schema
from target_iceberg.contract.model import Contract
from target_iceberg.errors import EvolutionError

logger = logging.getLogger(__name__)

PARTITION_FIELD_BASE = 1000


def _partition_spec(schema: Schema, contract: Contract) -> PartitionSpec:
    fields = []
    for index, part in enumerate(contract.partitioning):
        kind = part.transform.split("[")[0]
        name = part.column if kind == "identity" else f"{part.column}_{kind}"
        fields.append(
            PartitionField(
                source_id=schema.find_field(part.column).field_id,
                field_id=PARTITION_FIELD_BASE + index,
                transform=parse_transform(part.transform),
                name=name,
            )
        )
    return PartitionSpec(*fields)


class TableHandle:
    """A table during a run."""

    def __init__(
        self,
        catalog: Catalog,
        identifier: tuple[str, str],
        contract: Contract,
        *,
        create_now: bool = False,
        branch: str | None = None,
    ) -> None:
        """Load the table, or stage its creation.

        Args:
            catalog: the run's catalog.
            identifier: (namespace, table).
            contract: what the run writes.
            create_now: create a missing table right away, empty, instead of staging its
                creation with the data (REST multi-table commits only take existing tables).
            branch: the run's audit branch (write-audit-publish); None: write to ``main``.
        """
        self.branch = branch
        self.identifier = identifier
        self.name = ".".join(identifier)
        self.table: Table | None
        try:
            self.table = catalog.load_table(identifier)
        except NoSuchTableError:
            self.table = None
        if self.table is None and create_now:
            initial = plan_schema(None, 0, contract).schema
            try:
                self.table = catalog.create_table(
                    identifier,
                    schema=initial,
                    partition_spec=_partition_spec(initial, contract),
                    properties={"format-version": "2"},
                )
            except TableAlreadyExistsError:
                self.table = catalog.load_table(identifier)
        self.created = self.table is None
        if self.table is None:
            initial = plan_schema(None, 0, contract).schema
            self.transaction: Transaction = catalog.create_table_transaction(
                identifier,
                schema=initial,
                partition_spec=_partition_spec(initial, contract),
                properties={"format-version": "2"},
            )
            self.base_schema_id: int | None = None
        else:
            self.transaction = self.table.transaction()
            self.base_schema_id = self.table.schema().schema_id
            self._warn_partitioning(contract)
        metadata = self.metadata
        self.base_schema = metadata.schema()
        self.plan: SchemaPlan = plan_schema(self.base_schema, metadata.last_column_id, contract)

    @property
    def metadata(self) -> TableMetadata:
        """The table's metadata as staged (for a new table) or loaded."""
        return self.transaction.table_metadata

    @property
    def io(self) -> FileIO:
        """The table's file IO."""
        return self.transaction._table.io

    def locations(self) -> LocationProvider:
        """Where data files go."""
        meta = self.metadata
        return load_location_provider(
            table_location=meta.location, table_properties=meta.properties
        )

    @property
    def spec(self) -> PartitionSpec:
        """The partition spec files are written with."""
        return self.metadata.spec()

    def replan(self, contract: Contract) -> bool:
        """Plan for a changed contract (a new SCHEMA message); True if the schema changed.

        Raises:
            EvolutionError: the change is not additive or not a legal promotion.
        """
        plan = plan_schema(self.plan.schema, self.plan.last_column_id, contract)
        changed = plan.schema != self.plan.schema or plan.columns != self.plan.columns
        if plan.changed:
            # However many SCHEMA messages change it, the run adds one schema to the table.
            schema = Schema(
                *plan.schema.fields,
                schema_id=self.base_schema.schema_id + 1,
                identifier_field_ids=list(plan.schema.identifier_field_ids),
            )
            plan = SchemaPlan(
                schema,
                plan.columns,
                plan.last_column_id,
                True,
                self.plan.changes + plan.changes,
            )
        else:
            plan = SchemaPlan(
                self.plan.schema,
                plan.columns,
                self.plan.last_column_id,
                self.plan.changed,
                self.plan.changes,
            )
        self.plan = plan
        return changed

    @property
    def schema_changes(self) -> list[str]:
        """What the run's commit changes in the schema (empty for a new table)."""
        return [] if self.created else list(self.plan.changes)

    def already_committed(self, run_id: str) -> int | None:
        """The snapshot this run id already committed here, if any."""
        return committed_snapshot(self.table, run_id)

    def committed_in_catalog(self, catalog: Catalog, run_id: str) -> bool:
        """Whether the catalog now holds a snapshot of ``run_id`` (asked after a failure).

        A catalog that cannot answer (it is the failure) counts as yes: the run's files are
        kept rather than deleted from under a commit that may have landed; if it did not,
        ``ingestgen maintain --only orphans`` removes them later.
        """
        try:
            # A snapshot on the audit branch counts: its files are the branch's evidence.
            return written_snapshot(catalog.load_table(self.identifier), run_id) is not None
        except NoSuchTableError:
            return False
        except Exception as exc:
            logger.warning(
                "%s: could not ask the catalog whether this run's commit landed (%s); its "
                "files are kept (`ingestgen maintain --only orphans` removes them if unused)",
                self.name,
                message(exc),
            )
            return True

    def stage(
        self,
        files: Sequence[DataFile],
        properties: dict[str, str],
        replaced: Sequence[DataFile] = (),
    ) -> TableChange | None:
        """Stage the run's change (removing ``replaced`` files); None if there is nothing."""
        new_schema = self.plan.schema if self.plan.schema != self.base_schema else None
        if not files and not replaced and new_schema is None and not self.created:
            return None
        if new_schema is not None and self.base_schema.schema_id == new_schema.schema_id:
            raise EvolutionError(
                f"{self.name}: planned schema reuses schema id {new_schema.schema_id}"
            )
        stage(
            self.transaction,
            base_schema_id=self.base_schema_id,
            new_schema=new_schema,
            files=files,
            properties=properties,
            replaced=replaced,
            branch=self.branch,
        )
        rows = sum(f.record_count for f in files)
        return TableChange(
            self.identifier, self.transaction, len(files), self.created, rows, branch=self.branch
        )

    def _warn_partitioning(self, contract: Contract) -> None:
        assert self.table is not None
        wanted = [(p.column, p.transform) for p in contract.partitioning]
        schema = self.table.schema()
        have = [
            (schema.find_column_name(f.source_id), str(f.transform))
            for f in self.table.spec().fields
        ]
        if contract.partitioning and wanted != have:
            logger.warning(
                "%s keeps its partitioning %s; the contract asks for %s (partition evolution is "
                "not applied by the loader)",
                self.name,
                have,
                wanted,
            )
