"""The Dagster definitions of one shard: one repository per tenant, its Meltano jobs and schedules.

Imported by the generated code-location module ``projects/_dagster/shard_<k>.py``, which lists
nothing itself: the shard's tenants, their jobs (Meltano tasks, retry settings) and schedules are
rendered into ``shard_<k>.json`` beside it, so loading runs no Meltano command and reads no
project. Each tenant is a repository named after it, so job and schedule names stay the tenant's
own (``deals_daily`` in ``acme``), as its Meltano project has them.

dagster-meltano 1.5.5 is used for what works with many projects in one process: its
``meltano run`` op. Its project loader and resource are a single Meltano project per process (a
singleton), so here each tenant's jobs get a resource of their own holding that tenant's project
folder; the op runs ``meltano run <task> --force`` there. Every job is tagged ``tenant=<id>`` so
Dagster's run queue limits runs per tenant (schedules run the tagged jobs by name, so their runs
carry the tag too), and retries a failed run as the job's rendered execution settings say
(``retries``, ``retry_backoff_seconds``).

Never runs a job here: loading only builds definitions.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from ingestgen.errors import UserError
from ingestgen.meltano.tool import executable

try:
    from dagster import (
        DefaultScheduleStatus,
        GraphDefinition,
        JobDefinition,
        RepositoryDefinition,
        ResourceDefinition,
        RetryPolicy,
        ScheduleDefinition,
        in_process_executor,
        repository,
    )
    from dagster._core.definitions.dependency import (
        DependencyDefinition,
        IDependencyDefinition,
    )
    from dagster_meltano.meltano_resource import MeltanoResource  # type: ignore[import-untyped]
    from dagster_meltano.ops import meltano_run_op  # type: ignore[import-untyped]
    from dagster_meltano.utils import generate_dagster_name  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise UserError(
        f"orchestrated mode needs Dagster and dagster-meltano ({exc}); install them with: "
        "pip install 'ingestgen[orchestrate]'"
    ) from None

TENANT_TAG = "tenant"


def shard_repositories(location_file: str) -> dict[str, RepositoryDefinition]:
    """The repositories of the shard whose module is ``location_file``, by module-level name.

    Raises:
        UserError: the shard's data or a tenant's project is not rendered, or the ``meltano``
            command is not on PATH.
    """
    module = Path(location_file).resolve()
    data_file = module.with_suffix(".json")
    if not data_file.is_file():
        raise UserError(f"{data_file} does not exist; run `ingestgen render`")
    data = json.loads(data_file.read_text(encoding="utf-8"))
    # The workspace folder sits beside the tenants' projects: projects/_dagster/shard_<k>.py.
    projects = module.parents[1]
    executable(
        path_only=True,
        fix="install 'ingestgen[orchestrate]' and start Dagster from that environment "
        "(`ingestgen orchestrate`)",
    )
    tenants: dict[str, dict[str, Any]] = data["tenants"]
    missing = [t for t in tenants if not (projects / t / "meltano.yml").is_file()]
    if missing:
        names = ", ".join(f"projects/{t}/meltano.yml" for t in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise UserError(f"{names}{more} does not exist; run `ingestgen render`")
    return {
        f"tenant_{tenant}": tenant_repository(tenant, spec, projects / tenant)
        for tenant, spec in tenants.items()
    }


def tenant_repository(tenant: str, spec: dict[str, Any], project: Path) -> RepositoryDefinition:
    """One tenant's repository: every job of its project and its schedules."""
    resource = meltano_project(project)
    tags = dict(spec.get("tags") or {})
    jobs = [_job(tenant, name, job, resource, tags) for name, job in spec["jobs"].items()]
    schedules = [
        ScheduleDefinition(
            name=generate_dagster_name(s["name"]),
            job_name=generate_dagster_name(s["job"]),
            cron_schedule=s["cron"],
            default_status=DefaultScheduleStatus.RUNNING,
        )
        for s in spec["schedules"]
    ]

    def _definitions() -> list[JobDefinition | ScheduleDefinition]:
        return [*jobs, *schedules]

    _definitions.__name__ = tenant
    built = repository(name=tenant, description=f"Tenant {tenant}: projects/{tenant}")(_definitions)
    assert isinstance(built, RepositoryDefinition)
    return built


def meltano_project(project: Path) -> ResourceDefinition:
    """The ``meltano`` resource of one tenant's jobs: dagster-meltano's, on that project.

    dagster-meltano's resource class is a per-process singleton; an instance is made here without
    it, so a process that runs jobs of several tenants still runs each in its own project.
    """

    def _open(_context: object) -> MeltanoResource:
        resource = object.__new__(MeltanoResource)
        resource.__init__(project_dir=str(project), meltano_bin="meltano")
        return resource

    return ResourceDefinition(
        resource_fn=_open, description=f"The Meltano project {project.parent.name}/{project.name}"
    )


def _job(
    tenant: str,
    name: str,
    job: dict[str, Any],
    resource: ResourceDefinition,
    tags: dict[str, str],
) -> JobDefinition:
    # A job is its Meltano tasks in order (one `meltano run` task per job today), run in the run
    # worker itself: a second process would only start Meltano again. A retried `meltano run` is
    # safe: a failed run advances no bookmark and target-iceberg commits once, at the end.
    ops = [meltano_run_op(task) for task in job["tasks"]]
    deps: dict[str, dict[str, IDependencyDefinition]] = {}
    for before, after in itertools.pairwise(ops):
        deps[after.name] = {"after": DependencyDefinition(before.name)}
    retries, backoff = int(job["retries"]), job["retry_backoff_seconds"]
    graph = GraphDefinition(
        name=generate_dagster_name(name),
        description=f"Runs the `{name}` job from Meltano.",
        node_defs=list({op.name: op for op in ops}.values()),
        dependencies=deps,
    )
    return graph.to_job(
        name=generate_dagster_name(name),
        description=f"Runs the `{name}` job of tenant {tenant} from Meltano.",
        resource_defs={"meltano": resource},
        tags={**tags, TENANT_TAG: tenant},
        op_retry_policy=RetryPolicy(max_retries=retries, delay=backoff) if retries else None,
        executor_def=in_process_executor,
    )
