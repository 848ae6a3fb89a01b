"""Benchmark: the per-run overhead of an incremental run with nothing new to read.

Ours: the demo job (``configs/acme/deals_daily.yaml``, two small CSV files into the embedded
Iceberg catalog) in a throw-away copy of the repository (the real registry, specs, templates and
demo data; plugins linked), rendered, installed, run once to land its rows, then timed as
``ingestgen run`` again and again: both files unchanged, so each run reads and writes nothing
(checked from the run record: exit 0, no row read).

Stock: the same rows through a stock Meltano pipeline in a throw-away project: ``tap-jsonfile``
(a singer-sdk tap from PyPI that keeps a content hash per file, so its second run reads nothing
too) into ``target-jsonl``, each plugin defined inline with ``namespace`` and ``pip_url`` (no
Hub), timed as ``meltano run``, after one run that read the files. The demo's two CSV files are
copied as JSONL for it. (``meltanolabs-tap-csv`` was the first choice; the package index these
machines reach does not serve it, and it keeps no bookmark, so its runs would never be no-ops.)

Both projects are installed the same way (``meltano install``, plugin bytecode written, as
ingestgen installs them) and share this environment's Meltano. Runs alternate (ours, stock, ours,
...) so that a machine shared with other work slows both alike. Each figure is the median of
``--runs`` runs: wall seconds, CPU seconds (user + system of the process and all its children)
and peak RSS (the largest single process). Prints a table and, last, one line of JSON.

    python bench/overhead.py [--runs 5] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
JOB = Path("configs/acme/deals_daily.yaml")
GOAL_WALL_S, GOAL_CPU_S = 4.0, 5.0

STOCK_PROJECT = """\
default_environment: dev
send_anonymous_usage_stats: false
cli:
  disable_version_check: true
state_backend:
  uri: file://${{MELTANO_PROJECT_ROOT}}/.meltano/state
environments:
- name: dev
plugins:
  extractors:
  - name: tap-jsonfile
    namespace: tap_jsonfile
    pip_url: tap-jsonfile==0.1.2
    executable: tap-jsonfile
    capabilities: [catalog, discover, state, about, stream-maps]
    config:
      paths: ["${{MELTANO_PROJECT_ROOT}}/data/*.jsonl"]
      stream_name: deals_daily
  loaders:
  - name: target-jsonl
    namespace: target_jsonl
    pip_url: target-jsonl
    executable: target-jsonl
    config:
      destination_path: ${{MELTANO_PROJECT_ROOT}}/output
jobs:
- name: deals_daily
  tasks:
  - tap-jsonfile target-jsonl
"""


def environment() -> dict[str, str]:
    """The environment ingestgen gives Meltano (quiet, plugin bytecode), for both pipelines."""
    sys.path.insert(0, str(REPO / "generator"))
    from ingestgen.meltano.tool import environment as ingestgen_environment

    return ingestgen_environment(os.environ)


def check(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done.stdout


def ours(root: Path, env: dict[str, str]) -> Path:
    """A repository with the demo job, rendered, installed and run once; its project folder."""
    for name in ("registry", "specs", "templates"):
        shutil.copytree(REPO / name, root / name)
    (root / "plugins").symlink_to(REPO / "plugins")
    shutil.copytree(REPO / JOB.parent, root / JOB.parent)
    for extra in (root / JOB.parent).glob("*.yaml"):
        if extra.name != JOB.name:
            extra.unlink()
    (root / "projects").mkdir()
    # ingestgen and the loader run from their source folders (editable installs): compile them,
    # as the runner image's build does, or each run compiles them again (PYTHONDONTWRITEBYTECODE).
    check([sys.executable, "-m", "compileall", "-q", "generator", "plugins"], REPO, env)
    check([str(BIN / "ingestgen"), "render", "--root", str(root)], root, env)
    project = root / "projects" / "acme"
    t0 = time.perf_counter()
    check([str(BIN / "meltano"), "install"], project, env)
    print(f"ours: meltano install {time.perf_counter() - t0:.1f} s (not timed)")
    check([str(BIN / "ingestgen"), "run", str(JOB), "--root", str(root)], root, env)
    return project


def stock(folder: Path, data: Path, env: dict[str, str]) -> Path:
    """The stock tap-jsonfile -> target-jsonl project over the demo's rows, installed."""
    (folder / "data").mkdir(parents=True)
    for path in sorted(data.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as rows:
            lines = [json.dumps(row) + "\n" for row in csv.DictReader(rows)]
        (folder / "data" / f"{path.stem}.jsonl").write_text("".join(lines), encoding="utf-8")
    (folder / "meltano.yml").write_text(STOCK_PROJECT.format())
    (folder / "output").mkdir()
    t0 = time.perf_counter()
    check([str(BIN / "meltano"), "install"], folder, env)
    print(f"stock: meltano install {time.perf_counter() - t0:.1f} s (not timed)")
    return folder


def timed(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict[str, float]:
    """Run ``cmd``; its wall and CPU seconds (with every descendant) and the largest peak RSS."""
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        # wait4's usage covers the child and every descendant it waited for (Meltano, plugins).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}); log: {log}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def noop_checked(record_dir: Path) -> None:
    """The newest run record says: exit 0 and nothing read (a true no-op)."""
    newest = max(record_dir.glob("*-*-*-*-*[0-9a-f].json"), key=lambda p: p.stat().st_mtime)
    record = json.loads(newest.read_text())
    if record["exit_code"] != 0 or record["totals"]["rows_read"] != 0:
        sys.exit(f"not a no-op run: exit {record['exit_code']}, {record['rows_read']} rows read")


def medians(samples: list[dict[str, float]]) -> dict[str, float]:
    return {
        key: round(statistics.median(sample[key] for sample in samples), 2) for key in samples[0]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    env = environment()
    tmp = Path(tempfile.mkdtemp(prefix="ingestgen-bench-overhead-"))
    try:
        root = tmp / "repo"
        root.mkdir()
        project = ours(root, env)
        stock_project = stock(tmp / "stock", root / JOB.parent / "data", env)
        check([str(BIN / "meltano"), "run", "deals_daily"], stock_project, env)  # warm, as ours
        samples: dict[str, list[dict[str, float]]] = {"ours": [], "stock": []}
        for i in range(args.runs):
            samples["ours"].append(
                timed(
                    [str(BIN / "ingestgen"), "run", str(JOB), "--root", str(root)],
                    root,
                    env,
                    tmp / f"ours-{i}.log",
                )
            )
            noop_checked(project / ".meltano" / "runs" / "deals_daily")
            samples["stock"].append(
                timed(
                    [str(BIN / "meltano"), "run", "deals_daily"],
                    stock_project,
                    env,
                    tmp / f"stock-{i}.log",
                )
            )
        result = {name: medians(runs) for name, runs in samples.items()}
        for name, figures in result.items():
            print(
                f"{name:>5}: wall {figures['wall_s']:5.2f} s  CPU {figures['cpu_s']:5.2f} s  "
                f"peak RSS {figures['peak_rss_mb']:4.0f} MB  (median of {args.runs})"
            )
        ratio = result["ours"]["wall_s"] / result["stock"]["wall_s"]
        goals = {
            "wall": result["ours"]["wall_s"] <= GOAL_WALL_S,
            "cpu": result["ours"]["cpu_s"] <= GOAL_CPU_S,
            "faster_than_stock": ratio < 1,
        }
        print(
            f"ours/stock wall {ratio:.2f}; goals: wall <= {GOAL_WALL_S:.0f} s "
            f"{'met' if goals['wall'] else 'missed'}, CPU <= {GOAL_CPU_S:.0f} s "
            f"{'met' if goals['cpu'] else 'missed'}, faster than stock "
            f"{'met' if goals['faster_than_stock'] else 'missed'}"
        )
        print(
            json.dumps(
                {
                    **result,
                    "runs": args.runs,
                    "ours_over_stock_wall": round(ratio, 2),
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                    "goals_met": goals,
                }
            )
        )
    finally:
        if args.keep:
            print(f"kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
