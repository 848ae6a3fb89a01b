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

A tenant with a maintenance schedule (runner.yaml's ``maintenance.tenants.<id>.cron``) also
gets the job `MAINTAIN_JOB`, which runs ``ingestgen maintain <tenant>`` in a subprocess, tagged
like the tenant's loads: the run queue's per-tenant limit keeps upkeep and loads from overlapping.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ingestgen.errors import UserError
from ingestgen.meltano.tool import executable
from ingestgen.orchestrate import TENANT_TAG

try:
    from dagster import (
        DefaultScheduleStatus,
        Failure,
        GraphDefinition,
        JobDefinition,
        RepositoryDefinition,
        ResourceDefinition,
        RetryPolicy,
        ScheduleDefinition,
        in_process_executor,
        job,
        op,
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

MAINTAIN_JOB = "ingestgen_maintain"
"""The maintenance job's name in a tenant's code location (its schedule: ``<tenant>_maintain``)."""


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

    cron = spec.get("maintenance_cron")
    if cron:
        if any(j.name == MAINTAIN_JOB for j in jobs):
            raise UserError(
                f"projects/{tenant}: a Meltano job is named {MAINTAIN_JOB}, like the maintenance "
                "job; rename its job file"
            )
        upkeep = maintenance_job(project.parents[1], tenant)
        jobs.append(upkeep)
        schedules.append(
            ScheduleDefinition(
                name=f"{tenant}_maintain",
                cron_schedule=cron,
                job=upkeep,
                default_status=DefaultScheduleStatus.RUNNING,
            )
        )

    def _definitions() -> list[JobDefinition | ScheduleDefinition]:
        return [*jobs, *schedules]

    _definitions.__name__ = tenant
    built = repository(name=tenant, description=f"Tenant {tenant}: projects/{tenant}")(_definitions)
    assert isinstance(built, RepositoryDefinition)
    return built


def maintenance_job(root: Path, tenant: str) -> JobDefinition:
    """A job running ``ingestgen maintain <tenant>`` on the repository at ``root``.

    It fails (exit 1 or 2 of the command) with the command's last output lines.
    """

    # `context` stays unannotated: Dagster refuses the string annotation that
    # `from __future__ import annotations` makes of it.
    @op(name="maintain")
    def maintain(context) -> None:  # type: ignore[no-untyped-def]
        command = [sys.executable, "-m", "ingestgen", "maintain", tenant, "--root", str(root)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            context.log.info(line)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr)[-2000:]
            raise Failure(f"ingestgen maintain {tenant} exited {done.returncode}: {tail}")

    @job(
        name=MAINTAIN_JOB,
        description=f"Table upkeep of tenant {tenant}: `ingestgen maintain {tenant}`.",
        tags={TENANT_TAG: tenant},
        executor_def=in_process_executor,
    )
    def upkeep() -> None:
        maintain()

    return upkeep


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
