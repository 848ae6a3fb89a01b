"""The tap's settings: their JSON schema (for `--about` and validation) and typed parsing.

The `connector` setting says how to launch the Airbyte connector, in exactly one of two ways:
a Python executable (`{"python": {"executable": "source-faker"}}`) or a container image
(`{"docker_image": "airbyte/source-faker:7.2.1", "engine": "auto"}`, with the container's
network and limits: `network`, `memory`, `cpus`). `airbyte_config` is the connector's own
config, handed to it unchanged as `--config`.

This module only parses; it never starts a process or touches the file system.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import PurePath

from singer_sdk import typing as th

from tap_airbyte_bridge.container import IMAGE_REFERENCE, MEMORY, NETWORK
from tap_airbyte_bridge.exceptions import SettingsError

ENGINES = ("auto", "docker", "podman")
DEFAULT_ENGINE = ENGINES[0]
"""Valid values of `connector.engine`; `auto` picks docker, else podman, from PATH."""

CONTAINER_KEYS = frozenset({"engine", "network", "memory", "cpus", "run_args"})
"""Keys of `connector` that only a container launch reads."""

# No `pattern` below: singer-sdk would report a mismatch as the raw regular expression, while
# `parse_launch` names the setting and gives an example (and exits 2). No `default` under
# `connector` either: singer-sdk would write it into the config of every launch mode.
CONFIG_SCHEMA: dict[str, t.Any] = th.PropertiesList(
    th.Property(
        "connector",
        th.ObjectType(
            th.Property(
                "python",
                th.ObjectType(
                    th.Property(
                        "executable",
                        th.StringType,
                        required=True,
                        description=(
                            "Connector entry point, e.g. 'source-faker'. A bare name is looked "
                            "up in the tap's own virtualenv first, then on PATH; a path is "
                            "used as is."
                        ),
                    ),
                    th.Property(
                        "args",
                        th.ArrayType(th.StringType),
                        description=(
                            "Arguments placed before the Airbyte command, e.g. "
                            "['-m', 'source_faker'] with executable 'python'."
                        ),
                    ),
                    additional_properties=False,
                ),
                description="Launch a connector installed as a Python package.",
            ),
            th.Property(
                "docker_image",
                th.StringType,
                description=(
                    "Launch the connector from this container image, pinned by tag or digest, "
                    "e.g. 'airbyte/source-faker:7.2.1'. It must be in the engine's local "
                    "images: runs never pull."
                ),
            ),
            th.Property(
                "engine",
                th.StringType,
                allowed_values=list(ENGINES),
                description=(
                    "Container engine for docker_image: 'docker', 'podman', or 'auto' (the "
                    "default: docker if on PATH and its daemon answers, else podman)."
                ),
            ),
            th.Property(
                "network",
                th.StringType,
                description=(
                    "The container's network: 'none' (the default: no network at all), "
                    "'bridge' (the engine's default network, for connectors that call an API), "
                    "'host' only for a connector that must reach the host's own services, or a "
                    "named network."
                ),
            ),
            th.Property(
                "memory",
                th.StringType,
                description="Memory limit of the container (no swap beyond it), e.g. '512m'.",
            ),
            th.Property(
                "cpus",
                th.NumberType,
                description="CPU limit of the container, e.g. 1 or 0.5.",
            ),
            th.Property(
                "run_args",
                th.ArrayType(th.StringType),
                description=(
                    "Extra arguments to '<engine> run', placed after the bridge's own (which "
                    "they cannot loosen) and before the image, e.g. ['--env', 'TZ=UTC']."
                ),
            ),
            additional_properties=False,
        ),
        required=True,
        description=("How to launch the Airbyte connector: set either 'python' or 'docker_image'."),
    ),
    th.Property(
        "airbyte_config",
        th.ObjectType(additional_properties=True),
        secret=True,
        default={},
        description=(
            "The connector's own config, passed unchanged as '--config' (see the connector's "
            "'spec'). May hold secrets; it is written only to a private temporary file."
        ),
    ),
).to_dict()


@dataclass(frozen=True)
class PythonLaunch:
    """Run a connector installed as a Python package (its console script)."""

    executable: str
    args: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Name used in logs and errors: the executable's file name."""
        return PurePath(self.executable).name


@dataclass(frozen=True)
class ContainerLaunch:
    """Run a connector image through a container engine."""

    image: str
    engine: str = DEFAULT_ENGINE
    run_args: tuple[str, ...] = ()
    network: str = "none"
    memory: str | None = None
    cpus: float | None = None

    @property
    def label(self) -> str:
        """Name used in logs and errors."""
        return self.image


Launch = PythonLaunch | ContainerLaunch


def _string_list(value: object, setting: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        msg = f"{setting} must be a list of strings, got {value!r}"
        raise SettingsError(msg)
    return tuple(value)


def parse_launch(connector: t.Mapping[str, t.Any] | None) -> Launch:
    """Turn the `connector` setting into a launch description.

    Args:
        connector: The value of the `connector` setting.

    Returns:
        A `PythonLaunch` or a `ContainerLaunch`.

    Raises:
        SettingsError: When neither or both launch modes are set, or a value is invalid.
    """
    if not connector:
        msg = (
            "setting 'connector' is required: set connector.python.executable "
            "(e.g. 'source-faker') or connector.docker_image (e.g. 'airbyte/source-faker:7.2.1')"
        )
        raise SettingsError(msg)
    python = connector.get("python")
    image = connector.get("docker_image")
    if python and image:
        msg = (
            "setting 'connector' sets both 'python' and 'docker_image': keep exactly one "
            "launch mode"
        )
        raise SettingsError(msg)
    if python:
        container_only = sorted(k for k in CONTAINER_KEYS if connector.get(k) is not None)
        if container_only:
            msg = (
                f"connector.{container_only[0]} applies to a container only: remove it, or "
                "launch the connector from connector.docker_image instead of connector.python"
            )
            raise SettingsError(msg)
        executable = python.get("executable") if isinstance(python, dict) else None
        if not isinstance(executable, str) or not executable:
            msg = "connector.python.executable must name the connector, e.g. 'source-faker'"
            raise SettingsError(msg)
        return PythonLaunch(executable, _string_list(python.get("args"), "connector.python.args"))
    if image:
        return _container_launch(connector, image)
    msg = (
        "setting 'connector' names no launch mode: set connector.python.executable or "
        "connector.docker_image"
    )
    raise SettingsError(msg)


def _container_launch(connector: t.Mapping[str, t.Any], image: object) -> ContainerLaunch:
    if not isinstance(image, str) or not IMAGE_REFERENCE.match(image):
        msg = (
            f"connector.docker_image {image!r} is not a pinned container image reference: "
            "write name:tag or name@sha256:digest, e.g. 'airbyte/source-faker:7.2.1'"
        )
        raise SettingsError(msg)
    engine = connector.get("engine") or "auto"
    if engine not in ENGINES:
        msg = f"connector.engine: {engine!r} is not one of {', '.join(ENGINES)}"
        raise SettingsError(msg)
    network = connector.get("network") or "none"
    if not isinstance(network, str) or not NETWORK.match(network):
        msg = (
            f"connector.network {network!r} is not a network name: use 'none', 'bridge', "
            "'host' or the name of a network the engine has"
        )
        raise SettingsError(msg)
    memory = connector.get("memory")
    if memory is not None and not (isinstance(memory, str) and MEMORY.match(memory)):
        msg = f"connector.memory {memory!r} is not a size: write e.g. '512m' or '2g'"
        raise SettingsError(msg)
    cpus = connector.get("cpus")
    if cpus is not None and (
        isinstance(cpus, bool) or not isinstance(cpus, int | float) or not 0 < cpus <= 1024
    ):
        msg = f"connector.cpus {cpus!r} is not a CPU count: write e.g. 1 or 0.5"
        raise SettingsError(msg)
    return ContainerLaunch(
        image,
        engine,
        _string_list(connector.get("run_args"), "connector.run_args"),
        network,
        memory,
        float(cpus) if cpus is not None else None,
    )
