"""Multi-table commits (`commit_transactions`) against Apache Iceberg's reference REST catalog.

The same Iceberg REST ``transactions/commit`` call that Nessie turns into one commit, checked
here against the protocol's reference handlers on the moto S3 server, so the payload built from
pyiceberg 0.12 transactions and the conflict retry are tested even where Nessie is unavailable.

Concurrent writers are tested against Nessie only (test_nessie_client.py): the reference handlers
validate all tables first but then commit them one by one, so they are not atomic under races.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.types import StringType

from target_iceberg.nessie import CommitInfo
from target_iceberg.rest import CatalogConflictError, commit_transactions, table_change

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import IcebergRestServer

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])


def _rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table({"id": ids, "name": [f"n{i}" for i in ids]}, schema=SCHEMA)


def _catalog(server: IcebergRestServer) -> RestCatalog:
    props = server.catalog_properties()
    props.pop("type")
    return RestCatalog("reference", **props)


@pytest.fixture
def namespace(iceberg_rest_server: IcebergRestServer) -> str:
    ns = f"ns_{uuid.uuid4().hex[:8]}"
    _catalog(iceberg_rest_server).create_namespace(ns)
    return ns


def _ids(catalog: RestCatalog, ident: str) -> list[int]:
    return sorted(catalog.load_table(ident).scan().to_arrow().column("id").to_pylist())


def test_table_change_carries_requirements_and_updates(
    iceberg_rest_server: IcebergRestServer, namespace: str
) -> None:
    catalog = _catalog(iceberg_rest_server)
    table = catalog.create_table(f"{namespace}.t", schema=SCHEMA)
    tx = table.transaction()
    tx.append(_rows(0, 3))
    change = json.loads(table_change(tx).model_dump_json())
    assert change["identifier"] == {"namespace": [namespace], "name": "t"}
    kinds = [r["type"] for r in change["requirements"]]
    assert kinds[-1] == "assert-table-uuid"
    assert change["requirements"][-1]["uuid"] == str(table.metadata.table_uuid)
    assert "assert-ref-snapshot-id" in kinds
    assert [u["action"] for u in change["updates"]] == ["add-snapshot", "set-snapshot-ref"]


def test_two_tables_commit_together(iceberg_rest_server: IcebergRestServer, namespace: str) -> None:
    catalog = _catalog(iceberg_rest_server)
    orders = catalog.create_table(f"{namespace}.orders", schema=SCHEMA)
    lines = catalog.create_table(f"{namespace}.lines", schema=SCHEMA)
    tx_orders, tx_lines = orders.transaction(), lines.transaction()
    tx_orders.append(_rows(0, 7))
    tx_lines.append(_rows(0, 21))

    info = CommitInfo.for_run(tenant="acme", job="sales", run_id="r1")
    tables = commit_transactions(catalog, [tx_orders, tx_lines], headers=info.headers())

    assert [t.scan().to_arrow().num_rows for t in tables] == [7, 21]
    assert _ids(catalog, f"{namespace}.orders") == list(range(7))
    assert _ids(catalog, f"{namespace}.lines") == list(range(21))


def test_one_failed_requirement_commits_no_table(
    iceberg_rest_server: IcebergRestServer, namespace: str
) -> None:
    catalog = _catalog(iceberg_rest_server)
    a = catalog.create_table(f"{namespace}.a", schema=SCHEMA)
    b = catalog.create_table(f"{namespace}.b", schema=SCHEMA)
    stale_b = b.transaction()
    stale_b.update_schema().add_column("extra", StringType()).commit()
    catalog.load_table(f"{namespace}.b").update_schema().add_column("other", StringType()).commit()
    tx_a = a.transaction()
    tx_a.append(_rows(0, 5))

    with pytest.raises(CatalogConflictError, match="409") as err:
        commit_transactions(catalog, [tx_a, stale_b], retries=1, backoff=0.01)
    assert err.value.terminal is False
    assert _ids(catalog, f"{namespace}.a") == []
    assert catalog.load_table(f"{namespace}.a").current_snapshot() is None


def test_conflict_is_retried_on_the_new_snapshot(
    iceberg_rest_server: IcebergRestServer, namespace: str
) -> None:
    # A run stages appends on two tables; meanwhile another writer appends to one of them. The
    # first attempt fails its assert-ref-snapshot-id requirement (409); the retry re-stages the
    # run's append on the new snapshot, and both writers' rows are there exactly once.
    catalog = _catalog(iceberg_rest_server)
    a = catalog.create_table(f"{namespace}.a", schema=SCHEMA)
    b = catalog.create_table(f"{namespace}.b", schema=SCHEMA)
    tx_a, tx_b, stale = a.transaction(), b.transaction(), a.transaction()
    tx_a.append(_rows(0, 10))
    tx_b.append(_rows(0, 4))
    stale.append(_rows(200, 1))
    catalog.load_table(f"{namespace}.a").append(_rows(100, 3))  # the concurrent writer
    other_snapshot = catalog.load_table(f"{namespace}.a").current_snapshot()
    assert other_snapshot is not None

    with pytest.raises(CatalogConflictError, match="409"):
        commit_transactions(catalog, [stale], retries=0)
    tables = commit_transactions(catalog, [tx_a, tx_b], retries=3, backoff=0.01)

    assert _ids(catalog, f"{namespace}.a") == [*range(10), 100, 101, 102]
    assert _ids(catalog, f"{namespace}.b") == list(range(4))
    run_snapshot = tables[0].current_snapshot()
    assert run_snapshot is not None
    assert run_snapshot.parent_snapshot_id == other_snapshot.snapshot_id
    assert len(tables[1].metadata.snapshots) == 1
