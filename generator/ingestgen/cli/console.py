"""``ingestgen`` commands. Each is a few lines over `ingestgen.api`; output lives in `output`."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click

from ingestgen import __version__, api
from ingestgen.cli import maintain_output, output, plan_output, report_output
from ingestgen.errors import ExitCode, IngestgenError, UserError
from ingestgen.paths import find_root

_root = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Repository root (default: found from the working directory, or $INGESTGEN_ROOT).",
)
_output = click.option(
    "--output",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json for machine readers.",
)
_paths = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ingestgen")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Render tenant job YAML into Meltano projects that land data in Iceberg.

    Exit codes: 0 ok; 1 drift found by `render --check`; 2 invalid configuration or usage;
    3 internal error.
    """
    ctx.obj = {"debug": debug}


@cli.command()
@_paths
@_root
@_output
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], root: Path | None, fmt: str) -> None:
    """Check job files and runner configs (default: all under configs/), writing nothing."""
    checked = _run(ctx, fmt, lambda: api.check(find_root(root), list(paths) or None))
    output.emit(*output.jobs_summary(checked.jobs, checked.runners), fmt)


@cli.command()
@_paths
@_root
@_output
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 with a unified diff if projects/ differ from a fresh render.",
)
@click.pass_context
def render(
    ctx: click.Context, paths: tuple[Path, ...], root: Path | None, fmt: str, check: bool
) -> None:
    """Render projects/<tenant>/meltano.yml for the given jobs, folders, or everything."""
    report = _run(ctx, fmt, lambda: api.render(find_root(root), list(paths) or None, check=check))
    output.emit(*output.render_summary(report, check), fmt)
    if not report.clean:
        ctx.exit(ExitCode.PARTIAL)


@cli.command()
@_paths
@_root
@_output
@click.option(
    "--base",
    default="HEAD",
    show_default=True,
    help="The git revision to compare with: what is deployed (in CI: the target branch).",
)
@click.option("--diff", "show_diff", is_flag=True, help="Also print the unified diff of projects/.")
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[Path, ...],
    root: Path | None,
    fmt: str,
    base: str,
    show_diff: bool,
) -> None:
    """Show what a change does before it lands: projects, tables, incremental state.

    Compares a fresh render of the working tree with the git revision --base. Exit codes: 0 no
    change; 1 changes, all allowed; 2 invalid configuration, or a table change the loader
    refuses.
    """
    result = _run(ctx, fmt, lambda: api.plan(find_root(root), list(paths) or None, base=base))
    output.emit(*plan_output.plan_summary(result, diff=show_diff), fmt)
    ctx.exit(result.exit_code)


@cli.command()
@click.argument("tenants", nargs=-1)
@click.option(
    "--since",
    help="Only runs started since: a date or time (2026-11-01, 2026-11-01T08:00+01:00, UTC "
    "by default) or an age (90m, 24h, 7d, 4w). Default: every record.",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as one self-contained HTML page with plots.",
)
@_root
@_output
@click.pass_context
def report(
    ctx: click.Context,
    tenants: tuple[str, ...],
    since: str | None,
    html_file: Path | None,
    root: Path | None,
    fmt: str,
) -> None:
    """Report the tenants' runs (default: all): rows, rejects, durations, cost, reject reasons.

    Reads the run records under projects/<tenant>/.meltano/runs/ and the tables' snapshot
    summaries and quarantine tables.
    """
    result = _run(ctx, fmt, lambda: api.report(find_root(root), list(tenants), since=since))
    data, text = report_output.report_summary(result)
    if html_file is not None:
        page = _run(ctx, fmt, lambda: report_output.report_html(result))
        html_file.write_text(page, encoding="utf-8")
        data["html"] = str(html_file)
        text += f"\nwrote {html_file}"
    output.emit(data, text, fmt)


@cli.command()
@click.argument("tenants", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(["expire", "orphans", "compact"]),
    help="Run only this step (repeatable). Default: compact, expire, orphans, in that order.",
)
@click.option(
    "--orphan-age",
    help="Remove unreferenced files older than this (0s, 90m, 36h, 3d, 2w), overriding the "
    "settings (default 3d).",
)
@_root
@_output
@click.pass_context
def maintain(
    ctx: click.Context,
    tenants: tuple[str, ...],
    dry_run: bool,
    only: tuple[str, ...],
    orphan_age: str | None,
    root: Path | None,
    fmt: str,
) -> None:
    """Table upkeep for the tenants' tables (default: every tenant).

    Compacts small files, expires old snapshots (never one a branch, a tag or the loader's
    state needs) and removes orphan files, as runner.yaml's maintenance: block says. Exit
    codes: 0 done (or nothing to do); 1 some table or catalog failed, the rest done; 2 invalid
    configuration or usage, nothing done.
    """
    result = _run(
        ctx,
        fmt,
        lambda: api.maintain(
            find_root(root),
            list(tenants),
            dry_run=dry_run,
            only=list(only) or None,
            orphan_age=orphan_age,
        ),
    )
    output.emit(*maintain_output.maintain_summary(result), fmt)
    ctx.exit(result.exit_code)


@cli.command()
@click.argument("tenant")
@click.argument("table", required=False)
@click.option("--limit", default=5, show_default=True, help="Rows to show per table.")
@_root
@_output
@click.pass_context
def show(
    ctx: click.Context, tenant: str, table: str | None, limit: int, root: Path | None, fmt: str
) -> None:
    """Show a tenant's tables as its jobs landed them: row count, snapshot, first rows."""
    tables = _run(ctx, fmt, lambda: api.show(find_root(root), tenant, table, limit))
    output.emit(*output.tables_summary(tables), fmt)


@cli.command()
@click.argument("tenant")
@click.argument("job", required=False)
@click.option("--publish", "publish", metavar="RUN", help="Publish run RUN's audit branch by hand.")
@click.option("--discard", "discard", metavar="RUN", help="Remove run RUN's audit branch.")
@_root
@_output
@click.pass_context
def audit(
    ctx: click.Context,
    tenant: str,
    job: str | None,
    publish: str | None,
    discard: str | None,
    root: Path | None,
    fmt: str,
) -> None:
    """Show the runs an audit kept off main (tables, checks); publish or discard one.

    --publish moves each table's main to the run's audited snapshot (whatever its checks say)
    and records the run's Singer state as the job's state; it refuses a run whose data a later
    run of the job already published. Exit codes: 0 done, or nothing kept; 1 runs are kept;
    2 bad usage, unknown job or run.
    """
    if publish and discard:
        raise click.UsageError("give --publish or --discard, not both")
    found = _run(
        ctx,
        fmt,
        lambda: api.audit(find_root(root), tenant, job, publish=publish, discard=discard),
    )
    action = "published" if publish else "discarded" if discard else None
    output.emit(*output.audit_summary(found, action), fmt)
    if action is None and found:
        ctx.exit(ExitCode.PARTIAL)


@cli.command()
@_root
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="DAGSTER_HOME",
    help="Dagster instance folder (default: $DAGSTER_HOME, else <root>/.dagster).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Webserver address.")
@click.option("--port", default=3000, show_default=True, help="Webserver port.")
@click.option("--install", is_flag=True, help="Run `meltano install` in each scheduled project.")
@click.pass_context
def orchestrate(
    ctx: click.Context, root: Path | None, home: Path | None, host: str, port: int, install: bool
) -> None:
    """Run the Dagster webserver and daemon on projects/_dagster/ until stopped."""
    base = _run(ctx, "text", lambda: find_root(root))
    where = (home or base / ".dagster").resolve()
    start = partial(api.orchestrate, base, where, host=host, port=port, install=install)
    _run(ctx, "text", lambda: start(say=click.echo))


@cli.command("run")
@click.argument("job_file", type=click.Path(dir_okay=False, path_type=Path))
@_root
@_output
@click.option("--no-install", is_flag=True, help="Fail instead of running `meltano install`.")
@click.option(
    "--record-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the run record goes (default: projects/<tenant>/.meltano/runs/<job>/).",
)
@click.pass_context
def run_(
    ctx: click.Context,
    job_file: Path,
    root: Path | None,
    fmt: str,
    no_install: bool,
    record_dir: Path | None,
) -> None:
    """Run one job now: render or check, install, `meltano run`, record.

    Exit codes: 0 everything landed; 1 partial (rows quarantined, or a plugin failed after the
    commit); 2 hard failure (bad config, drifted render, catalog unreachable, tap crashed:
    nothing committed). `--output json` prints the run record.
    """
    base = _run(ctx, fmt, lambda: find_root(root))
    result = _run(
        ctx, fmt, lambda: api.run(base, job_file, record_dir=record_dir, install=not no_install)
    )
    output.emit(*output.run_summary(result.record), fmt)
    ctx.exit(result.exit_code)


def _run(ctx: click.Context, fmt: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except IngestgenError as exc:
        if ctx.obj["debug"] or not isinstance(exc, UserError):
            traceback.print_exc()
        if fmt == "json":
            click.echo(json.dumps(output.error_payload(exc), indent=2, sort_keys=True))
        click.echo(f"error: {exc}", err=True)
        ctx.exit(exc.exit_code)


def main() -> None:
    """Console entry point."""
    cli()
