"""The container command line, the engine choice, the image check and the workspace hand-over.

No container engine is needed here: engines are looked up and answered by stand-ins, and a
stand-in `docker` script proves the argv is executed as built. `test_bridge_container.py`
runs the same code against a real connector image.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tap_airbyte_bridge.connector import Connector
from tap_airbyte_bridge.container import (
    CONTAINER_INPUT,
    IMAGE_REFERENCE,
    NOBODY,
    PIDS_LIMIT,
    Identity,
    check_image,
    identity,
)
from tap_airbyte_bridge.exceptions import ConnectorError, ConnectorNotFoundError, ImageNotFoundError
from tap_airbyte_bridge.launch import Program, Workspace, build_argv, resolve_engine
from tap_airbyte_bridge.settings import ContainerLaunch

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "image",
    [
        "airbyte/source-faker:7.2.1",
        "docker.io/airbyte/source-hubspot:1.0.15",
        "localhost:5000/team/source-x:dev_1",
        f"ghcr.io/acme/source-x@{DIGEST}",
        f"airbyte/source-x:1.0@{DIGEST}",
        "source-x:1",
        "registry.example.internal/a__b/c-d.e:latest",
    ],
)
def test_pinned_image_references_are_accepted(image: str) -> None:
    assert IMAGE_REFERENCE.match(image)


@pytest.mark.parametrize(
    "image",
    [
        "airbyte/source-faker",  # no tag: whatever 'latest' is today
        "localhost:5000/source-x",  # the port is not a tag
        "Airbyte/Source-Faker:1",  # path components are lower-case
        "--privileged",
        "-v/:/host airbyte/x:1",
        "airbyte/source-faker:7.2.1 --network=host",
        "airbyte/source-faker:",
        "airbyte//source-faker:1",
        "airbyte/source-faker:1:2",
        "airbyte/source-faker@sha256:short",
        "",
    ],
)
def test_other_strings_are_not_image_references(image: str) -> None:
    assert not IMAGE_REFERENCE.match(image)


def test_container_argv_is_hardened_and_passes_container_paths(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.json" for name in ("config", "catalog", "state")}
    launch = ContainerLaunch(
        "airbyte/source-faker:7.2.1", "podman", ("--env=TZ=UTC",), "none", "512m", 1.5
    )
    program = Program("/usr/bin/podman", Identity(1000, 1000, ("--userns=keep-id",)))
    argv = build_argv(
        launch, "read", files, workdir=tmp_path, program=program, name="tap-airbyte-bridge-1-ab"
    )
    assert argv == [
        "/usr/bin/podman",
        "run",
        "--rm",
        "--name=tap-airbyte-bridge-1-ab",
        "--pull=never",
        "--log-driver=none",
        "--read-only",
        "--tmpfs=/tmp:rw,noexec,nosuid,nodev",
        "--network=none",
        "--cap-drop=all",
        "--security-opt=no-new-privileges",
        "--user=1000:1000",
        "--userns=keep-id",
        f"--pids-limit={PIDS_LIMIT}",
        "--memory=512m",
        "--memory-swap=512m",
        "--cpus=1.5",
        f"--volume={tmp_path}:{CONTAINER_INPUT}:ro,Z",
        "--env=TZ=UTC",
        "airbyte/source-faker:7.2.1",
        "read",
        "--config",
        f"{CONTAINER_INPUT}/config.json",
        "--catalog",
        f"{CONTAINER_INPUT}/catalog.json",
        "--state",
        f"{CONTAINER_INPUT}/state.json",
    ]


def test_no_limits_means_no_limit_flags(tmp_path: Path) -> None:
    argv = build_argv(
        ContainerLaunch("airbyte/source-x:1", "docker", network="bridge"),
        "spec",
        {},
        workdir=tmp_path,
        program=Program("/usr/bin/docker", Identity(NOBODY, NOBODY)),
        name="n",
    )
    assert "--network=bridge" in argv
    assert not [a for a in argv if a.startswith(("--memory", "--cpus", "--userns"))]
    assert argv[-2:] == ["airbyte/source-x:1", "spec"]


@pytest.mark.parametrize(
    ("program", "euid", "expected"),
    [
        ("/usr/bin/podman", 0, Identity(NOBODY, NOBODY)),
        ("/usr/bin/docker", 0, Identity(NOBODY, NOBODY)),
        ("/usr/bin/podman", 1000, Identity(1000, 100, ("--userns=keep-id",))),
        ("/usr/local/bin/docker", 1000, Identity(1000, 100)),
    ],
)
def test_the_connector_never_runs_as_root(program: str, euid: int, expected: Identity) -> None:
    assert identity(program, euid=euid, egid=0 if euid == 0 else 100) == expected


# --- engine choice ----------------------------------------------------------------------


def _which(available: dict[str, str]) -> t.Callable[[str], str | None]:
    return available.get


BOTH = {"docker": "/usr/bin/docker", "podman": "/usr/bin/podman"}


@pytest.mark.parametrize(
    ("engine", "available", "daemon", "expected"),
    [
        ("auto", BOTH, True, "/usr/bin/docker"),
        ("auto", BOTH, False, "/usr/bin/podman"),  # a docker client without its daemon
        ("auto", {"docker": "/usr/bin/docker"}, False, "/usr/bin/docker"),
        ("auto", {"podman": "/usr/bin/podman"}, True, "/usr/bin/podman"),
        ("podman", BOTH, True, "/usr/bin/podman"),
        ("docker", {"docker": "/usr/local/bin/docker"}, False, "/usr/local/bin/docker"),
    ],
)
def test_engine_choice(engine: str, available: dict[str, str], daemon: bool, expected: str) -> None:
    found = resolve_engine(engine, which=_which(available), answers=lambda _: daemon)
    assert found == expected


@pytest.mark.parametrize(("engine", "tried"), [("auto", "docker or podman"), ("docker", "docker")])
def test_missing_engine_names_the_alternatives(engine: str, tried: str) -> None:
    with pytest.raises(ConnectorNotFoundError) as caught:
        resolve_engine(engine, which=_which({}))
    message = str(caught.value)
    assert f"container engine {tried} not found" in message
    assert "connector.python" in message


# --- image check ------------------------------------------------------------------------


def _answer(returncode: int, stderr: str = "") -> t.Callable[..., subprocess.CompletedProcess[str]]:
    def run(argv: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        assert argv[1:4] == ["image", "inspect", "--format"]
        return subprocess.CompletedProcess(argv, returncode, "sha256:1\n", stderr)

    return run


def test_present_image_passes() -> None:
    check_image("/usr/bin/podman", "airbyte/source-faker:7.2.1", runner=_answer(0))


@pytest.mark.parametrize(
    ("program", "said"),
    [
        ("/usr/bin/podman", "Error: airbyte/source-hubspot:1.0.15: image not known"),
        ("/usr/bin/docker", "Error response from daemon: No such image: airbyte/source-h..."),
    ],
)
def test_missing_image_is_named_with_how_to_get_it(program: str, said: str) -> None:
    with pytest.raises(ImageNotFoundError) as caught:
        check_image(program, "airbyte/source-hubspot:1.0.15", runner=_answer(1, said))
    engine = Path(program).name
    assert str(caught.value) == (
        f"container image 'airbyte/source-hubspot:1.0.15' is not in {engine}'s local images, "
        f"and runs never pull: pull it where a registry is reachable ({engine} pull "
        f"airbyte/source-hubspot:1.0.15), load a saved copy ({engine} load -i FILE.tar), or "
        "build it from the connector's PyPI package (ingestgen: docker/build-connector-image "
        "source-hubspot 1.0.15 --tag airbyte/source-hubspot:1.0.15)"
    )
    assert caught.value.exit_code == 2


def test_an_engine_that_cannot_answer_is_not_a_missing_image() -> None:
    said = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
    with pytest.raises(ConnectorError) as caught:
        check_image("/usr/bin/docker", "airbyte/source-x:1", runner=_answer(1, said))
    assert not isinstance(caught.value, ImageNotFoundError)
    assert "could not inspect image 'airbyte/source-x:1': Cannot connect" in str(caught.value)


# --- workspace hand-over ----------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to another user needs root")
def test_as_root_the_files_belong_to_the_connectors_user_only() -> None:
    launch = ContainerLaunch("airbyte/source-faker:7.2.1")
    with Workspace(launch, owner=Identity(NOBODY, NOBODY)) as workspace:
        config = workspace.write("config", {"token": "t"})
        for path, mode in ((config, 0o600), (workspace.path, 0o700)):
            info = path.stat()
            assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOBODY, mode)
        parent = workspace.path.parent.stat()
        assert (parent.st_uid, stat.S_IMODE(parent.st_mode)) == (0, 0o700)


# --- a stand-in engine ------------------------------------------------------------------

STAND_IN = """#!{python}
import json, sys, time
args = sys.argv[1:]
log = open({log!r}, "a")
log.write(json.dumps(args) + "\\n")
if args[:2] == ["image", "inspect"]:
    print("sha256:1")
    sys.exit(0)
if args[0] == "rm":
    sys.exit(0)
volume = [a for a in args if a.startswith("--volume=")][0]
source = volume.removeprefix("--volume=").split(":", 1)[0]
config = json.load(open(source + "/config.json"))
log.write(json.dumps({{"config": config}}) + "\\n")
log.flush()
print(json.dumps({{"type": "CATALOG", "catalog": {{"streams": [
    {{"name": "rows", "json_schema": {{"type": "object", "properties": {{}}}},
      "supported_sync_modes": ["full_refresh"]}}]}}}}), flush=True)
if "read" in args:
    while True:
        print(json.dumps({{"type": "RECORD", "record": {{"stream": "rows", "data": {{}},
            "emitted_at": 1}}}}), flush=True)
        time.sleep(0.01)
"""


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` on PATH that logs each call; `run` acts as a source (read never ends)."""
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    script.write_text(STAND_IN.format(python=sys.executable, log=str(log)))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return log


def _calls(log: Path) -> list[t.Any]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_container_command_is_executed_as_built(stand_in: Path) -> None:
    connector = Connector(
        ContainerLaunch("airbyte/source-x:1.0", "docker"), {"token": "t"}, logging.getLogger("t")
    )

    assert [s.name for s in connector.discover()] == ["rows"]
    assert [s.name for s in connector.discover()] == ["rows"]

    calls = _calls(stand_in)
    # The image is checked once per connector, before anything runs.
    assert calls[0][:3] == ["image", "inspect", "--format"]
    runs = [c for c in calls if isinstance(c, list) and c[0] == "run"]
    assert len(runs) == 2 and [c for c in calls if isinstance(c, list)][1:] == runs
    assert {"config": {"token": "t"}} in calls
    assert runs[0][-3:] == ["discover", "--config", f"{CONTAINER_INPUT}/config.json"]
    assert "t" not in runs[0]  # the config is a file, never an argument
    assert runs[0][2] != runs[1][2]  # a fresh container name per command


def test_a_container_stopped_early_is_removed_by_name(stand_in: Path) -> None:
    connector = Connector(
        ContainerLaunch("airbyte/source-x:1.0", "docker"), {}, logging.getLogger("t")
    )
    messages = connector.read({"streams": []})
    assert next(messages)["type"] == "CATALOG"
    assert next(messages)["type"] == "RECORD"
    messages.close()  # the caller stops reading: the client is terminated, its container removed

    calls = [c for c in _calls(stand_in) if isinstance(c, list)]
    (run,) = [c for c in calls if c[0] == "run"]
    name = run[2].removeprefix("--name=")
    assert calls[-1] == ["rm", "--force", name]
