"""The bridge against a real connector image: `airbyte/source-faker:7.2.1` run by podman.

The image is built from the connector's PyPI package on the local Debian base by the
repository's `docker/build-connector-image`, which reuses it while its inputs are unchanged.
Discovery, records, state and a resumed run through the image are tested end to end, with
Meltano, in the repository's tests/engines/test_airbyte_container.py. Here, while the connector
runs, the test pauses the tap (so the connector blocks on a full pipe and stays up) and looks at
it from the outside: every process's command line and environment, the config file inside the
container, the container's user, capabilities, network and mounts, and what the engine says of
its limits.

Opt-in locally (INGESTGEN_CONTAINER_TESTS=1), always on in CI (CI=true): the repository's
`ingestgen_services.containers` plugin has the switch and the fixtures.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.container,
    pytest.mark.slow,
]

REPO = Path(__file__).resolve().parents[3]
IMAGE = "airbyte/source-faker:7.2.1"
CONFIG_IN_CONTAINER = "/airbyte/config/config.json"


@pytest.fixture(scope="module")
def image(connector_image: t.Callable[[str, str], str]) -> str:
    """The faker image, built once per change of its inputs."""
    return connector_image("source-faker", "7.2.1")


def container_config(airbyte: dict[str, t.Any], **connector: t.Any) -> dict[str, t.Any]:
    return {
        "connector": {"docker_image": IMAGE, "engine": "podman", **connector},
        "airbyte_config": airbyte,
    }


def users_catalog(discovered: dict[str, t.Any]) -> dict[str, t.Any]:
    """The discovered catalog with only `users` selected."""
    for stream in discovered["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "users"
    return discovered


def _processes() -> t.Iterator[tuple[int, list[str]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            yield int(entry.name), [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _wait_for(found: t.Callable[[], int | None], what: str, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = found()
        if pid is not None:
            return pid
        time.sleep(0.02)
    pytest.fail(f"no {what} within {timeout:g} s")


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_the_connector_gets_its_config_as_a_private_file_and_nothing_more(
    image: str, tmp_path: Path, faker_config: t.Callable[..., dict[str, t.Any]]
) -> None:
    secret = f"sk_live_{secrets.token_hex(16)}"
    # faker ignores keys it does not know: the token stands for any connector secret.
    config = container_config(
        {**faker_config(count=4000, records_per_slice=1000), "api_key": secret},
        memory="512m",
        cpus=1,
    )
    files = {"config": config, "catalog": users_catalog(_discover(tmp_path, config))}
    for name, payload in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(payload))
    out, err = (tmp_path / "out.jsonl").open("wb"), (tmp_path / "err.log").open("wb")
    tap = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tap-airbyte-bridge"),
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        stdout=out,
        stderr=err,
    )
    try:
        # The engine's client for the read: stop the tap as soon as it exists, so the connector
        # blocks once the pipe is full and is still there to be looked at.
        def client() -> int | None:
            for pid, args in _processes():
                if args and Path(args[0]).name == "podman" and "run" in args and "read" in args:
                    return pid
            return None

        client_pid = _wait_for(client, "podman run for the read")
        os.kill(tap.pid, signal.SIGSTOP)

        def connector() -> int | None:
            for pid, args in _processes():
                if CONFIG_IN_CONTAINER in args and Path(args[0]).name != "podman":
                    return pid
            return None

        pid = _wait_for(connector, "connector process")
        client_args = Path(f"/proc/{client_pid}/cmdline").read_bytes().split(b"\0")
        name = next(a for a in client_args if a.startswith(b"--name=")).decode()[7:]

        # No process shows the secret: not in a command line, not in an environment.
        for other, args in _processes():
            assert secret not in " ".join(args), (other, args)
            try:
                environ = Path(f"/proc/{other}/environ").read_bytes()
            except OSError:
                continue
            assert secret.encode() not in environ, other
        # The config file inside the container: 0600, the connector's own, holding the secret.
        inside = Path(f"/proc/{pid}/root{CONFIG_IN_CONTAINER}")
        info = inside.stat()
        status = _status(pid)
        uid = int(status["Uid"].split()[0])
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == uid
        assert json.loads(inside.read_text())["api_key"] == secret
        # The connector's user, capabilities and privileges.
        assert uid == (65534 if os.geteuid() == 0 else os.geteuid())
        assert int(status["CapEff"], 16) == 0
        assert status["NoNewPrivs"] == "1"
        # No network but loopback; a read-only root and a read-only config mount.
        devices = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
        assert [line.split(":")[0].strip() for line in devices] == ["lo"]
        mounts = {
            fields[4]: fields[5].split(",")
            for fields in (
                line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
            )
        }
        assert "ro" in mounts["/"] and "ro" in mounts["/airbyte/config"]
        # The limits, as the engine holds them.
        inspected = subprocess.run(
            ["podman", "inspect", "--format", "json", name],
            capture_output=True,
            text=True,
            check=True,
        )
        host = json.loads(inspected.stdout)[0]["HostConfig"]
        assert host["Memory"] == 512 * 1024 * 1024
        assert host["NanoCpus"] == 1_000_000_000
        assert host["PidsLimit"] == 512
        assert host["ReadonlyRootfs"] is True
    finally:
        os.kill(tap.pid, signal.SIGCONT)
        returncode = tap.wait(timeout=600)
        out.close()
        err.close()
    log = (tmp_path / "err.log").read_text()
    assert returncode == 0, log[-3000:]
    assert secret not in log
    records = [
        json.loads(line)
        for line in (tmp_path / "out.jsonl").read_text().splitlines()
        if '"RECORD"' in line
    ]
    assert len(records) == 4000  # pausing lost nothing


def _discover(tmp_path: Path, config: dict[str, t.Any]) -> dict[str, t.Any]:
    path = tmp_path / "discover-config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "tap-airbyte-bridge"),
            "--config",
            str(path),
            "--discover",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


def test_a_trace_error_from_the_image_is_the_taps_one_line(
    image: str, run_tap: t.Callable[..., t.Any]
) -> None:
    done = run_tap(container_config({"count": "abc"}), "--discover")
    assert done.returncode != 0
    # The last line says it all (the connector's own stderr is logged above it).
    last = done.stderr.rstrip().splitlines()[-1]
    assert last.endswith(
        f"connector {IMAGE} failed with config_error: Config validation error: 'abc' is not of "
        "type 'integer' (exit code 1)"
    )


def test_a_missing_image_is_named_with_how_to_get_it(
    container_engine: str, run_tap: t.Callable[..., t.Any]
) -> None:
    missing = "airbyte/source-faker:0.0.0-absent"
    config = {"connector": {"docker_image": missing, "engine": "podman"}, "airbyte_config": {}}
    done = run_tap(config, "--discover")
    assert done.returncode == 2
    assert (
        f"container image '{missing}' is not in podman's local images, and runs never pull: "
        f"pull it where a registry is reachable (podman pull {missing}), load a saved copy "
        "(podman load -i FILE.tar), or build it from the connector's PyPI package (ingestgen: "
        f"docker/build-connector-image source-faker 0.0.0-absent --tag {missing})"
    ) in done.stderr
    assert "Traceback" not in done.stderr
