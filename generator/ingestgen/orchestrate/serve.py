"""``ingestgen orchestrate``: check the rendered workspace, start Dagster, run until stopped.

Refuses to start on projects that differ from a fresh render (the GitOps drift gate), so Dagster
never schedules jobs the configs no longer describe. Stops both processes on SIGTERM or SIGINT
(``podman stop``, Ctrl-C) and when either of them exits.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from ingestgen.config.runner import find_runner
from ingestgen.errors import UserError
from ingestgen.meltano.project import project_dir
from ingestgen.meltano.tool import Meltano
from ingestgen.orchestrate.graphql import DagsterApiError, location_status
from ingestgen.orchestrate.process import DagsterProcesses, process_env, start
from ingestgen.render import repository


def check_workspace(root: Path) -> list[str]:
    """The scheduled tenants, after checking that the rendered files are current.

    Raises:
        UserError: no orchestrated runner config, or projects/ drifted from configs/.
    """
    runner = find_runner(root)
    if runner is None or not runner.orchestrated:
        raise UserError(
            "no runner config with mode: orchestrated under configs/; add "
            "configs/runner.yaml (see configs/examples/runner.yaml)"
        )
    report = repository.render(root, check=True)
    if not report.clean:
        changed = ", ".join(report.drifted + report.stale)
        raise UserError(f"projects/ differ from configs/ ({changed}); run `ingestgen render`")
    return runner.tenants


def install_plugins(root: Path, tenants: list[str], home: Path) -> None:
    """``meltano install`` in each tenant's project.

    Raises:
        UserError: an install failed; names the project.
    """
    for tenant in tenants:
        code = Meltano(project_dir(root, tenant), process_env(home)).call("install")
        if code != 0:
            raise UserError(
                f"`meltano install` failed in projects/{tenant} (exit {code}); see its output above"
            )


def serve(
    root: Path,
    home: Path,
    *,
    host: str,
    port: int,
    install: bool,
    say: Callable[[str], None],
) -> None:
    """Run the webserver and daemon in the foreground until a signal or a process exit.

    Raises:
        UserError: see `check_workspace`, `install_plugins`; or a Dagster process failed.
    """
    tenants = check_workspace(root)
    if install:
        install_plugins(root, tenants, home)
    stopping: list[int] = []

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    procs: DagsterProcesses | None = None
    try:
        procs = start(root, home, host=host, port=port)
        say(f"dagster: webserver on {procs.url}, instance {home}, tenants {', '.join(tenants)}")
        ready = False
        while not stopping and procs.alive():
            ready = ready or _announce_ready(procs, say)
            time.sleep(1.0)
        if not stopping:
            raise UserError("a Dagster process exited; see its output above")
        say(f"dagster: stopping ({signal.Signals(stopping[0]).name})")
    finally:
        if procs is not None:
            procs.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _announce_ready(procs: DagsterProcesses, say: Callable[[str], None]) -> bool:
    # One poll per call, so a signal is never kept waiting for the locations to load.
    try:
        status = location_status(procs.url)
    except DagsterApiError:
        return False
    failed = {k: v for k, v in status.items() if v.startswith("error")}
    if failed:
        raise UserError(f"code locations failed to load: {failed}")
    if status and all(v == "LOADED" for v in status.values()):
        say(f"dagster: ready, code locations {', '.join(sorted(status))} loaded")
        return True
    return False
