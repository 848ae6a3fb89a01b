"""The Dagster definitions of one tenant: its Meltano jobs and schedules through dagster-meltano.

Imported by the generated code-location module ``projects/_dagster/<tenant>.py``, once per
process: dagster-meltano keeps a single Meltano project per process (a singleton), so each tenant
is its own code location. Every job is re-tagged ``tenant=<id>`` so Dagster's run queue can limit
runs per tenant; schedules run the tagged jobs by name, so their runs carry the tag too.

Never runs a job here: loading only lists the project's jobs and schedules.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ingestgen.errors import UserError

try:
    from dagster import Definitions, JobDefinition, ScheduleDefinition, in_process_executor
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
    project = Path(location_file).resolve().parents[1] / tenant
    if not (project / "meltano.yml").is_file():
        raise UserError(f"{project / 'meltano.yml'} does not exist; run `ingestgen render`")
    if shutil.which("meltano") is None:
        raise UserError(
            "the meltano command is not on PATH; install 'ingestgen[orchestrate]' "
            "and start Dagster from that environment (`ingestgen orchestrate`)"
        )
    loaded = list(load_jobs_from_meltano_project(str(project)))
    jobs = [_tagged(item, tenant) for item in loaded if isinstance(item, JobDefinition)]
    schedules = [item for item in loaded if isinstance(item, ScheduleDefinition)]
    return Definitions(jobs=jobs, schedules=schedules)


def _tagged(job: JobDefinition, tenant: str) -> JobDefinition:
    # dagster-meltano builds its jobs without tags; rebuilding from the same graph keeps the ops,
    # the meltano resource and the retry policy. A job is one `meltano run` task: running it in
    # the run worker itself spares a second process that would list the Meltano project again.
    return job.graph.to_job(
        name=job.name,
        description=job.description,
        resource_defs=dict(job.resource_defs),
        tags={**job.tags, TENANT_TAG: tenant},
        op_retry_policy=job.op_retry_policy,
        executor_def=in_process_executor,
    )
