"""Judge a run: 0 everything landed, 1 partial, 2 hard failure (the seed's exit codes).

The judgement reads the loader's run summary, validated against the loader's published model
(`target_iceberg.summary.RunSummary`, which also owns the list of committed statuses), and
Meltano's exit code, never log text:
Meltano exits 1 for any plugin failure and only its log says which side failed, while the
summary says what was committed. This module never runs anything.
"""

from __future__ import annotations

from ingestgen.record.model import InvalidSummary, Outcome
from target_iceberg.summary import RunSummary


def judge(summary: RunSummary | InvalidSummary | None, meltano_exit_code: int) -> Outcome:
    """The outcome of a run from the loader's summary (or its absence) and Meltano's exit code."""
    if isinstance(summary, InvalidSummary):
        return Outcome("failed", 2, f"{summary.problem}; nothing can be confirmed as committed")
    if summary is None:
        if meltano_exit_code == 0:
            return Outcome(
                "failed",
                2,
                "meltano run succeeded but the loader wrote no run "
                "summary, so nothing can be confirmed as committed; check that the "
                "job's loader is target-iceberg and supports run_summary_path",
            )
        return Outcome(
            "failed",
            2,
            f"meltano run exited {meltano_exit_code} before the loader "
            "committed anything (the tap or the loader failed; see the log above)",
        )
    streams = summary.streams.values()
    rejected = sum(s.rows_rejected for s in streams)
    audit = summary.audit
    if not summary.committed and audit is not None and audit.failing:
        # main is untouched and the run's data kept on the audit branch: the job's on_fail.
        failing = ", ".join(f"{c.table} {c.check}" for c in audit.failing)
        tenant = summary.tenant or summary.namespace
        return Outcome(
            "failed",
            audit.on_fail,
            f"the audit failed ({failing}); main is unchanged and the run is kept on branch "
            f"{audit.branch}: see `ingestgen audit {tenant}`",
        )
    if not summary.committed:
        error = summary.error or "no reason given"
        kind = f" ({summary.error_kind})" if summary.error_kind else ""
        return Outcome("failed", 2, f"the loader committed nothing{kind}: {error}")
    status = summary.status
    if meltano_exit_code != 0:
        landed = sum(s.rows_landed for s in streams)
        if landed or status == "already_committed":
            return Outcome(
                "partial",
                1,
                f"the loader committed {landed} rows but meltano run "
                f"exited {meltano_exit_code}: a plugin failed after the commit "
                "(see the log above)",
            )
        return Outcome(
            "failed",
            2,
            f"meltano run exited {meltano_exit_code} and nothing was landed (see the log above)",
        )
    if status == "partial" or rejected:
        tables = sorted({s.rejected_table for s in streams if s.rejected_table})
        where = f" into {', '.join(tables)}" if tables else ""
        return Outcome(
            "partial",
            1,
            f"{rejected} rows did not meet the asset contract and were "
            f"quarantined{where}; the rest landed",
        )
    if status == "already_committed":
        return Outcome("success", 0, "this run id was already committed; nothing new to land")
    return Outcome("success", 0, "everything landed")
