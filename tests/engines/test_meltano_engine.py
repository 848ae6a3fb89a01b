"""meltano target engine end to end: ``ingestgen render`` -> ``meltano install`` -> ``meltano run``.

The jsonl source (the PyPI tap-jsonfile) through our contract mapper into the stock loader
target-s3tables (PyPI), in one ``meltano run tap mapper loader``, against Apache Iceberg's
reference REST catalog on the S3 server, with the tenant's own S3 keys only. Rows that keep the
contract land (the loader writes them into the table the mapper created from the spec), the
others are in ``<table>__rejected`` with their reasons, and Meltano keeps the STATE.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ingestgen_services.pytest_plugin import IcebergRestServer, TenantS3
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import NoSuchTableError

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TENANT = "initech"
JOB = """\
tenant_id: initech
source:
  type: jsonl
  path: data/initech/events/*.jsonl
  primary_keys: [event_id]
target:
  type: iceberg
  catalog: rest
  engine:
    type: meltano
asset_definition: specs/jsonl/v1.0/events.yaml
"""
BAD = [
    # Each breaks the contract differently; none may reach the table.
    {
        "event_id": "ev-bad-1",
        "user_id": "not a number",
        "name": "x",
        "occurred_at": "2026-11-20T10:30:00Z",
    },
    {"event_id": "ev-bad-2", "user_id": 1, "name": "x"},  # occurred_at is required
    {"event_id": "ev-bad-3", "user_id": 2, "name": "x", "occurred_at": "yesterday"},
]


def _write(path: Path, count: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    good = [
        {
            "event_id": f"ev-{n:04d}",
            "user_id": str(7000 + n) if n % 2 else 7000 + n,  # text the contract coerces
            "name": "signup",
            "occurred_at": "2026-11-20T10:30:00+02:00",
            "properties": {"page": f"/p/{n}"},
        }
        for n in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in good + BAD))


def test_meltano_engine_lands_rows_through_a_stock_loader_and_quarantines_rejects(
    make_project: Callable[..., Any],
    sandbox: Path,
    summary: Callable[[str, str], dict[str, Any]],
    iceberg_rest_server: IcebergRestServer,
    tenant_s3: Callable[[str], TenantS3],
) -> None:
    platform = load_catalog("platform", **iceberg_rest_server.catalog_properties())
    for table in ("events", "events__rejected"):
        with contextlib.suppress(NoSuchTableError):
            platform.drop_table((TENANT, table))
    keys = tenant_s3(TENANT)
    s3 = iceberg_rest_server.s3
    env = {
        "ICEBERG_REST_URI": iceberg_rest_server.uri,
        "S3_ENDPOINT": s3.endpoint,
        "AWS_REGION": s3.region,
        "AWS_DEFAULT_REGION": s3.region,
        **keys.env(),
        # No platform keys reach a tenant's run: the loader writes with the tenant's own.
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "MELTANO_RUN_ID": "3f6c1b7e-0000-4000-8000-00000000e2e1",
    }
    _write(sandbox / "data" / TENANT / "events" / "day1.jsonl", 12)
    project = make_project(TENANT, {"events": JOB}, env=env)
    log = project.run("events")

    # The mapper's run summary (target-iceberg's): what was read, passed on and quarantined.
    stream = summary(log, "events")
    assert (stream["rows_read"], stream["rows_landed"], stream["rows_rejected"]) == (15, 12, 3)

    table = platform.load_table((TENANT, "events"))
    assert table.location().startswith(f"s3://{s3.bucket}/{TENANT}/")
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["event_id"])
    assert [r["event_id"] for r in rows] == [f"ev-{n:04d}" for n in range(12)]
    assert rows[1]["user_id"] == 7001  # "7001" coerced by the contract, not nulled
    assert rows[0]["occurred_at"].isoformat() == "2026-11-20T08:30:00+00:00"
    assert dict(rows[3]["properties"]) == {"page": "/p/3"}
    # The table is the spec's (created by the mapper), written by the stock loader.
    schema = table.schema()
    assert [f.name for f in schema.fields] == [
        "event_id",
        "user_id",
        "name",
        "occurred_at",
        "properties",
    ]
    assert all(schema.find_field(n).required for n in ("event_id", "user_id", "occurred_at"))
    assert len(table.snapshots()) == 1  # 12 rows: one batch of the loader, one commit

    rejected = platform.load_table((TENANT, "events__rejected")).scan().to_arrow().to_pylist()
    by_id = {json.loads(r["raw"])["event_id"]: r for r in rejected}
    assert sorted(by_id) == ["ev-bad-1", "ev-bad-2", "ev-bad-3"]
    assert "user_id" in by_id["ev-bad-1"]["reason"]
    assert by_id["ev-bad-2"]["columns"] == ["occurred_at"]
    assert "occurred_at" in by_id["ev-bad-3"]["reason"]

    # Meltano kept the STATE the mapper passed on after committing the rejects.
    state_id = "dev:tap-jsonfile--events-to-target-s3tables--events"
    assert project.state_ids() == [state_id]
    assert project.state(state_id)
