"""What ``ingestgen plan`` prints: Terraform-style text for reviewers, or JSON for CI."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestgen.plan.build import Plan

_STATUS = {0: "no_changes", 1: "changes", 2: "refused"}


def plan_summary(plan: Plan, *, diff: bool) -> tuple[dict[str, Any], str]:
    """The plan as JSON data and as text; the unified diff only with ``diff``."""
    data: dict[str, Any] = {
        "status": _STATUS[int(plan.exit_code)],
        "exit_code": int(plan.exit_code),
        "base": plan.base,
        "commit": plan.commit,
        "files": [asdict(f) for f in plan.files],
        "tables": [{**asdict(t), "verdict": t.verdict} for t in plan.tables],
        "state": [asdict(s) for s in plan.state],
        "unrendered": plan.unrendered,
    }
    if diff:
        data["diff"] = plan.diff
    lines = [f"Plan: the working tree against {plan.base} ({plan.commit[:12]})", ""]
    if plan.files:
        lines.append("Projects:")
        for change in plan.files:
            lines.append(f"  {_MARK[change.action]} {change.path}")
            lines += [f"      {detail}" for detail in change.details]
        lines.append("")
    if plan.tables:
        lines.append("Tables:")
        for table in plan.tables:
            lines += _table(table)
        lines.append("")
    if plan.state:
        lines.append("State:")
        lines += [f"  ! {s.tenant}/{s.job}: {s.text}" for s in plan.state]
        lines.append("")
    if diff and plan.diff:
        lines += [plan.diff.rstrip("\n"), ""]
    if plan.unrendered:
        lines.append(
            "Not rendered in the working tree yet (run `ingestgen render` and commit): "
            + ", ".join(plan.unrendered)
        )
    lines.append(_verdict(plan))
    return data, "\n".join(lines)


_MARK = {"create": "+", "update": "~", "delete": "-"}


def _table(table: Any) -> list[str]:
    spec = table.spec or "no spec"
    if table.spec_before and table.spec_before != table.spec:
        spec += f", was {table.spec_before}"
    mark = "+" if table.baseline == "none" else "~"
    lines = [
        f"  {mark} {table.table} in {table.catalog} (job{'s' if len(table.jobs) > 1 else ''} "
        f"{', '.join(table.jobs)}; spec {spec})",
        f"      compared with: {table.source}",
    ]
    lines += [f"      {item.verdict:<8} {item.text}" for item in table.items]
    if not table.items:
        lines.append("      no schema change (descriptions or version only)")
    return lines


def _verdict(plan: Plan) -> str:
    if not plan.changed:
        return (
            "No changes. The working tree renders exactly as the base, and no spec changes a table."
        )
    counts: dict[str, int] = {}
    for table in plan.tables:
        for item in table.items:
            counts[item.verdict] = counts.get(item.verdict, 0) + 1
    parts = [f"{len(plan.files)} rendered file{'s' if len(plan.files) != 1 else ''} to change"]
    if plan.tables:
        shown = ", ".join(f"{counts[v]} {v}" for v in ("allowed", "kept", "refused") if v in counts)
        parts.append(f"{len(plan.tables)} table{'s' if len(plan.tables) != 1 else ''} ({shown})")
    if plan.state:
        parts.append(f"{len(plan.state)} state finding{'s' if len(plan.state) != 1 else ''}")
    summary = "Plan: " + "; ".join(parts) + "."
    if plan.refused:
        jobs = sorted(
            {f"{t.tenant}/{j}" for t in plan.tables if t.verdict == "refused" for j in t.jobs}
        )
        summary += f" Refused: the next run of {', '.join(jobs)} would fail before writing."
    return summary
