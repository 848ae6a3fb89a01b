"""target_iceberg.nessie and the multi-table commit against a real Nessie server on moto S3.

Needs the ``nessie_server`` fixture (scripts/services): where the package registry does not serve
Nessie's runner jar (as on the project's build machines) these tests are reported as skipped with
Maven's answer; everything else fails loudly. The requests of `NessieClient` are checked against
Nessie's published OpenAPI document without a server in test_nessie_openapi.py.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.types import IntegerType, StringType

from target_iceberg.nessie import CommitInfo, NessieClient
from target_iceberg.rest import CatalogConflictError, commit_transactions

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
    props = nessie.catalog_properties(branch)
    props.pop("type")
    return RestCatalog(f"nessie-{branch}", **props, **extra)


def _count(catalog: RestCatalog, ident: str) -> int:
    return catalog.load_table(ident).scan().to_arrow().num_rows


def test_tenant_branch_is_created_once_from_main(client: NessieClient) -> None:
    tenant = _name("tenant")
    main = client.get_reference("main")
    first, created = client.ensure_branch(tenant)
    again, created_again = client.ensure_branch(tenant)
    assert (created, created_again) == (True, False)
    assert first == again
    assert first.hash == main.hash
    with pytest.raises(CatalogConflictError):
        client.create_branch(tenant)


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
    tables = commit_transactions(catalog, [tx_orders, tx_lines], headers=info.headers())

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

    with pytest.raises(CatalogConflictError) as err:
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
                commit_transactions(catalog, txs, headers=info.headers(), retries=10, backoff=0.05)
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
