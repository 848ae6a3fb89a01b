"""Start and stop the Dagster webserver and daemon on the rendered workspace.

The instance folder (``DAGSTER_HOME``) holds Dagster's run, event and schedule storage (SQLite);
its ``dagster.yaml`` is overwritten from the rendered ``projects/_dagster/dagster.yaml`` at every
start, so the run queue always matches the runner config, and its storage is created before the
processes start. Each process is started in its own
session and stopped with its process group (the code-location servers it spawned go with it).

Never listens beyond the host given (loopback by default) and never edits the rendered workspace.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingestgen.errors import UserError
from ingestgen.meltano.project import project_dir, system_database
from ingestgen.meltano.tool import Meltano, environment
from ingestgen.meltano.tool import executable as find_executable
from ingestgen.render.workspace import SHARD_PREFIX, WORKSPACE_DIR

INSTALL_ORCHESTRATE = "install it with: pip install 'ingestgen[orchestrate]'"


@dataclass
class DagsterProcesses:
    """The running webserver and daemon."""

    url: str
    home: Path
    webserver: subprocess.Popen[bytes]
    daemon: subprocess.Popen[bytes]

    def alive(self) -> bool:
        """Both processes are still running."""
        return self.webserver.poll() is None and self.daemon.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop both processes and everything they started (SIGTERM, then SIGKILL)."""
        procs = [p for p in (self.daemon, self.webserver) if p.poll() is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Code servers may outlive a parent stopped by SIGTERM; they share its process group.
        for proc in (self.daemon, self.webserver):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


def executable(name: str) -> str:
    """A Dagster command from this environment, else from PATH.

    Raises:
        UserError: not installed; names the extra to install.
    """
    return find_executable(name, fix=INSTALL_ORCHESTRATE)


def ensure_system_db(project: Path, env: Mapping[str, str] | None = None) -> None:
    """Create a Meltano project's system database if it is missing, with one Meltano command.

    dagster-meltano lists jobs and schedules with two concurrent Meltano commands; on a project
    without a system database both try to create it, and one fails ("Cannot upgrade the system
    database"). Running one command first, alone, leaves nothing to race for.

    Raises:
        UserError: Meltano failed; its output says why.
    """
    meltano = Meltano.quiet(project) if env is None else Meltano(project, env)
    database = system_database(project, meltano.env)
    if database is None or database.exists():
        return
    done = meltano.capture("job", "list", "--format=json")
    if done.returncode != 0:
        raise UserError(f"meltano failed in {project}: {done.stderr[-2000:]}")


def prepare_home(root: Path, home: Path) -> Path:
    """Create the instance folder, copy the rendered instance settings in, create its storage.

    The storage is created (or migrated after a Dagster upgrade) by one `dagster instance
    migrate` before anything else starts: the webserver, the daemon and their code servers each
    create missing SQLite storage on start, and doing it at once breaks Alembic's version table.

    Raises:
        UserError: nothing rendered (says how to render it), or Dagster could not set up storage.
    """
    rendered = root / WORKSPACE_DIR / "dagster.yaml"
    if not rendered.is_file():
        raise UserError(
            f"{rendered} does not exist; add configs/runner.yaml with "
            "mode: orchestrated and run `ingestgen render`"
        )
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(rendered, home / "dagster.yaml")
    done = subprocess.run(
        [executable("dagster"), "instance", "migrate"],
        env=process_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise UserError(f"Dagster could not set up its storage in {home}: {done.stderr[-2000:]}")
    return home


def workspace_tenants(root: Path) -> list[str]:
    """The tenants of the rendered workspace: those of every shard's data file, sorted."""
    tenants: list[str] = []
    for data in (root / WORKSPACE_DIR).glob(f"{SHARD_PREFIX}*.json"):
        tenants += json.loads(data.read_text(encoding="utf-8"))["tenants"]
    return sorted(tenants)


def process_env(home: Path) -> dict[str, str]:
    """The environment of the Dagster processes and of the Meltano runs they start.

    dagster-meltano calls ``meltano`` by name: this environment's comes first on PATH.
    """
    return environment(os.environ, DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1")


def start(root: Path, home: Path, *, host: str = "127.0.0.1", port: int = 3000) -> DagsterProcesses:
    """Start ``dagster-webserver`` and ``dagster-daemon`` on ``projects/_dagster/workspace.yaml``.

    Both write to this process's stdout and stderr.

    Args:
        root: the repository root.
        home: the Dagster instance folder (DAGSTER_HOME).
        host: the address the webserver listens on.
        port: the webserver's port.
    """
    workspace = root / WORKSPACE_DIR / "workspace.yaml"
    if not workspace.is_file():
        raise UserError(
            f"{workspace} does not exist; add configs/runner.yaml with "
            "mode: orchestrated and run `ingestgen render`"
        )
    prepare_home(root, home)
    env = process_env(home)
    for tenant in workspace_tenants(root):
        ensure_system_db(project_dir(root, tenant), env)
    webserver = [executable("dagster-webserver"), "-w", str(workspace), "-h", host, "-p", str(port)]
    daemon = [executable("dagster-daemon"), "run", "-w", str(workspace)]
    return DagsterProcesses(
        f"http://{host}:{port}",
        home,
        subprocess.Popen(webserver, cwd=root, env=env, start_new_session=True),
        subprocess.Popen(daemon, cwd=root, env=env, start_new_session=True),
    )
