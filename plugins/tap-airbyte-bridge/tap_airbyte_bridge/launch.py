"""Build the connector's command line and stage its input files.

An Airbyte source takes `spec | check | discover | read` with `--config`, `--catalog` and
`--state` file arguments. This module writes those files into a private temporary folder and
builds the argv: for a Python connector the files are passed by host path; for a container the
folder is mounted read-only at `/airbyte/config` (see `container.py`) and the paths inside the
container are passed.

It never runs the connector (see `process.py`) and never leaves the files behind: the folder
is deleted when the `Workspace` closes, because `config.json` may hold secrets. The files are
mode 0600 in a 0700 folder, owned by whoever runs the connector: nobody else can read them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import typing as t
from dataclasses import dataclass
from pathlib import Path

from singer_sdk.singerlib.json import serialize_json

from tap_airbyte_bridge.container import (
    CONTAINER_INPUT,
    Identity,
    check_image,
    engine_answers,
    identity,
    run_argv,
)
from tap_airbyte_bridge.exceptions import ConnectorNotFoundError, SettingsError
from tap_airbyte_bridge.settings import ContainerLaunch, Launch, PythonLaunch

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

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
    answers: Callable[[str], bool] = engine_answers,
) -> str:
    """Find the container engine's executable.

    With `auto`, docker is used when it is on PATH and its daemon answers, else podman (which
    needs no daemon): a docker client without a running daemon is common next to podman.

    Args:
        engine: `connector.engine`: `auto`, `docker` or `podman`.
        which: PATH lookup, replaceable in tests.
        answers: Whether an engine's executable can reach its daemon, replaceable in tests.

    Returns:
        The path of the engine's executable.

    Raises:
        ConnectorNotFoundError: When the engine (or, for `auto`, no usable engine) is found.
    """
    if engine != "auto":
        found = which(engine)
        if found:
            return found
        msg = (
            f"container engine {engine} not found on PATH (connector.engine={engine!r}): "
            "install it, set connector.engine to the one installed, or use connector.python "
            "to run a connector installed from PyPI"
        )
        raise ConnectorNotFoundError(msg)
    docker, podman = which("docker"), which("podman")
    if docker and (podman is None or answers(docker)):
        return docker
    if podman:
        return podman
    msg = (
        "container engine docker or podman not found on PATH (connector.engine='auto'): "
        "install docker or podman, set connector.engine to the one installed, or use "
        "connector.python to run a connector installed from PyPI"
    )
    raise ConnectorNotFoundError(msg)


@dataclass(frozen=True)
class Program:
    """A resolved launch: what to execute, and for a container who the connector runs as."""

    path: str
    """The connector's script, or the container engine's executable."""
    identity: Identity | None = None
    """For a container: the user inside it, who must own the input files."""


def resolve_program(
    launch: Launch,
    *,
    which: Callable[[str], str | None] = shutil.which,
    venv_bin: Path | None = None,
    inspect: Callable[[str, str], None] = check_image,
) -> Program:
    """Find what runs the connector; for a container, check that its image is present.

    Args:
        launch: How to launch the connector.
        which: PATH lookup, replaceable in tests.
        venv_bin: Folder searched for a Python connector before PATH.
        inspect: The image check (engine, image), replaceable in tests.

    Returns:
        The program.
    """
    if isinstance(launch, PythonLaunch):
        return Program(resolve_executable(launch.executable, venv_bin=venv_bin, which=which))
    engine = resolve_engine(launch.engine, which=which)
    inspect(engine, launch.image)
    return Program(engine, identity(engine))


def build_argv(
    launch: Launch,
    command: str,
    files: t.Mapping[str, Path],
    *,
    workdir: Path,
    program: Program,
    name: str = "",
) -> list[str]:
    """Build the argv that runs one Airbyte command.

    Args:
        launch: How to launch the connector.
        command: `spec`, `check`, `discover` or `read`.
        files: Staged input files by role (`config`, `catalog`, `state`), all inside `workdir`.
        workdir: The staging folder (mounted into a container).
        program: The resolved program.
        name: The container's name (container launches only).

    Returns:
        The full argv.

    Raises:
        SettingsError: For an unknown command.
    """
    if command not in COMMANDS:
        msg = f"unknown Airbyte command {command!r}; valid: {', '.join(COMMANDS)}"
        raise SettingsError(msg)
    container = isinstance(launch, ContainerLaunch)
    file_args: list[str] = []
    for role in INPUT_FILES:
        if role in files:
            path = files[role]
            file_args += [f"--{role}", f"{CONTAINER_INPUT}/{path.name}" if container else str(path)]
    if isinstance(launch, PythonLaunch):
        return [program.path, *launch.args, command, *file_args]
    who = program.identity or identity(program.path)
    return [*run_argv(launch, program.path, workdir, who, name), command, *file_args]


class Workspace:
    """A private temporary folder holding the connector's input files for one command.

    The folder is mode 0700 and each file 0600, inside a 0700 parent. For a container whose
    connector runs as another user (the tap runs as root, the connector as nobody), the folder
    and files are handed to that user; the root-owned parent still keeps every other user out.
    """

    def __init__(self, launch: Launch, owner: Identity | None = None) -> None:
        self._launch = launch
        self._owner = owner
        self._outer: Path | None = None
        self.files: dict[str, Path] = {}

    @property
    def path(self) -> Path:
        """The folder holding the files (mounted into a container)."""
        if self._outer is None:
            msg = "Workspace used outside its 'with' block"
            raise RuntimeError(msg)
        return self._outer / "ab"

    def _hand_over(self, path: Path) -> None:
        owner = self._owner
        if owner is not None and (owner.uid, owner.gid) != (os.geteuid(), os.getegid()):
            os.chown(path, owner.uid, owner.gid)

    def __enter__(self) -> Workspace:
        self._outer = Path(tempfile.mkdtemp(prefix="tap-airbyte-bridge-"))
        self.path.mkdir(mode=0o700)
        # mkdir's mode is filtered by the umask; set it exactly.
        self.path.chmod(0o700)
        self._hand_over(self.path)
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
        """Write one input file (`config`, `catalog` or `state`) as JSON, mode 0600.

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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(serialize_json(payload))
        path.chmod(0o600)
        self._hand_over(path)
        self.files[role] = path
        return path

    def argv(self, command: str, program: Program, name: str = "") -> list[str]:
        """Build the argv for `command` with the files written so far.

        Args:
            command: `spec`, `check`, `discover` or `read`.
            program: The resolved program (`resolve_program`).
            name: The container's name (container launches only).

        Returns:
            The full argv.
        """
        return build_argv(
            self._launch, command, self.files, workdir=self.path, program=program, name=name
        )
