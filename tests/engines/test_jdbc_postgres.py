"""jdbc engine end to end: a real PostgreSQL server, meltanolabs-tap-postgres, Iceberg.

The server is the ``postgres_server`` fixture (Debian's packages, a throw-away cluster on
loopback). Two jobs of one tenant read two tables: ``orders`` incrementally by its
``updated_at`` replication key, ``customers`` as a full table. PostgreSQL's numeric,
timestamptz, text[], jsonb and json columns land typed as the asset spec says.

The tap's replication-key filter is inclusive (``updated_at >= bookmark``, as singer-sdk SQL
taps do, so rows sharing the bookmark's timestamp are never missed): an incremental run reads the
changed rows plus the rows whose key equals the stored bookmark.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ingestgen_services.postgres import PostgresService, psql

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

PASSWORD = "ingest-test-secret"  # a throw-away role on a throw-away server

SCHEMA_SQL = f"""
create role ingest login password '{PASSWORD}';
create table public.orders (
    id bigint primary key,
    customer text not null,
    total numeric(12,2) not null,
    placed_at timestamptz not null,
    updated_at timestamptz not null,
    tags text[],
    attributes jsonb,
    shipping json
);
create table public.customers (
    id integer primary key,
    name text not null,
    signup date,
    vip boolean,
    score double precision
);
insert into public.orders values
 (1, 'Initech', 19488.68, '2026-11-01 10:00:00+02', '2026-11-01 10:00:00+00', '{{a,b}}',
  '{{"channel": "web", "priority": 1, "gift": true}}', '{{"city": "Austin", "zip": "78701"}}'),
 (2, 'Globex', 0.10, '2026-11-02 00:00:00Z', '2026-11-02 00:00:00+00', null, null, null),
 (3, 'Umbrella', -5.00, '2026-10-31 23:59:59.123456-05', '2026-11-03 00:00:00+00', '{{}}',
  '{{"channel": "phone"}}', '{{}}');
insert into public.customers values
 (10, 'Initech', '2024-02-29', true, 0.25),
 (11, 'Globex', null, false, null);
grant select on all tables in schema public to ingest;
"""

CHANGES_SQL = """
update public.orders set total = 12.50, updated_at = '2026-11-04 00:00:00+00' where id = 2;
insert into public.orders values
 (4, 'Hooli', 7.25, '2026-12-01 00:00:00+00', '2026-11-05 00:00:00+00', '{x}',
  '{"priority": 3}', '{"city": "Palo Alto"}');
insert into public.customers values (12, 'Hooli', '2026-01-01', false, 1.5);
"""

CUSTOMERS_SPEC = """\
asset: customers
version: "1.0"
schema:
  columns:
    - {name: id, type: int, required: true}
    - {name: name, type: string, required: true}
    - {name: signup, type: date}
    - {name: vip, type: boolean}
    - {name: score, type: double}
  primary_key: [id]
"""


def job(server: PostgresService, asset: str, incremental: str) -> str:
    return f"""\
tenant_id: initech
source:
  type: postgres
  host: {server.host}
  port: {server.port}
  database: shop
  user: ingest
  password: ${{INITECH__SHOP_DB_PASSWORD}}
  schema: public
  incremental:
{incremental}
target:
  type: iceberg
asset_definition: specs/postgres/v1.0/{asset}.yaml
"""


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_postgres_full_table_and_incremental_land_typed_rows(
    make_project: Callable[..., Any],
    sandbox: Path,
    postgres_server: PostgresService,
    summary: Callable[[str, str], dict[str, Any]],
) -> None:
    psql(postgres_server, "create database shop;")
    psql(postgres_server, SCHEMA_SQL, database="shop")
    (sandbox / "specs" / "postgres" / "v1.0" / "customers.yaml").write_text(CUSTOMERS_SPEC)
    replication_key = "    strategy: replication_key\n    cursor_field: updated_at"
    project = make_project(
        "initech",
        {
            "orders": job(postgres_server, "orders", replication_key),
            "customers": job(postgres_server, "customers", "    strategy: full_refresh"),
        },
        env={"INITECH__SHOP_DB_PASSWORD": PASSWORD},
    )

    first = project.run("orders", "customers")
    # The tap names streams <schema>-<table>; the registry renders that name.
    assert summary(first, "public-orders")["rows_landed"] == 3
    assert summary(first, "public-customers")["rows_landed"] == 2
    orders = {r["id"]: r for r in project.rows("orders")}
    assert orders[1] == {
        "id": 1,
        "customer": "Initech",
        "total": decimal.Decimal("19488.68"),
        "placed_at": utc(2026, 11, 1, 8, 0),
        "updated_at": utc(2026, 11, 1, 10, 0),
        "tags": ["a", "b"],
        "attributes": {"channel": "web", "priority": 1, "gift": True},
        "shipping": [("city", "Austin"), ("zip", "78701")],  # an Iceberg map reads as pairs
    }
    assert orders[2]["total"] == decimal.Decimal("0.10")
    assert orders[2]["tags"] is orders[2]["attributes"] is orders[2]["shipping"] is None
    assert orders[3]["total"] == decimal.Decimal("-5.00")
    assert orders[3]["placed_at"] == utc(2026, 11, 1, 4, 59, 59, 123456)
    assert orders[3]["tags"] == [] and orders[3]["shipping"] == []
    assert orders[3]["attributes"] == {"channel": "phone", "priority": None, "gift": None}
    schema = project.table("orders").schema()
    assert str(schema.find_type("total")) == "decimal(12, 2)"
    assert str(schema.find_type("placed_at")) == "timestamptz"
    customers = {r["id"]: r for r in project.rows("customers")}
    assert customers[10] == {
        "id": 10,
        "name": "Initech",
        "signup": dt.date(2024, 2, 29),
        "vip": True,
        "score": 0.25,
    }
    assert customers[11]["signup"] is None and customers[11]["vip"] is False

    assert project.state_ids() == [
        "dev:tap-postgres--customers-to-target-iceberg--customers",
        "dev:tap-postgres--orders-to-target-iceberg--orders",
    ]
    bookmark = project.state("dev:tap-postgres--orders-to-target-iceberg--orders")
    assert bookmark["bookmarks"]["public-orders"]["replication_key"] == "updated_at"
    assert bookmark["bookmarks"]["public-orders"]["replication_key_value"].startswith(
        "2026-11-03T00:00:00"
    )

    psql(postgres_server, CHANGES_SQL, database="shop")
    second = project.run("orders", "customers")
    # Changed (2) and new (4) rows, plus row 3 whose updated_at equals the bookmark.
    assert summary(second, "public-orders")["rows_landed"] == 3
    assert Counter(r["id"] for r in project.rows("orders")) == {1: 1, 2: 2, 3: 2, 4: 1}
    latest = max((r for r in project.rows("orders") if r["id"] == 2), key=lambda r: r["updated_at"])
    assert latest["total"] == decimal.Decimal("12.50")
    # The full table is read whole again: 2 old rows and 1 new.
    assert summary(second, "public-customers")["rows_landed"] == 3
    assert Counter(r["id"] for r in project.rows("customers")) == {10: 2, 11: 2, 12: 1}
