"""The `connector` setting, the python command line and the private workspace.

The container command line is tested in `test_bridge_container_argv.py`, and against a real
connector image in `test_bridge_container.py`.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tap_airbyte_bridge.exceptions import ConnectorNotFoundError, SettingsError
from tap_airbyte_bridge.launch import Program, Workspace, build_argv, resolve_executable
from tap_airbyte_bridge.settings import ContainerLaunch, PythonLaunch, parse_launch


def _which(available: dict[str, str]):
    return available.get


def _executable(path: Path, body: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(body)
    path.chmod(0o755)
    return path


# --- settings ---------------------------------------------------------------------------


def test_python_launch_is_parsed() -> None:
    launch = parse_launch({"python": {"executable": "source-faker", "args": ["-v"]}})
    assert launch == PythonLaunch("source-faker", ("-v",))
    assert launch.label == "source-faker"


def test_container_launch_defaults_to_auto_engine_and_no_network() -> None:
    launch = parse_launch({"docker_image": "airbyte/source-faker:7.2.1"})
    assert launch == ContainerLaunch("airbyte/source-faker:7.2.1", "auto", (), "none", None, None)
    assert launch.label == "airbyte/source-faker:7.2.1"


def test_container_launch_with_network_and_limits() -> None:
    launch = parse_launch(
        {
            "docker_image": "airbyte/source-hubspot:1.0.15",
            "engine": "podman",
            "network": "bridge",
            "memory": "512m",
            "cpus": 1,
        }
    )
    assert launch == ContainerLaunch(
        "airbyte/source-hubspot:1.0.15", "podman", (), "bridge", "512m", 1.0
    )


@pytest.mark.parametrize(
    ("connector", "fragment"),
    [
        (None, "setting 'connector' is required"),
        ({}, "setting 'connector' is required"),
        ({"engine": "docker"}, "names no launch mode"),
        (
            {"python": {"executable": "x"}, "docker_image": "airbyte/x:1"},
            "keep exactly one launch mode",
        ),
        ({"python": {"executable": ""}}, "connector.python.executable must name"),
        ({"docker_image": "a/x:1", "engine": "lxc"}, "'lxc' is not one of auto, docker, podman"),
        ({"docker_image": "a/x:1", "run_args": "--network host"}, "must be a list of strings"),
        ({"docker_image": "airbyte/source-faker"}, "is not a pinned container image reference"),
        ({"docker_image": "--privileged"}, "is not a pinned container image reference"),
        ({"docker_image": ["a/x:1"]}, "is not a pinned container image reference"),
        ({"docker_image": "a/x:1", "network": "container:db"}, "is not a network name"),
        ({"docker_image": "a/x:1", "memory": "lots"}, "connector.memory 'lots' is not a size"),
        ({"docker_image": "a/x:1", "cpus": 0}, "connector.cpus 0 is not a CPU count"),
        ({"docker_image": "a/x:1", "cpus": True}, "connector.cpus True is not a CPU count"),
        (
            {"python": {"executable": "source-faker"}, "network": "host"},
            "connector.network applies to a container only",
        ),
    ],
)
def test_bad_connector_settings_name_the_fix(connector: object, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment.replace("(", r"\(")):
        parse_launch(connector)  # type: ignore[arg-type]


# --- python mode ------------------------------------------------------------------------


def test_python_argv_passes_host_paths_in_airbyte_order(tmp_path: Path) -> None:
    files = {
        "state": tmp_path / "state.json",
        "config": tmp_path / "config.json",
        "catalog": tmp_path / "catalog.json",
    }
    argv = build_argv(
        PythonLaunch("source-faker", ("--debug",)),
        "read",
        files,
        workdir=tmp_path,
        program=Program("/venv/bin/source-faker"),
    )
    assert argv == [
        "/venv/bin/source-faker",
        "--debug",
        "read",
        "--config",
        str(tmp_path / "config.json"),
        "--catalog",
        str(tmp_path / "catalog.json"),
        "--state",
        str(tmp_path / "state.json"),
    ]


def test_executable_is_found_in_the_taps_venv_before_path(tmp_path: Path) -> None:
    venv_bin = tmp_path / "bin"
    venv_bin.mkdir()
    script = _executable(venv_bin / "source-faker")
    found = resolve_executable(
        "source-faker", venv_bin=venv_bin, which=_which({"source-faker": "/usr/bin/source-faker"})
    )
    assert found == str(script)


def test_executable_falls_back_to_path(tmp_path: Path) -> None:
    found = resolve_executable(
        "source-faker", venv_bin=tmp_path, which=_which({"source-faker": "/opt/bin/source-faker"})
    )
    assert found == "/opt/bin/source-faker"


def test_missing_executable_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ConnectorNotFoundError) as caught:
        resolve_executable("source-nope", venv_bin=tmp_path, which=_which({}))
    assert "airbyte-source-nope" in str(caught.value)
    assert "connector.python.executable" in str(caught.value)


def test_executable_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConnectorNotFoundError, match="is not an executable file"):
        resolve_executable(str(tmp_path / "missing"), venv_bin=tmp_path)


def test_unknown_command_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown Airbyte command 'write'"):
        build_argv(PythonLaunch("x"), "write", {}, workdir=tmp_path, program=Program("x"))


# --- workspace --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "launch", [PythonLaunch("source-faker"), ContainerLaunch("airbyte/source-faker:7.2.1")]
)
def test_workspace_is_private_and_removed(launch: PythonLaunch | ContainerLaunch) -> None:
    with Workspace(launch) as workspace:
        config = workspace.write("config", {"api_key": "s3cret", "rate": 1.5})
        folder = workspace.path
        assert json.loads(config.read_text()) == {"api_key": "s3cret", "rate": 1.5}
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert not folder.exists()
    assert not folder.parent.exists()
