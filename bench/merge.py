"""Benchmark: write_mode merge at scale, native and spark engines, and the 1M-record loads.

Per engine, in a fresh embedded catalog, each step its own target-iceberg process:
  (1) load:  N records (ids 0..N-1) appended into a new table;
  (2) merge: N records, 10% updates (ids 0..N/10-1) and 90% new (ids N..), write_mode merge.
The merge is checked exactly: 1.9 N rows, one per id, the updated ids carry the new version.
Engine ``meltano`` (append only: a stock loader) does step (1) alone, through mapper-contract
into target-s3tables on the reference REST catalog and the local S3 server
(`bench/meltano_load.py`), checked to land N rows.
Prints wall seconds, records/s and the peak RSS of the process tree (the loader and, for spark,
its JVM; for meltano the mapper and the loader; sampled from /proc) per step, the machine's
load average, and one closing JSON line:

    python bench/merge.py --records 1000000 [--engines native,spark,meltano]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from loader import SPEC, generate
from meltano_load import run_meltano_load
from pyiceberg.catalog import load_catalog

PAGE_MB = 4096 / 1024 / 1024


def tree_rss_mb(root: int) -> float:
    """RSS of ``root`` and all its descendants now (MB)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE_MB
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def run(config: Path, stream: Path) -> tuple[float, float]:
    """Run the loader on ``stream``; return wall seconds and the tree's peak RSS (MB)."""
    exe = Path(sys.executable).with_name("target-iceberg")
    peak = 0.0
    with stream.open("rb") as inp:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(exe), "--config", str(config)],
            stdin=inp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        err: list[bytes] = []
        reader = threading.Thread(target=lambda: err.append(proc.stderr.read()))  # type: ignore[union-attr]
        reader.start()
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.2)
        reader.join()
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(b"".join(err).decode(errors="replace")[-3000:])
        raise SystemExit(f"target-iceberg exited {proc.returncode}")
    return elapsed, peak


def config(work: Path, engine: str, mode: str, spec: Path, run_id: str) -> Path:
    lake = work / "lake"
    (lake / "warehouse").mkdir(parents=True, exist_ok=True)
    path = work / f"{run_id}.json"
    settings = {
        "namespace": "bench",
        "catalog_name": "bench",
        "catalog_properties": {
            "type": "sql",
            "uri": f"sqlite:///{lake / 'catalog.db'}",
            "warehouse": (lake / "warehouse").as_uri(),
        },
        "streams": {"orders": {"table": "orders", "asset_spec": str(spec)}},
        "engine": engine,
        "write_mode": mode,
        "run_id": run_id,
        "run_summary_path": str(work / f"{run_id}-summary.json"),
        "spark": {"driver_memory": "2g"},
    }
    path.write_text(json.dumps(settings))
    return path


def check(work: Path, count: int) -> dict[str, int]:
    """The exact outcome of the merge, read back with pyiceberg."""
    lake = work / "lake"
    catalog = load_catalog(
        "bench", type="sql", uri=f"sqlite:///{lake / 'catalog.db'}", warehouse=lake.as_uri()
    )
    table = catalog.load_table("bench.orders").scan(selected_fields=("id", "name")).to_arrow()
    ids = table["id"].to_numpy()
    updated = sum(1 for name in table["name"].to_pylist() if name.startswith("Updated"))
    facts = {"rows": table.num_rows, "distinct_ids": len(set(ids.tolist())), "new_version": updated}
    expected = {"rows": count * 19 // 10, "distinct_ids": count * 19 // 10, "new_version": count}
    if facts != expected:
        raise SystemExit(f"merge result {facts} differs from the expected {expected}")
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--engines", default="native,spark,meltano")
    parser.add_argument(
        "--meltano-batch-rows",
        type=int,
        default=100_000,
        help="target-s3tables' batch_size_rows: records per commit (its default is 5000)",
    )
    args = parser.parse_args()
    count, updates = args.records, args.records // 10
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-merge-") as tmp:
        root = Path(tmp)
        spec = root / "orders.yaml"
        spec.write_text(SPEC)
        base, batch = root / "base.jsonl", root / "merge.jsonl"
        generate(base, count)
        generate(
            batch, count, ids=lambda i: i if i < updates else count + i - updates, tag="Updated"
        )
        for engine in args.engines.split(","):
            work = root / engine
            work.mkdir()
            if engine == "meltano":
                load_s, load_rss, rows = run_meltano_load(
                    work, SPEC, base, count, tree_rss_mb, args.meltano_batch_rows
                )
                results[engine] = {
                    "load_s": round(load_s, 1),
                    "load_peak_rss_mb": round(load_rss),
                    "rows": rows,
                }
                print(
                    f"{engine:>7}: load {count:,} in {load_s:6.1f} s ({count / load_s:9,.0f} "
                    f"rec/s, {load_rss:5.0f} MB; batches of {args.meltano_batch_rows:,}); "
                    f"{rows:,} rows; load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                continue
            load_s, load_rss = run(config(work, engine, "append", spec, "load"), base)
            merge_s, merge_rss = run(config(work, engine, "merge", spec, "merge"), batch)
            facts = check(work, count)
            results[engine] = {
                "load_s": round(load_s, 1),
                "load_peak_rss_mb": round(load_rss),
                "merge_s": round(merge_s, 1),
                "merge_peak_rss_mb": round(merge_rss),
                **facts,
            }
            print(
                f"{engine:>7}: load {count:,} in {load_s:6.1f} s ({count / load_s:9,.0f} rec/s, "
                f"{load_rss:5.0f} MB); merge {count:,} ({updates:,} updates) into {count:,} in "
                f"{merge_s:6.1f} s ({count / merge_s:9,.0f} rec/s, {merge_rss:5.0f} MB); "
                f"{facts['rows']:,} rows, {facts['new_version']:,} new versions; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    merged = {e: r for e, r in results.items() if "merge_s" in r}
    closing = {
        "bench": "merge",
        "rows": count,
        "updates": updates,
        "seconds": {e: r["merge_s"] for e, r in merged.items()},
        "peak_rss_mb": {e: r["merge_peak_rss_mb"] for e, r in merged.items()},
        "load_seconds": {e: r["load_s"] for e, r in results.items()},
        "load_records_per_s": {e: round(count / r["load_s"]) for e, r in results.items()},
        "load_peak_rss_mb": {e: r["load_peak_rss_mb"] for e, r in results.items()},
        "load_average_1m": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
        "goal_native_s": 60,
    }
    print(json.dumps(closing))


if __name__ == "__main__":
    main()
