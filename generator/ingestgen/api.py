"""The library's front door: one function per ``ingestgen`` command.

The CLI calls only these (and prints their results with `ingestgen.cli.output`); tests and other
programs may call them too. Each is a thin call into its stage: `ingestgen.render.repository`
(validate, render), `ingestgen.run` (run), `ingestgen.lake` (show), `ingestgen.orchestrate`
(orchestrate), `ingestgen.plan` (plan), `ingestgen.report` (report), `ingestgen.maintain`
(maintain). No stage imports this module. Stages that need pyiceberg, OpenLineage or Dagster
are imported when their command is called, so the CLI starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingestgen.audit import Evidence
    from ingestgen.lake import TablePreview
    from ingestgen.maintain.tenants import MaintainResult
    from ingestgen.plan.build import Plan
    from ingestgen.registry.resolve import ResolvedJob
    from ingestgen.render.repository import Checked
    from ingestgen.render.write import RenderReport
    from ingestgen.report.figures import Report
    from ingestgen.run.oneshot import RunResult


def check(root: Path, selected: list[Path] | None = None) -> Checked:
    """``ingestgen validate``: check job files and runner configs (all under ``configs/``).

    A selected runner config is validated as one.

    Raises:
        ConfigError: every problem found, located.
    """
    from ingestgen.render import repository

    return repository.check(root, selected)


def validate(root: Path, selected: list[Path] | None = None) -> list[ResolvedJob]:
    """Validate and resolve job files only (all under ``configs/`` by default).

    Raises:
        ConfigError: every problem found, located; a selected runner config is one.
    """
    from ingestgen.render import repository

    return repository.validate(root, selected)


def render(root: Path, selected: list[Path] | None = None, *, check: bool = False) -> RenderReport:
    """``ingestgen render``: render (or with ``check``, compare) the selected tenants' projects.

    Raises:
        ConfigError: every problem found, located.
    """
    from ingestgen.render import repository

    return repository.render(root, selected, check=check)


def run(
    root: Path, job_file: Path, *, record_dir: Path | None = None, install: bool = True
) -> RunResult:
    """``ingestgen run``: run one job now, in this process's environment, and record it.

    `ingestgen.run.oneshot.run_job` takes another environment or output stream.

    Raises:
        ConfigError: invalid job file (nothing run, no record).
        UserError: drifted render, or plugins missing with ``install=False``.
    """
    from ingestgen.run.oneshot import run_job

    return run_job(root, job_file, record_dir=record_dir, install=install)


def show(root: Path, tenant: str, table: str | None = None, limit: int = 5) -> list[TablePreview]:
    """``ingestgen show``: a tenant's tables as its jobs landed them.

    Raises:
        UserError: not a tenant id, no rendered project, or no catalog could be read.
    """
    from ingestgen import lake
    from ingestgen.meltano.project import project_dir

    return lake.preview(project_dir(root, tenant), tenant, table, limit)


def audit(
    root: Path,
    tenant: str,
    job: str | None = None,
    *,
    publish: str | None = None,
    discard: str | None = None,
) -> list[Evidence]:
    """``ingestgen audit``: the runs kept on audit branches; publish or discard one by hand.

    Raises:
        UserError: not a tenant id, no rendered project, no such job or run, or a run whose data
            a later run of its job already published (publishing it would duplicate rows).
    """
    from ingestgen import audit as wap
    from ingestgen.meltano.project import project_dir

    project = project_dir(root, tenant)
    if publish is not None:
        return [wap.publish(project, tenant, job, publish)]
    if discard is not None:
        return [wap.discard(project, tenant, job, discard)]
    return wap.evidence(project, tenant, job)


def orchestrate(
    root: Path,
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    install: bool = False,
    say: Callable[[str], None] = print,
) -> None:
    """``ingestgen orchestrate``: run the Dagster webserver and daemon until stopped.

    Raises:
        UserError: nothing to orchestrate, drifted projects, or a Dagster process failed.
    """
    from ingestgen.orchestrate.serve import serve

    serve(root, home, host=host, port=port, install=install, say=say)


def plan(root: Path, selected: list[Path] | None = None, *, base: str = "HEAD") -> Plan:
    """``ingestgen plan``: what the working tree's change does, compared with git ``base``.

    Raises:
        ConfigError: the working tree's configuration is invalid (every problem, located).
        UserError: not a git work tree, or ``base`` names no commit.
    """
    from ingestgen.plan.build import make_plan

    return make_plan(root, selected, base=base)


def report(root: Path, tenants: list[str] | None = None, *, since: str | None = None) -> Report:
    """``ingestgen report``: the tenants' runs over time, from their records and tables.

    Raises:
        UserError: a tenant without a rendered project, or a ``since`` that is no time or age.
    """
    from ingestgen.report.figures import make_report

    return make_report(root, tenants, since=since)


def maintain(
    root: Path,
    tenants: list[str] | None = None,
    *,
    dry_run: bool = False,
    only: list[str] | None = None,
    orphan_age: str | None = None,
) -> MaintainResult:
    """``ingestgen maintain``: expire snapshots, remove orphan files, compact small files.

    Raises:
        ConfigError: runner.yaml (its ``maintenance:`` block) or the registry is invalid.
        UserError: a tenant without a rendered project, an unknown step, a bad ``orphan_age``.
    """
    from ingestgen.maintain.tenants import STEPS
    from ingestgen.maintain.tenants import maintain as run_maintenance

    return run_maintenance(
        root, tenants or [], steps=only or STEPS, dry_run=dry_run, orphan_age=orphan_age
    )
