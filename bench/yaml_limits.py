"""Benchmark: `ingestgen validate` on YAML resource-exhaustion inputs, against an honest job.

Builds a throw-away repository (the real registry, specs and templates), writes one job file per
input below, and runs ``ingestgen validate`` on each in its own process, with a timeout. For each
it prints the wall time, the process's peak RSS, the exit code, the size of what it printed and
whether that held a traceback, and the time as a ratio to the honest job measured in the same
run (the baseline). CPU seconds are given beside wall seconds, since a shared machine stretches
the latter. The reader alone (``load_located`` in a fresh process, without the CLI's start-up)
is measured the same way. Last, one line of JSON with the same figures.

Inputs (issue 9, class 1): a billion-laughs document of a few hundred bytes, 10,000 nested flow
sequences and flow mappings, 5,000 nested block lists, a 30 MB job file (an honest shape, a long
file list) and a 5 MB scalar. The goal: each refused with exit 2 within a second, no traceback,
a short message.

``--source DIR`` runs the ingestgen package of another source tree (``DIR/generator``), e.g.
an export of an older commit, to measure the behaviour before a change.

    python bench/yaml_limits.py [--timeout 120] [--source DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HONEST = """\
tenant_id: acme
source:
  type: gdrive_csv
  local_folder: configs/acme/data
  files:
{files}
target:
  type: iceberg
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""


def honest(entries: int = 2) -> str:
    listed = "\n".join(
        f"    - {{file_id: deals_{n:08d}.csv, object: deals_daily}}" for n in range(entries)
    )
    return HONEST.format(files=listed)


def laughs() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    return "\n".join(lines) + "\ntenant_id: *a8\n"


INPUTS: dict[str, Callable[[], str]] = {
    "honest job (baseline)": honest,
    "billion laughs": laughs,
    "10k nested [": lambda: "tenant_id: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "10k nested {": lambda: "tenant_id: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
    "5k nested block lists": lambda: "tenant_id:\n" + "- " * 5_000 + "x\n",
    "30 MB job file": lambda: honest(30_000_000 // 57),
    "5 MB scalar": lambda: f"tenant_id: {'x' * 5_000_000}\n" + honest().split("\n", 1)[1],
    "900 KB scalar": lambda: f"tenant_id: {'x' * 900_000}\n" + honest().split("\n", 1)[1],
    "60 KB tenant id": lambda: f"tenant_id: {'x' * 60_000}\n" + honest().split("\n", 1)[1],
    "99k values (in limits)": lambda: "tenant_id: [" + "1," * 99_000 + "1]\n",
}


def repository(tmp: Path) -> Path:
    root = tmp / "repo"
    for name in ("registry", "specs", "templates"):
        shutil.copytree(REPO / name, root / name)
    (root / "configs" / "acme" / "data").mkdir(parents=True)
    (root / "projects").mkdir()
    return root


READER = """
import sys, time
from pathlib import Path
from ingestgen.config.yamlsource import load_located
from ingestgen.errors import ConfigError
start = time.process_time()
try:
    load_located(Path(sys.argv[1]))
except ConfigError:
    pass
print(time.process_time() - start)
"""


def run(cmd: list[str], timeout: float, source: Path | None) -> tuple[dict, bytes, bytes]:
    """Run ``cmd``; its wall and CPU seconds, peak RSS, exit code, stdout and stderr."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source / "generator"), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > start + timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        figures = {
            "seconds": round(seconds, 3),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "exit": None if timed_out else os.waitstatus_to_exitcode(status),
            "timed_out": timed_out,
        }
        return figures, out.read(), err.read()


def measure(root: Path, name: str, path: Path, timeout: float, source: Path | None) -> dict:
    cli = [sys.executable, "-m", "ingestgen", "validate", "--root", str(root), str(path)]
    figures, _, stderr = run(cli, timeout, source)
    reader, stdout, _ = run([sys.executable, "-c", READER, str(path)], timeout, source)
    return {
        "input": name,
        "bytes": path.stat().st_size,
        **figures,
        "reader_cpu_s": float(stdout) if stdout.strip() else None,
        "reader_end": "killed" if reader["timed_out"] else f"exit {reader['exit']}",
        "reader_peak_rss_mb": reader["peak_rss_mb"],
        "stderr_bytes": len(stderr),
        "traceback": b"Traceback" in stderr,
        "first_line": stderr.decode(errors="replace").strip().splitlines()[-1:][0][:160]
        if stderr.strip()
        else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--source", type=Path, help="run the ingestgen of this source tree")
    parser.add_argument("--only", nargs="*", help="inputs to run (default: all)")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        for n, make in enumerate(INPUTS.values()):
            (args.write / f"{n}.yaml").write_text(make())
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = repository(Path(tmp))
        # Written by a child: children of this process must not inherit the inputs' memory
        # (a forked child starts with its parent's resident pages, which counts in its peak).
        inputs = Path(tmp) / "inputs"
        inputs.mkdir()
        subprocess.run([sys.executable, __file__, "--write", str(inputs)], check=True)
        rows = []
        for n, name in enumerate(INPUTS):
            if args.only and name not in args.only and not name.startswith("honest"):
                continue
            path = root / "configs" / "acme" / "job.yaml"
            shutil.copyfile(inputs / f"{n}.yaml", path)
            rows.append(measure(root, name, path, args.timeout, args.source))
    base = rows[0]["cpu_s"]
    head = "input                         bytes      s  cpu s x base     MB exit    out tb"
    print(head + "  reader cpu s, MB")
    for r in rows:
        r["ratio"] = round(r["cpu_s"] / base, 2)
        code = "kill" if r["timed_out"] else r["exit"]
        # No time printed: killed at the timeout, or crashed (e.g. RecursionError: exit 1).
        reader = r["reader_end"] if r["reader_cpu_s"] is None else f"{r['reader_cpu_s']:.3f}"
        print(
            f"{r['input']:24} {r['bytes']:>10} {r['seconds']:>6.2f} {r['cpu_s']:>6.2f} "
            f"{r['ratio']:>6.1f} {r['peak_rss_mb']:>6.1f} {code!s:>4} {r['stderr_bytes']:>7} "
            f"{'yes' if r['traceback'] else 'no':>2}  {reader:>8} {r['reader_peak_rss_mb']:>7.1f}"
        )
        if r["first_line"]:
            print(f"    {r['first_line']}")
    print(json.dumps({"baseline_cpu_s": base, "inputs": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
