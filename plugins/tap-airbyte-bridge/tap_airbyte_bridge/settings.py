"""The tap's settings: their JSON schema (for `--about` and validation) and typed parsing.

The `connector` setting says how to launch the Airbyte connector, in exactly one of two ways:
a Python executable (`{"python": {"executable": "source-faker"}}`) or a container image
(`{"docker_image": "airbyte/source-faker:6.2.0", "engine": "auto"}`). `airbyte_config` is the
connector's own config, handed to it unchanged as `--config`.

This module only parses; it never starts a process or touches the file system.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import PurePath

from singer_sdk import typing as th

from tap_airbyte_bridge.exceptions import SettingsError

ENGINES = ("auto", "docker", "podman")
DEFAULT_ENGINE = ENGINES[0]
"""Valid values of `connector.engine`; `auto` picks docker, else podman, from PATH."""

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
                    "Launch the connector from this container image, e.g. "
                    "'airbyte/source-faker:6.2.0'."
                ),
            ),
            th.Property(
                "engine",
                th.StringType,
                default=DEFAULT_ENGINE,
                allowed_values=list(ENGINES),
                description=(
                    "Container engine for docker_image: 'docker', 'podman', or 'auto' "
                    "(docker if on PATH, else podman)."
                ),
            ),
            th.Property(
                "run_args",
                th.ArrayType(th.StringType),
                description=(
                    "Extra arguments to '<engine> run', placed before the image, e.g. "
                    "['--network', 'host'] or ['--env', 'TZ=UTC']."
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
            "(e.g. 'source-faker') or connector.docker_image (e.g. 'airbyte/source-faker:6.2.0')"
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
        executable = python.get("executable") if isinstance(python, dict) else None
        if not isinstance(executable, str) or not executable:
            msg = "connector.python.executable must name the connector, e.g. 'source-faker'"
            raise SettingsError(msg)
        return PythonLaunch(executable, _string_list(python.get("args"), "connector.python.args"))
    if image:
        if not isinstance(image, str):
            msg = f"connector.docker_image must be a string, got {image!r}"
            raise SettingsError(msg)
        engine = connector.get("engine") or DEFAULT_ENGINE
        if engine not in ENGINES:
            msg = f"connector.engine: {engine!r} is not one of {', '.join(ENGINES)}"
            raise SettingsError(msg)
        return ContainerLaunch(
            image, engine, _string_list(connector.get("run_args"), "connector.run_args")
        )
    msg = (
        "setting 'connector' names no launch mode: set connector.python.executable or "
        "connector.docker_image"
    )
    raise SettingsError(msg)
