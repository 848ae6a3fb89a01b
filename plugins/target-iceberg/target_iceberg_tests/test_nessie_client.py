"""target_iceberg.nessie against a real Nessie server on a real (moto) S3 warehouse.

Needs the ``nessie_server`` fixture of ``tests/services/plugin.py``: without the runner jar or a
JDK the fixture fails with the exact error, it never skips.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.types import IntegerType, StringType

from target_iceberg.nessie import (
    CommitInfo,
    NessieClient,
    NessieConflictError,
    NessieNotFoundError,
    catalog_properties,
    commit_transactions,
)

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import NessieServer

pytestmark = pytest.mark.nessie

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])


def _rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table({"id": ids, "name": [f"n{i}" for i in ids]}, schema=SCHEMA)


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(nessie_server: NessieServer) -> NessieClient:
    return NessieClient(nessie_server.api_uri)


def _catalog(nessie: NessieServer, client: NessieClient, branch: str, **extra: str) -> RestCatalog:
    s3 = nessie.s3
    props = catalog_properties(
        client.iceberg_uri(branch),
        s3_endpoint=s3.endpoint,
        s3_access_key_id=s3.access_key_id,
        s3_secret_access_key=s3.secret_access_key,
        s3_region=s3.region,
    )
    props.pop("type")
    return RestCatalog(f"nessie-{branch}", **props, **extra)


def _count(catalog: RestCatalog, ident: str) -> int:
    return catalog.load_table(ident).scan().to_arrow().num_rows


def test_tenant_branch_is_created_once_from_main(client: NessieClient) -> None:
    tenant = _name("tenant")
    main = client.get_reference("main")
    first = client.ensure_branch(tenant)
    again = client.ensure_branch(tenant)
    assert first == again
    assert first.hash == main.hash
    with pytest.raises(NessieConflictError):
        client.create_branch(tenant)
    client.delete_branch(tenant)
    with pytest.raises(NessieNotFoundError):
        client.get_reference(tenant)
    client.delete_branch(tenant, missing_ok=True)


def test_run_branch_merges_two_tables_in_one_commit(
    nessie_server: NessieServer, client: NessieClient
) -> None:
    tenant, run = _name("acme"), _name("run")
    client.ensure_branch(tenant)
    client.create_branch(run, source=tenant)
    on_run = _catalog(nessie_server, client, run)
    on_run.create_namespace("crm")
    for table, rows in (("crm.deals", _rows(0, 30)), ("crm.people", _rows(100, 12))):
        on_run.create_table(table, schema=SCHEMA).append(rows)
    before = client.log(tenant)

    info = CommitInfo.for_run(tenant="acme", job="deals", run_id=run)
    merged = client.merge(run, tenant, commit=info)
    client.delete_branch(run)

    after = client.log(tenant)
    assert len(after) == len(before) + 1
    assert after[0].hash == merged.target_hash
    assert after[0].message == info.message
    assert after[0].properties["ingestgen.run-id"] == run
    on_tenant = _catalog(nessie_server, client, tenant)
    assert _count(on_tenant, "crm.deals") == 30
    assert _count(on_tenant, "crm.people") == 12
    assert client.table_keys(tenant) == ["crm.deals", "crm.people"]
    assert client.table_keys("main") == []
    with pytest.raises(NoSuchTableError):
        _catalog(nessie_server, client, "main").load_table("crm.deals")


def test_transactions_commit_is_one_nessie_commit_with_run_metadata(
    nessie_server: NessieServer, client: NessieClient
) -> None:
    tenant = _name("globex")
    client.ensure_branch(tenant)
    catalog = _catalog(nessie_server, client, tenant)
    catalog.create_namespace("sales")
    orders = catalog.create_table("sales.orders", schema=SCHEMA)
    lines = catalog.create_table("sales.lines", schema=SCHEMA)
    before = client.log(tenant)

    tx_orders, tx_lines = orders.transaction(), lines.transaction()
    tx_orders.append(_rows(0, 7))
    tx_lines.append(_rows(0, 21))
    info = CommitInfo.for_run(tenant="globex", job="sales", run_id="r-42")
    tables = commit_transactions(catalog, [tx_orders, tx_lines], commit=info)

    after = client.log(tenant)
    assert len(after) == len(before) + 1
    assert after[0].message == info.message
    assert after[0].authors == info.authors
    assert after[0].properties["ingestgen.job"] == "sales"
    assert [t.scan().to_arrow().num_rows for t in tables] == [7, 21]
    assert _count(catalog, "sales.orders") == 7
    assert _count(catalog, "sales.lines") == 21


def test_failed_requirement_commits_nothing(
    nessie_server: NessieServer, client: NessieClient
) -> None:
    tenant = _name("initech")
    client.ensure_branch(tenant)
    catalog = _catalog(nessie_server, client, tenant)
    catalog.create_namespace("ops")
    a = catalog.create_table("ops.a", schema=SCHEMA)
    b = catalog.create_table("ops.b", schema=SCHEMA)
    stale_b = b.transaction()
    stale_b.update_schema().add_column("extra", StringType()).commit()
    b.update_schema().add_column("other", IntegerType()).commit()  # moves b's schema first
    tx_a = a.transaction()
    tx_a.append(_rows(0, 5))
    head = client.get_reference(tenant).hash

    with pytest.raises(NessieConflictError) as err:
        commit_transactions(catalog, [tx_a, stale_b], retries=1, backoff=0.01)
    assert err.value.terminal is False
    assert client.get_reference(tenant).hash == head
    assert _count(catalog, "ops.a") == 0


def test_concurrent_commits_to_one_branch_all_land_once(
    nessie_server: NessieServer, client: NessieClient
) -> None:
    tenant = _name("umbrella")
    client.ensure_branch(tenant)
    setup = _catalog(nessie_server, client, tenant)
    setup.create_namespace("ev")
    setup.create_table("ev.clicks", schema=SCHEMA)
    setup.create_table("ev.views", schema=SCHEMA)
    rounds, per_round, errors = 4, 50, []

    def writer(worker: int) -> None:
        try:
            catalog = _catalog(nessie_server, client, tenant)
            for r in range(rounds):
                start = (worker * rounds + r) * per_round
                txs = [catalog.load_table(t).transaction() for t in ("ev.clicks", "ev.views")]
                for tx in txs:
                    tx.append(_rows(start, per_round))
                info = CommitInfo.for_run(tenant="umbrella", job="ev", run_id=f"w{worker}-{r}")
                commit_transactions(catalog, txs, commit=info, retries=10, backoff=0.05)
        except Exception as exc:  # surfaced below with the worker's traceback text
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    for ident in ("ev.clicks", "ev.views"):
        ids = setup.load_table(ident).scan().to_arrow().column("id").to_pylist()
        assert len(ids) == 2 * rounds * per_round
        assert sorted(ids) == list(range(2 * rounds * per_round))
    runs = {e.properties.get("ingestgen.run-id") for e in client.log(tenant)}
    assert {f"w{w}-{r}" for w in range(2) for r in range(rounds)} <= runs


def test_conflicting_merges_raise_a_retryable_error(
    nessie_server: NessieServer, client: NessieClient
) -> None:
    tenant, run1, run2 = _name("hooli"), _name("run"), _name("run")
    client.ensure_branch(tenant)
    base = _catalog(nessie_server, client, tenant)
    base.create_namespace("m")
    base.create_table("m.t", schema=SCHEMA)
    client.create_branch(run1, source=tenant)
    client.create_branch(run2, source=tenant)
    _catalog(nessie_server, client, run1).load_table("m.t").append(_rows(0, 3))
    _catalog(nessie_server, client, run2).load_table("m.t").append(_rows(3, 4))

    client.merge(run1, tenant, commit=CommitInfo("first"))
    with pytest.raises(NessieConflictError) as err:
        client.merge(run2, tenant, commit=CommitInfo("second"))
    assert err.value.terminal is False
    assert _count(base, "m.t") == 3


def test_failed_audit_leaves_the_tenant_branch_untouched(
    nessie_server: NessieServer, client: NessieClient
) -> None:
    tenant, wap = _name("wayne"), _name("wap")
    client.ensure_branch(tenant)
    head = client.get_reference(tenant).hash
    client.create_branch(wap, source=tenant)
    staged = _catalog(nessie_server, client, wap)
    staged.create_namespace("fin")
    staged.create_table("fin.ledger", schema=SCHEMA).append(_rows(0, 9))

    audit_passed = _count(staged, "fin.ledger") == 10  # the audit wants 10 rows; there are 9
    assert not audit_passed
    assert client.get_reference(tenant).hash == head
    assert client.table_keys(tenant) == []
    assert client.table_keys(wap) == ["fin.ledger"]  # the evidence stays on the WAP branch
