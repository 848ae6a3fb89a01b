"""``ingestgen audit``: the evidence a failed (or interrupted) audit kept, published or discarded.

A job with ``target.audit`` writes each run to the branch ``ingestgen-audit-<run_id>`` of its
tables; a run whose checks failed, or that was stopped between the audit and the publish, leaves
that branch behind and ``main`` untouched. This module lists those branches per job, evaluates
the asset spec's checks on them again (the loader's own code: `target_iceberg.audit`), and
publishes a run by hand (moving ``main`` exactly as the loader would, and recording the run's
Singer state as the job's Meltano state so the next run does not read the same data again) or
discards it (removes the branch; its files go with the next snapshot expiry).

On a Nessie catalog each run has a Nessie branch of its own (`target_iceberg.nessie.audit_branch`,
cut from the tenant's branch) holding the tables as the run left them: the runs kept are found
on those branches, publishing one merges its branch into the tenant's (after moving ``main`` of
its tables there) and deletes it, and discarding one deletes the branch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ingestgen.errors import UserError
from ingestgen.lake import catalog_properties
from ingestgen.meltano.project import Job, Project
from ingestgen.meltano.tool import Meltano, expand
from target_iceberg import nessie as wap_nessie
from target_iceberg.audit.publish import BRANCH_PREFIX, AuditTarget, Publisher, audited_snapshot
from target_iceberg.commit import JOB, STATE, MultiTableCommitter, PerTableCommitter
from target_iceberg.spec import AssetSpec
from target_iceberg.summary import CheckResult

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

QUARANTINE = "__rejected"


@dataclass
class KeptTable:
    """One table's audit branch."""

    name: str
    snapshot_id: int
    rows_added: int
    main_snapshot_id: int | None
    base_snapshot_id: int | None


@dataclass
class Evidence:
    """One unpublished run of a job: its branch in each table and its checks, evaluated now."""

    tenant: str
    job: str
    run_id: str
    branch: str
    tables: list[KeptTable] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    superseded_by: str | None = None
    """A later run of the same job published since: its data likely holds this run's."""
    nessie_branch: str | None = None
    """On Nessie: the run's own Nessie branch, where its tables are."""

    @property
    def failing(self) -> list[CheckResult]:
        """The checks that fail on the branch."""
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "tenant": self.tenant,
            "job": self.job,
            "run_id": self.run_id,
            "branch": self.branch,
            "superseded_by": self.superseded_by,
            "nessie_branch": self.nessie_branch,
            "tables": [t.__dict__ for t in self.tables],
            "checks": [c.model_dump() for c in self.checks],
        }


@dataclass(frozen=True)
class _NessieRun:
    client: wap_nessie.NessieClient
    tenant_branch: str
    branch: str
    """The run's audit branch (Nessie)."""


@dataclass
class _JobLake:
    job: Job
    catalog: Catalog
    namespace: str
    specs: dict[str, AssetSpec | None]
    """Data table -> its asset spec."""
    nessie: _NessieRun | None = None

    def table(self, name: str) -> Table | None:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.catalog.load_table((self.namespace, name))
        except NoSuchTableError:
            return None

    def targets(self, *, with_checks: bool) -> list[AuditTarget]:
        out = []
        for name, spec in sorted(self.specs.items()):
            checks = spec.audit if spec is not None and with_checks else None
            key = tuple(spec.table_schema.primary_key) if spec is not None else ()
            out.append(AuditTarget((self.namespace, name), checks=checks, key=key))
            out.append(AuditTarget((self.namespace, name + QUARANTINE)))
        return out


def _lakes(project: Path, job: str | None) -> list[_JobLake]:
    from pyiceberg.catalog import load_catalog

    parsed = Project.read(project)
    if job is not None:
        parsed.job(job)  # a clear error for an unknown job
    lakes = []
    for name, meltano_job in sorted(parsed.jobs.items()):
        if job is not None and name != job:
            continue
        loader = meltano_job.loader
        if loader.catalog is None:
            continue
        props = catalog_properties(loader, project, os.environ)
        if isinstance(props, str):
            raise UserError(props)
        config = loader.config
        env = {**os.environ, "MELTANO_PROJECT_ROOT": str(project.resolve())}
        specs: dict[str, AssetSpec | None] = {}
        for stream, settings in sorted((config.get("streams") or {}).items()):
            table = str(settings.get("table") or stream)
            path = settings.get("asset_spec")
            specs[table] = _spec(Path(expand(str(path), env))) if path else None
        namespace = str(config["namespace"])
        nessie = config.get("nessie")
        for props_at, run in _nessie_runs(name, props, nessie, env) if nessie else [(props, None)]:
            try:
                catalog = load_catalog(loader.catalog.name, **props_at)
            except Exception as exc:
                raise UserError(f"job {name}: the catalog cannot be opened ({exc})") from None
            lakes.append(_JobLake(meltano_job, catalog, namespace, specs, run))
    return lakes


def _nessie_runs(
    job: str, props: dict[str, str], nessie: Any, env: dict[str, str]
) -> list[tuple[dict[str, str], _NessieRun]]:
    """The catalog properties of each audit branch of the job's tenant branch, with the branch."""
    from target_iceberg.errors import CatalogRequestError

    tenant_branch = str(nessie["branch"])
    client = wap_nessie.NessieClient(expand(str(nessie["api_uri"]), env))
    try:
        refs = client.branches(wap_nessie.audit_prefix(tenant_branch))
    except CatalogRequestError as exc:
        raise UserError(f"job {job}: the audit branches cannot be listed: {exc}") from None
    return [
        (
            wap_nessie.branch_properties(props, tenant_branch, ref.name),
            _NessieRun(client, tenant_branch, ref.name),
        )
        for ref in refs
    ]


def _spec(path: Path) -> AssetSpec | None:
    try:
        return AssetSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, yaml.YAMLError):
        return None  # shown without checks; `ingestgen validate` says what is wrong with it


def _run_ids(lake: _JobLake) -> list[str]:
    ids: set[str] = set()
    published: set[str] = set()
    for name in lake.specs:
        for table_name in (name, name + QUARANTINE):
            table = lake.table(table_name)
            if table is not None:
                ids |= {
                    r[len(BRANCH_PREFIX) :]
                    for r in table.metadata.refs
                    if r.startswith(BRANCH_PREFIX)
                }
                snapshot = table.current_snapshot()
                if snapshot is not None and snapshot.summary is not None:
                    published.add(str(snapshot.summary["ingestgen.run-id"] or ""))
    run = lake.nessie
    if run is not None and not ids:
        # Published on its own branch, the merge refused (a conflict): the run is its tables'
        # newest snapshot there, and --publish only merges.
        ids = {
            r
            for r in published
            if r and wap_nessie.audit_branch(run.tenant_branch, r) == run.branch
        }
    return sorted(ids)


def _evidence(tenant: str, lake: _JobLake, run_id: str) -> Evidence:
    branch = BRANCH_PREFIX + run_id
    found = Evidence(tenant, lake.job.name, run_id, branch)
    found.nessie_branch = lake.nessie.branch if lake.nessie else None
    read: dict[str, int] = {}
    rejected: dict[str, int] = {}
    for name in sorted(lake.specs):
        for table_name in (name, name + QUARANTINE):
            table = lake.table(table_name)
            audited = audited_snapshot(table, branch, run_id) if table is not None else None
            if table is None or audited is None:
                continue
            added = int(audited.snapshot.summary["added-records"] or 0)  # type: ignore[index]
            found.tables.append(
                KeptTable(
                    f"{lake.namespace}.{table_name}",
                    audited.snapshot.snapshot_id,
                    added,
                    audited.main,
                    audited.base,
                )
            )
            if table_name.endswith(QUARANTINE):
                rejected[name] = added
            else:
                read[name] = added
            found.superseded_by = found.superseded_by or _superseded(
                table, audited.base, lake.job.loader.config.get("job")
            )
    publisher = Publisher(lake.catalog, PerTableCommitter(lake.catalog), run_id=run_id)
    targets = [
        AuditTarget(
            t.identifier,
            checks=t.checks,
            key=t.key,
            read=read.get(t.identifier[1], 0) + rejected.get(t.identifier[1], 0),
            rejected=rejected.get(t.identifier[1], 0),
        )
        for t in lake.targets(with_checks=True)
        if t.identifier[1] in read
    ]
    _, found.checks = publisher.audit(targets)
    return found


def _superseded(table: Table, base: int | None, job: object) -> str | None:
    """The run id of a later snapshot of the same job on main since ``base``, if any."""
    snapshot = table.metadata.current_snapshot()
    while snapshot is not None and snapshot.snapshot_id != base:
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        if job and props.get(JOB) == job:
            return props.get("ingestgen.run-id") or str(snapshot.snapshot_id)
        parent = snapshot.parent_snapshot_id
        snapshot = table.metadata.snapshot_by_id(parent) if parent is not None else None
    return None


def evidence(project: Path, tenant: str, job: str | None = None) -> list[Evidence]:
    """Every unpublished audit branch of the tenant's jobs (or of ``job``)."""
    return [
        _evidence(tenant, lake, run_id)
        for lake in _lakes(project, job)
        for run_id in _run_ids(lake)
    ]


def publish(project: Path, tenant: str, job: str | None, run_id: str) -> Evidence:
    """Publish run ``run_id`` by hand, whatever its checks say, and record its Singer state.

    Raises:
        UserError: no such run, or a later run of the job published since (discard it).
    """
    lake, kept = _find(project, tenant, job, run_id)
    if kept.superseded_by:
        raise UserError(
            f"run {run_id} of job {kept.job} was not published and run {kept.superseded_by} of "
            "the same job published after it; that run read this run's data again (the "
            f"bookmark had not moved), so publishing would duplicate it. Discard it: "
            f"ingestgen audit {tenant} {kept.job} --discard {run_id}"
        )
    from pyiceberg.catalog.rest import RestCatalog

    committer = (
        MultiTableCommitter(lake.catalog, tenant=tenant, job=kept.job, run_id=run_id)
        if isinstance(lake.catalog, RestCatalog)
        else PerTableCommitter(lake.catalog)
    )
    state = _state(lake, kept)
    outcome = Publisher(lake.catalog, committer, run_id=run_id).run(lake.targets(with_checks=False))
    if not outcome.published:  # pragma: no cover - no checks were given
        raise UserError(f"run {run_id} was not published")
    if lake.nessie is not None:
        _merge(lake.nessie, tenant, kept.job, run_id)
    if state is not None:
        meltano = Meltano.quiet(project)
        done = meltano.capture(
            "state",
            "set",
            "--force",
            lake.job.state_id(Project.read(project).default_environment),
            json.dumps({"singer_state": state}),
        )
        if done.returncode != 0:
            raise UserError(
                f"run {run_id} was published, but its Singer state could not be recorded "
                f"({done.stderr.strip()[-500:]}); set it with `meltano state set` in "
                f"{project} before the next run"
            )
    return kept


def discard(project: Path, tenant: str, job: str | None, run_id: str) -> Evidence:
    """Remove run ``run_id``'s audit branch from every table of its job."""
    lake, kept = _find(project, tenant, job, run_id)
    if lake.nessie is not None:  # the tables' audit branches go with the Nessie branch
        from target_iceberg.errors import CatalogRequestError

        client = lake.nessie.client
        try:
            client.delete_branch(client.get_reference(lake.nessie.branch))
        except CatalogRequestError as exc:
            raise UserError(
                f"Nessie branch {lake.nessie.branch} of run {run_id} could not be deleted "
                f"({exc}); it is kept. Check that Nessie runs (NESSIE_URI), then run this again"
            ) from None
        return kept
    publisher = Publisher(lake.catalog, PerTableCommitter(lake.catalog), run_id=run_id)
    publisher.discard([t.identifier for t in lake.targets(with_checks=False)])
    return kept


def _merge(run: _NessieRun, tenant: str, job: str, run_id: str) -> None:
    """Merge the run's Nessie branch into the tenant's (as it is now: a person decided)."""
    from target_iceberg.errors import CatalogRequestError

    client = run.client
    info = wap_nessie.CommitInfo.for_run(tenant=tenant, job=job, run_id=run_id)
    try:
        wap_nessie.merge_audit(client, client.get_reference(run.tenant_branch), run.branch, info)
    except CatalogRequestError as exc:
        raise UserError(
            f"run {run_id}'s tables are published on {run.branch}, but Nessie refused to merge "
            f"it into {run.tenant_branch} ({exc}); {run.tenant_branch} is unchanged. Resolve the "
            "conflict in Nessie, then run this command again"
        ) from None


def _find(project: Path, tenant: str, job: str | None, run_id: str) -> tuple[_JobLake, Evidence]:
    for lake in _lakes(project, job):
        if run_id in _run_ids(lake):
            return lake, _evidence(tenant, lake, run_id)
    raise UserError(
        f"no audit branch {BRANCH_PREFIX}{run_id} in the tables of tenant {tenant}"
        + (f" job {job}" if job else "")
        + f"; list what is kept with: ingestgen audit {tenant}"
    )


def _state(lake: _JobLake, kept: Evidence) -> dict[str, Any] | None:
    for item in kept.tables:
        table = lake.catalog.load_table(tuple(item.name.split(".")))
        snapshot = table.metadata.snapshot_by_id(item.snapshot_id)
        text = snapshot.summary[STATE] if snapshot and snapshot.summary else None
        if text:
            value = json.loads(text)
            return value if isinstance(value, dict) else None
    return None
