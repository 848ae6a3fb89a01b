"""Benchmark: a 1M-row CSV end to end, ours against a stock Meltano pipeline and dlt.

Builds a throw-away repository (the real registry, specs and templates; plugins linked),
writes a CSV matching ``specs/gdrive_csv/v1.0/deals_daily.yaml``, renders one tenant with two
jobs over that file (RECORD lines, and the tap's BATCH Parquet mode through the engine option
``batch_config``), runs ``meltano install`` (not timed), then times ``meltano run`` of each job
and checks the Iceberg table holds every row.

Timed on the same file in the same run, as baselines:

- ``stock``: a stock Meltano pipeline, ``tap-spreadsheets`` (a singer-sdk CSV/Excel tap from the
  package index) into ``target-jsonl``, in a throw-away project installed the same way (not
  timed); checked by counting the lines written. (``meltanolabs-tap-csv`` is not served by the
  index these machines reach; no stock Parquet or Iceberg loader for Meltano installs here.)
- ``dlt``: dlt's own CSV path (pyarrow's CSV reader yielding Arrow batches) into its filesystem
  destination as an Iceberg table, from a venv the bench creates once under ``.bench/dlt``
  (``dlt[pyiceberg]``); checked by counting the rows of the table's Parquet files. dlt infers
  the column types from the CSV; ours coerces to the asset spec's types and validates each row.

Prints a table with the ratios and, last, one line of JSON: ``rows``, ``seconds``,
``rows_per_s``, ``peak_rss_mb`` of the RECORD path (``--mode batch`` makes it the BATCH path),
the same per mode under ``modes``, each baseline under ``baselines``, ``ratios`` (ours over
each baseline's wall time) and the load average. ``seconds`` is the wall time of the whole run
(for Meltano: start-up, discovery, tap, loader, commit, state); CPU seconds are the process's
and all its children's; ``peak_rss_mb`` is the largest single process. Reads and writes only its
temporary folder and ``.bench/dlt``.

    python bench/e2e_csv.py [--rows 1000000] [--mode both|record|batch]
        [--baselines stock,dlt|none] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TENANT = "bench"
GOALS_S = {"record": 8.0, "batch": 5.0}
DLT = "dlt[pyiceberg]==1.31.0"
STOCK_PROJECT = """\
default_environment: dev
send_anonymous_usage_stats: false
cli:
  disable_version_check: true
environments:
- name: dev
plugins:
  extractors:
  - name: tap-spreadsheets
    namespace: tap_spreadsheets
    pip_url: tap-spreadsheets==1.1.2
    executable: tap-spreadsheets
    capabilities: [catalog, discover, state, about, stream-maps]
    config:
      files:
      - {{path: {csv}, format: csv, table_name: deals}}
  loaders:
  - name: target-jsonl
    namespace: target_jsonl
    pip_url: target-jsonl==0.1.4
    executable: target-jsonl
    config:
      destination_path: ${{MELTANO_PROJECT_ROOT}}/output
jobs:
- name: deals
  tasks:
  - tap-spreadsheets target-jsonl
"""
DLT_PIPELINE = """\
import sys
from pathlib import Path

import dlt
import pyarrow.csv as pv

csv_path, out = Path(sys.argv[1]), Path(sys.argv[2])


@dlt.resource(name="deals", write_disposition="append")
def deals():
    with pv.open_csv(csv_path, read_options=pv.ReadOptions(block_size=16 << 20)) as reader:
        yield from reader


pipeline = dlt.pipeline(
    pipeline_name="bench_e2e_csv",
    pipelines_dir=str(out / "pipelines"),
    destination=dlt.destinations.filesystem(bucket_url=(out / "lake").as_uri()),
    dataset_name="bench",
)
pipeline.run(deals(), table_format="iceberg")
"""
STAGES = ["prospect", "qualified", "proposal", "negotiation", "closed"]
# CSV cells as written: the comma in a name needs quoting.
ACCOUNTS = ["Initech", "Umbrella", "Globex", "Hooli", "Acme Corp", '"Stark, Inc."']

JOB = """\
tenant_id: bench
source:
  type: gdrive_csv
  local_folder: data/bench
  files:
    - {{file_id: deals.csv, object: {table}}}
  incremental:
    strategy: full_refresh
{engine}target:
  type: iceberg
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""
BATCH_ENGINE = """\
  engine:
    type: native
    options:
      native:
        batch_config:
          encoding: {format: parquet}
          batch_size: 1000000
"""


def write_csv(path: Path, rows: int) -> int:
    """Write ``rows`` deals (the deals_daily columns, offsets, empty cells); return bytes."""
    rng = random.Random(7)  # synthetic data
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(
            "deal_id,snapshot_date,account,stage,amount,currency,probability,is_won,updated_at\n"
        )
        chunk: list[str] = []
        for n in range(rows):
            day = 1 + n % 28
            account = ACCOUNTS[n % len(ACCOUNTS)]
            chunk.append(
                f"{100000 + n},2026-{1 + n % 12:02d}-{day:02d},"
                f"{account},"
                f"{STAGES[n % 5]},{'' if n % 17 == 0 else f'{rng.random() * 1e5:.2f}'},EUR,"
                f"{rng.random():.2f},{'true' if n % 3 == 0 else 'false'},"
                f"2026-11-{day:02d}T{n % 24:02d}:15:00{'Z' if n % 2 else '-05:00'}\n"
            )
            if len(chunk) == 50_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    return path.stat().st_size


def sandbox(root: Path) -> None:
    """A repository with the real registry, specs and templates, and the plugins linked."""
    for name in ("registry", "specs", "templates"):
        shutil.copytree(REPO / name, root / name)
    (root / "plugins").symlink_to(REPO / "plugins")
    (root / "configs" / TENANT).mkdir(parents=True)
    (root / "projects").mkdir()
    jobs = {"deals_record": "", "deals_batch": BATCH_ENGINE}
    for job, engine in jobs.items():
        text = JOB.format(table=job, engine=engine)
        (root / "configs" / TENANT / f"{job}.yaml").write_text(text)


def env() -> dict[str, str]:
    """The environment ingestgen gives Meltano (quiet, plugin bytecode), for every pipeline."""
    sys.path.insert(0, str(REPO / "generator"))
    from ingestgen.meltano.tool import environment

    return {**environment(os.environ), "PATH": f"{BIN}:{os.environ['PATH']}"}


def check(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-4000:]}")


def timed(cmd: list[str], cwd: Path, log: Path) -> dict[str, float]:
    """Run ``cmd``; its wall and CPU seconds (with every descendant) and the largest peak RSS."""
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=out, stderr=out)
        # wait4's usage covers the child and every descendant it waited for (tap, loader).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}); log: {log}")
    return {
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def figures(timing: dict[str, float], rows: int) -> dict[str, float | int]:
    return {
        "rows": rows,
        "seconds": round(timing["seconds"], 2),
        "cpu_s": round(timing["cpu_s"], 2),
        "rows_per_s": round(rows / timing["seconds"]),
        "peak_rss_mb": round(timing["peak_rss_mb"]),
    }


def stock(tmp: Path, csv: Path) -> Path:
    """The stock tap-spreadsheets -> target-jsonl project over the CSV, installed."""
    folder = tmp / "stock"
    (folder / "output").mkdir(parents=True)
    (folder / "meltano.yml").write_text(STOCK_PROJECT.format(csv=json.dumps(str(csv))))
    t0 = time.perf_counter()
    check([str(BIN / "meltano"), "install"], folder)
    print(f"stock: meltano install {time.perf_counter() - t0:.1f} s (not timed)")
    return folder


def stock_rows(folder: Path) -> int:
    rows = 0
    for path in (folder / "output").glob("*.jsonl"):
        with path.open("rb") as lines:
            rows += sum(1 for _ in lines)
    return rows


def dlt_python() -> Path:
    """A venv with dlt and pyiceberg under .bench/dlt, created once."""
    venv = REPO / ".bench" / "dlt"
    python = venv / "bin" / "python"
    if not (venv / "installed").exists():
        t0 = time.perf_counter()
        check([str(BIN / "uv"), "venv", "-q", "--allow-existing", str(venv)], REPO)
        check([str(BIN / "uv"), "pip", "install", "-q", "--python", str(python), DLT], REPO)
        (venv / "installed").write_text(DLT + "\n")
        print(f"dlt: installed {DLT} in {time.perf_counter() - t0:.1f} s (not timed)")
    return python


def dlt_rows(out: Path) -> int:
    import pyarrow.parquet as pq

    data = out / "lake" / "bench" / "deals" / "data"
    return sum(pq.ParquetFile(path).metadata.num_rows for path in data.glob("*.parquet"))


def table_rows(project: Path, table: str) -> int:
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog(
        f"{TENANT}_embedded",
        type="sql",
        uri=f"sqlite:///{project}/.lake/catalog.db",
        warehouse=f"file://{project}/.lake/warehouse",
    )
    return int(catalog.load_table((TENANT, table)).scan().count())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=["both", "record", "batch"], default="both")
    parser.add_argument(
        "--baselines", default="stock,dlt", help="stock, dlt, both comma-separated, or none"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ingestgen-bench-e2e-"))
    try:
        root = tmp / "repo"
        root.mkdir()
        sandbox(root)
        t0 = time.perf_counter()
        csv = root / "data" / TENANT / "deals.csv"
        size = write_csv(csv, args.rows)
        print(f"csv: {args.rows:,} rows, {size / 1e6:.0f} MB ({time.perf_counter() - t0:.1f} s)")
        check([str(BIN / "ingestgen"), "render", "--root", str(root)], root)
        project = root / "projects" / TENANT
        t0 = time.perf_counter()
        check([str(BIN / "meltano"), "install"], project)
        print(f"meltano install: {time.perf_counter() - t0:.1f} s (not timed)")

        modes = ["record", "batch"] if args.mode == "both" else [args.mode]
        baselines = [] if args.baselines == "none" else args.baselines.split(",")
        stock_project = stock(tmp, csv) if "stock" in baselines else None
        python = dlt_python() if "dlt" in baselines else None
        results: dict[str, dict[str, float | int]] = {}
        for mode in modes:
            job = f"deals_{mode}"
            timing = timed([str(BIN / "meltano"), "run", job], project, tmp / f"{job}.log")
            landed = table_rows(project, job)
            if landed != args.rows:
                sys.exit(f"{mode}: the table holds {landed:,} rows, expected {args.rows:,}")
            results[mode] = figures(timing, landed)
        others: dict[str, dict[str, float | int]] = {}
        if stock_project is not None:
            timing = timed([str(BIN / "meltano"), "run", "deals"], stock_project, tmp / "stock.log")
            others["stock"] = figures(timing, stock_rows(stock_project))
        if python is not None:
            script = tmp / "dlt_pipeline.py"
            script.write_text(DLT_PIPELINE)
            out = tmp / "dlt"
            timing = timed([str(python), str(script), str(csv), str(out)], tmp, tmp / "dlt.log")
            others["dlt"] = figures(timing, dlt_rows(out))
        for name, got in others.items():
            if got["rows"] != args.rows:
                sys.exit(f"{name}: {got['rows']:,} rows written, expected {args.rows:,}")
        for name, got in {**results, **others}.items():
            goal = GOALS_S.get(name) if name in results else None
            verdict = (
                ""
                if goal is None
                else (f"  goal {goal:.0f} s: " + ("met" if got["seconds"] <= goal else "missed"))
            )
            print(
                f"{name:>6}: {got['seconds']:6.2f} s  CPU {got['cpu_s']:6.2f} s  "
                f"{got['rows_per_s']:>9,} rows/s  peak RSS {got['peak_rss_mb']:5} MB{verdict}"
            )
        ratios = {
            f"{mode}/{name}": round(float(results[mode]["seconds"]) / float(other["seconds"]), 2)
            for mode in results
            for name, other in others.items()
        }
        if ratios:
            print(
                "wall ratios (ours / baseline): " + ", ".join(f"{k} {v}" for k, v in ratios.items())
            )
        main_mode = "record" if "record" in results else modes[0]
        summary = {
            **results[main_mode],
            "mode": main_mode,
            "modes": results,
            "baselines": others,
            "ratios": ratios,
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(summary))
    finally:
        if args.keep:
            print(f"kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
