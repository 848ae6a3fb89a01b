"""What ``ingestgen maintain`` prints: per table, the compaction, the snapshots, the orphans."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestgen.maintain.tenants import MaintainResult, TableOutcome


def maintain_summary(result: MaintainResult) -> tuple[dict[str, Any], str]:
    """JSON data and text for ``maintain``."""
    verb = "would " if result.dry_run else ""
    lines = [
        f"maintain ({'dry run: nothing changed; ' if result.dry_run else ''}steps "
        f"{', '.join(result.steps)})"
    ]
    for tenant in result.tenants:
        lines.append(f"{tenant.tenant}:")
        if not tenant.tables and not tenant.errors:
            lines.append("  no tables yet")
        lines += [f"  error: {e}" for e in tenant.errors]
        for table in tenant.tables:
            lines += _table(table, verb)
    return result.as_dict(), "\n".join(lines)


def _table(table: TableOutcome, verb: str) -> list[str]:
    lines = [f"  {table.table} ({table.catalog})"]
    if table.error:
        return [*lines, f"    error: {table.error}"]
    compaction = table.compaction
    if compaction is not None:
        if compaction.get("compacted"):
            lines.append(
                f"    compacted {compaction['files']} files into {compaction['files_after']} "
                f"({compaction['rows']} rows, checksum {compaction['checksum']} unchanged)"
            )
        elif compaction.get("would_compact"):
            lines.append(f"    would compact: {compaction['reason']}")
        else:
            lines.append(f"    not compacted: {compaction['reason']}")
    lines.append(
        f"    {verb}expire {len(table.expired)} snapshot(s), keep {table.kept} "
        f"({len(table.protected)} protected by refs or state)"
    )
    size = sum(o["bytes"] for o in table.orphans)
    lines.append(f"    {verb}remove {len(table.orphans)} orphan file(s), {size} bytes")
    lines += [f"      {o['location']}" for o in table.orphans[:20]]
    lines += [f"    note: {n}" for n in table.notes]
    if len(table.orphans) > 20:
        lines.append(f"      ... and {len(table.orphans) - 20} more (see --output json)")
    return lines
