"""The few lines ``ingestgen run`` prints when a run ends (``--output json`` prints the record)."""

from __future__ import annotations

from typing import Any


def text_report(record: dict[str, Any]) -> str:
    """A person's summary of a run record."""
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
    if record.get("error"):
        lines.append(f"error: {record['error']}")
    for service, result in sorted((record.get("emitted") or {}).items()):
        lines.append(f"{service}: {result}")
    lines.append(f"record: {record['files']['record']}")
    return "\n".join(lines)
