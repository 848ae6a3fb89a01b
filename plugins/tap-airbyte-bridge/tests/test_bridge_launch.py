"""The `connector` setting and the command lines it produces (python and container modes).

Container runs need a container engine, which this machine may not have: these tests check the
exact argv and the staged files, and a stand-in engine script proves the argv is executed as
built. A real image run comes with the container issue.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from tap_airbyte_bridge.connector import Connector
from tap_airbyte_bridge.exceptions import ConnectorNotFoundError, SettingsError
from tap_airbyte_bridge.launch import (
    CONTAINER_MOUNT,
    Workspace,
    build_argv,
    resolve_engine,
    resolve_executable,
)
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


def test_container_launch_defaults_to_auto_engine() -> None:
    launch = parse_launch({"docker_image": "airbyte/source-faker:6.2.0"})
    assert launch == ContainerLaunch("airbyte/source-faker:6.2.0", "auto", ())
    assert launch.label == "airbyte/source-faker:6.2.0"


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
        program="/venv/bin/source-faker",
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


# --- container mode ---------------------------------------------------------------------


def test_container_argv_mounts_the_workspace_and_passes_container_paths(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.json" for name in ("config", "catalog", "state")}
    argv = build_argv(
        ContainerLaunch("airbyte/source-faker:6.2.0", "podman", ("--network", "none")),
        "read",
        files,
        workdir=tmp_path,
        program="/usr/bin/podman",
    )
    assert argv == [
        "/usr/bin/podman",
        "run",
        "--rm",
        "-i",
        "-v",
        f"{tmp_path}:{CONTAINER_MOUNT}",
        "--network",
        "none",
        "airbyte/source-faker:6.2.0",
        "read",
        "--config",
        f"{CONTAINER_MOUNT}/config.json",
        "--catalog",
        f"{CONTAINER_MOUNT}/catalog.json",
        "--state",
        f"{CONTAINER_MOUNT}/state.json",
    ]


@pytest.mark.parametrize(
    ("engine", "available", "expected"),
    [
        ("auto", {"docker": "/usr/bin/docker", "podman": "/usr/bin/podman"}, "/usr/bin/docker"),
        ("auto", {"podman": "/usr/bin/podman"}, "/usr/bin/podman"),
        ("podman", {"docker": "/usr/bin/docker", "podman": "/usr/bin/podman"}, "/usr/bin/podman"),
        ("docker", {"docker": "/usr/local/bin/docker"}, "/usr/local/bin/docker"),
    ],
)
def test_engine_choice(engine: str, available: dict[str, str], expected: str) -> None:
    assert resolve_engine(engine, which=_which(available)) == expected


@pytest.mark.parametrize(("engine", "tried"), [("auto", "docker or podman"), ("docker", "docker")])
def test_missing_engine_names_the_alternatives(engine: str, tried: str) -> None:
    with pytest.raises(ConnectorNotFoundError) as caught:
        resolve_engine(engine, which=_which({}))
    message = str(caught.value)
    assert f"container engine {tried} not found" in message
    assert "connector.python" in message


def test_unknown_command_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown Airbyte command 'write'"):
        build_argv(PythonLaunch("x"), "write", {}, workdir=tmp_path, program="x")


# --- workspace --------------------------------------------------------------------------


def test_python_workspace_is_private_and_removed(tmp_path: Path) -> None:
    with Workspace(PythonLaunch("source-faker")) as workspace:
        config = workspace.write("config", {"api_key": "s3cret", "rate": 1.5})
        folder = workspace.path
        assert json.loads(config.read_text()) == {"api_key": "s3cret", "rate": 1.5}
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert not folder.exists()
    assert not folder.parent.exists()


def test_container_workspace_is_readable_inside_a_private_parent() -> None:
    with Workspace(ContainerLaunch("airbyte/source-faker:6.2.0")) as workspace:
        config = workspace.write("config", {"count": 1})
        assert stat.S_IMODE(config.stat().st_mode) == 0o644
        assert stat.S_IMODE(workspace.path.stat().st_mode) == 0o755
        assert stat.S_IMODE(workspace.path.parent.stat().st_mode) == 0o700


def test_container_command_is_executed_as_built(tmp_path: Path, monkeypatch) -> None:
    """A stand-in `docker` records its argv and the mounted config, then acts as a source."""
    record = tmp_path / "argv.json"
    stand_in = _executable(
        tmp_path / "docker",
        f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
mount = args[args.index("-v") + 1].split(":")[0]
config = json.load(open(mount + "/config.json"))
json.dump({{"argv": args, "config": config}}, open({str(record)!r}, "w"))
print(json.dumps({{"type": "CATALOG", "catalog": {{"streams": [
    {{"name": "rows", "json_schema": {{"type": "object", "properties": {{}}}},
      "supported_sync_modes": ["full_refresh"]}}]}}}}))
""",
    )
    monkeypatch.setenv("PATH", f"{stand_in.parent}{os.pathsep}{os.environ['PATH']}")
    connector = Connector(
        ContainerLaunch("airbyte/source-x:1.0", "docker"), {"token": "t"}, logging.getLogger("t")
    )

    streams = connector.discover()

    assert [s.name for s in streams] == ["rows"]
    seen = json.loads(record.read_text())
    assert seen["config"] == {"token": "t"}
    assert seen["argv"][:4] == ["run", "--rm", "-i", "-v"]
    assert seen["argv"][5:] == [
        "airbyte/source-x:1.0",
        "discover",
        "--config",
        f"{CONTAINER_MOUNT}/config.json",
    ]
