"""Run an Airbyte connector image with no more than the connector needs.

Each command runs in a fresh, named container: read-only root file system with a private
``/tmp`` (tmpfs), every capability dropped, no new privileges, an unprivileged user, no network
unless `connector.network` names one, memory, CPU and process limits, the staged input files
mounted read-only at `CONTAINER_INPUT`, and no engine log (the output is the data; only the tap
reads it). Images are never pulled at run time: an image missing from the engine's local store
is an error that names it and says how to get it.

Secrets never reach a command line: the connector's config is a file with mode 0600, owned by
the user the connector runs as, and the argv names only its path inside the container.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import typing as t
from dataclasses import dataclass
from pathlib import Path, PurePath

from tap_airbyte_bridge.exceptions import ConnectorError, ImageNotFoundError

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_airbyte_bridge.settings import ContainerLaunch

CONTAINER_INPUT = "/airbyte/config"
"""Where the staged files appear inside a connector container (mounted read-only)."""

NOBODY = 65534
"""The uid and gid a connector runs as when the tap itself runs as root."""

PIDS_LIMIT = 512
"""Processes a connector container may run at once (a fork bomb stops there)."""

ENGINE_TIMEOUT_SECONDS = 60.0
"""How long an image check or a forced removal may take before the engine counts as stuck."""

# A container image reference with a tag or a digest, after the grammar of the distribution
# project's reference package: [host[:port]/]path-component[/path-component...](:tag|@digest).
# registry/connectors.yaml declares the same pattern for engine.options.airbyte.docker_image.
_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?"
_TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(
    rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG}(?:@{_DIGEST})?|@{_DIGEST})$"
)
"""A pinned image reference, e.g. `airbyte/source-faker:7.2.1` (a tag or digest is required)."""

NETWORK = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
"""`connector.network`: `none`, `bridge`, `host` or a named network (never `container:<id>`)."""

MEMORY = re.compile(r"^[1-9][0-9]*[bkmg]?$")
"""`connector.memory`: a size the engines accept for `--memory`, e.g. `512m` or `2g`."""


@dataclass(frozen=True)
class Identity:
    """Who the connector runs as inside the container, and who must own its input files."""

    uid: int
    gid: int
    engine_args: tuple[str, ...] = ()

    @property
    def user(self) -> str:
        """The `--user` value."""
        return f"{self.uid}:{self.gid}"


def identity(program: str, *, euid: int | None = None, egid: int | None = None) -> Identity:
    """The user a connector container runs as.

    As root, the connector runs as `nobody` (the input files are handed to it); otherwise as
    the current user, which owns the files already. Rootless podman maps the current user to
    root inside the container unless told to keep its id.

    Args:
        program: The engine's executable (its file name tells docker from podman).
        euid: The tap's effective uid (default: the process's).
        egid: The tap's effective gid (default: the process's).

    Returns:
        The identity.
    """
    uid = os.geteuid() if euid is None else euid
    gid = os.getegid() if egid is None else egid
    if uid == 0:
        return Identity(NOBODY, NOBODY)
    keep_id = ("--userns=keep-id",) if PurePath(program).name == "podman" else ()
    return Identity(uid, gid, keep_id)


def container_name() -> str:
    """A fresh name for one connector container, so a stuck one can be removed by name."""
    return f"tap-airbyte-bridge-{os.getpid()}-{secrets.token_hex(4)}"


def run_argv(
    launch: ContainerLaunch,
    program: str,
    workdir: Path,
    who: Identity,
    name: str,
) -> list[str]:
    """The `<engine> run` part of the argv, up to and including the image.

    Args:
        launch: The container launch settings.
        program: The engine's executable.
        workdir: The host folder holding the input files.
        who: The identity the connector runs as.
        name: The container's name.

    Returns:
        The argv; the caller appends the Airbyte command and its file arguments.
    """
    limits: list[str] = []
    if launch.memory:
        # No swap beyond the memory limit: the limit is what the connector gets.
        limits += [f"--memory={launch.memory}", f"--memory-swap={launch.memory}"]
    if launch.cpus:
        limits.append(f"--cpus={launch.cpus:g}")
    return [
        program,
        "run",
        "--rm",
        f"--name={name}",
        "--pull=never",
        # The output is the data: the tap reads it, the engine keeps no copy in its logs.
        "--log-driver=none",
        "--read-only",
        "--tmpfs=/tmp:rw,noexec,nosuid,nodev",
        f"--network={launch.network}",
        "--cap-drop=all",
        "--security-opt=no-new-privileges",
        f"--user={who.user}",
        *who.engine_args,
        f"--pids-limit={PIDS_LIMIT}",
        *limits,
        # Z: on SELinux hosts the private folder is relabelled for this container alone (a
        # no-op elsewhere); without it the connector could not read its config there.
        f"--volume={workdir}:{CONTAINER_INPUT}:ro,Z",
        *launch.run_args,
        launch.image,
    ]


Runner = t.Callable[..., "subprocess.CompletedProcess[str]"]


def _engine(runner: Runner, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return runner(
        argv,
        capture_output=True,
        text=True,
        check=False,
        timeout=ENGINE_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
    )


def engine_answers(program: str, *, runner: Runner = subprocess.run) -> bool:
    """Whether the engine can reach its daemon (docker without a running daemon cannot).

    Args:
        program: The engine's executable.
        runner: `subprocess.run`, replaceable in tests.

    Returns:
        True when `<engine> version` reports a server.
    """
    try:
        done = _engine(runner, [program, "version", "--format", "{{.Server.Version}}"])
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def check_image(program: str, image: str, *, runner: Runner = subprocess.run) -> None:
    """Make sure the engine has `image` locally (runs never pull).

    Args:
        program: The engine's executable.
        image: The image reference.
        runner: `subprocess.run`, replaceable in tests.

    Raises:
        ImageNotFoundError: When the image is not in the engine's local store.
        ConnectorError: When the engine cannot answer.
    """
    engine = PurePath(program).name
    try:
        done = _engine(runner, [program, "image", "inspect", "--format", "{{.Id}}", image])
    except subprocess.TimeoutExpired:
        msg = f"container engine {engine} did not answer within {ENGINE_TIMEOUT_SECONDS:g} s"
        raise ConnectorError(msg, connector=image, failure_type="transient_error") from None
    if done.returncode == 0:
        return
    said = done.stderr.strip().lower()
    if "no such image" in said or "image not known" in said:
        name = image.rsplit("/", 1)[-1].split("@", 1)[0]
        connector, _, tag = name.partition(":")
        msg = (
            f"container image {image!r} is not in {engine}'s local images, and runs never pull: "
            f"pull it where a registry is reachable ({engine} pull {image}), load a saved copy "
            f"({engine} load -i FILE.tar), or build it from the connector's PyPI package "
            f"(ingestgen: docker/build-connector-image {connector} {tag or 'VERSION'} "
            f"--tag {image})"
        )
        raise ImageNotFoundError(msg)
    said_last = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
    msg = f"container engine {engine} could not inspect image {image!r}: {said_last[0]}"
    raise ConnectorError(msg, connector=image, returncode=done.returncode)


def remover(program: str, name: str, *, runner: Runner = subprocess.run) -> Callable[[], None]:
    """A callable that force-removes the named container (for a connector that was stopped).

    Args:
        program: The engine's executable.
        name: The container's name.
        runner: `subprocess.run`, replaceable in tests.

    Returns:
        The callable; it never raises.
    """

    def remove() -> None:
        try:
            _engine(runner, [program, "rm", "--force", name])
        except (OSError, subprocess.SubprocessError):
            return

    return remove
