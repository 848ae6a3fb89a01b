"""Throughput of tap-gdrive-csv in local-folder mode: RECORD fast path, SDK path, BATCH Parquet.

Usage: ``python plugins/tap-gdrive-csv/bench/tap_throughput.py [rows]`` (default 1,000,000).
Writes a synthetic 12-column CSV to a temporary folder, runs the console script once per mode
with stdout to /dev/null, and prints wall seconds, CPU seconds of the child and peak RSS. CPU
seconds are the stable number on a shared machine. Reads and writes only the temporary folder.
"""

from __future__ import annotations

import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLUMNS = ["deal_id", "snapshot_date", "account", "stage", "amount", "currency",
           "probability", "is_won", "updated_at", "owner", "region", "note"]


def write_csv(path: Path, rows: int) -> None:
    """Write a deals-like CSV with some empty cells and quoted commas."""
    rng = random.Random(1)  # noqa: S311 - synthetic data, not security
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            writer.writerow([
                i, "2024-01-31", f"Account {i % 5000}", rng.choice(["won", "lost", "open"]),
                f"{rng.random() * 1e5:.2f}", "EUR", f"{rng.random():.2f}",
                rng.choice(["true", "false"]), "2024-01-31T10:00:00Z", f"owner{i % 97}",
                rng.choice(["EMEA", "APAC", "AMER"]), "" if i % 3 else "a note, with a comma",
            ])


def run(exe: Path, config: dict[str, object], folder: Path) -> tuple[float, float, float]:
    """Run the tap once; return wall s, child CPU s, peak RSS MB (of all children so far)."""
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(exe), "--config", str(path)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def main() -> None:
    """Generate the data, run each mode once, print a table."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    exe = Path(sys.executable).with_name("tap-gdrive-csv")
    with tempfile.TemporaryDirectory(prefix="tap-gdrive-csv-bench-") as tmp:
        folder = Path(tmp)
        write_csv(folder / "big.csv", rows)
        base = {"local_folder": str(folder), "files": [{"file_id": "big.csv", "object": "big"}]}
        modes = {
            "RECORD fast path": base,
            "RECORD SDK path (stream map)": {
                **base, "stream_maps": {"big": {"__alias__": "big_alias"}}
            },
            "BATCH parquet": {
                **base,
                "batch_config": {
                    "encoding": {"format": "parquet"},
                    "storage": {"root": (folder / "batches").as_uri()},
                    "batch_size": 500_000,
                },
            },
        }
        print(f"{rows} rows x {len(COLUMNS)} columns, "
              f"{(folder / 'big.csv').stat().st_size / 1e6:.0f} MB of CSV")
        print(f"{'mode':32} {'wall s':>8} {'cpu s':>8} {'rows/cpu s':>11} {'max rss MB':>11}")
        for name, config in modes.items():
            wall, cpu, rss = run(exe, config, folder)
            print(f"{name:32} {wall:8.2f} {cpu:8.2f} {rows / cpu:11.0f} {rss:11.0f}")


if __name__ == "__main__":
    main()
