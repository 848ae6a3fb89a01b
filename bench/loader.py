"""Benchmark: target-iceberg against a stock singer-sdk target and a hand-built floor.

Generates a Singer stream of N records (12 columns: ints, strings, double, decimal, boolean,
date, timestamptz, nullable fields, one nested object), then runs, each in its own process:
  (a) sdk:   a stock singer-sdk target whose sink does nothing (per-record validation on);
  (b) floor: pyarrow's JSON reader -> Parquet (zstd) -> one pyiceberg add_files;
  (c) ours:  target-iceberg with validation, quarantine and commit (embedded SQLite catalog).
Prints wall seconds, records/s, CPU seconds and peak RSS of each (medians of --repeat runs for
(b) and (c), alternating; (a) runs once), the ratios, and one closing JSON line. CPU seconds
are printed too because wall time on a shared machine moves with the other tenants' load.

    python bench/loader.py --records 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SPEC = """asset: bench_orders
version: "1.0"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: customer_id, type: long, required: true}
    - {name: name, type: string, required: true}
    - {name: email, type: string}
    - {name: amount, type: double}
    - {name: price, type: "decimal(12,2)", required: true}
    - {name: active, type: boolean}
    - {name: signup_date, type: date}
    - {name: updated_at, type: timestamptz, required: true}
    - {name: country, type: string}
    - {name: score, type: int}
    - {name: address, type: "struct<street:string,city:string,zip:string>"}
  primary_key: [id]
"""

JSON_SCHEMA = {
    "type": "object",
    "required": ["id", "customer_id", "name", "price", "updated_at"],
    "properties": {
        "id": {"type": "integer"},
        "customer_id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]},
        "price": {"type": "string"},
        "active": {"type": ["boolean", "null"]},
        "signup_date": {"type": ["string", "null"], "format": "date"},
        "updated_at": {"type": "string", "format": "date-time"},
        "country": {"type": ["string", "null"]},
        "score": {"type": ["integer", "null"]},
        "address": {
            "type": ["object", "null"],
            "properties": {
                "street": {"type": ["string", "null"]},
                "city": {"type": ["string", "null"]},
                "zip": {"type": ["string", "null"]},
            },
        },
    },
}
COUNTRIES = ["DE", "FR", "US", "GB", "IN", "BR", "JP", "NL", "ES", "IT"]
CITIES = ["Berlin", "Paris", "Austin", "Leeds", "Pune", "Recife", "Osaka", "Delft"]


def generate(
    path: Path, count: int, *, ids: Callable[[int], int] | None = None, tag: str = "Customer"
) -> int:
    """Write a Singer stream of ``count`` records; return its size in bytes.

    ``ids`` maps the record's position to its ``id`` (default: the position); ``tag`` starts
    every ``name`` (bench/merge.py tells the versions apart by it).
    """
    rnd = random.Random(42)
    with path.open("w", encoding="utf-8") as out:
        out.write(
            json.dumps(
                {
                    "type": "SCHEMA",
                    "stream": "orders",
                    "schema": JSON_SCHEMA,
                    "key_properties": ["id"],
                }
            )
            + "\n"
        )
        for i in range(count):
            rid = ids(i) if ids else i
            email = f'"user{i % 50000}@example.com"' if i % 7 else "null"
            score = str(rnd.randint(0, 1000)) if i % 5 else "null"
            offset = ("+02:00", "Z", "-05:00")[i % 3]
            day = 1 + i % 28
            address = (
                "null"
                if i % 11 == 0
                else f'{{"street": "{rnd.randint(1, 999)} Main Street", '
                f'"city": "{CITIES[i % 8]}", "zip": "{10000 + i % 89999}"}}'
            )
            month = f"{1 + i % 12:02d}"
            clock = f"{i % 24:02d}:{i % 60:02d}:{i % 60:02d}.{i % 1000:03d}"
            price = f"{rnd.randint(0, 10**7) / 100:.2f}"
            active = "true" if i % 2 else "false"
            out.write(
                '{"type": "RECORD", "stream": "orders", "record": {'
                f'"id": {rid}, "customer_id": {rnd.randint(1, 10**6)}, '
                f'"name": "{tag} number {i} with a longer name", "email": {email}, '
                f'"amount": {rnd.random() * 1000:.6f}, "price": "{price}", '
                f'"active": {active}, "signup_date": "2023-{month}-{day:02d}", '
                f'"updated_at": "2024-{month}-{day:02d}T{clock}{offset}", '
                f'"country": "{COUNTRIES[i % 10]}", "score": {score}, "address": {address}'
                '}, "time_extracted": "2024-06-01T00:00:00Z"}\n'
            )
        out.write(json.dumps({"type": "STATE", "value": {"bookmarks": {"orders": count}}}) + "\n")
    return path.stat().st_size


# --- (a) a stock singer-sdk target -------------------------------------------------------


def run_sdk(stream: Path) -> None:
    from singer_sdk import Target
    from singer_sdk.sinks import BatchSink

    class NullSink(BatchSink):
        def process_batch(self, context: dict) -> None:
            pass

    class NullTarget(Target):
        name = "target-null"
        config_jsonschema = {"type": "object", "properties": {}}  # noqa: RUF012
        default_sink_class = NullSink

    with stream.open(encoding="utf-8") as handle, open(os.devnull, "w") as sink:  # noqa: PTH123
        stdout, sys.stdout = sys.stdout, sink
        try:
            target = NullTarget(config={})
            target.listen(handle)
        finally:
            sys.stdout = stdout


# --- (b) the hand-built floor --------------------------------------------------------------


def run_floor(stream: Path, workdir: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj
    import pyarrow.parquet as pq
    from pyiceberg.catalog import load_catalog

    record = pa.struct(
        [
            ("id", pa.int64()),
            ("customer_id", pa.int64()),
            ("name", pa.string()),
            ("email", pa.string()),
            ("amount", pa.float64()),
            ("price", pa.decimal128(12, 2)),
            ("active", pa.bool_()),
            ("signup_date", pa.string()),
            ("updated_at", pa.timestamp("us", tz="UTC")),
            ("country", pa.string()),
            ("score", pa.int32()),
            (
                "address",
                pa.struct([("street", pa.string()), ("city", pa.string()), ("zip", pa.string())]),
            ),
        ]
    )
    envelope = pa.schema([("type", pa.string()), ("record", record)])
    reader = pj.open_json(
        stream,
        read_options=pj.ReadOptions(block_size=16 << 20),
        parse_options=pj.ParseOptions(explicit_schema=envelope, unexpected_field_behavior="ignore"),
    )
    out = workdir / "floor.parquet"
    writer = None
    for block in reader:
        batch = block.filter(pc.equal(block.column("type"), "RECORD"))
        table = pa.Table.from_struct_array(batch.column("record"))
        table = table.set_column(
            table.schema.get_field_index("signup_date"),
            "signup_date",
            pc.cast(table.column("signup_date"), pa.date32()),
        )
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema, compression="zstd")
        writer.write_table(table)
    assert writer is not None
    writer.close()
    (workdir / "floor_wh").mkdir()
    catalog = load_catalog(
        "floor",
        type="sql",
        uri=f"sqlite:///{workdir / 'floor.db'}",
        warehouse=(workdir / "floor_wh").as_uri(),
    )
    catalog.create_namespace("bench")
    iceberg = catalog.create_table("bench.orders", schema=pq.read_schema(out))
    iceberg.add_files([str(out)])


# --- (c) target-iceberg --------------------------------------------------------------------


def ours_command(stream: Path, workdir: Path) -> tuple[list[str], Path]:
    spec = workdir / "bench_orders.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    lake = workdir / "lake"
    (lake / "warehouse").mkdir(parents=True)
    config = {
        "namespace": "bench",
        "tenant": "bench",
        "job": "loader-bench",
        "catalog_properties": {
            "type": "sql",
            "uri": f"sqlite:///{lake / 'catalog.db'}",
            "warehouse": (lake / "warehouse").as_uri(),
        },
        "streams": {"orders": {"table": "orders", "asset_spec": str(spec)}},
        "run_summary_path": str(workdir / "summary.json"),
    }
    cfg = workdir / "target.json"
    cfg.write_text(json.dumps(config), encoding="utf-8")
    exe = Path(sys.executable).with_name("target-iceberg")
    return [str(exe), "--config", str(cfg)], workdir / "summary.json"


# --- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One measured process."""

    wall: float
    cpu: float
    rss_mb: float


def measure(args: list[str], stdin: Path | None = None) -> Run:
    """Run a command; return its wall seconds, CPU seconds (user + system) and peak RSS."""
    source = stdin or Path(os.devnull)
    with source.open("rb") as inp, Path(os.devnull).open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdin=inp, stdout=out, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(err.decode(errors="replace")[-3000:])
        raise SystemExit(f"{args[:3]} failed")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def median_run(runs: list[Run]) -> Run:
    """Median wall and CPU seconds; the highest peak RSS."""
    return Run(
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu for r in runs),
        max(r.rss_mb for r in runs),
    )


def warm_up() -> None:
    """Import every stage's modules once, writing bytecode, so no stage pays for compiling."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    modules = (
        "target_iceberg.target, singer_sdk, pyarrow.json, pyarrow.parquet, pyiceberg.catalog.sql"
    )
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sdk", "floor", "ours"], action="append")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the floor and of target-iceberg (median)"
    )
    parser.add_argument("--stage", choices=["sdk", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage == "sdk":
        run_sdk(args.input)
        return
    if args.stage == "floor":
        run_floor(args.input, args.workdir)
        return

    workdir = Path(tempfile.mkdtemp(prefix="loader-bench-"))
    try:
        stream = workdir / "stream.singer"
        size = generate(stream, args.records)
        print(f"stream: {args.records:,} records, {size / 1e6:.0f} MB")
        warm_up()
        stages = args.only or ["sdk", "floor", "ours"]
        me = [sys.executable, __file__, "--input", str(stream)]
        runs: dict[str, list[Run]] = {stage: [] for stage in stages}
        summary = None
        if "sdk" in stages:  # about 80 s alone: measured once
            runs["sdk"].append(measure([*me, "--stage", "sdk"]))
        # Floor and ours alternate, so that both meet the same load on a shared machine.
        for attempt in range(args.repeat):
            if "floor" in stages:
                floor_dir = workdir / f"floor{attempt}"
                floor_dir.mkdir()
                runs["floor"].append(
                    measure([*me, "--stage", "floor", "--workdir", str(floor_dir)])
                )
            if "ours" in stages:
                ours_dir = workdir / f"ours{attempt}"
                ours_dir.mkdir()
                command, summary_path = ours_command(stream, ours_dir)
                runs["ours"].append(measure(command, stdin=stream))
                summary = json.loads(summary_path.read_text(encoding="utf-8"))
        results = {stage: median_run(found) for stage, found in runs.items()}
        labels = {
            "sdk": "(a) singer-sdk no-op target",
            "floor": "(b) floor: JSON reader->Parquet->Iceberg",
            "ours": "(c) target-iceberg",
        }
        print(f"{'':<42} {'wall':>10} {'rec/s':>12} {'CPU':>9} {'peak RSS':>11}  (median of runs)")
        for key, result in results.items():
            rate = args.records / result.wall
            print(
                f"{labels[key]:<42} {result.wall:8.2f} s {rate:12,.0f} {result.cpu:7.2f} s "
                f"{result.rss_mb:8.0f} MB  ({len(runs[key])} run(s))"
            )
        if summary:
            totals = summary["totals"]
            print(
                f"target-iceberg landed {totals['rows_landed']:,}, "
                f"rejected {totals['rows_rejected']:,}, {totals['files']} file(s), "
                f"{totals['bytes'] / 1e6:.1f} MB, status {summary['status']}"
            )

        def ratio(top: str, bottom: str, attr: str) -> float | None:
            if top not in results or bottom not in results:
                return None
            return round(getattr(results[top], attr) / getattr(results[bottom], attr), 2)

        def figure(stage: str, attr: str) -> float | None:
            return round(getattr(results[stage], attr), 2) if stage in results else None

        figures = {
            "records": args.records,
            "sdk_s": figure("sdk", "wall"),
            "floor_s": figure("floor", "wall"),
            "ours_s": figure("ours", "wall"),
            "sdk_over_ours": ratio("sdk", "ours", "wall"),
            "ours_over_floor": ratio("ours", "floor", "wall"),
            "ours_peak_rss_mb": round(results["ours"].rss_mb) if "ours" in results else None,
            "sdk_cpu_s": figure("sdk", "cpu"),
            "floor_cpu_s": figure("floor", "cpu"),
            "ours_cpu_s": figure("ours", "cpu"),
            "sdk_over_ours_cpu": ratio("sdk", "ours", "cpu"),
            "ours_over_floor_cpu": ratio("ours", "floor", "cpu"),
        }
        print(json.dumps(figures))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
