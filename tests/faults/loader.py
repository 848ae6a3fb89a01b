"""The loader as the services-failing tests run it: ``target-iceberg`` in a child process.

A child, not this process, so the exit code is the one Meltano would see and a service fault
can stop it at a named point (`target_iceberg.crashpoint`, ``TARGET_ICEBERG_STOP_AT``): the
test kills a service while the loader is stopped there, then lets it go on into the fault.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyiceberg.catalog import load_catalog

from target_iceberg.crashpoint import STOP_ENV

BIN = Path(sys.executable).parent / "target-iceberg"
STREAMS = ("accounts", "deals")
PROPS = {"id": {"type": "integer"}, "name": {"type": "string"}}
LIMIT_S = 300  # no hang of the loader can hold the suite longer than this
FIRST = list(range(1, 13))
"""Every table's ids after the first run of ``singer_text(1, 12)``."""
BOTH = list(range(1, 25))
"""Every table's ids once ``singer_text(13, 24)`` landed too."""


def singer_text(first: int, last: int, streams: Sequence[str] = STREAMS) -> str:
    """Every stream's records ``first..last`` (ids), then one final STATE."""
    lines: list[dict[str, Any]] = []
    for stream in streams:
        lines.append({"type": "SCHEMA", "stream": stream, "key_properties": ["id"],
                      "schema": {"type": "object", "properties": PROPS}})  # fmt: skip
        lines += [
            {"type": "RECORD", "stream": stream, "record": {"id": i, "name": f"{stream}{i}"}}
            for i in range(first, last + 1)
        ]
    lines.append({"type": "STATE", "value": {"bookmarks": dict.fromkeys(streams, last)}})
    return "".join(json.dumps(m) + "\n" for m in lines)


@dataclass(frozen=True)
class Outcome:
    """How one loader run ended."""

    code: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        """The loader's one error line (the convention's ``target-iceberg: error ...``)."""
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("target-iceberg: ")]
        return lines[-1] if lines else ""

    @property
    def states(self) -> list[str]:
        """The states it emitted (a target writes each state's value; only after a commit)."""
        return [ln for ln in self.stdout.splitlines() if ln.strip()]


def multi_table_config(
    props: dict[str, str],
    namespace: str,
    run_id: str,
    *,
    catalog_timeout_s: float = 60,
    s3_timeout_s: float = 60,
) -> dict[str, Any]:
    """The loader's config for one multi-table run on the catalog ``props`` describe."""
    return {
        "namespace": namespace,
        "catalog_properties": props,
        "commit_mode": "multi_table",
        "run_id": run_id,
        "catalog_timeout_s": catalog_timeout_s,
        "s3_timeout_s": s3_timeout_s,
    }


def run_loader(
    workdir: Path,
    config: dict[str, Any],
    text: str,
    *,
    stop_at: str | None = None,
    when_stopped: Callable[[], None] | None = None,
) -> Outcome:
    """Run ``target-iceberg --config`` on ``text``; at ``stop_at`` call ``when_stopped``.

    With ``stop_at`` (``<point>:<n>``) the loader stops itself there; ``when_stopped`` makes
    the fault (kills a service), then the loader goes on and meets it.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "LOGLEVEL": "info"}
    env.pop(STOP_ENV, None)
    env.pop("MELTANO_PROJECT_ROOT", None)  # a stand-alone loader run, not a project's
    if stop_at:
        env[STOP_ENV] = stop_at
    (workdir / "input.jsonl").write_text(text)
    # Files, not pipes: a loader stopped with a full pipe would never reach its stop point.
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    with (
        (workdir / "input.jsonl").open("rb") as stdin,
        out_path.open("w") as stdout,
        err_path.open("w") as stderr,
    ):
        proc = subprocess.Popen(
            [str(BIN), "--config", str(path)],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=workdir,
            env=env,
        )
        try:
            if stop_at:
                _wait_stopped(proc, err_path)
                if when_stopped is not None:
                    when_stopped()
                os.kill(proc.pid, signal.SIGCONT)
            proc.wait(timeout=LIMIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(
                f"the loader hung for {LIMIT_S} s: {err_path.read_text()[-3000:]}"
            ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    out, err = out_path.read_text(), err_path.read_text()
    return Outcome(proc.returncode, out, err)


def _wait_stopped(proc: subprocess.Popen[bytes], err_path: Path) -> None:
    """Wait until ``proc`` stopped itself (state T in /proc), or fail with its output."""
    deadline = time.monotonic() + LIMIT_S
    stat = Path(f"/proc/{proc.pid}/stat")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the loader ended before its stop point: {err_path.read_text()[-3000:]}"
            )
        # The state is the field after the parenthesised command name.
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "T":
            return
        time.sleep(0.05)
    raise AssertionError(f"the loader did not reach its stop point within {LIMIT_S} s")


def ids(props: dict[str, str], namespace: str) -> dict[str, list[int] | None]:
    """Every stream's table's ids, sorted (None: no table)."""
    catalog = load_catalog("default", **props)  # the loader's catalog_name (SQL catalogs key by it)
    found: dict[str, list[int] | None] = {}
    for stream in STREAMS:
        if not catalog.table_exists((namespace, stream)):
            found[stream] = None
            continue
        table = catalog.load_table((namespace, stream))
        found[stream] = sorted(table.scan().to_arrow().column("id").to_pylist())
    return found


def record(record_property: Any, category: str, case: str, outcome: str, started: float) -> None:
    """One row of docs/trust-report.md (tests/support/trust_report collects them)."""
    record_property("category", category)
    record_property("case", case)
    record_property("outcome", outcome)
    record_property("figures", f"{time.monotonic() - started:.1f} s")
