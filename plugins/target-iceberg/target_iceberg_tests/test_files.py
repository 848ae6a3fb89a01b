"""Files: BATCH messages (all-text Parquet from the CSV tap, JSONL), partitioning transforms,
and files rolled by their size on disk."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import Catalog

from .conftest import RunTarget, messages, records, schema_msg
from .readback import duckdb_rows

SPEC = """
asset: deals
version: "1.0"
schema:
  columns:
    - {name: deal_id, type: long, required: true}
    - {name: amount, type: "decimal(12,2)"}
    - {name: closed_on, type: date}
    - {name: updated_at, type: timestamptz}
    - {name: won, type: boolean}
    - {name: owner, type: string}
  primary_key: [deal_id]
  partitioning:
    - {column: closed_on, transform: month}
    - {column: deal_id, transform: "bucket[4]"}
    - {column: owner, transform: "truncate[2]"}
"""

HINT = {"deal_id": {"type": "string"}}


def _spec(tmp_path: Path, text: str = SPEC) -> str:
    path = tmp_path / "deals.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_parquet_batch_of_text_columns(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    cells = {
        "deal_id": ["1", "2", "x3", "4", ""],
        "amount": ["10.50", " 7 ", "1", "1.005", "2"],
        "closed_on": ["2024-01-31", "2024-02-01", "2024-02-01", "2024-02-01", "2024-03-01"],
        "updated_at": ["2024-01-31T10:00:00+01:00", "2024-02-01 08:00:00", "", "", ""],
        "won": ["true", "0", "1", "false", "true"],
        "owner": ["alice", "", "bob", "bob", "carol"],
    }
    batch_file = tmp_path / "batch-0001.parquet"
    pq.write_table(pa.table({k: pa.array(v, pa.string()) for k, v in cells.items()}), batch_file)
    text = messages(
        schema_msg("deals", HINT),
        {
            "type": "BATCH",
            "stream": "deals",
            "encoding": {"format": "parquet", "compression": None},
            "manifest": [batch_file.as_uri()],
        },
    )
    target, _ = run_target(text, streams={"deals": {"asset_spec": _spec(tmp_path)}})

    table = catalog.load_table("acme.deals")
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["deal_id"])
    assert [r["deal_id"] for r in rows] == [1, 2]
    assert rows[0]["amount"] == Decimal("10.50")
    assert rows[1]["amount"] == Decimal("7.00")
    assert rows[0]["updated_at"] == dt.datetime(2024, 1, 31, 9, 0, tzinfo=dt.UTC)
    assert rows[1]["updated_at"] == dt.datetime(2024, 2, 1, 8, 0, tzinfo=dt.UTC)
    assert rows[1]["won"] is False
    assert rows[1]["owner"] == ""  # text columns keep empty cells
    rejected = catalog.load_table("acme.deals__rejected").scan().to_arrow().to_pylist()
    reasons = {json.loads(r["raw"])["deal_id"]: r for r in rejected}
    assert set(reasons) == {"x3", "4", ""}
    assert reasons["x3"]["columns"] == ["deal_id"]
    assert reasons["4"]["columns"] == ["amount"]
    assert "required" in reasons[""]["reason"]
    assert target.summary.streams["deals"].rows_read == 5


def test_jsonl_gzip_batch(run_target: RunTarget, catalog: Catalog, tmp_path: Path) -> None:
    batch_file = tmp_path / "batch.jsonl.gz"
    with gzip.open(batch_file, "wt") as handle:
        for i in range(3):
            handle.write(json.dumps({"deal_id": i, "amount": i * 1.5, "owner": "o"}) + "\n")
    text = messages(
        schema_msg("deals", HINT),
        {
            "type": "BATCH",
            "stream": "deals",
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "manifest": [str(batch_file)],
        },
    )
    run_target(text, streams={"deals": {"asset_spec": _spec(tmp_path)}})
    rows = catalog.load_table("acme.deals").scan().to_arrow().to_pylist()
    assert sorted(r["amount"] for r in rows) == [Decimal("0.00"), Decimal("1.50"), Decimal("3.00")]


def test_partition_transforms(run_target: RunTarget, catalog: Catalog, tmp_path: Path) -> None:
    rows = [
        {"deal_id": i, "closed_on": f"2024-0{1 + i % 3}-15", "owner": ["alice", "bob"][i % 2]}
        for i in range(30)
    ]
    text = messages(schema_msg("deals", HINT), *records("deals", rows))
    run_target(text, streams={"deals": {"asset_spec": _spec(tmp_path)}})
    table = catalog.load_table("acme.deals")
    spec = table.spec()
    assert [(f.name, str(f.transform)) for f in spec.fields] == [
        ("closed_on_month", "month"),
        ("deal_id_bucket", "bucket[4]"),
        ("owner_truncate", "truncate[2]"),
    ]
    files = [task.file for task in table.scan().plan_files()]
    partitions = {tuple(f.partition) for f in files}
    assert {p[0] for p in partitions} == {648, 649, 650}  # months since 1970 for 2024-01..03
    assert {p[2] for p in partitions} == {"al", "bo"}
    assert sum(f.record_count for f in files) == 30
    assert all("closed_on_month=" in f.file_path for f in files)
    febr = table.scan(row_filter="closed_on >= '2024-02-01' and closed_on < '2024-03-01'")
    assert sorted(r["deal_id"] for r in febr.to_arrow().to_pylist()) == [
        i for i in range(30) if i % 3 == 1
    ]
    _, counts, _ = duckdb_rows(
        table, "select month(closed_on), count(*) from t group by 1 order by 1"
    )
    assert counts == [(1, 10), (2, 10), (3, 10)]
    for task in table.scan().plan_files():
        data = pq.read_table(task.file.file_path.removeprefix("file://"))
        months = {(d.year - 1970) * 12 + d.month - 1 for d in data.column("closed_on").to_pylist()}
        assert months == {task.file.partition[0]}


def test_files_roll_by_size_on_disk(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    import random

    rnd = random.Random(7)
    rows = [
        {"id": i, "text": "".join(rnd.choice("abcdefghij") for _ in range(200))}
        for i in range(6000)
    ]
    props = {"id": {"type": "integer"}, "text": {"type": "string"}}
    text = messages(schema_msg("blobs", props), *records("blobs", rows))
    target_mb = 0.1
    target, _ = run_target(text, target_file_size_mb=target_mb)
    table = catalog.load_table("acme.blobs")
    sizes = [task.file.file_size_in_bytes for task in table.scan().plan_files()]
    assert len(sizes) > 3
    on_disk = [
        Path(task.file.file_path.removeprefix("file://")).stat().st_size
        for task in table.scan().plan_files()
    ]
    assert sorted(sizes) == sorted(on_disk)
    limit = int(target_mb * 1024 * 1024)
    assert all(size >= limit for size in sorted(sizes)[1:])  # all but the last reached the target
    assert len(table.snapshots()) == 1
    assert table.scan().to_arrow().num_rows == 6000
    assert target.summary.streams["blobs"].files == len(sizes)


@pytest.mark.parametrize(
    ("column", "transform", "expected"),
    [
        ("country", "identity", {"DE", "FR"}),
        ("at", "year", {54, 55}),  # years since 1970
        ("at", "day", {19723, 20089}),  # days since 1970-01-01
        ("at", "hour", {473352, 482136}),  # hours since 1970-01-01T00
    ],
)
def test_more_transforms(
    run_target: RunTarget,
    catalog: Catalog,
    tmp_path: Path,
    column: str,
    transform: str,
    expected: set[object],
) -> None:
    spec = (
        "asset: visits\nversion: '1'\nschema:\n  columns:\n"
        "    - {name: id, type: long}\n    - {name: country, type: string}\n"
        "    - {name: at, type: timestamptz}\n"
        f"  partitioning:\n    - {{column: {column}, transform: {transform}}}\n"
    )
    path = tmp_path / "visits.yaml"
    path.write_text(spec, encoding="utf-8")
    rows = [
        {"id": 1, "country": "DE", "at": "2024-01-01T00:30:00Z"},
        {"id": 2, "country": "FR", "at": "2025-01-01T02:00:00+02:00"},
    ]
    text = messages(schema_msg("visits", {"id": {"type": "integer"}}), *records("visits", rows))
    run_target(text, streams={"visits": {"asset_spec": str(path)}})
    table = catalog.load_table("acme.visits")
    assert str(table.spec().fields[0].transform) == transform
    assert {task.file.partition[0] for task in table.scan().plan_files()} == expected
    assert table.scan().to_arrow().num_rows == 2


def test_typed_parquet_batch(run_target: RunTarget, catalog: Catalog, tmp_path: Path) -> None:
    batch_file = tmp_path / "typed.parquet"
    pq.write_table(
        pa.table(
            {
                "deal_id": pa.array([1, 2, 3], pa.int32()),
                "amount": pa.array([Decimal("1.5"), Decimal("2.25"), Decimal("3.125")]),
                "closed_on": pa.array([dt.date(2024, 1, 1)] * 3),
                "won": pa.array([True, False, None]),
                "owner": pa.array([7, 8, 9]),  # not in this spec: dropped (unknown_columns: ignore)
            }
        ),
        batch_file,
    )
    text = messages(
        schema_msg("deals", HINT),
        {
            "type": "BATCH",
            "stream": "deals",
            "encoding": {"format": "parquet"},
            "manifest": [batch_file.as_uri()],
        },
    )
    no_owner = SPEC.replace("    - {name: owner, type: string}\n", "").replace(
        '    - {column: owner, transform: "truncate[2]"}\n', ""
    )
    run_target(
        text, streams={"deals": {"asset_spec": _spec(tmp_path, no_owner)}}, unknown_columns="ignore"
    )
    rows = sorted(
        catalog.load_table("acme.deals").scan().to_arrow().to_pylist(), key=lambda r: r["deal_id"]
    )
    assert [(r["deal_id"], r["amount"], r["won"]) for r in rows] == [
        (1, Decimal("1.50"), True),
        (2, Decimal("2.25"), False),
    ]
    rejected = catalog.load_table("acme.deals__rejected").scan().to_arrow().to_pylist()
    assert [r["columns"] for r in rejected] == [["amount"]]
    assert json.loads(rejected[0]["raw"])["deal_id"] == 3
