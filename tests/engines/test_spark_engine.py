"""spark target engine end to end: ``ingestgen render`` -> ``meltano install`` -> ``meltano run``.

The jsonl source (the PyPI tap-jsonfile) into target-iceberg's spark engine with write_mode merge:
Meltano installs the loader with its spark extra, a local Spark session writes the table, and a
second run that re-reads a changed file upserts by the asset's primary key: one row per event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.spark]

JOB = """\
tenant_id: initech
source:
  type: jsonl
  path: data/initech/events/*.jsonl
  primary_keys: [event_id]
target:
  type: iceberg
  engine:
    type: spark
    options:
      spark:
        write_mode: merge
        driver_memory: 768m
asset_definition: specs/jsonl/v1.0/events.yaml
"""


def _write(path: Path, ids: range, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        {
            "event_id": f"ev-{n:04d}",
            "user_id": 7000 + n,
            "name": name,
            "occurred_at": "2026-11-20T10:30:00+02:00",
            "properties": {"page": f"/p/{n}"},
        }
        for n in ids
    ]
    lines.append(
        {
            "event_id": "ev-bad",
            "user_id": "not a number",
            "name": name,
            "occurred_at": "2026-11-20T10:30:00Z",
        }
    )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_spark_engine_merges_by_primary_key_through_meltano(
    make_project: Callable[..., Any],
    sandbox: Path,
    summary: Callable[[str, str], dict[str, Any]],
) -> None:
    events = sandbox / "data" / "initech" / "events" / "day1.jsonl"
    _write(events, range(10), "signup")
    project = make_project("initech", {"events": JOB})

    first = summary(project.run("events"), "events")
    assert (first["rows_landed"], first["rows_rejected"]) == (10, 1)
    _write(events, range(5, 15), "page_view")  # changed: read again whole
    second = summary(project.run("events"), "events")
    assert second["merge"]["inserted"] == 5 and second["merge"]["updated"] == 5

    rows = {r["event_id"]: r for r in project.rows("events")}
    assert len(rows) == 15
    assert {rows[f"ev-{n:04d}"]["name"] for n in range(5)} == {"signup"}
    assert {rows[f"ev-{n:04d}"]["name"] for n in range(5, 15)} == {"page_view"}
    table = project.table("events")
    engines = {s.summary.get("engine-name") for s in table.snapshots() if s.summary}
    assert engines == {"spark"} and len(table.snapshots()) == 2
    assert len(project.rows("events__rejected")) == 2
