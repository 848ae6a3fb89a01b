"""Validate and render a whole repository: every job file, the runner config, every project.

What ``ingestgen validate`` and ``ingestgen render`` do, for the facade and for the stages that
need a current render (the oneshot runner, ``ingestgen orchestrate``). Writes only through
`ingestgen.render.write`, and only under ``projects/``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ingestgen.config.load import load_jobs
from ingestgen.config.runner import find_runner
from ingestgen.paths import job_files
from ingestgen.registry.load import load_registry
from ingestgen.registry.resolve import ResolvedJob, resolve_jobs
from ingestgen.render.project import RenderedFile, render_projects
from ingestgen.render.workspace import meltano_schedules, render_workspace
from ingestgen.render.write import RenderReport, apply


def validate(root: Path, selected: list[Path] | None = None) -> list[ResolvedJob]:
    """Validate and resolve the selected job files (all under ``configs/`` by default).

    Raises:
        ConfigError: every problem found, located.
    """
    loaded = load_registry(root)
    jobs = load_jobs(job_files(root, selected), root)
    resolved = resolve_jobs(jobs, loaded)
    if not selected:
        find_runner(root)  # the runner config is validated with the whole repository
    return resolved


def render(root: Path, selected: list[Path] | None = None, *, check: bool = False) -> RenderReport:
    """Render the projects of every tenant that a selected job belongs to.

    A tenant's project always holds all of that tenant's jobs, so rendering one job re-renders its
    tenant from every job file of that tenant under ``configs/``.
    """
    return apply(rendered(root, selected), root, check=check, tenants_all=not selected)


def rendered(root: Path, selected: list[Path] | None = None) -> list[RenderedFile]:
    """What `render` would write for ``selected`` (see there), without writing anything.

    Raises:
        ConfigError: every problem found, located.
    """
    loaded = load_registry(root)
    everything = job_files(root)
    chosen = job_files(root, selected) if selected else everything
    tenants = {_peek_tenant(path) for path in chosen}
    paths = sorted(set(chosen) | {p for p in everything if _peek_tenant(p) in tenants})
    resolved = resolve_jobs(load_jobs(paths, root), loaded)
    runner = find_runner(root)
    projects = render_projects(resolved, loaded, root, meltano_schedules(runner))
    return projects + render_workspace(runner, root)


def _peek_tenant(path: Path) -> str | None:
    # Only to group files by tenant; full validation happens in load_jobs.
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    tenant = data.get("tenant_id") if isinstance(data, dict) else None
    return tenant if isinstance(tenant, str) else None
