"""Run Meltano for a plan: ``meltano install`` when plugin venvs are missing, ``meltano run``.

Meltano's output (its own log and every plugin's stderr, which Meltano relays) is read line by
line and handed to a callback, which redacts it before anything is shown or stored: this module
never prints a line itself. The run id goes in as ``MELTANO_RUN_ID``, which Meltano uses as its
run id and passes on to the plugins (target-iceberg records it in its snapshots); the loader's
``run_summary_path`` goes in as Meltano's setting variable for the job's loader.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ingestgen.errors import UserError
from ingestgen.record.model import Usage
from ingestgen.redact import env_var_name
from ingestgen.run.plan import RunPlan

QUIET = {
    "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
}


@dataclass
class Finished:
    """A finished Meltano command."""

    exit_code: int
    seconds: float
    usage: Usage


def meltano_executable() -> str:
    """The ``meltano`` next to this Python, else on ``PATH``.

    Raises:
        UserError: Meltano is not installed.
    """
    beside = Path(sys.executable).parent / "meltano"
    if beside.exists():
        return str(beside)
    found = shutil.which("meltano")
    if found is None:
        raise UserError("meltano is not installed: pip install 'meltano==4.4.*' (or the dev extra)")
    return found


def plugins_installed(plan: RunPlan) -> bool:
    """Whether the job's plugin venvs exist (Meltano keeps one per base plugin)."""
    venvs = plan.project / ".meltano"
    return all(
        (venvs / kind / base / "venv" / "bin" / "python").exists()
        for kind, base in (("extractors", plan.extractor_base), ("loaders", plan.loader_base))
    )


def run_env(
    plan: RunPlan, environ: Mapping[str, str], run_id: str, summary_path: Path
) -> dict[str, str]:
    """The environment of ``meltano run`` for ``plan``."""
    env = {**environ, **QUIET, "MELTANO_RUN_ID": run_id}
    env[env_var_name(plan.loader, "run_summary_path")] = str(summary_path)
    # Plugins find tools (and Meltano finds uv) next to the running Python.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")])
    return env


def install_command() -> list[str]:
    """``meltano install`` (all of the tenant's plugins; they share base venvs)."""
    return [meltano_executable(), "install"]


def run_command(plan: RunPlan) -> list[str]:
    """``meltano run <job>``, bounded by the connector's execution timeout when it has one."""
    command = [meltano_executable(), "run", plan.job]
    if plan.timeout_s:
        command += ["--timeout", str(plan.timeout_s)]
    return command


def execute(
    command: list[str], cwd: Path, env: Mapping[str, str], on_line: Callable[[str], None]
) -> Finished:
    """Run ``command``, feeding each output line (stdout and stderr merged) to ``on_line``."""
    before_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_io = _proc_io()
    started = time.monotonic()
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                on_line(line.rstrip("\n"))
        except BaseException:
            # Ctrl-C or a bug in a callback: never leave Meltano and its plugins running.
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
        code = proc.wait()
    seconds = time.monotonic() - started
    after_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_io = _proc_io()
    usage = Usage(
        cpu_user_s=round(after_cpu.ru_utime - before_cpu.ru_utime, 3),
        cpu_system_s=round(after_cpu.ru_stime - before_cpu.ru_stime, 3),
        # ru_maxrss is the largest child's peak in KiB on Linux.
        max_rss_mb=round(after_cpu.ru_maxrss / 1024, 1),
    )
    if before_io and after_io:
        usage.io_read_bytes = after_io["rchar"] - before_io["rchar"]
        usage.io_write_bytes = after_io["wchar"] - before_io["wchar"]
        usage.storage_read_bytes = after_io["read_bytes"] - before_io["read_bytes"]
        usage.storage_write_bytes = after_io["write_bytes"] - before_io["write_bytes"]
    return Finished(code, seconds, usage)


def _proc_io() -> dict[str, int] | None:
    # Linux adds the I/O of reaped children (and theirs) to the parent's counters.
    try:
        text = Path("/proc/self/io").read_text(encoding="ascii")
    except OSError:
        return None
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): int(value) for key, value in pairs}
