"""``ingestgen maintain`` on the lake: the reference Iceberg REST catalog on the S3 server.

Tenant ``upkeep``'s job renders with ``catalog: rest``; maintain opens the catalog with the
rendered properties and the tenant's own S3 keys (an IAM user allowed ``lake/upkeep/*`` only),
compacts, expires and removes an orphan object, and leaves every other key of the bucket alone.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pyarrow as pa
import pytest
import yaml
from botocore.exceptions import ClientError
from click.testing import CliRunner
from pyiceberg.catalog import load_catalog

from ingestgen import api
from ingestgen.cli.console import cli
from ingestgen.maintain.compact import MAINTENANCE, fingerprint

from .conftest import JOB, write_runner

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import IcebergRestServer, TenantS3

pytestmark = [pytest.mark.upkeep, pytest.mark.slow]

TENANT = "upkeep"


def _keys(s3: object, bucket: str, prefix: str = "") -> dict[str, str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return {o["Key"]: o["ETag"] for p in pages for o in p.get("Contents", [])}


def test_maintain_on_the_rest_catalog_and_s3(
    sandbox: Path,
    repo_root: Path,
    iceberg_rest_server: IcebergRestServer,
    tenant_s3: Callable[[str], TenantS3],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = tenant_s3(TENANT)
    s3 = iceberg_rest_server.s3
    env = {
        "ICEBERG_REST_URI": iceberg_rest_server.uri,
        "S3_ENDPOINT": s3.endpoint,
        "AWS_REGION": s3.region,
        **keys.env(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    folder = sandbox / "configs" / TENANT
    shutil.copytree(repo_root / "configs" / "acme" / "data", folder / "data")
    job = JOB.format(tenant=TENANT).replace("catalog: embedded", "catalog: rest")
    (folder / "deals_daily.yaml").write_text(job)
    write_runner(sandbox, "    defaults: {keep_days: 0, keep_snapshots: 1}\n")
    api.render(sandbox)

    catalog = load_catalog(
        "check",
        **{"type": "rest", "uri": iceberg_rest_server.uri, "warehouse": TENANT},
        **keys.pyiceberg_properties(),
    )
    catalog.create_namespace_if_not_exists(TENANT)
    ident = (TENANT, "events")
    if catalog.table_exists(ident):
        catalog.purge_table(ident)
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])
    table = catalog.create_table(ident, schema=schema)
    for n in range(4):
        table.append(pa.table({"id": [n, n + 10], "name": [f"a{n}", None]}, schema=schema))
    assert table.location().startswith(f"s3://lake/{TENANT}/")
    rows, checksum = fingerprint(table.scan().to_arrow())
    old_lists = [s.manifest_list for s in table.snapshots()]

    client = boto3.client("s3", **s3.boto3_kwargs())
    prefix = table.location().removeprefix(f"s3://{s3.bucket}/") + "/"
    orphan = f"{prefix}data/killed-run.parquet"
    client.put_object(Bucket=s3.bucket, Key=orphan, Body=b"left by a killed run")
    others = {k: v for k, v in _keys(client, s3.bucket).items() if not k.startswith(prefix)}

    dry = CliRunner().invoke(
        cli,
        [
            "maintain",
            TENANT,
            "--root",
            str(sandbox),
            "--dry-run",
            "--orphan-age",
            "0s",
            "--output",
            "json",
        ],
        catch_exceptions=False,
    )
    assert dry.exit_code == 0, dry.output
    (planned,) = json.loads(dry.stdout)["tenants"][0]["tables"]
    assert f"s3://{s3.bucket}/{orphan}" in [o["location"] for o in planned["orphan_files"]]
    client.head_object(Bucket=s3.bucket, Key=orphan)  # still there

    result = api.maintain(sandbox, [TENANT], orphan_age="0s")
    assert result.exit_code == 0, result.as_dict()
    (item,) = result.tenants[0].tables
    assert item.compaction is not None
    assert item.compaction["compacted"] is True
    table = catalog.load_table(ident)
    head = table.current_snapshot()
    assert head is not None
    assert head.summary is not None
    assert head.summary[MAINTENANCE] == "compact"
    assert [s.snapshot_id for s in table.snapshots()] == [head.snapshot_id]
    assert fingerprint(table.scan().to_arrow()) == (rows, checksum)
    assert len(list(table.scan().plan_files())) == 1
    with pytest.raises(ClientError):
        client.head_object(Bucket=s3.bucket, Key=orphan)
    left = _keys(client, s3.bucket, prefix)
    # One data file left: the compacted one (the small ones belonged to expired snapshots only).
    # (A key ending in "/" is a folder marker, not a file.)
    assert [k for k in left if k.startswith(f"{prefix}data/") and not k.endswith("/")] == [
        next(iter(table.scan().plan_files())).file.file_path.removeprefix(f"s3://{s3.bucket}/")
    ]
    for listed in old_lists:
        assert listed.removeprefix(f"s3://{s3.bucket}/") not in left
    assert {k: v for k, v in _keys(client, s3.bucket).items() if not k.startswith(prefix)} == (
        others
    )

    # The same catalog as a Nessie catalog would render (the loader's `nessie:` block): other
    # branches may use a file this branch does not list, so no orphan is removed there.
    meltano = sandbox / "projects" / TENANT / "meltano.yml"
    data = yaml.safe_load(meltano.read_text())
    loader = next(p for p in data["plugins"]["loaders"] if "inherit_from" in p)
    loader["config"]["nessie"] = {"branch": TENANT, "api_uri": "http://127.0.0.1:9/api/v2"}
    meltano.write_text(yaml.safe_dump(data, sort_keys=False))
    client.put_object(Bucket=s3.bucket, Key=orphan, Body=b"another branch's file, maybe")
    result = api.maintain(sandbox, [TENANT], orphan_age="0s")
    assert result.exit_code == 0, result.as_dict()
    (item,) = result.tenants[0].tables
    assert item.orphans == []
    assert "Nessie" in item.notes[0]
    client.head_object(Bucket=s3.bucket, Key=orphan)  # still there
