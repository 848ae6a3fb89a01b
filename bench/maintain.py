"""Benchmark: a table after 500 tiny appends, before and after ``ingestgen maintain``.

Builds a throw-away repository (the real registry, specs and templates; plugins linked) with one
tenant on the embedded catalog, appends ``--appends`` tiny batches (``--rows`` rows each, one
snapshot per append, as many small incremental runs make) to ``bench.events`` with pyiceberg,
then runs ``ingestgen maintain bench --orphan-age 0s`` with ``keep_days: 0, keep_snapshots: 1``
(the runner.yaml settings) and measures before and after:

- files on disk under the table's location (data and metadata), and the metadata's bytes;
- the current snapshot's data files and manifests;
- scan time, best of 3: pyiceberg (``scan().to_arrow()``, planning included) and DuckDB
  (``read_parquet`` over the data files pyiceberg plans: DuckDB's own Iceberg extension needs a
  download, so it is not used); each checks the row count.

Prints a table and, last, one line of JSON. Reads and writes only its temporary folder.

    python bench/maintain.py [--appends 500] [--rows 5] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TENANT = "bench"
JOB = """\
tenant_id: bench
source:
  type: gdrive_csv
  local_folder: configs/bench/data
  files:
    - {file_id: deals_2026_11_24.csv, object: deals_daily}
  incremental:
    strategy: file_modified_time
target:
  type: iceberg
  catalog: embedded
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""
RUNNER = """\
runner:
  mode: oneshot
  maintenance:
    defaults: {keep_days: 0, keep_snapshots: 1}
"""


def _repo(base: Path) -> Path:
    root = base / "repo"
    root.mkdir()
    for name in ("registry", "specs", "templates"):
        shutil.copytree(REPO / name, root / name)
    (root / "plugins").symlink_to(REPO / "plugins")
    folder = root / "configs" / TENANT
    shutil.copytree(REPO / "configs" / "acme" / "data", folder / "data")
    (folder / "deals_daily.yaml").write_text(JOB)
    (root / "configs" / "runner.yaml").write_text(RUNNER)
    (root / "projects").mkdir()
    return root


def _measure(table: Any) -> dict[str, Any]:
    import duckdb

    location = Path(table.location().removeprefix("file://"))
    files = [p for p in location.rglob("*") if p.is_file()]
    metadata = [p for p in files if p.parent.name == "metadata"]
    snapshot = table.current_snapshot()
    planned = [t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()]
    best_py, best_duck, rows = float("inf"), float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        rows = table.scan().to_arrow().num_rows
        best_py = min(best_py, time.perf_counter() - start)
        start = time.perf_counter()
        (count,) = duckdb.sql(
            f"select count(*), sum(id) from read_parquet({planned!r})"
        ).fetchone()[:1]
        best_duck = min(best_duck, time.perf_counter() - start)
        assert count == rows, (count, rows)
    return {
        "rows": rows,
        "snapshots": len(table.snapshots()),
        "files_on_disk": len(files),
        "data_files_on_disk": len(files) - len(metadata),
        "metadata_files_on_disk": len(metadata),
        "metadata_bytes": sum(p.stat().st_size for p in metadata),
        "current_metadata_json_bytes": Path(table.metadata_location.removeprefix("file://"))
        .stat()
        .st_size,
        "live_data_files": len(planned),
        "live_manifests": len(snapshot.manifests(table.io)) if snapshot else 0,
        "scan_pyiceberg_s": round(best_py, 4),
        "scan_duckdb_s": round(best_duck, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--rows", type=int, default=5, help="rows per append")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    import pyarrow as pa
    from pyiceberg.catalog import load_catalog

    from ingestgen import api

    base = Path(tempfile.mkdtemp(prefix="bench-maintain-"))
    try:
        root = _repo(base)
        api.render(root)
        lake = (root / "projects" / TENANT / ".lake").resolve()
        (lake / "warehouse").mkdir(parents=True)
        catalog = load_catalog(
            f"{TENANT}_embedded",
            type="sql",
            uri=f"sqlite:///{lake}/catalog.db",
            warehouse=f"file://{lake}/warehouse",
        )
        catalog.create_namespace(TENANT)
        schema = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])
        table = catalog.create_table((TENANT, "events"), schema=schema)
        start = time.perf_counter()
        for n in range(args.appends):
            ids = list(range(n * args.rows, (n + 1) * args.rows))
            table.append(pa.table({"id": ids, "name": [f"row {i}" for i in ids]}, schema=schema))
        append_s = time.perf_counter() - start
        before = _measure(table)
        start = time.perf_counter()
        result = api.maintain(root, [TENANT], orphan_age="0s")
        maintain_s = time.perf_counter() - start
        assert result.exit_code == 0, result.as_dict()
        table = catalog.load_table((TENANT, "events"))
        after = _measure(table)
        assert after["rows"] == before["rows"]
        print(f"{'':28}{'before':>12}{'after':>12}")
        for key in before:
            print(f"{key:28}{before[key]:>12}{after[key]:>12}")
        print(
            f"appends: {args.appends} x {args.rows} rows in {append_s:.1f} s; "
            f"maintain: {maintain_s:.1f} s"
        )
        figures = {
            "appends": args.appends,
            "rows_per_append": args.rows,
            "append_s": round(append_s, 2),
            "maintain_s": round(maintain_s, 2),
            "before": before,
            "after": after,
        }
        print(json.dumps(figures, sort_keys=True))
    finally:
        if args.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
