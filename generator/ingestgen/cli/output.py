"""Presentation of command results: text for people, ``--output json`` for machines."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from ingestgen.errors import ConfigError, IngestgenError

if TYPE_CHECKING:
    from ingestgen.audit import Evidence
    from ingestgen.config.runner import RunnerConfig
    from ingestgen.lake import TablePreview
    from ingestgen.registry.resolve import ResolvedJob
    from ingestgen.render.write import RenderReport


def emit(data: dict[str, Any], text: str, fmt: str) -> None:
    """Print ``data`` as JSON or ``text`` as is."""
    click.echo(json.dumps(data, indent=2, sort_keys=True) if fmt == "json" else text)


def jobs_summary(
    jobs: list[ResolvedJob], runners: list[RunnerConfig] | None = None
) -> tuple[dict[str, Any], str]:
    """What `validate` prints."""
    rows = [
        {
            "file": j.job.display,
            "tenant": j.tenant,
            "job": j.name,
            "source": j.job.config.source.type,
            "source_engine": j.source_engine,
            "target_engine": j.target_engine,
            "extractor": j.extractor.name,
            "loader": j.loader.name,
            "streams": j.streams,
        }
        for j in jobs
    ]
    lines = [
        f"ok  {r['file']}: tenant {r['tenant']}, job {r['job']}, {r['source']} via "
        f"{r['source_engine']} -> iceberg via {r['target_engine']}, "
        f"streams {', '.join(r['streams'])}"
        for r in rows
    ]
    if rows or not runners:
        lines.append(f"{len(rows)} job file{'s' if len(rows) != 1 else ''} valid")
    found: list[dict[str, Any]] = []
    for r in runners or []:
        schedules = [
            {"name": s.name, "cron": s.cron, "tenant": s.tenant, "job": s.job} for s in r.schedules
        ]
        listed = ", ".join(f"{s['name']} ({s['tenant']}/{s['job']})" for s in schedules)
        count = f"{len(schedules)} schedule{'s' if len(schedules) != 1 else ''}"
        lines.append(
            f"ok  {r.display}: runner config, {r.mode}, {count}" + (f": {listed}" if listed else "")
        )
        found.append(
            {
                "file": r.display,
                "mode": r.mode,
                "concurrency_per_tenant": r.concurrency_per_tenant,
                "schedules": schedules,
            }
        )
    return {"status": "ok", "jobs": rows, "runners": found}, "\n".join(lines)


def render_summary(report: RenderReport, check: bool) -> tuple[dict[str, Any], str]:
    """What `render` prints."""
    data = {
        "status": "ok" if report.clean else "drift",
        "written": report.written,
        "unchanged": report.unchanged,
        "drifted": report.drifted,
        "stale": report.stale,
        "diff": report.diff,
    }
    lines = [f"wrote {p}" for p in report.written] + [f"unchanged {p}" for p in report.unchanged]
    if check and report.drifted:
        lines.append(report.diff.rstrip("\n"))
        lines += [
            f"drift {p}: differs from a fresh render; run `ingestgen render` and commit"
            for p in report.drifted
        ]
    lines += [
        f"stale {p}: no job or runner config renders it any more; delete it or restore its config"
        for p in report.stale
    ]
    return data, "\n".join(lines)


def tables_summary(tables: list[TablePreview]) -> tuple[dict[str, Any], str]:
    """What `show` prints."""
    data = {
        "tables": [
            {
                "table": t.name,
                "rows": t.rows,
                "snapshot_id": t.snapshot_id,
                "summary": t.summary,
                "head": t.head,
            }
            for t in tables
        ]
    }
    lines: list[str] = []
    for t in tables:
        lines.append(f"{t.name}: {t.rows} rows, snapshot {t.snapshot_id}")
        lines += [f"  {json.dumps(row, default=str, sort_keys=False)}" for row in t.head]
    return json.loads(json.dumps(data, default=str)), "\n".join(lines)


def audit_summary(found: list[Evidence], action: str | None) -> tuple[dict[str, Any], str]:
    """What `audit` prints: each kept run's tables and checks, or what was done to one."""
    data = {"action": action, "runs": [e.to_dict() for e in found]}
    if not found:
        return data, "no run is kept on an audit branch"
    lines: list[str] = []
    for e in found:
        head = f"{action} run {e.run_id}" if action else f"run {e.run_id}"
        where = f"branch {e.branch}" + (
            f" on Nessie branch {e.nessie_branch}" if e.nessie_branch else ""
        )
        lines.append(f"{head} of job {e.job} ({where})")
        for t in e.tables:
            moved = "" if t.main_snapshot_id == t.base_snapshot_id else ", main moved since"
            lines.append(
                f"  {t.name}: {t.rows_added} row(s) added, snapshot {t.snapshot_id}{moved}"
            )
        if e.nessie_branch and not e.tables:
            lines.append("  audited and published on its Nessie branch; the merge is what is left")
        for c in e.checks:
            lines.append(f"  {'pass' if c.passed else 'FAIL'} {c.table} {c.check}: {c.detail}")
        if e.superseded_by:
            lines.append(
                f"  superseded: run {e.superseded_by} of the job published since; discard this one"
            )
    if action is None:
        lines.append(
            "publish one with --publish RUN (main moves to it) or drop it with --discard RUN"
        )
    return data, "\n".join(lines)


def run_summary(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """What `run` prints: the run record as JSON, or a person's summary of it."""
    totals, usage = record["totals"], record["usage"]
    seconds = record["durations"]["total_s"]
    loader_s = record["durations"].get("loader_s") or seconds
    rate = totals["rows_landed"] / loader_s if loader_s else 0.0
    lines = [
        f"{record['status']} (exit {record['exit_code']}): {record['reason']}",
        f"run {record['run_id']} of {record['tenant']}/{record['job']} in {seconds:.1f} s: "
        f"{totals['rows_read']:,} rows read, {totals['rows_landed']:,} landed, "
        f"{totals['rows_rejected']:,} rejected ({rate:,.0f} rows/s in the loader)",
    ]
    for stream in record["streams"]:
        snapshot = stream["snapshot_id"] if stream["snapshot_id"] is not None else "none"
        line = (
            f"  {stream['name']}: {stream['status']}, table {stream['table'] or '-'}, "
            f"snapshot {snapshot}, {stream['files']} files, {stream['bytes']:,} bytes"
        )
        if stream["rejected_table"]:
            line += f"; rejects in {stream['rejected_table']}"
        lines.append(line)
    lines.append(
        f"usage: {usage['cpu_s']} CPU s, peak {usage['max_rss_mb']} MB, "
        f"{usage['bytes_written']:,} bytes in {usage['files_committed']} files committed"
    )
    if audit := record.get("audit"):
        checks = audit["checks"]
        state = "published" if audit["published"] else "not published, kept on its branch"
        lines.append(
            f"audit: {len(checks) - len(audit['failing'])} of {len(checks)} checks passed, "
            f"{state} ({audit['nessie_branch'] or audit['branch']})"
        )
        lines += [
            f"  FAIL {c['table']} {c['check']}: {c['detail']}" for c in checks if not c["passed"]
        ]
    if record.get("error"):
        lines.append(f"error: {record['error']}")
    for service, result in sorted((record.get("emitted") or {}).items()):
        lines.append(f"{service}: {result}")
    lines.append(f"record: {record['files']['record']}")
    return record, "\n".join(lines)


def error_payload(exc: IngestgenError) -> dict[str, Any]:
    """JSON form of an error."""
    if isinstance(exc, ConfigError):
        return {"status": "invalid", "problems": [p.as_dict() for p in exc.problems]}
    return {"status": "error", "message": str(exc)}
