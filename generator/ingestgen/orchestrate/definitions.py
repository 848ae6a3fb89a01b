"""The Dagster definitions of one tenant: its Meltano jobs and schedules through dagster-meltano.

Imported by the generated code-location module ``projects/_dagster/<tenant>.py``, once per
process: dagster-meltano keeps a single Meltano project per process (a singleton), so each tenant
is its own code location. Every job is re-tagged ``tenant=<id>`` so Dagster's run queue can limit
runs per tenant (schedules run the tagged jobs by name, so their runs carry the tag too), and
retries a failed run as the job's rendered execution settings say (``retries``,
``retry_backoff_seconds``).

Never runs a job here: loading only lists the project's jobs and schedules.
"""

from __future__ import annotations

from pathlib import Path

from ingestgen.errors import UserError
from ingestgen.meltano.project import Execution, Project, project_dir
from ingestgen.meltano.tool import executable
from ingestgen.orchestrate.process import ensure_system_db

try:
    from dagster import (
        Definitions,
        JobDefinition,
        RetryPolicy,
        ScheduleDefinition,
        in_process_executor,
    )
    from dagster_meltano import load_jobs_from_meltano_project  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise UserError(
        f"orchestrated mode needs Dagster and dagster-meltano ({exc}); install them with: "
        "pip install 'ingestgen[orchestrate]'"
    ) from None

TENANT_TAG = "tenant"


def tenant_definitions(location_file: str, tenant: str) -> Definitions:
    """Definitions for ``projects/<tenant>``, the sibling of the ``projects/_dagster`` folder.

    Args:
        location_file: ``__file__`` of the generated location module.
        tenant: the tenant id.

    Raises:
        UserError: the project is not rendered, or the ``meltano`` command is not on PATH.
    """
    # The workspace folder sits beside the tenants' projects: projects/_dagster/<tenant>.py.
    project = Project.read(project_dir(Path(location_file).resolve().parents[2], tenant))
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
    return Definitions(jobs=jobs, schedules=schedules)


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
