"""Expire a table's old snapshots, never one that a ref or the loader's state depends on.

Kept: every snapshot a branch or tag points to (an audit branch too), the newest
``keep_snapshots`` of each branch's history, every snapshot younger than ``keep_days``, and on
each branch the newest snapshot carrying the loader's Singer state. Expiring only drops the
snapshots from the table's metadata; their files become orphans, which `orphans` removes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Snapshot

from ingestgen.maintain.policy import Policy
from target_iceberg.commit import STATE


@dataclass(frozen=True)
class ExpirePlan:
    """Which snapshots go and which stay."""

    expire: tuple[int, ...]
    keep: tuple[int, ...]
    protected: tuple[int, ...]
    """Kept because a branch or tag points to them, or they hold the loader's state."""


def plan_expiry(table: Table, policy: Policy, now: dt.datetime) -> ExpirePlan:
    """The snapshots of ``table`` that ``policy`` expires at ``now``."""
    metadata = table.metadata
    by_id = {s.snapshot_id: s for s in metadata.snapshots}
    protected = {ref.snapshot_id for ref in metadata.refs.values()}
    keep = set(protected)
    for ref in metadata.refs.values():
        if ref.snapshot_ref_type != SnapshotRefType.BRANCH:
            continue
        history = _ancestors(by_id, ref.snapshot_id)
        keep.update(s for s in history[: policy.keep_snapshots])
        state = next((s for s in history if STATE in _summary(by_id[s])), None)
        if state is not None:
            protected.add(state)
            keep.add(state)
    cutoff_ms = int((now - dt.timedelta(days=policy.keep_days)).timestamp() * 1000)
    keep.update(s.snapshot_id for s in metadata.snapshots if s.timestamp_ms >= cutoff_ms)
    expire = sorted(set(by_id) - keep)
    return ExpirePlan(tuple(expire), tuple(sorted(keep)), tuple(sorted(protected)))


def expire(table: Table, plan: ExpirePlan) -> None:
    """Commit the plan: one metadata change removing ``plan.expire``.

    pyiceberg refuses again any snapshot a ref points to at commit time.
    """
    if plan.expire:
        table.maintenance.expire_snapshots().by_ids(list(plan.expire)).commit()


def _ancestors(by_id: dict[int, Snapshot], head: int) -> list[int]:
    out: list[int] = []
    current: int | None = head
    while current is not None and current in by_id and current not in out:
        out.append(current)
        current = by_id[current].parent_snapshot_id
    return out


def _summary(snapshot: Snapshot) -> dict[str, str]:
    summary = snapshot.summary
    return dict(summary.additional_properties) if summary is not None else {}
