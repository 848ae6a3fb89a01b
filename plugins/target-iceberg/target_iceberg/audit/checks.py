"""Evaluate a spec's audit checks on a table's audited snapshot, with Arrow.

The run's rows are the rows of the data files the audited snapshot added (read from the audit
branch, not from what the loader kept in memory), so the loader and ``ingestgen audit`` judge
the same data. unique_key and freshness read the whole table at that snapshot (only the columns
they need). Never writes, never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile, ManifestEntryStatus
from pyiceberg.table import FileScanTask, Table

from target_iceberg.audit.model import AuditChecks, seconds
from target_iceberg.summary import CheckResult, Figure

_SAMPLES = 3


def added_files(table: Table, snapshot_id: int | None) -> list[DataFile]:
    """The data files snapshot ``snapshot_id`` added (what the run wrote)."""
    if snapshot_id is None:
        return []
    snapshot = table.metadata.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return []
    files = []
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snapshot_id:
                files.append(entry.data_file)
    return files


def run_rows(table: Table, snapshot_id: int | None, columns: Sequence[str]) -> pa.Table:
    """The ``columns`` of the rows the snapshot added."""
    schema = table.schema().select(*columns)
    tasks = [FileScanTask(f) for f in added_files(table, snapshot_id)]
    if not tasks:
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        return schema_to_pyarrow(schema).empty_table()
    return ArrowScan(table.metadata, table.io, schema, AlwaysTrue()).to_table(tasks)


def table_rows(table: Table, snapshot_id: int | None, columns: Sequence[str]) -> pa.Table:
    """The ``columns`` of every row of the table at the snapshot."""
    if snapshot_id is None:
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        return schema_to_pyarrow(table.schema().select(*columns)).empty_table()
    return table.scan(snapshot_id=snapshot_id, selected_fields=tuple(columns)).to_arrow()


def evaluate(
    table: Table,
    snapshot_id: int | None,
    checks: AuditChecks,
    key: Sequence[str],
    *,
    read: int,
    rejected: int,
    now: dt.datetime | None = None,
) -> list[CheckResult]:
    """Every declared check's result on ``table`` at ``snapshot_id``, in a fixed order.

    Args:
        table: the table, loaded after the audit snapshot was committed to its branch.
        snapshot_id: the audited snapshot (None: the run added nothing to this table).
        checks: the spec's checks.
        key: the primary key columns (for unique_key).
        read: records of the stream read by the run.
        rejected: records of the stream quarantined by the run.
        now: the audit time (freshness), UTC.
    """
    name = ".".join(table.name())
    results: list[CheckResult] = []

    def result(check: str, passed: bool, detail: str, figures: dict[str, Figure]) -> None:
        results.append(
            CheckResult(table=name, check=check, passed=passed, detail=detail, figures=figures)
        )

    row_columns = sorted({*checks.not_null, *checks.accepted_values, *checks.ranges})
    rows = (
        run_rows(table, snapshot_id, row_columns)
        if row_columns
        else pa.table({"_": pa.array([], pa.int8())})
    )
    count = sum(f.record_count for f in added_files(table, snapshot_id))
    if checks.row_count is not None:
        low, high = checks.row_count.min, checks.row_count.max
        ok = (low is None or count >= low) and (high is None or count <= high)
        allowed = f"{'' if low is None else low}..{'' if high is None else high}"
        result(
            "row_count",
            ok,
            f"{count} row(s) added, allowed {allowed}",
            {"rows": count, "allowed_min": low, "allowed_max": high},
        )
    for column, ratio in sorted(checks.not_null.items()):
        values = rows.column(column)
        total = len(values)
        share = 1.0 if total == 0 else (total - values.null_count) / total
        result(
            f"not_null.{column}",
            share >= ratio,
            f"{share:.4f} of {total} row(s) have a value, at least {ratio} required",
            {"rows": total, "nulls": values.null_count, "share": share, "required": ratio},
        )
    if checks.unique_key and key:
        result("unique_key", *_unique(table, snapshot_id, key))
    for column, values in sorted(checks.accepted_values.items()):
        result(f"accepted_values.{column}", *_accepted(rows.column(column), values))
    for column, limits in sorted(checks.ranges.items()):
        result(f"ranges.{column}", *_in_range(rows.column(column), limits.min, limits.max))
    if checks.freshness is not None:
        fresh = checks.freshness
        result(
            f"freshness.{fresh.column}",
            *_fresh(table, snapshot_id, fresh.column, seconds(fresh.max_age), fresh.max_age, now),
        )
    if checks.max_reject_ratio is not None:
        share = rejected / read if read else 0.0
        result(
            "max_reject_ratio",
            share <= checks.max_reject_ratio,
            f"{rejected} of {read} record(s) quarantined ({share:.4f}), at most "
            f"{checks.max_reject_ratio} allowed",
            {
                "read": read,
                "rejected": rejected,
                "ratio": share,
                "allowed_max": checks.max_reject_ratio,
            },
        )
    return results


def _unique(
    table: Table, snapshot_id: int | None, key: Sequence[str]
) -> tuple[bool, str, dict[str, Figure]]:
    keys = table_rows(table, snapshot_id, key)
    counts = keys.group_by(list(key)).aggregate([([], "count_all")])
    dupes = counts.filter(pc.greater(counts.column("count_all"), 1))
    figures: dict[str, Figure] = {
        "rows": keys.num_rows,
        "duplicate_keys": dupes.num_rows,
        "key": list(key),
    }
    if dupes.num_rows == 0:
        return True, f"{keys.num_rows} row(s), every ({', '.join(key)}) unique", figures
    sample = [
        {k: _plain(v) for k, v in row.items() if k != "count_all"}
        for row in dupes.slice(0, _SAMPLES).to_pylist()
    ]
    return (
        False,
        f"{dupes.num_rows} key value(s) of ({', '.join(key)}) occur more than once in the "
        f"table, e.g. {sample}",
        figures,
    )


def _accepted(
    values: pa.ChunkedArray, allowed: Sequence[Any]
) -> tuple[bool, str, dict[str, Figure]]:
    value_set = pa.array(list(allowed)).cast(values.type)
    outside = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=value_set)))
    bad = values.filter(outside)
    figures: dict[str, Figure] = {"rows": len(values), "outside": len(bad), "allowed": [*allowed]}
    if len(bad) == 0:
        return True, f"{len(values)} row(s), every value in {list(allowed)}", figures
    sample = pc.unique(bad).slice(0, _SAMPLES).to_pylist()
    return False, f"{len(bad)} row(s) outside {list(allowed)}, e.g. {sample}", figures


def _in_range(
    values: pa.ChunkedArray, low: float | None, high: float | None
) -> tuple[bool, str, dict[str, Figure]]:
    bounds = f"allowed {'' if low is None else low}..{'' if high is None else high}"
    figures: dict[str, Figure] = {"min": None, "max": None, "allowed_min": low, "allowed_max": high}
    if len(values) == values.null_count:
        return True, f"no values, {bounds}", figures
    found = pc.min_max(values).as_py()
    least, most = float(found["min"]), float(found["max"])
    ok = (low is None or least >= low) and (high is None or most <= high)
    figures |= {"min": least, "max": most}
    return ok, f"values {_plain(found['min'])}..{_plain(found['max'])}, {bounds}", figures


def _fresh(
    table: Table,
    snapshot_id: int | None,
    column: str,
    max_seconds: int,
    max_age: str,
    now: dt.datetime | None,
) -> tuple[bool, str, dict[str, Figure]]:
    values = table_rows(table, snapshot_id, [column]).column(column)
    newest = pc.max(values).as_py() if len(values) > values.null_count else None
    figures: dict[str, Figure] = {"newest": None, "age_s": None, "allowed_age_s": max_seconds}
    if newest is None:
        return False, f"no value in {column}, the newest must be at most {max_age} old", figures
    if isinstance(newest, dt.datetime):
        moment = newest if newest.tzinfo else newest.replace(tzinfo=dt.UTC)
    else:
        moment = dt.datetime(newest.year, newest.month, newest.day, tzinfo=dt.UTC)
    age = ((now or dt.datetime.now(dt.UTC)) - moment).total_seconds()
    figures |= {"newest": moment.isoformat(), "age_s": round(age, 3)}
    return (
        age <= max_seconds,
        f"newest {moment.isoformat()} is {age / 3600:.1f} h old, at most {max_age} allowed",
        figures,
    )


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
