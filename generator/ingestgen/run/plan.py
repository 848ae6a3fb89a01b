"""What a oneshot run will run: the validated job, its rendered project and its plugins.

The committed render is the contract (GitOps): a missing project is rendered, but a project that
differs from a fresh render is an error, never silently rewritten. Planning never starts Meltano.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingestgen.errors import UserError
from ingestgen.meltano.project import FILE, PROJECTS, Job, Project, project_dir
from ingestgen.meltano.tool import env_var_name, environment
from ingestgen.paths import display
from ingestgen.render import repository


class RenderDriftError(UserError):
    """The committed project differs from a fresh render of the job files (exit 2)."""


@dataclass(frozen=True)
class RunPlan:
    """One job, ready to run: its rendered project and Meltano job, and what the job file says."""

    root: Path
    job_file: Path
    tenant: str
    project: Project
    job: Job
    streams: list[str]
    source_type: str
    redaction: bool
    rendered: str

    @property
    def state_id(self) -> str:
        """Meltano's state id for the job's extract-load pair."""
        return self.job.state_id(self.project.default_environment)

    @property
    def catalog(self) -> str:
        """The name of the catalog the job's loader writes to."""
        catalog = self.job.contract.catalog
        return catalog.name if catalog else ""

    @property
    def installed(self) -> bool:
        """Whether the job's plugin venvs exist."""
        return self.project.installed(*self.job.plugins)

    def run_args(self) -> list[str]:
        """``run <job>``, bounded by the connector's execution timeout when it has one."""
        annotation = self.job.extractor.annotation
        timeout = annotation.execution.timeout_seconds if annotation else None
        return ["run", self.job.name, *(["--timeout", str(int(timeout))] if timeout else [])]

    def run_env(self, environ: Mapping[str, str], run_id: str, summary: Path) -> dict[str, str]:
        """The environment of ``meltano run``: Meltano's run id, the loader's summary path."""
        contract = self.job.contract
        # Meltano names a mapping's settings after its mapper (the mapping has no variables).
        owner = contract.base if contract.kind == "mappers" else contract.name
        summary_var = env_var_name(owner, "run_summary_path")
        return environment(environ, MELTANO_RUN_ID=run_id, **{summary_var: str(summary)})


def plan(root: Path, job_file: Path) -> RunPlan:
    """Validate the job, make sure its project is rendered and current, and describe the run.

    Raises:
        ConfigError: the job file is invalid (every problem, located).
        RenderDriftError: the committed project differs from a fresh render.
    """
    job_file = job_file.resolve()
    if not job_file.is_file():
        raise UserError(f"{job_file}: no such job file; give configs/<tenant>/<job>.yaml")
    (resolved,) = repository.validate(root, [job_file])
    folder = project_dir(root, resolved.tenant)
    name = f"{PROJECTS}/{resolved.tenant}/{FILE}"
    if not (folder / FILE).exists():
        repository.render(root, [job_file])
        rendered = f"rendered {name}"
    else:
        report = repository.render(root, [job_file], check=True)
        if name in report.drifted:
            raise RenderDriftError(
                f"{name} differs from a fresh render of the job files of tenant "
                f"{resolved.tenant}: run `ingestgen render {display(job_file.parent, root)}`, "
                "review and commit the result, then run again"
            )
        rendered = f"{name} is current"
    project = Project.read(folder)
    return RunPlan(
        root=root,
        job_file=job_file,
        tenant=resolved.tenant,
        project=project,
        job=project.job(resolved.name),
        streams=list(resolved.streams),
        source_type=resolved.job.config.source.type,
        redaction=resolved.job.config.logging.redaction,
        rendered=rendered,
    )
