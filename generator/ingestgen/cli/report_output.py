"""What ``ingestgen report`` shows: a summary (text or JSON) and a self-contained HTML page.

The page carries everything it needs: the figures as tables, and plots drawn by plotly.js, which
is embedded in the page itself (from the ``plotly`` package, the ``report`` extra), so it opens
with no network. Every value from a record or a quarantined row is escaped; figure data sits in
``application/json`` scripts with ``<`` escaped, so no text can end a script or add markup.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from ingestgen.errors import UserError

if TYPE_CHECKING:
    from ingestgen.report.figures import JobFigures, Report
    from ingestgen.report.records import Run

_MB = 1024 * 1024


def report_summary(report: Report) -> tuple[dict[str, Any], str]:
    """The report as JSON data and as text."""
    data = report_data(report)
    window = f"since {report.since.isoformat()}" if report.since else "all records"
    runs = report.runs
    lines = [f"Report: {_runs(len(runs))} ({window})"]
    for tenant in report.tenants:
        lines.append(
            f"{tenant.tenant}: {_runs(tenant.runs)}, {tenant.rows_landed:,} rows landed, "
            f"{tenant.rows_rejected:,} rejected, {tenant.cpu_s:,.1f} CPU s, "
            f"{tenant.bytes_written / _MB:,.2f} MB written"
        )
        for job in tenant.jobs:
            counts = job.counts
            last = job.last
            lines.append(
                f"  {job.job}: {_runs(len(job.runs))} ({counts['success']} success, "
                f"{counts['partial']} partial, {counts['failed']} failed), "
                f"{job.rows_landed:,} landed, {job.rows_rejected:,} rejected, median "
                f"{job.median_duration_s:,.1f} s; last {last.status} (exit {last.exit_code}) "
                f"at {last.started_at.isoformat(timespec='seconds')}"
            )
    if report.rejects:
        lines.append("Top reject reasons:")
        for reason in report.rejects[:10]:
            lines.append(f"  {reason.table}: {reason.count} x {reason.reason}")
            lines += [f"      {sample['raw'][:200]}" for sample in reason.samples[:1]]
    lines += [f"skipped {item}" for item in report.skipped]
    lines += [f"note: {item}" for item in report.notes]
    return data, "\n".join(lines)


def report_data(report: Report) -> dict[str, Any]:
    """The figures for machines: the same numbers as the page."""
    return {
        "generated_at": report.generated_at.isoformat(),
        "since": report.since.isoformat() if report.since else None,
        "tenants": [
            {
                "tenant": t.tenant,
                "runs": t.runs,
                "rows_landed": t.rows_landed,
                "rows_rejected": t.rows_rejected,
                "cpu_s": t.cpu_s,
                "bytes_written": t.bytes_written,
                "jobs": [_job(j, report) for j in t.jobs],
            }
            for t in report.tenants
        ],
        "rejects": [
            {
                "tenant": r.tenant,
                "table": r.table,
                "columns": list(r.columns),
                "reason": r.reason,
                "count": r.count,
                "samples": r.samples,
            }
            for r in report.rejects
        ],
        "skipped": list(report.skipped),
        "notes": list(report.notes),
    }


def _job(job: JobFigures, report: Report) -> dict[str, Any]:
    return {
        "job": job.job,
        "runs": len(job.runs),
        "counts": job.counts,
        "rows_landed": job.rows_landed,
        "rows_rejected": job.rows_rejected,
        "bytes_written": job.bytes_written,
        "cpu_s": job.cpu_s,
        "median_duration_s": job.median_duration_s,
        "last_status": job.last.status,
        "last_exit_code": job.last.exit_code,
        "history": [_run(r, report) for r in job.runs],
    }


def _run(run: Run, report: Report) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "started_at": run.started_at.isoformat(),
        "status": run.status,
        "exit_code": run.exit_code,
        "reason": run.reason,
        "rows_read": run.rows_read,
        "rows_landed": run.rows_landed,
        "rows_rejected": run.rows_rejected,
        "duration_s": run.duration_s,
        "files": run.files,
        "bytes_written": run.bytes_written,
        "cpu_s": run.cpu_s,
        "max_rss_mb": run.max_rss_mb,
        "record": run.record,
        "snapshots": [
            {
                "table": s.table,
                "snapshot_id": s.snapshot_id,
                "added_records": s.added_records,
                "added_bytes": s.added_bytes,
                "total_records": s.total_records,
            }
            for s in report.snapshots.get(run.run_id, [])
        ],
    }


def report_html(report: Report) -> str:
    """The self-contained page.

    Raises:
        UserError: plotly is not installed; the message gives the install command.
    """
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise UserError(
            "the HTML report needs plotly: pip install 'ingestgen[report]' (or plotly)"
        ) from None
    figures = _figures(report)
    window = f"since {report.since.isoformat()}" if report.since else "all records"
    body = [
        "<header><h1>ingestgen run report</h1>",
        f"<p>Generated {_e(report.generated_at.isoformat(timespec='seconds'))}; {_e(window)}; "
        f'<span data-field="runs">{len(report.runs)}</span> runs of '
        f'<span data-field="tenants">{len(report.tenants)}</span> tenants.</p></header>',
        '<section class="plots">',
        *(f'<div class="plot" id="{name}"></div>' for name in figures),
        "</section>",
        _costs(report),
        *(_tenant(t, report) for t in report.tenants),
        _rejects(report),
        _notes(report),
    ]
    data = "".join(
        f'<script type="application/json" data-figure="{name}">{_json(fig)}</script>'
        for name, fig in figures.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>ingestgen run report</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}{data}"
        f"<script>{get_plotlyjs()}</script><script>{_DRAW}</script></body></html>\n"
    )


def _figures(report: Report) -> dict[str, dict[str, Any]]:
    from plotly import graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    palette = qualitative.Plotly
    rows, duration = go.Figure(), go.Figure()
    jobs = [j for t in report.tenants for j in t.jobs]
    for index, job in enumerate(jobs):
        color = palette[index % len(palette)]
        name = f"{job.tenant}/{job.job}"
        when = [r.started_at.isoformat() for r in job.runs]
        ids = [r.run_id for r in job.runs]
        for label, values, dash in (
            ("landed", [r.rows_landed for r in job.runs], "solid"),
            ("rejected", [r.rows_rejected for r in job.runs], "dot"),
        ):
            rows.add_trace(
                go.Scatter(
                    x=when,
                    y=values,
                    customdata=ids,
                    name=f"{name} {label}",
                    mode="lines+markers",
                    line={"color": color, "dash": dash},
                )
            )
        duration.add_trace(
            go.Scatter(
                x=when,
                y=[r.duration_s for r in job.runs],
                customdata=ids,
                name=name,
                mode="lines+markers",
                line={"color": color},
            )
        )
    rows.update_layout(title="Rows landed and rejected per run", yaxis_title="rows")
    duration.update_layout(title="Run duration", yaxis_title="seconds")
    cost = make_subplots(rows=1, cols=2, subplot_titles=("CPU seconds", "MB written"))
    names = [t.tenant for t in report.tenants]
    cost.add_trace(go.Bar(x=names, y=[t.cpu_s for t in report.tenants], name="CPU s"), 1, 1)
    cost.add_trace(
        go.Bar(
            x=names,
            y=[round(t.bytes_written / _MB, 3) for t in report.tenants],
            name="MB written",
        ),
        1,
        2,
    )
    cost.update_layout(title="Cost per tenant", showlegend=False)
    return {
        name: json.loads(fig.to_json())
        for name, fig in (("rows-plot", rows), ("duration-plot", duration), ("cost-plot", cost))
    }


def _costs(report: Report) -> str:
    head = _row("th", ["tenant", "runs", "rows landed", "rows rejected", "CPU s", "bytes written"])
    rows = [
        f'<tr data-tenant="{_e(t.tenant)}">'
        + _cells(
            ("tenant", t.tenant),
            ("runs", f"{t.runs:,}"),
            ("rows_landed", f"{t.rows_landed:,}"),
            ("rows_rejected", f"{t.rows_rejected:,}"),
            ("cpu_s", f"{t.cpu_s:,.3f}"),
            ("bytes_written", f"{t.bytes_written:,}"),
        )
        + "</tr>"
        for t in report.tenants
    ]
    table = f'<table class="costs">{head}{"".join(rows)}</table>'
    return f"<section><h2>Cost per tenant</h2>{table}</section>"


def _tenant(tenant: Any, report: Report) -> str:
    parts = [f'<section class="tenant" data-tenant="{_e(tenant.tenant)}">']
    parts.append(f"<h2>{_e(tenant.tenant)}</h2>")
    for job in tenant.jobs:
        counts = job.counts
        parts.append(
            f'<h3>{_e(job.job)}</h3><p class="job-summary" data-job="{_e(job.job)}">'
            f"{_runs(len(job.runs))}: {counts['success']} success, {counts['partial']} partial, "
            f"{counts['failed']} failed; median duration {job.median_duration_s:,.1f} s</p>"
        )
        head = _row(
            "th",
            [
                "started (UTC)",
                "run id",
                "status",
                "exit",
                "rows landed",
                "rows rejected",
                "duration s",
                "bytes written",
                "CPU s",
                "table rows after",
            ],
        )
        rows = []
        for run in reversed(job.runs):
            after = ", ".join(
                f"{s.table}: {s.total_records:,}"
                for s in report.snapshots.get(run.run_id, [])
                if s.total_records is not None
            )
            rows.append(
                f'<tr class="run {_e(run.status)}" data-run-id="{_e(run.run_id)}" '
                f'title="{_e(run.reason)}">'
                + _cells(
                    ("started_at", run.started_at.isoformat(timespec="seconds")),
                    ("run_id", run.run_id),
                    ("status", run.status),
                    ("exit_code", str(run.exit_code)),
                    ("rows_landed", f"{run.rows_landed:,}"),
                    ("rows_rejected", f"{run.rows_rejected:,}"),
                    ("duration_s", f"{run.duration_s:,.3f}"),
                    ("bytes_written", f"{run.bytes_written:,}"),
                    ("cpu_s", f"{run.cpu_s:,.3f}"),
                    ("table_rows", after or "-"),
                )
                + "</tr>"
            )
        parts.append(
            f'<table class="runs" data-tenant="{_e(tenant.tenant)}" data-job="{_e(job.job)}">'
            f"{head}{''.join(rows)}</table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _rejects(report: Report) -> str:
    if not report.rejects:
        return "<section><h2>Reject reasons</h2><p>No rejected rows in these runs.</p></section>"
    items = []
    for reason in report.rejects:
        samples = "".join(f"<pre>{_e(s['raw'])}</pre>" for s in reason.samples)
        items.append(
            f'<tr class="reject" data-table="{_e(reason.table)}">'
            + _cells(
                ("table", reason.table),
                ("columns", ", ".join(reason.columns)),
                ("reason", reason.reason),
                ("count", f"{reason.count:,}"),
            )
            + f'<td data-field="samples">{samples}</td></tr>'
        )
    head = _row("th", ["quarantine table", "columns", "reason", "rows", "sample rows"])
    return (
        '<section><h2>Top reject reasons</h2><table class="rejects">'
        f"{head}{''.join(items)}</table></section>"
    )


def _notes(report: Report) -> str:
    lines = [f"<li>skipped {_e(s)}</li>" for s in report.skipped]
    lines += [f"<li>{_e(n)}</li>" for n in report.notes]
    return f"<section><h2>Notes</h2><ul>{''.join(lines)}</ul></section>" if lines else ""


def _runs(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"


def _row(tag: str, cells: list[str]) -> str:
    return "<tr>" + "".join(f"<{tag}>{_e(c)}</{tag}>" for c in cells) + "</tr>"


def _cells(*cells: tuple[str, str]) -> str:
    return "".join(f'<td data-field="{name}">{_e(value)}</td>' for name, value in cells)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


_DRAW = """
for (const el of document.querySelectorAll('script[data-figure]')) {
  const figure = JSON.parse(el.textContent);
  Plotly.newPlot(el.dataset.figure, figure.data, figure.layout,
                 {displaylogo: false, responsive: true});
}
"""
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{margin:0 0 .3rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;vertical-align:top}
td:first-child,th:first-child{text-align:left}
tr.failed td{background:#fde8e8}tr.partial td{background:#fff6dd}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.plot{min-height:380px}
pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;max-width:40rem;text-align:left;font-size:.8rem}
.rejects td,.rejects th{text-align:left}.rejects td[data-field=count]{text-align:right}
"""
