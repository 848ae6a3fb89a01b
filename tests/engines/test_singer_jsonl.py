"""singer engine end to end: the PyPI tap for the ``jsonl`` source (tap-jsonfile) into Iceberg.

Render → ``meltano install`` (the tap comes from PyPI) → ``meltano run`` → typed rows in Iceberg,
then incremental runs: the tap keeps a content hash per file in Meltano's state, so a run reads
only new or changed files, and a changed file whole.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOB = """\
tenant_id: initech
source:
  type: jsonl
  path: data/initech/events/*.jsonl
  primary_keys: [event_id]
target:
  type: iceberg
asset_definition: specs/jsonl/v1.0/events.yaml
"""
STATE_ID = "dev:tap-jsonfile--events-to-target-iceberg--events"


def write_events(path: Path, first: int, count: int, *, append: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w") as out:
        for n in range(first, first + count):
            event = {
                "event_id": f"ev-{n:04d}",
                "user_id": 7000 + n,
                "name": "page_view" if n % 2 else "signup",
                # Offsets differ on purpose: the table holds UTC.
                "occurred_at": f"2026-11-2{n % 3}T1{n % 10}:30:00+02:00",
                "properties": {"page": f"/p/{n}", "ref": "mail"},
            }
            out.write(json.dumps(event) + "\n")


def test_jsonl_lands_typed_rows_and_reads_only_new_or_changed_files(
    make_project: Callable[..., Any],
    sandbox: Path,
    summary: Callable[[str, str], dict[str, Any]],
) -> None:
    folder = sandbox / "data" / "initech" / "events"
    write_events(folder / "day1.jsonl", 0, 10)
    project = make_project("initech", {"events": JOB})

    first = project.run("events")
    assert summary(first, "events")["rows_landed"] == 10
    rows = {r["event_id"]: r for r in project.rows("events")}
    assert sorted(rows) == [f"ev-{n:04d}" for n in range(10)]
    one = rows["ev-0001"]
    assert one["user_id"] == 7001
    assert one["name"] == "page_view"
    # 2026-11-21 11:30 at +02:00 is 09:30 UTC.
    assert one["occurred_at"] == dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC)
    assert dict(one["properties"]) == {"page": "/p/1", "ref": "mail"}
    # The tap's own column (_sdc_source_file) is dropped by the registry's stream map: the
    # table has exactly the asset's columns.
    assert set(one) == {"event_id", "user_id", "name", "occurred_at", "properties"}

    # State is kept per job under the rendered state id; it holds day1's hash.
    assert project.state_ids() == [STATE_ID]
    hashes = project.state(STATE_ID)["bookmarks"]["events"]["file_hashes"]
    assert [Path(p).name for p in hashes] == ["day1.jsonl"]

    # A new file: only its rows land; day1 is unchanged and skipped.
    write_events(folder / "day2.jsonl", 100, 4)
    second = project.run("events")
    assert summary(second, "events")["rows_landed"] == 4
    counts = Counter(r["event_id"] for r in project.rows("events"))
    assert len(counts) == 14 and set(counts.values()) == {1}

    # Lines appended to day1: its content changed, so the tap reads it again whole (the file
    # is its unit of state): 10 old + 2 new rows; day2 is skipped. The asset's primary key
    # (event_id) is what a reader deduplicates on.
    write_events(folder / "day1.jsonl", 10, 2, append=True)
    third = project.run("events")
    assert summary(third, "events")["rows_landed"] == 12
    counts = Counter(r["event_id"] for r in project.rows("events"))
    assert sum(counts.values()) == 26
    assert {k for k, v in counts.items() if v == 2} == {f"ev-{n:04d}" for n in range(10)}
    assert counts["ev-0010"] == counts["ev-0011"] == counts["ev-0100"] == 1
