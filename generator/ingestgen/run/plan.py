"""What a oneshot run will run: the validated job, its rendered project and its plugins.

The committed render is the contract (GitOps): a missing project is rendered, but a project that
differs from a fresh render is an error, never silently rewritten. Planning never starts Meltano.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingestgen import api
from ingestgen.errors import UserError
from ingestgen.paths import display


class RenderDriftError(UserError):
    """The committed project differs from a fresh render of the job files (exit 2)."""


@dataclass(frozen=True)
class RunPlan:
    """One job, ready to run."""

    root: Path
    job_file: Path
    tenant: str
    job: str
    project: Path
    extractor: str
    loader: str
    extractor_base: str
    loader_base: str
    streams: list[str]
    source_type: str
    catalog: str
    redaction: bool
    environment: str
    timeout_s: int | None
    rendered: str

    @property
    def meltano_yml(self) -> Path:
        """The project file."""
        return self.project / "meltano.yml"

    @property
    def state_id(self) -> str:
        """Meltano's state id for the job's single extract-load pair."""
        return f"{self.environment}:{self.extractor}-to-{self.loader}"


def plan(root: Path, job_file: Path) -> RunPlan:
    """Validate the job, make sure its project is rendered and current, and describe the run.

    Raises:
        ConfigError: the job file is invalid (every problem, located).
        RenderDriftError: the committed project differs from a fresh render.
    """
    job_file = job_file.resolve()
    if not job_file.is_file():
        raise UserError(f"{job_file}: no such job file; give configs/<tenant>/<job>.yaml")
    (resolved,) = api.validate(root, [job_file])
    project = root / "projects" / resolved.tenant
    name = f"projects/{resolved.tenant}/meltano.yml"
    if not (project / "meltano.yml").exists():
        api.render(root, [job_file])
        rendered = f"rendered {name}"
    else:
        report = api.render(root, [job_file], check=True)
        if name in report.drifted:
            raise RenderDriftError(
                f"{name} differs from a fresh render of the job files of tenant "
                f"{resolved.tenant}: run `ingestgen render {display(job_file.parent, root)}`, "
                "review and commit the result, then run again"
            )
        rendered = f"{name} is current"
    data: dict[str, Any] = yaml.safe_load((project / "meltano.yml").read_text(encoding="utf-8"))
    execution = resolved.extractor.annotations.get("ingestgen", {}).get("execution", {})
    timeout = execution.get("timeout_seconds")
    return RunPlan(
        root=root,
        job_file=job_file,
        tenant=resolved.tenant,
        job=resolved.name,
        project=project,
        extractor=resolved.extractor.name,
        loader=resolved.loader.name,
        extractor_base=resolved.extractor.base,
        loader_base=resolved.loader.base,
        streams=list(resolved.streams),
        source_type=resolved.job.config.source.type,
        catalog=str(resolved.loader.config.get("catalog_name", "")),
        redaction=resolved.job.config.logging.redaction,
        environment=str(data.get("default_environment") or "dev"),
        timeout_s=int(timeout) if isinstance(timeout, int | float) and timeout > 0 else None,
        rendered=rendered,
    )
