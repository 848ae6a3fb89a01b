"""Benchmark: N tenants with 3 scheduled jobs each, rendered and loaded into Dagster.

For each N (10, 100, 1000 by default) builds a throw-away repository (the real registry, specs and
templates; plugins linked) with N tenants, each with three jobs over its own copy of the demo CSV
files and a runner config scheduling all 3N jobs. Then:

- ``render_s``, ``render_cpu_s``: wall and CPU time (user + system, its workers included) of
  ``ingestgen render`` (the CLI, a fresh process) writing every project of that repository, with
  the plugins' ``--about`` answers cached; ``render_cold_s``, ``render_cold_cpu_s``: the same
  with an empty cache (the first render, which asks the plugins). The load average is printed
  too, as a busy machine stretches the wall time;
- ``load_s``: wall time from starting ``dagster-webserver`` and ``dagster-daemon`` on the rendered
  workspace until the webserver reports every code location loaded (its GraphQL API);
- ``rss_mb`` / ``pss_mb``: resident memory of every Dagster process (webserver, daemon and the
  code servers they started), summed, once the daemon's own code servers are up and the
  schedulers have looked at every schedule (RSS counts shared pages in each process; PSS splits
  them, so it is the closer figure for "memory the deployment takes").

Prints a line per N and, last, one line of JSON: ``{"tenants": {N: {...}}, "goals": {...}}``.
Nothing runs a job: plugins are not installed. Reads and writes only its temporary folder
(``--keep`` leaves it). Linux only (reads /proc).

    python bench/scale.py [--tenants 10,100,1000] [--shards 4] [--keep] [--render-only]

``--render-only`` measures the renders and starts no Dagster process (no load or memory figures).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "generator"))

from ingestgen.orchestrate.graphql import DagsterApiError, location_status  # noqa: E402
from ingestgen.orchestrate.process import prepare_home, process_env  # noqa: E402
from ingestgen.render.workspace import WORKSPACE_DIR  # noqa: E402

RENDER_GOAL_S = 5.0
MEMORY_GOAL_MB = 2048.0
JOBS = ("deals_daily", "deals_hourly", "deals_weekly")
CRONS = ("17 3 * * *", "5 * * * *", "0 6 * * 1")
JOB = """\
tenant_id: {tenant}
source:
  type: gdrive_csv
  local_folder: configs/{tenant}/data
  files:
    - file_id: deals_2026_11_24.csv
      object: deals_daily
  incremental:
    strategy: file_modified_time
target:
  type: iceberg
  catalog: embedded
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""


def build(root: Path, tenants: int, shards: int) -> None:
    """A repository of ``tenants`` tenants, three scheduled jobs each."""
    for name in ("registry", "specs", "templates"):
        shutil.copytree(REPO / name, root / name)
    (root / "plugins").symlink_to(REPO / "plugins")
    (root / "projects").mkdir()
    data = REPO / "configs" / "acme" / "data" / "deals_2026_11_24.csv"
    schedules = []
    for index in range(tenants):
        tenant = f"t{index:04d}"
        folder = root / "configs" / tenant
        (folder / "data").mkdir(parents=True)
        shutil.copyfile(data, folder / "data" / data.name)
        for job, cron in zip(JOBS, CRONS, strict=True):
            (folder / f"{job}.yaml").write_text(JOB.format(tenant=tenant))
            schedules.append(
                f"      - {{name: {tenant}_{job}, config: configs/{tenant}/{job}.yaml, "
                f'cron: "{cron}"}}\n'
            )
    (root / "configs" / "runner.yaml").write_text(
        "runner:\n  mode: orchestrated\n  orchestrator:\n    type: dagster\n"
        f"    concurrency_per_tenant: 1\n    shards: {shards}\n    schedules:\n"
        + "".join(schedules)
    )


def render(root: Path, cache: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of ``ingestgen render`` on ``root``.

    ``cache`` is the plugin-answer cache it uses (``INGESTGEN_CACHE_DIR``): empty, the plugins
    are asked for their settings (``--about``); filled by an earlier render, they are not.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "ingestgen"), "render", "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "INGESTGEN_CACHE_DIR": str(cache)},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ingestgen render failed ({done.returncode}): {done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_pids(pgids: set[int]) -> list[int]:
    """Every live process whose process group is one of ``pgids``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            # Field 5 of stat is the process group; the command name (field 2) may hold spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in pgids:
                out.append(int(entry.name))
    return out


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """Summed RSS and PSS of ``pids`` in MiB (from smaps_rollup)."""
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, value = line.partition(":")
                if key == "Rss":
                    rss += int(value.split()[0])
                elif key == "Pss":
                    pss += int(value.split()[0])
    return rss / 1024, pss / 1024


def load(root: Path, home: Path, timeout: float) -> dict[str, float]:
    """Start webserver and daemon on the workspace; time the load, measure their memory."""
    prepare_home(root, home)
    env = process_env(home)
    workspace = str(root / WORKSPACE_DIR / "workspace.yaml")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root.parent / "dagster.log").open("wb")
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
            cwd=root,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", workspace],
            cwd=root,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        expected = len(yaml.safe_load(Path(workspace).read_text())["load_from"])
        status: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a Dagster process exited; see {log.name}")
            with contextlib.suppress(DagsterApiError):
                status = location_status(url)
                if len(status) == expected and all(v == "LOADED" for v in status.values()):
                    break
                failed = {k: v for k, v in status.items() if v.startswith("error")}
                if failed:
                    raise SystemExit(f"code locations failed to load: {failed}")
            time.sleep(0.5)
        else:
            raise SystemExit(f"not loaded after {timeout:.0f} s: {status}")
        load_s = time.perf_counter() - started
        # The daemon loads its own code servers; memory is read once every process of both
        # sessions has stopped growing (three readings 5 s apart within 2%), at most 5 minutes.
        pgids = {p.pid for p in procs}
        readings: list[tuple[float, float]] = []
        settle = time.monotonic() + 300
        while time.monotonic() < settle:
            time.sleep(5)
            readings.append(memory_mb(group_pids(pgids)))
            last = [r[0] for r in readings[-3:]]
            if len(last) == 3 and max(last) - min(last) <= 0.02 * max(last):
                break
        rss, pss = readings[-1]
        return {
            "load_s": round(load_s, 2),
            "rss_mb": round(rss, 1),
            "pss_mb": round(pss, 1),
            "processes": len(group_pids(pgids)),
        }
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tenants", default="10,100,1000", help="comma-separated N values")
    parser.add_argument("--shards", type=int, default=4, help="runner.yaml shards")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait for a load")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument(
        "--render-only", action="store_true", help="render only; start no Dagster process"
    )
    args = parser.parse_args()
    results: dict[int, dict[str, float]] = {}
    for n in [int(v) for v in args.tenants.split(",")]:
        folder = Path(tempfile.mkdtemp(prefix=f"ingestgen-scale-{n}-"))
        try:
            root = folder / "repo"
            root.mkdir()
            build(root, n, args.shards)
            # First with an empty plugin-answer cache (the plugins are asked), then, every
            # project removed, again with the cache that render filled (the usual case).
            load_1m = os.getloadavg()[0]
            cold_wall, cold_cpu = render(root, folder / "cache")
            shutil.rmtree(root / "projects")
            (root / "projects").mkdir()
            wall, cpu = render(root, folder / "cache")
            figures: dict[str, float] = {
                "render_s": round(wall, 2),
                "render_cpu_s": round(cpu, 2),
                "render_cold_s": round(cold_wall, 2),
                "render_cold_cpu_s": round(cold_cpu, 2),
                "load_1m": round(load_1m, 2),
            }
            results[n] = figures
            line = (
                f"{n:>5} tenants, {3 * n:>5} jobs: render {figures['render_s']:6.2f} s "
                f"({figures['render_cpu_s']:.2f} s CPU; plugins asked: "
                f"{figures['render_cold_s']:.2f} s, {figures['render_cold_cpu_s']:.2f} s CPU), "
            )
            if args.render_only:
                print(f"{line}load average {figures['load_1m']:.2f}", flush=True)
                continue
            figures |= load(root, folder / "dagster_home", args.timeout)
            print(
                f"{line}load {figures['load_s']:6.2f} s, Dagster RSS {figures['rss_mb']:7.1f} MB "
                f"(PSS {figures['pss_mb']:7.1f} MB, {figures['processes']:.0f} processes)",
                flush=True,
            )
        finally:
            if args.keep:
                print(f"kept {folder}", file=sys.stderr)
            else:
                shutil.rmtree(folder, ignore_errors=True)
    largest = max(results)
    goals = {
        "render_s_max": RENDER_GOAL_S,
        "memory_mb_max": MEMORY_GOAL_MB,
        "render_met": results[largest]["render_s"] <= RENDER_GOAL_S,
        "memory_met": (
            results[largest]["pss_mb"] <= MEMORY_GOAL_MB if "pss_mb" in results[largest] else None
        ),
    }
    load_average = [round(v, 2) for v in os.getloadavg()]
    print(
        json.dumps(
            {
                "shards": args.shards,
                "load_average": load_average,
                "tenants": results,
                "goals": goals,
            }
        )
    )


if __name__ == "__main__":
    main()
