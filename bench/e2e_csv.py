"""Benchmark: a 1M-row CSV end to end through ``meltano run`` (native tap → target-iceberg).

Builds a throw-away repository (the real registry, specs and templates; plugins linked),
writes a CSV matching ``specs/gdrive_csv/v1.0/deals_daily.yaml``, renders one tenant with two
jobs over that file (RECORD lines, and the tap's BATCH Parquet mode through the engine option
``batch_config``), runs ``meltano install`` (not timed), then times ``meltano run`` of each job
and checks the Iceberg table holds every row. Prints a table and, last, one line of JSON:
``rows``, ``seconds``, ``rows_per_s``, ``peak_rss_mb`` of the RECORD path (what a job gets by
default; ``--mode batch`` makes it the BATCH path) and the same figures per mode under ``modes``.

``seconds`` is the wall time of the whole ``meltano run`` (Meltano's start-up, discovery, tap,
loader, commit, state); ``peak_rss_mb`` is the largest single process among Meltano, the tap and
the loader. Reads and writes only its temporary folder.

    python bench/e2e_csv.py [--rows 1000000] [--mode both|record|batch] [--keep]
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
GOAL_S = 10.0
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
    return {
        **os.environ,
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }


def check(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-4000:]}")


def timed_run(project: Path, job: str, log: Path) -> tuple[float, float]:
    """``meltano run job``; return wall seconds and the largest process's peak RSS in MB."""
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(BIN / "meltano"), "run", job], cwd=project, env=env(), stdout=out, stderr=out
        )
        # wait4's usage covers the child and every descendant it waited for (tap, loader).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"meltano run {job} failed ({proc.returncode}); log: {log}")
    return seconds, usage.ru_maxrss / 1024


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
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ingestgen-bench-e2e-"))
    try:
        root = tmp / "repo"
        root.mkdir()
        sandbox(root)
        t0 = time.perf_counter()
        size = write_csv(root / "data" / TENANT / "deals.csv", args.rows)
        print(f"csv: {args.rows:,} rows, {size / 1e6:.0f} MB ({time.perf_counter() - t0:.1f} s)")
        check([str(BIN / "ingestgen"), "render", "--root", str(root)], root)
        project = root / "projects" / TENANT
        t0 = time.perf_counter()
        check([str(BIN / "meltano"), "install"], project)
        print(f"meltano install: {time.perf_counter() - t0:.1f} s (not timed)")

        modes = ["record", "batch"] if args.mode == "both" else [args.mode]
        results: dict[str, dict[str, float | int]] = {}
        for mode in modes:
            job = f"deals_{mode}"
            seconds, rss = timed_run(project, job, tmp / f"{job}.log")
            landed = table_rows(project, job)
            if landed != args.rows:
                sys.exit(f"{mode}: the table holds {landed:,} rows, expected {args.rows:,}")
            results[mode] = {
                "rows": landed,
                "seconds": round(seconds, 2),
                "rows_per_s": round(landed / seconds),
                "peak_rss_mb": round(rss),
            }
            print(
                f"{mode:>6}: {seconds:6.2f} s  {landed / seconds:>9,.0f} rows/s  "
                f"peak RSS {rss:5.0f} MB  goal {GOAL_S:.0f} s: "
                + ("met" if seconds <= GOAL_S else "missed")
            )
        main_mode = "record" if "record" in results else modes[0]
        print(json.dumps({**results[main_mode], "mode": main_mode, "modes": results}))
    finally:
        if args.keep:
            print(f"kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
