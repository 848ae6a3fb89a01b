"""A tenant's Meltano project on the lake: its data and its state stay under its own prefix.

Tenant acme's job renders with ``catalog: rest`` (Apache Iceberg's reference REST catalog, its
warehouse the lake root) and Meltano's S3 state backend under ``s3://lake/acme/state``; the run
gets acme's own S3 keys only (an IAM user allowed ``lake/acme/*``, see scripts/services). Then
acme's rendered ``meltano.yml`` is edited by hand, as a stale copy or an attacker would:

- the loader's namespace set to globex: the loader refuses before any catalog call (exit 2,
  Meltano 1) and nothing of globex's changes;
- the state backend set to globex's prefix: Meltano cannot read or write it (the S3 server
  answers AccessDenied) and globex's state stays as it was.

Run records are files in the tenant's project (``projects/<tenant>/.meltano/runs/``), not on the
lake; the Nessie branch ``main`` is refused by the loader's checks (test_guard.py) but no Nessie
server can run here to refuse it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import yaml

from .test_state_store import deals_job, write_csv

if TYPE_CHECKING:
    from pathlib import Path

    from ingestgen_services.pytest_plugin import IcebergRestServer, S3Server, TenantS3

    from .conftest import EngineProject, ProjectFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.isolation]

# pytest's record_property fixture: one row of the trust report per case.
RecordProperty = Callable[[str, object], None]
STATE_ID = "dev:tap-gdrive-csv--deals-to-target-iceberg--deals"


def _keys(s3_server: S3Server, prefix: str) -> dict[str, str]:
    s3 = boto3.client("s3", **s3_server.boto3_kwargs())
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=s3_server.bucket, Prefix=prefix)
    return {o["Key"]: o["ETag"] for p in pages for o in p.get("Contents", [])}


@pytest.fixture
def acme(
    make_project: ProjectFactory,
    sandbox: Path,
    iceberg_rest_server: IcebergRestServer,
    tenant_s3: Callable[[str], TenantS3],
) -> EngineProject:
    keys = tenant_s3("acme")
    s3 = iceberg_rest_server.s3
    env = {
        "ICEBERG_REST_URI": iceberg_rest_server.uri,
        "S3_ENDPOINT": s3.endpoint,
        "AWS_REGION": s3.region,
        "AWS_DEFAULT_REGION": s3.region,
        **keys.env(),
        # The runner's production state backend: under the tenant's prefix, with its keys.
        "MELTANO_STATE_BACKEND_URI": "s3://lake/acme/state",
        "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID": keys.access_key_id,
        "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
        "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL": s3.endpoint,
        # No platform keys reach a tenant's run.
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }
    write_csv(sandbox / "data" / "acme" / "a.csv", 1, 3)
    job = deals_job("acme", ["a.csv"], options="  catalog: rest\n")
    project = make_project("acme", {"deals": job}, env=env)
    project.run("deals")
    return project


@pytest.fixture
def globex_state(s3_server: S3Server, tenant_s3: Callable[[str], TenantS3]) -> dict[str, str]:
    """Globex's state object, written with globex's keys; returns the listing of its prefix."""
    s3 = boto3.client("s3", **tenant_s3("globex").boto3_kwargs())
    s3.put_object(
        Bucket=s3_server.bucket,
        Key=f"globex/state/{STATE_ID}/state.json",
        Body=b'{"completed": {"singer_state": {"bookmarks": {}}}, "partial": {}}',
    )
    return _keys(s3_server, "globex/")


def _edited(project: EngineProject, edit: Callable[[dict[str, Any]], None]) -> str:
    path = project.path / "meltano.yml"
    original = path.read_text()
    data = yaml.safe_load(original)
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return original


def test_a_hand_edited_project_cannot_reach_another_tenant(
    acme: EngineProject,
    s3_server: S3Server,
    iceberg_rest_server: IcebergRestServer,
    globex_state: dict[str, str],
    record_property: RecordProperty,
) -> None:
    # One project for both edits: `meltano install` is the slow part of this test.
    record_property("category", "isolation: tenant project on the servers")
    record_property(
        "case",
        "acme's meltano.yml edited: loader namespace -> globex, then state backend -> "
        "s3://lake/globex/state; meltano run / state get / state set",
    )
    from pyiceberg.catalog import load_catalog

    # As rendered, the run landed under acme's prefix, and so did its state.
    table = load_catalog("check", **iceberg_rest_server.catalog_properties()).load_table(
        ("acme", "deals_daily")
    )
    assert table.scan().to_arrow().num_rows == 3
    assert table.location().startswith("s3://lake/acme/")
    assert any(k.startswith(f"acme/state/{STATE_ID}") for k in _keys(s3_server, "acme/state/"))

    def namespace_globex(data: dict[str, Any]) -> None:
        loader = next(p for p in data["plugins"]["loaders"] if "inherit_from" in p)
        loader["config"]["namespace"] = "globex"

    original = _edited(acme, namespace_globex)
    try:
        done = acme.meltano("run", "deals")
    finally:
        (acme.path / "meltano.yml").write_text(original)
    assert done.returncode == 1
    assert "refusing to run: the catalog is not tenant 'acme''s own" in done.stderr
    assert "namespace 'globex' is not tenant 'acme''s" in done.stderr

    def state_globex(data: dict[str, Any]) -> None:
        data["state_backend"] = {"uri": "s3://lake/globex/state"}

    original = _edited(acme, state_globex)
    # The runner's variable would win over meltano.yml: this run has none (a stale runner).
    uri = acme.env.pop("MELTANO_STATE_BACKEND_URI")
    try:
        read = acme.meltano("state", "get", STATE_ID)
        state = '{"singer_state": {"bookmarks": {}}}'
        written = acme.meltano("state", "set", "--force", STATE_ID, state)
        ran = acme.meltano("run", "deals")
    finally:
        (acme.path / "meltano.yml").write_text(original)
        acme.env["MELTANO_STATE_BACKEND_URI"] = uri
    for done in (read, written, ran):
        assert done.returncode != 0
        assert "AccessDenied" in done.stderr or "Access Denied" in done.stderr, done.stderr[-2000:]
    assert _keys(s3_server, "globex/") == globex_state
    assert len(table.refresh().snapshots()) == 1
    record_property(
        "outcome",
        "namespace: loader exit 2 before any catalog call; state: Meltano fails with "
        "AccessDenied from the S3 server; globex's prefix and state unchanged",
    )
