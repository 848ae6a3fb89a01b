"""meltano target engine end to end: ``ingestgen render`` -> ``meltano install`` -> ``meltano run``.

The jsonl source (the PyPI tap-jsonfile) through our contract mapper into the stock loader
target-s3tables (PyPI), in one ``meltano run tap mapper loader``, against Apache Iceberg's
reference REST catalog on the S3 server, with the tenant's own S3 keys only. Rows that keep the
contract land (the loader writes them into the table the mapper created from the spec), the
others are in ``<table>__rejected`` with their reasons, and Meltano keeps the STATE. A run the
mapper fails (a reject threshold) commits nothing anywhere and keeps no STATE; ``ingestgen run``
drives such a job and records it as it does a native one.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ingestgen_services.pytest_plugin import IcebergRestServer, TenantS3
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NoSuchTableError

from ingestgen.meltano.tool import environment
from tests.engines.conftest import BIN

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


def _fresh_catalog(rest: IcebergRestServer) -> Catalog:
    """The REST catalog (platform keys, for checking), without the tenant's tables of a test."""
    platform = load_catalog("platform", **rest.catalog_properties())
    for table in ("events", "events__rejected"):
        with contextlib.suppress(NoSuchTableError):
            platform.drop_table((TENANT, table))
    return platform


def _run_env(rest: IcebergRestServer, keys: TenantS3) -> dict[str, str]:
    """What a runner gives a tenant's run: the services' addresses and the tenant's own keys."""
    s3 = rest.s3
    return {
        "ICEBERG_REST_URI": rest.uri,
        "S3_ENDPOINT": s3.endpoint,
        "AWS_REGION": s3.region,
        "AWS_DEFAULT_REGION": s3.region,
        **keys.env(),
        # No platform keys reach a tenant's run: the loader writes with the tenant's own.
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }


def test_meltano_engine_lands_rows_through_a_stock_loader_and_quarantines_rejects(
    make_project: Callable[..., Any],
    sandbox: Path,
    summary: Callable[[str, str], dict[str, Any]],
    iceberg_rest_server: IcebergRestServer,
    tenant_s3: Callable[[str], TenantS3],
) -> None:
    platform = _fresh_catalog(iceberg_rest_server)
    s3 = iceberg_rest_server.s3
    env = {
        **_run_env(iceberg_rest_server, tenant_s3(TENANT)),
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


def test_a_failing_mapper_stops_the_run_and_the_loader_commits_nothing(
    make_project: Callable[..., Any],
    sandbox: Path,
    iceberg_rest_server: IcebergRestServer,
    tenant_s3: Callable[[str], TenantS3],
) -> None:
    platform = _fresh_catalog(iceberg_rest_server)
    job = JOB.replace(
        "    type: meltano\n",
        "    type: meltano\n    options:\n      meltano:\n        max_rejected_rows: 1\n",
    )
    # 12 good records first: they were read and coerced before the third reject failed the run.
    _write(sandbox / "data" / TENANT / "events" / "day1.jsonl", 12)
    project = make_project(
        TENANT, {"events": job}, env=_run_env(iceberg_rest_server, tenant_s3(TENANT))
    )
    done = project.meltano("run", "events")

    assert done.returncode != 0
    assert "more than max_rejected_rows=1 record(s) broke the contract" in done.stderr
    assert "Mappers failed" in done.stderr
    # The mapper created the table from the spec before reading; the loader committed nothing.
    table = platform.load_table((TENANT, "events"))
    assert table.current_snapshot() is None and table.scan().to_arrow().num_rows == 0
    assert not platform.table_exists((TENANT, "events__rejected"))
    assert project.state_ids() == []  # the old bookmark (none) stays


def test_ingestgen_run_drives_a_meltano_engine_job_and_records_it(
    make_project: Callable[..., Any],
    sandbox: Path,
    iceberg_rest_server: IcebergRestServer,
    tenant_s3: Callable[[str], TenantS3],
) -> None:
    platform = _fresh_catalog(iceberg_rest_server)
    _write(sandbox / "data" / TENANT / "events" / "day1.jsonl", 12)
    env = _run_env(iceberg_rest_server, tenant_s3(TENANT))
    make_project(TENANT, {"events": JOB}, env=env)
    done = subprocess.run(
        [str(BIN / "ingestgen"), "run", f"configs/{TENANT}/events.yaml", "--output", "json"],
        cwd=sandbox,
        env=environment(dict(os.environ), **env),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )

    # As for native: the rejects make the run partial, exit 1, with the counts of the mapper.
    assert done.returncode == 1, done.stderr[-3000:]
    record = json.loads(done.stdout)
    assert record["status"] == "partial" and record["exit_code"] == 1
    totals = record["totals"]
    assert (totals["rows_read"], totals["rows_landed"], totals["rows_rejected"]) == (15, 12, 3)
    stream = record["streams"][0]
    assert stream["status"] == "partial" and stream["rejected_table"] == "initech.events__rejected"
    assert "3 rows did not meet the asset contract" in record["reason"]
    assert (sandbox / record["files"]["record"]).is_file()
    assert len(platform.load_table((TENANT, "events")).scan().to_arrow()) == 12
    assert len(platform.load_table((TENANT, "events__rejected")).scan().to_arrow()) == 3
