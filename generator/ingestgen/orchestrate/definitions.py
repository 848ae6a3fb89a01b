"""The Dagster definitions of one tenant: its Meltano jobs and schedules through dagster-meltano.

Imported by the generated code-location module ``projects/_dagster/<tenant>.py``, once per
process: dagster-meltano keeps a single Meltano project per process (a singleton), so each tenant
is its own code location. Every job is re-tagged ``tenant=<id>`` so Dagster's run queue can limit
runs per tenant (schedules run the tagged jobs by name, so their runs carry the tag too), and
retries a failed run as the job's rendered execution settings say (``retries``,
``retry_backoff_seconds``).

A tenant with a maintenance schedule (runner.yaml's ``maintenance.tenants.<id>.cron``) also
gets the job `MAINTAIN_JOB`, which runs ``ingestgen maintain <tenant>`` in a subprocess, tagged
like the tenant's loads: the run queue's per-tenant limit keeps upkeep and loads from overlapping.

Never runs a job here: loading only lists the project's jobs and schedules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingestgen.errors import UserError
from ingestgen.meltano.project import Execution, Project, project_dir
from ingestgen.meltano.tool import executable
from ingestgen.orchestrate.process import ensure_system_db

try:
    from dagster import (
        DefaultScheduleStatus,
        Definitions,
        Failure,
        JobDefinition,
        RetryPolicy,
        ScheduleDefinition,
        in_process_executor,
        job,
        op,
    )
    from dagster_meltano import load_jobs_from_meltano_project  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise UserError(
        f"orchestrated mode needs Dagster and dagster-meltano ({exc}); install them with: "
        "pip install 'ingestgen[orchestrate]'"
    ) from None

TENANT_TAG = "tenant"
MAINTAIN_JOB = "ingestgen_maintain"
"""The maintenance job's name in a tenant's code location (its schedule: ``<tenant>_maintain``)."""


def tenant_definitions(
    location_file: str, tenant: str, maintenance_cron: str | None = None
) -> Definitions:
    """Definitions for ``projects/<tenant>``, the sibling of the ``projects/_dagster`` folder.

    Args:
        location_file: ``__file__`` of the generated location module.
        tenant: the tenant id.
        maintenance_cron: when to run ``ingestgen maintain <tenant>`` (UTC), if ever.

    Raises:
        UserError: the project is not rendered, the ``meltano`` command is not on PATH, or a
            Meltano job is named like the maintenance job.
    """
    # The workspace folder sits beside the tenants' projects: projects/_dagster/<tenant>.py.
    root = Path(location_file).resolve().parents[2]
    project = Project.read(project_dir(root, tenant))
    executable(
        path_only=True,
        fix="install 'ingestgen[orchestrate]' and start Dagster from that environment "
        "(`ingestgen orchestrate`)",
    )
    ensure_system_db(project.folder)
    loaded = list(load_jobs_from_meltano_project(str(project.folder)))
    execution = job_execution(project)
    jobs = [
        _tagged(item, tenant, execution.get(item.name, Execution()))
        for item in loaded
        if isinstance(item, JobDefinition)
    ]
    schedules = [item for item in loaded if isinstance(item, ScheduleDefinition)]
    if maintenance_cron is not None:
        if any(j.name == MAINTAIN_JOB for j in jobs):
            raise UserError(
                f"projects/{tenant}: a Meltano job is named {MAINTAIN_JOB}, like the maintenance "
                "job; rename its job file"
            )
        upkeep = maintenance_job(root, tenant)
        jobs.append(upkeep)
        schedules.append(
            ScheduleDefinition(
                name=f"{tenant}_maintain",
                cron_schedule=maintenance_cron,
                job=upkeep,
                default_status=DefaultScheduleStatus.RUNNING,
            )
        )
    return Definitions(jobs=jobs, schedules=schedules)


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


def job_execution(project: Project) -> dict[str, Execution]:
    """Each job's execution settings (retries, backoff), by job name.

    They are rendered from the registry's connector template into the job's extractor, under
    ``annotations.ingestgen.execution``.
    """
    return {
        name: job.extractor.annotation.execution
        for name, job in project.jobs.items()
        if job.extractor.annotation is not None
    }


def _tagged(job: JobDefinition, tenant: str, execution: Execution) -> JobDefinition:
    # dagster-meltano builds its jobs without tags and with one retry count for the whole
    # project; rebuilding from the same graph keeps the ops and the meltano resource. A job is one
    # `meltano run` task: running it in the run worker itself spares a second process that would
    # list the Meltano project again. A retried `meltano run` is safe: a failed run advances no
    # bookmark and target-iceberg commits once, at the end.
    retries, backoff = execution.retries, execution.retry_backoff_seconds
    return job.graph.to_job(
        name=job.name,
        description=job.description,
        resource_defs=dict(job.resource_defs),
        tags={**job.tags, TENANT_TAG: tenant},
        op_retry_policy=RetryPolicy(max_retries=retries, delay=backoff) if retries else None,
        executor_def=in_process_executor,
    )
