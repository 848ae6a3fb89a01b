"""Run upkeep over tenants: each catalog its rendered project names, each table of its namespace.

Catalogs are opened with the loader's own rendered properties (``${VAR}`` expanded from the
environment), so upkeep sees what the jobs wrote. Before touching a table it checks again that
the table is the tenant's (target_iceberg.tenancy): its namespace is the tenant id and its
location lies inside the tenant's warehouse (the project's ``.lake/`` folder for the embedded
catalog, ``<lake root>/<tenant>/`` on the lake). A dry run opens an embedded catalog read-only
and commits, writes and deletes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestgen.errors import ExitCode, UserError
from ingestgen.lake import Timeouts, catalog_properties, open_catalog
from ingestgen.maintain import compact as compacting
from ingestgen.maintain import expire as expiring
from ingestgen.maintain import orphans as orphaning
from ingestgen.maintain.policy import Maintenance, Policy, resolve
from ingestgen.meltano.project import Plugin, Project, project_dir
from target_iceberg.tenancy import warehouse_prefix, warehouse_problem
from target_iceberg.writer import WriterSettings

logger = logging.getLogger(__name__)

STEPS = ("compact", "expire", "orphans")
"""The steps, in the order they run: compaction's replaced files are expired, then removed."""


@dataclass
class TableOutcome:
    """What upkeep did (or, in a dry run, would do) to one table."""

    table: str
    catalog: str
    policy: Policy
    compaction: dict[str, Any] | None = None
    expired: list[int] = field(default_factory=list)
    kept: int = 0
    protected: list[int] = field(default_factory=list)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "table": self.table,
            "catalog": self.catalog,
            "policy": {
                "keep_days": self.policy.keep_days,
                "keep_snapshots": self.policy.keep_snapshots,
                "orphan_age_seconds": int(self.policy.orphan_age.total_seconds()),
                "compact": self.policy.compact,
            },
            "compaction": self.compaction,
            "expired_snapshots": self.expired,
            "kept_snapshots": self.kept,
            "protected_snapshots": self.protected,
            "orphan_files": self.orphans,
            "notes": self.notes,
            "error": self.error,
        }


@dataclass
class TenantOutcome:
    """One tenant's tables, and the catalogs that could not be read."""

    tenant: str
    tables: list[TableOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "tenant": self.tenant,
            "tables": [t.as_dict() for t in self.tables],
            "errors": self.errors,
        }


@dataclass
class MaintainResult:
    """Every tenant's outcome."""

    dry_run: bool
    steps: tuple[str, ...]
    tenants: list[TenantOutcome]

    @property
    def exit_code(self) -> int:
        """0 all done; 1 some table or catalog failed (the others were done)."""
        failed = any(t.errors or any(x.error for x in t.tables) for t in self.tenants)
        return int(ExitCode.PARTIAL if failed else ExitCode.OK)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (``--output json``)."""
        return {
            "dry_run": self.dry_run,
            "steps": list(self.steps),
            "tenants": [t.as_dict() for t in self.tenants],
            "exit_code": self.exit_code,
        }


def maintain_tenant(
    root: Path,
    tenant: str,
    *,
    maintenance: Maintenance | None,
    lake_root: str,
    environ: Mapping[str, str],
    steps: Sequence[str] = STEPS,
    dry_run: bool = False,
    orphan_age: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> TenantOutcome:
    """Upkeep for every table of ``tenant``'s namespace in every catalog its loaders write to.

    Raises:
        UserError: no rendered project for ``tenant``.
    """
    folder = project_dir(root, tenant)
    if not (folder / "meltano.yml").is_file():
        raise UserError(
            f"tenant {tenant!r} has no rendered project (projects/{tenant}/meltano.yml); give "
            "the tenant_id of a job under configs/, or run `ingestgen render`"
        )
    outcome = TenantOutcome(tenant)
    seen: set[str] = set()
    for loader in Project.read(folder).of_kind("loaders"):
        if loader.catalog is None or loader.catalog.name in seen:
            continue
        seen.add(loader.catalog.name)
        try:
            _catalog(
                outcome,
                loader,
                folder,
                maintenance=maintenance,
                lake_root=lake_root,
                environ=environ,
                steps=steps,
                dry_run=dry_run,
                orphan_age=orphan_age,
                now=now or dt.datetime.now(dt.UTC),
            )
        except Exception as exc:
            outcome.errors.append(f"catalog {loader.catalog.name}: {type(exc).__name__}: {exc}")
    return outcome


def _catalog(
    outcome: TenantOutcome,
    loader: Plugin,
    folder: Path,
    *,
    maintenance: Maintenance | None,
    lake_root: str,
    environ: Mapping[str, str],
    steps: Sequence[str],
    dry_run: bool,
    orphan_age: dt.timedelta | None,
    now: dt.datetime,
) -> None:
    from pyiceberg.exceptions import (
        CommitFailedException,
        NoSuchNamespaceError,
        ValidationException,
    )

    assert loader.catalog is not None
    name, tenant = loader.catalog.name, outcome.tenant
    config = loader.config
    namespace = str(config.get("namespace") or tenant)
    if namespace != tenant:
        outcome.errors.append(
            f"catalog {name}: {loader.name} writes to namespace {namespace!r}, not the tenant's "
            f"own {tenant!r}; not touched (run `ingestgen render`)"
        )
        return
    props = catalog_properties(loader, folder, environ)
    if isinstance(props, str):
        outcome.errors.append(f"catalog {name}: {props}")
        return
    boundary = _boundary(props, folder, lake_root, tenant)
    if boundary.startswith("!"):
        outcome.errors.append(f"catalog {name}: {boundary[1:]}; not touched")
        return
    catalog = open_catalog(
        name,
        props,
        timeouts=Timeouts.of(loader, environ),
        where=f"projects/{tenant}/meltano.yml, loader {loader.name}",
        read_only=dry_run,
    )
    if catalog is None:
        return  # an embedded catalog whose file does not exist yet holds no tables
    try:
        identifiers = sorted(catalog.list_tables(namespace))
    except NoSuchNamespaceError:
        return
    default_mb = _float(config.get("target_file_size_mb"))
    notes = []
    if config.get("nessie") and "orphans" in steps:
        # A file this branch's metadata no longer lists may be another Nessie branch's (or an
        # older commit's) file: only Nessie's own garbage collector sees every reference.
        steps = [s for s in steps if s != "orphans"]
        notes.append(
            "orphan files not removed on a Nessie catalog: other branches and commits may use "
            "them (run Nessie's garbage collector)"
        )
    tables = {ident[-1]: catalog.load_table(ident) for ident in identifiers}
    locations = [t.location() for t in tables.values()]
    for short, table in tables.items():
        policy = resolve(maintenance, tenant, short)
        item = TableOutcome(f"{namespace}.{short}", name, policy, notes=list(notes))
        outcome.tables.append(item)
        if not _inside(table.location(), boundary):
            item.error = (
                f"location {table.location()} is outside the tenant's warehouse {boundary}; "
                "not touched"
            )
            continue
        target_mb = policy.target_file_size_mb or default_mb or _default_mb()
        try:
            _table(
                item,
                table,
                policy,
                tenant=tenant,
                steps=steps,
                dry_run=dry_run,
                orphan_age=orphan_age if orphan_age is not None else policy.orphan_age,
                target_mb=target_mb,
                others=[loc for loc in locations if loc != table.location()],
                now=now,
            )
        except (CommitFailedException, ValidationException) as exc:
            item.error = (
                f"{type(exc).__name__}: {exc}: the table changed while upkeep worked on it (a "
                f"load committed); that step committed nothing: run `ingestgen maintain "
                f"{tenant}` again"
            )
            logger.warning("maintain %s failed: %s", item.table, item.error)
        except Exception as exc:
            item.error = f"{type(exc).__name__}: {exc}"
            logger.warning("maintain %s failed: %s", item.table, item.error)


def _table(
    item: TableOutcome,
    table: Any,
    policy: Policy,
    *,
    tenant: str,
    steps: Sequence[str],
    dry_run: bool,
    orphan_age: dt.timedelta,
    target_mb: float,
    others: list[str],
    now: dt.datetime,
) -> None:
    if "compact" in steps and policy.compact:
        plan = compacting.plan_compaction(table, target_mb)
        item.compaction = {
            "files": plan.files,
            "bytes": plan.bytes,
            "target_bytes": plan.target_bytes,
            "reason": plan.reason,
            "compacted": False,
        }
        if plan.run and not dry_run:
            done = compacting.compact(table, plan, tenant=tenant)
            item.compaction.update(
                compacted=True,
                files_after=done.files_after,
                rows=done.rows,
                checksum=done.checksum,
                snapshot_id=done.snapshot_id,
            )
            table.refresh()
        elif plan.run:
            item.compaction["would_compact"] = True
    keep: list[int] = [s.snapshot_id for s in table.metadata.snapshots]
    if "expire" in steps:
        expiry = expiring.plan_expiry(table, policy, now)
        item.expired = list(expiry.expire)
        item.kept = len(expiry.keep)
        item.protected = list(expiry.protected)
        keep = list(expiry.keep)
        if not dry_run:
            expiring.expire(table, expiry)
            table.refresh()
            keep = [s.snapshot_id for s in table.metadata.snapshots]
    else:
        item.kept = len(keep)
    if "orphans" in steps:
        used = orphaning.referenced(table, keep)
        found = orphaning.find_orphans(table, used, now - orphan_age, skip_under=others)
        item.orphans = [
            {"location": o.location, "bytes": o.size, "modified": o.modified.isoformat()}
            for o in found
        ]
        if not dry_run:
            orphaning.remove(table, found)


def _boundary(props: Mapping[str, str], folder: Path, lake_root: str, tenant: str) -> str:
    """The tenant's warehouse location, or ``!`` and why the catalog is not the tenant's."""
    warehouse = str(props.get("warehouse") or "")
    if warehouse.startswith("file://"):
        path = Path(warehouse.removeprefix("file://")).resolve()
        own = (folder / ".lake").resolve()
        if path != own and own not in path.parents:
            return f"!the warehouse {warehouse} is outside the project's .lake/ folder"
        return path.as_uri()
    if "://" in warehouse:
        refusal = warehouse_problem(warehouse, lake_root, tenant)
        return f"!{refusal}" if refusal else warehouse
    # A REST catalog names its warehouse; the tables must still lie in the tenant's prefix.
    return warehouse_prefix(lake_root, tenant)


def _inside(location: str, boundary: str) -> bool:
    from pyiceberg.io.pyarrow import PyArrowFileIO

    scheme, _, path = PyArrowFileIO.parse_location(location)
    b_scheme, _, b_path = PyArrowFileIO.parse_location(boundary)
    return scheme == b_scheme and path.startswith(b_path.rstrip("/") + "/")


def _float(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _default_mb() -> float:
    return WriterSettings().target_file_bytes / (1024 * 1024)


def maintain(
    root: Path,
    tenants: Sequence[str] = (),
    *,
    steps: Sequence[str] = STEPS,
    dry_run: bool = False,
    orphan_age: str | None = None,
    environ: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> MaintainResult:
    """``ingestgen maintain``: upkeep for the given tenants (default: every rendered project).

    Settings come from ``runner.yaml``'s ``maintenance:`` block (validated first), the lake root
    from the registry.

    Raises:
        ConfigError: runner.yaml or the registry is invalid.
        UserError: a tenant without a rendered project, an unknown step, a bad ``orphan_age``.
    """
    import os

    from ingestgen.config.runner import find_runner
    from ingestgen.maintain.policy import parse_duration
    from ingestgen.registry.load import load_registry
    from ingestgen.report.records import tenants_of

    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise UserError(f"--only {', '.join(unknown)}: not a step; the steps: {', '.join(STEPS)}")
    age = None
    if orphan_age is not None:
        try:
            age = parse_duration(orphan_age)
        except ValueError as exc:
            raise UserError(f"--orphan-age {exc}") from None
    runner = find_runner(root)
    lake_root = load_registry(root).registry.lake.root
    chosen = tenants_of(root, list(tenants))
    ordered = tuple(s for s in STEPS if s in steps)
    return MaintainResult(
        dry_run,
        ordered,
        [
            maintain_tenant(
                root,
                tenant,
                maintenance=runner.maintenance if runner else None,
                lake_root=lake_root,
                environ=os.environ if environ is None else environ,
                steps=ordered,
                dry_run=dry_run,
                orphan_age=age,
                now=now,
            )
            for tenant in chosen
        ],
    )
