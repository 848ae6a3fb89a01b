"""What a oneshot run will run: the validated job, its rendered project and its plugins.

The committed render is the contract (GitOps): a missing project is rendered, but a project that
differs from a fresh render is an error, never silently rewritten. A repository unchanged since a
plan that succeeded is not validated and rendered again: `plan_cache` keeps that plan's facts
under a digest of the repository and of the code. Planning never starts Meltano.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingestgen.errors import UserError
from ingestgen.meltano.project import FILE, PROJECTS, Job, Project, project_dir
from ingestgen.meltano.tool import env_var_name, environment
from ingestgen.paths import display
from ingestgen.run import plan_cache


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
    # Taken before planning: a file changed while the plan reads is a miss next time.
    key = plan_cache.digest(root)
    facts = plan_cache.read(root, job_file, key)
    name = f"{PROJECTS}/{facts.tenant if facts else ''}/{FILE}"
    rendered = f"{name} is current (repository unchanged since it was checked)"
    if facts is None:
        facts, rendered = _check(root, job_file)
        plan_cache.write(root, job_file, key, facts)
    project = Project.read(project_dir(root, facts.tenant))
    return RunPlan(
        root=root,
        job_file=job_file,
        tenant=facts.tenant,
        project=project,
        job=project.job(facts.job),
        streams=list(facts.streams),
        source_type=facts.source_type,
        redaction=facts.redaction,
        rendered=rendered,
    )


def _check(root: Path, job_file: Path) -> tuple[plan_cache.PlanFacts, str]:
    # Validation and rendering import most of ingestgen: only here, on a changed repository.
    from ingestgen.render import repository

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
    facts = plan_cache.PlanFacts(
        tenant=resolved.tenant,
        job=resolved.name,
        streams=list(resolved.streams),
        source_type=resolved.job.config.source.type,
        redaction=resolved.job.config.logging.redaction,
    )
    return facts, rendered
