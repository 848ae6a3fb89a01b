"""Judge a run: 0 everything landed, 1 partial, 2 hard failure (the seed's exit codes).

The judgement reads the loader's run summary and Meltano's exit code, never log text:
Meltano exits 1 for any plugin failure and only its log says which side failed, while the
summary says what was committed. This module never runs anything.
"""

from __future__ import annotations

from typing import Any

from ingestgen.record.model import Outcome

COMMITTED = ("success", "partial", "already_committed")


def judge(summary: dict[str, Any] | None, meltano_exit_code: int) -> Outcome:
    """The outcome of a run from the loader's summary (or its absence) and Meltano's exit code."""
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
    status = summary.get("status")
    streams = summary.get("streams") or {}
    rejected = sum(int(s.get("rows_rejected") or 0) for s in streams.values())
    if status not in COMMITTED:
        error = summary.get("error") or "no reason given"
        return Outcome("failed", 2, f"the loader committed nothing: {error}")
    if meltano_exit_code != 0:
        landed = sum(int(s.get("rows_landed") or 0) for s in streams.values())
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
        tables = sorted({s["rejected_table"] for s in streams.values() if s.get("rejected_table")})
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
