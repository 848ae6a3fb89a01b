"""BATCH output: Parquet files of all-string columns, written straight from Arrow."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq

Sync = Callable[..., Any]


def batch_config(
    folder: Path, *, size: int = 10_000, compression: str | None = None, fmt: str = "parquet"
) -> dict[str, Any]:
    encoding: dict[str, Any] = {"format": fmt}
    if compression:
        encoding["compression"] = compression
    return {
        "encoding": encoding,
        "storage": {"root": folder.as_uri(), "prefix": "part-"},
        "batch_size": size,
    }


def config(data_folder: Path, batch_folder: Path, **batch: Any) -> dict[str, Any]:
    return {
        "local_folder": str(data_folder),
        "files": [
            {"file_id": "deals_2024_01.csv", "object": "deals_daily"},
            {"file_id": "deals_2024_02.csv", "object": "deals_daily"},
        ],
        "batch_config": batch_config(batch_folder, **batch),
    }


def read_manifest(message: dict[str, Any]) -> pa.Table:
    tables = [pq.read_table(urlparse(url).path) for url in message["manifest"]]
    return pa.concat_tables(tables)


def test_parquet_batches_hold_all_rows_as_strings(
    data_folder: Path, tmp_path: Path, sync: Sync
) -> None:
    result = sync(config(data_folder, tmp_path / "batches"))
    assert result.of_type("RECORD") == []
    batches = result.of_type("BATCH")
    assert len(batches) == 1
    assert batches[0]["stream"] == "deals_daily"
    assert batches[0]["encoding"] == {"format": "parquet"}
    table = read_manifest(batches[0])
    assert table.schema == pa.schema(
        [
            pa.field(name, pa.string())
            for name in [
                "deal_id",
                "snapshot_date",
                "account",
                "stage",
                "amount",
                "currency",
                "is_won",
            ]
        ]
    )
    assert table.column("deal_id").to_pylist() == ["1", "2", "3", "1", "4"]
    assert table.column("amount").to_pylist() == [
        "19488.68",
        None,
        "248868.28",
        "20000.00",
        "1,250.50",
    ]
    assert Path(urlparse(batches[0]["manifest"][0]).path).name.startswith("part-")
    # The bookmark follows the BATCH that carries the files' rows.
    last_batch = max(i for i, m in enumerate(result.messages) if m["type"] == "BATCH")
    later_states = [m for m in result.messages[last_batch:] if m["type"] == "STATE"]
    assert set(later_states[-1]["value"]["bookmarks"]["deals_daily"]["files"]) == {
        "deals_2024_01.csv",
        "deals_2024_02.csv",
    }


def test_batch_size_splits_files_across_parquet_parts(
    data_folder: Path, tmp_path: Path, sync: Sync
) -> None:
    result = sync(config(data_folder, tmp_path / "b", size=2))
    batches = result.of_type("BATCH")
    assert [read_manifest(b).num_rows for b in batches] == [2, 2, 1]
    ids = [i for b in batches for i in read_manifest(b).column("deal_id").to_pylist()]
    assert ids == ["1", "2", "3", "1", "4"]
    # File 1 ends inside part 2: its bookmark is emitted after part 2, not after part 1.
    states_after = []
    seen = 0
    for message in result.messages:
        if message["type"] == "BATCH":
            seen += 1
        elif message["type"] == "STATE" and seen:
            files = message["value"]["bookmarks"].get("deals_daily", {}).get("files", {})
            states_after.append((seen, set(files)))
    assert (1, set()) in states_after
    assert (2, {"deals_2024_01.csv"}) in states_after


def test_gzip_compression_names_the_files_parquet_gz(
    data_folder: Path, tmp_path: Path, sync: Sync
) -> None:
    result = sync(config(data_folder, tmp_path / "gz", compression="gzip"))
    (batch,) = result.of_type("BATCH")
    path = Path(urlparse(batch["manifest"][0]).path)
    assert path.name.endswith(".parquet.gz")
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "GZIP"
    assert read_manifest(batch).num_rows == 5


def test_jsonl_batches_go_through_the_sdk_batcher(
    data_folder: Path, tmp_path: Path, sync: Sync
) -> None:
    result = sync(config(data_folder, tmp_path / "jl", fmt="jsonl", compression="gzip"))
    (batch,) = result.of_type("BATCH")
    path = Path(urlparse(batch["manifest"][0]).path)
    with gzip.open(path, "rt") as handle:
        rows = [json.loads(line) for line in handle]
    assert [r["deal_id"] for r in rows] == ["1", "2", "3", "1", "4"]
    assert rows[1]["amount"] is None


def test_unchanged_files_write_no_batches(data_folder: Path, tmp_path: Path, sync: Sync) -> None:
    first = sync(config(data_folder, tmp_path / "b1"))
    second = sync(config(data_folder, tmp_path / "b2"), state=first.state)
    assert second.of_type("BATCH") == []
    assert not (tmp_path / "b2").exists() or not any((tmp_path / "b2").iterdir())
