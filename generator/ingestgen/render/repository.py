"""Validate and render a whole repository: every job file, the runner config, every project.

What ``ingestgen validate`` and ``ingestgen render`` do, for the facade and for the stages that
need a current render (the oneshot runner, ``ingestgen orchestrate``). Writes only through
`ingestgen.render.write`, and only under ``projects/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingestgen.config.load import JobFile, load_job, load_jobs
from ingestgen.config.runner import (
    RunnerConfig,
    find_runner,
    is_runner_file,
    load_runner,
    maintenance_table_problems,
)
from ingestgen.config.yamlsource import load_located
from ingestgen.errors import ConfigError, Problem
from ingestgen.paths import RUNNER_FILE, inside_configs, job_files
from ingestgen.registry import plugin_settings
from ingestgen.registry.load import LoadedRegistry, load_registry
from ingestgen.registry.resolve import ResolvedJob, resolve_job, resolve_jobs
from ingestgen.render.parallel import map_slices
from ingestgen.render.project import RenderedFile, render_projects
from ingestgen.render.workspace import meltano_schedules, render_workspace
from ingestgen.render.write import RenderReport, apply
from target_iceberg.quarantine import SUFFIX as QUARANTINE


@dataclass(frozen=True)
class Checked:
    """What `check` validated: job files, resolved, and runner configs."""

    jobs: list[ResolvedJob]
    runners: list[RunnerConfig]


def check(root: Path, selected: list[Path] | None = None) -> Checked:
    """Validate the selected files (everything under ``configs/`` by default), writing nothing.

    A selected file that is a runner config (named ``runner.yaml``, or holding a ``runner:``
    block and no ``tenant_id``) is validated as one; with no selection, the repository's runner
    config is validated with its jobs.

    Raises:
        ConfigError: every problem of every file, located.
    """
    loaded = load_registry(root)
    files = job_files(root, selected)
    runner_paths = _runner_paths(root, selected, files)
    problems: list[Problem] = []
    resolved: list[ResolvedJob] = []
    runners: list[RunnerConfig] = []
    try:
        jobs = load_jobs([p for p in files if p not in runner_paths], root)
        resolved = resolve_jobs(jobs, loaded)
    except ConfigError as exc:
        problems += exc.problems
    for path in runner_paths:
        try:
            runners.append(load_runner(path, root))
        except ConfigError as exc:
            problems += exc.problems
        if path.name != RUNNER_FILE:
            # Render reads it as a job; load_job's message says to rename it.
            try:
                load_job(path, root)
            except ConfigError as exc:
                problems += exc.problems
    if not selected:
        try:
            found = find_runner(root)
        except ConfigError as exc:
            problems += exc.problems
        else:
            runners += [found] if found else []
    if not problems and not selected:
        for runner in runners:
            problems += maintenance_table_problems(runner, _tables(resolved), root)
    if problems:
        raise ConfigError(problems)
    return Checked(resolved, runners)


def _tables(resolved: list[ResolvedJob]) -> dict[str, set[str]]:
    # Per tenant, the tables its jobs write, and their quarantine tables.
    found: dict[str, set[str]] = {}
    for job in resolved:
        streams = job.loader.config.get("streams") or {}
        for stream in streams.values():
            table = stream.get("table") if isinstance(stream, dict) else None
            if isinstance(table, str):
                found.setdefault(job.tenant, set()).update({table, table + QUARANTINE})
    return found


def _runner_paths(root: Path, selected: list[Path] | None, files: list[Path]) -> list[Path]:
    # Selected runner configs: files that are one, and runner.yaml files in selected folders.
    if not selected:
        return []
    inside = {p for folder in selected if folder.is_dir() for p in folder.rglob(RUNNER_FILE)}
    found = set(inside_configs(inside, root)) | {p for p in files if is_runner_file(p)}
    return sorted(found)


def validate(root: Path, selected: list[Path] | None = None) -> list[ResolvedJob]:
    """Validate and resolve the selected job files (all under ``configs/`` by default).

    Raises:
        ConfigError: every problem found, located; a selected runner config is one.
    """
    checked = check(root, selected)
    if selected and checked.runners:
        raise ConfigError(
            [
                Problem(
                    r.display,
                    0,
                    "",
                    "this is a runner config, not a job file",
                    "give a job file, configs/<tenant>/<job>.yaml",
                )
                for r in checked.runners
            ]
        )
    return checked.jobs


def render(root: Path, selected: list[Path] | None = None, *, check: bool = False) -> RenderReport:
    """Render the projects of every tenant that a selected job belongs to.

    A tenant's project always holds all of that tenant's jobs, so rendering one job re-renders its
    tenant from every job file of that tenant under ``configs/``. Rendering everything (no
    ``selected``) also regenerates our plugins' settings in the registry from the plugins.
    """
    first = RenderReport()
    extra: list[RenderedFile] = []
    if not selected:
        # Asked first (each plugin's answer is cached under a hash of its code): the projects
        # rendered below carry the settings.
        settings = _plugin_settings(root)
        if check:
            extra = [settings]
        else:
            first = apply([settings], root, check=False, tenants_all=False)
    files = rendered(root, selected)
    report = apply(extra + files, root, check=check, tenants_all=not selected)
    report.written[:0], report.unchanged[:0] = first.written, first.unchanged
    return report


def _plugin_settings(root: Path) -> RenderedFile:
    # Our plugins' settings lists come from the plugins themselves (their --about).
    loaded = load_registry(root)
    plugins = {n: (p.pip_url, p.executable) for n, p in loaded.registry.plugins.items()}
    return RenderedFile(plugin_settings.REGISTRY, plugin_settings.regenerate(root, plugins))


def rendered(root: Path, selected: list[Path] | None = None) -> list[RenderedFile]:
    """The projects and Dagster workspace `render` would write for ``selected``; writes nothing.

    Raises:
        ConfigError: every problem found, located.
    """
    loaded = load_registry(root)
    everything = job_files(root)
    if not selected:
        jobs, resolved, unresolved = _load_and_resolve(everything, root, loaded)
        # job_files gives resolved paths, as the runner config's schedules look them up.
        runner = find_runner(root, dict(zip(everything, jobs, strict=True)))
        if unresolved:
            raise ConfigError(unresolved)
        others: list[ResolvedJob] = []
    else:
        runner = find_runner(root)
        # Each file is read once more to find its tenant (bounded like every read).
        chosen = job_files(root, selected)
        tenants = {_peek_tenant(path) for path in chosen}
        peeked = {p: _peek_tenant(p) for p in everything}
        files = sorted(set(chosen) | {p for p, t in peeked.items() if t in tenants})
        # The workspace lists every scheduled tenant's jobs: those are resolved too, and only
        # the selected tenants' projects are rendered.
        scheduled = set(runner.tenants) if runner and runner.orchestrated else set()
        extra = sorted({p for p, t in peeked.items() if t in scheduled - tenants} - set(files))
        resolved = resolve_jobs(load_jobs(files, root), loaded)
        others = resolve_jobs(load_jobs(extra, root), loaded) if extra else []
    if runner is not None and not selected:
        problems = maintenance_table_problems(runner, _tables(resolved), root)
        if problems:
            raise ConfigError(problems)
    projects = render_projects(resolved, loaded, root, meltano_schedules(runner))
    return projects + render_workspace(runner, root, resolved + others)


def _load_and_resolve(
    files: list[Path], root: Path, loaded: LoadedRegistry
) -> tuple[list[JobFile], list[ResolvedJob], list[Problem]]:
    """`load_jobs` then `resolve_jobs` of ``files``, on every core (each job is independent).

    Returns the job files, the resolved jobs and the problems resolving found; the caller
    reports those after the runner config's (as when resolving follows finding the runner).

    Raises:
        ConfigError: every problem of every job file, located (as `load_jobs`).
    """
    Stage = tuple[list[JobFile], list[Problem], list[ResolvedJob], list[Problem]]

    def stage(part: Sequence[Path]) -> Stage:
        jobs: list[JobFile] = []
        bad_files: list[Problem] = []
        for path in part:
            try:
                jobs.append(load_job(path, root))
            except ConfigError as exc:
                bad_files += exc.problems
        resolved: list[ResolvedJob] = []
        unresolved: list[Problem] = []
        for job in jobs:
            try:
                resolved.append(resolve_job(job, loaded))
            except ConfigError as exc:
                unresolved += exc.problems
        return jobs, bad_files, resolved, unresolved

    parts = map_slices(stage, files)
    bad_files = [p for part in parts for p in part[1]]
    if bad_files:
        raise ConfigError(bad_files)
    return (
        [j for part in parts for j in part[0]],
        [r for part in parts for r in part[2]],
        [p for part in parts for p in part[3]],
    )


def _peek_tenant(path: Path) -> str | None:
    # Only to group files by tenant; full validation happens in load_jobs. The same bounded,
    # safe reader as everywhere: a hostile file must not cost more here than there.
    try:
        data = load_located(path).data
    except ConfigError:
        return None
    tenant = data.get("tenant_id") if isinstance(data, dict) else None
    return tenant if isinstance(tenant, str) else None
