"""The ``meltano`` command: where it is, the environment it runs in, and running it.

The one home of the Meltano know-how that runners need:

* the executable: this environment's (beside the running Python), else the one on ``PATH``;
* the quiet environment: no version check against the package index, no usage statistics,
  plugins installed with their bytecode, and this environment's commands first on ``PATH``
  (plugins, and Meltano's ``uv``, are found there);
* Meltano's name for a plugin setting's variable, ``<PLUGIN>_<SETTING>`` (its ``to_env_var``), and
  the ``${VAR}`` references it expands in config values (the only form rendered projects use);
* running a command in a project folder, its output handed to a callback line by line, with the
  CPU, memory and I/O that Meltano and its plugins used.

Never prints a line itself and never edits a project.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestgen.errors import UserError
from ingestgen.record.model import Usage

BIN = Path(sys.executable).parent
"""This environment's commands (Meltano, Dagster, the plugins installed beside ingestgen)."""

QUIET = {
    "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
}
"""Without these Meltano asks the package index for a newer version and sends usage statistics."""

PRECOMPILED = {"UV_COMPILE_BYTECODE": "1"}
"""``meltano install`` (uv) writes the plugins' bytecode when it installs them.

Without it a process that may not write ``__pycache__`` (``PYTHONDONTWRITEBYTECODE``, as in the
runner image, or a read-only venv) compiles Meltano's and the plugins' modules again on every
start: measured at over half the CPU of a run that has nothing to read (README, *Per-run cost*).
"""

INSTALL_MELTANO = "install it with: pip install 'meltano==4.4.*' (or ingestgen's dev extra)"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def executable(
    name: str = "meltano", *, fix: str = INSTALL_MELTANO, path_only: bool = False
) -> str:
    """A command of this environment (beside the running Python), else the one on ``PATH``.

    Args:
        name: the command.
        fix: what the error tells the user to do when the command is missing.
        path_only: look on ``PATH`` only (for callers that run the command by name).

    Raises:
        UserError: the command is missing; the message ends with ``fix``.
    """
    beside = BIN / name
    if not path_only and beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        where = "on PATH" if path_only else "installed here or on PATH"
        raise UserError(f"the {name} command is not {where}; {fix}")
    return found


def environment(base: Mapping[str, str], **extra: str) -> dict[str, str]:
    """``base`` with the quiet-Meltano settings, ``extra``, and this environment first on PATH.

    Installs write bytecode (`PRECOMPILED`) unless ``base`` says otherwise.
    """
    path = base.get("PATH", "")
    # An empty PATH entry would mean the working directory: never add one.
    joined = f"{BIN}{os.pathsep}{path}" if path else str(BIN)
    return {**PRECOMPILED, **base, **QUIET, **extra, "PATH": joined}


def env_var_name(plugin: str, setting: str) -> str:
    """Meltano's environment variable for a plugin setting.

    ``tap-x--job`` and ``oauth_token`` give ``TAP_X__JOB_OAUTH_TOKEN``.
    """
    return re.sub(r"[^A-Za-z0-9]", "_", f"{plugin}_{setting}").upper()


def references(value: Any) -> set[str]:
    """The variables a config value references as ``${VAR}``, in nested mappings and lists too."""
    if isinstance(value, str):
        return set(_REFERENCE.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(references(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(references(v) for v in value))
    return set()


def expand(value: str, env: Mapping[str, str]) -> str:
    """``value`` with every ``${VAR}`` replaced from ``env``.

    Raises:
        KeyError: a referenced variable is not in ``env`` (check `references` first).
    """
    return _REFERENCE.sub(lambda m: env[m.group(1)], value)


@dataclass
class Finished:
    """A finished Meltano command."""

    exit_code: int
    seconds: float
    usage: Usage


@dataclass(frozen=True)
class Meltano:
    """The ``meltano`` command in one project folder, with one environment."""

    project: Path
    env: Mapping[str, str]

    @classmethod
    def quiet(cls, project: Path, base: Mapping[str, str] | None = None, **extra: str) -> Meltano:
        """Meltano in ``project`` with `environment` built on ``base`` (default ``os.environ``)."""
        return cls(project, environment(os.environ if base is None else base, **extra))

    def command(self, *args: str) -> list[str]:
        """``meltano <args>``.

        Raises:
            UserError: Meltano is not installed.
        """
        return [executable(), *args]

    def call(self, *args: str) -> int:
        """Run ``meltano <args>`` with this process's stdout and stderr; return its exit code."""
        command = self.command(*args)
        return subprocess.run(command, cwd=self.project, env=dict(self.env), check=False).returncode

    def capture(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``meltano <args>`` and keep its output."""
        return subprocess.run(
            self.command(*args),
            cwd=self.project,
            env=dict(self.env),
            capture_output=True,
            text=True,
            check=False,
        )

    def stream(self, *args: str, on_line: Callable[[str], None]) -> Finished:
        """Run ``meltano <args>``, feeding each line of its merged output to ``on_line``.

        Stops Meltano and its plugins if ``on_line`` raises or the caller is interrupted.
        """
        before_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        before_io = _proc_io()
        started = time.monotonic()
        with subprocess.Popen(
            self.command(*args),
            cwd=self.project,
            env=dict(self.env),
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
        return Finished(code, seconds, _usage(before_cpu, before_io))


def _usage(before_cpu: resource.struct_rusage, before_io: dict[str, int] | None) -> Usage:
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
    return usage


def _proc_io() -> dict[str, int] | None:
    # Linux adds the I/O of reaped children (and theirs) to the parent's counters.
    try:
        text = Path("/proc/self/io").read_text(encoding="ascii")
    except OSError:
        return None
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): int(value) for key, value in pairs}
