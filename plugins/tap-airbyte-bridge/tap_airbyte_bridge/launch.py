"""Build the connector's command line and stage its input files.

An Airbyte source takes `spec | check | discover | read` with `--config`, `--catalog` and
`--state` file arguments. This module writes those files into a private temporary folder and
builds the argv: for a Python connector the files are passed by host path; for a container the
folder is mounted at `/tmp/ab` and the paths inside the container are passed.

It never runs the connector (see `process.py`) and never leaves the files behind: the folder
is deleted when the `Workspace` closes, because `config.json` may hold secrets.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import typing as t
from pathlib import Path

from singer_sdk.singerlib.json import serialize_json

from tap_airbyte_bridge.exceptions import ConnectorNotFoundError, SettingsError
from tap_airbyte_bridge.settings import ContainerLaunch, Launch, PythonLaunch

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

CONTAINER_MOUNT = "/tmp/ab"  # noqa: S108 - a path inside the container, not on the host
"""Where the staged files appear inside a connector container."""

COMMANDS = ("spec", "check", "discover", "read")
INPUT_FILES = ("config", "catalog", "state")
"""Order of the file arguments on the command line (`--config`, `--catalog`, `--state`)."""


def resolve_executable(
    name: str,
    *,
    venv_bin: Path | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    """Find a Python connector's console script.

    A bare name is looked up in the tap's own virtualenv (`venv_bin`, default: the folder of
    the running interpreter, where Meltano installs the tap and its pip_url extras) and then on
    PATH; a name with a path separator is used as given.

    Args:
        name: `connector.python.executable`.
        venv_bin: Folder searched before PATH.
        which: PATH lookup, replaceable in tests.

    Returns:
        The path to run.

    Raises:
        ConnectorNotFoundError: When nothing executable is found; names where it looked.
    """
    if os.sep in name or (os.altsep and os.altsep in name):
        path = Path(name).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        msg = f"connector.python.executable {name!r} is not an executable file"
        raise ConnectorNotFoundError(msg)
    bin_dir = venv_bin if venv_bin is not None else Path(sys.executable).parent
    candidate = bin_dir / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = which(name)
    if found:
        return found
    msg = (
        f"connector executable {name!r} not found in {bin_dir} or on PATH: install the "
        f"connector package next to the tap (e.g. Meltano pip_url "
        f"'-e plugins/tap-airbyte-bridge airbyte-{name}') or set connector.python.executable "
        "to its full path"
    )
    raise ConnectorNotFoundError(msg)


def resolve_engine(
    engine: str,
    *,
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    """Find the container engine's executable.

    Args:
        engine: `connector.engine`: `auto`, `docker` or `podman`.
        which: PATH lookup, replaceable in tests.

    Returns:
        The path of the engine's executable.

    Raises:
        ConnectorNotFoundError: When the engine (or, for `auto`, neither engine) is on PATH.
    """
    candidates = ("docker", "podman") if engine == "auto" else (engine,)
    for name in candidates:
        found = which(name)
        if found:
            return found
    tried = " or ".join(candidates)
    msg = (
        f"container engine {tried} not found on PATH (connector.engine={engine!r}): install "
        "docker or podman, set connector.engine to the one installed, or use "
        "connector.python to run a connector installed from PyPI"
    )
    raise ConnectorNotFoundError(msg)


def build_argv(
    launch: Launch,
    command: str,
    files: t.Mapping[str, Path],
    *,
    workdir: Path,
    program: str,
) -> list[str]:
    """Build the argv that runs one Airbyte command.

    Args:
        launch: How to launch the connector.
        command: `spec`, `check`, `discover` or `read`.
        files: Staged input files by role (`config`, `catalog`, `state`), all inside `workdir`.
        workdir: The staging folder (mounted into a container).
        program: The resolved executable (connector script or container engine).

    Returns:
        The full argv.

    Raises:
        SettingsError: For an unknown command.
    """
    if command not in COMMANDS:
        msg = f"unknown Airbyte command {command!r}; valid: {', '.join(COMMANDS)}"
        raise SettingsError(msg)
    file_args: list[str] = []
    for role in INPUT_FILES:
        if role in files:
            path = files[role]
            seen_as = (
                f"{CONTAINER_MOUNT}/{path.name}"
                if isinstance(launch, ContainerLaunch)
                else str(path)
            )
            file_args += [f"--{role}", seen_as]
    if isinstance(launch, PythonLaunch):
        return [program, *launch.args, command, *file_args]
    return [
        program,
        "run",
        "--rm",
        "-i",
        "-v",
        f"{workdir}:{CONTAINER_MOUNT}",
        *launch.run_args,
        launch.image,
        command,
        *file_args,
    ]


class Workspace:
    """A private temporary folder holding the connector's input files for one command.

    The outer folder is readable by the current user only. For a container the inner folder
    and files are made world-readable because the connector may run as another user inside
    the container; the 0700 outer folder still keeps other host users out.
    """

    def __init__(self, launch: Launch) -> None:
        self._launch = launch
        self._outer: Path | None = None
        self.files: dict[str, Path] = {}

    @property
    def path(self) -> Path:
        """The folder holding the files (mounted into a container)."""
        if self._outer is None:
            msg = "Workspace used outside its 'with' block"
            raise RuntimeError(msg)
        return self._outer / "ab"

    def __enter__(self) -> Workspace:
        self._outer = Path(tempfile.mkdtemp(prefix="tap-airbyte-bridge-"))
        shared = isinstance(self._launch, ContainerLaunch)
        self.path.mkdir(mode=0o755 if shared else 0o700)
        # mkdir's mode is filtered by the umask; set it exactly.
        self.path.chmod(0o755 if shared else 0o700)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._outer is not None:
            shutil.rmtree(self._outer, ignore_errors=True)
            self._outer = None

    def write(self, role: str, payload: object) -> Path:
        """Write one input file (`config`, `catalog` or `state`) as JSON.

        Args:
            role: The file's role, which also names its command-line flag.
            payload: JSON-serialisable content.

        Returns:
            The host path of the file.
        """
        if role not in INPUT_FILES:
            msg = f"unknown input file role {role!r}; valid: {', '.join(INPUT_FILES)}"
            raise SettingsError(msg)
        path = self.path / f"{role}.json"
        mode = 0o644 if isinstance(self._launch, ContainerLaunch) else 0o600
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(serialize_json(payload))
        path.chmod(mode)
        self.files[role] = path
        return path

    def argv(
        self,
        command: str,
        *,
        which: Callable[[str], str | None] = shutil.which,
        venv_bin: Path | None = None,
    ) -> list[str]:
        """Build the argv for `command` with the files written so far.

        Args:
            command: `spec`, `check`, `discover` or `read`.
            which: PATH lookup, replaceable in tests.
            venv_bin: Folder searched for a Python connector before PATH.

        Returns:
            The full argv.
        """
        launch = self._launch
        if isinstance(launch, PythonLaunch):
            program = resolve_executable(launch.executable, venv_bin=venv_bin, which=which)
        else:
            program = resolve_engine(launch.engine, which=which)
        return build_argv(launch, command, self.files, workdir=self.path, program=program)
