"""The runner image, built and run here with podman: the demo job in oneshot mode, on the
embedded catalog, with /specs mounted read-only, and the rows read back from a second container.

Opt-in locally (INGESTGEN_CONTAINER_TESTS=1), always on in CI (CI=true). Needs root, podman,
runc and debootstrap (scripts/install-system-deps); the base image comes from docker/build-base,
which caches Debian's root file system under /var/tmp/ingestgen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import time
from pathlib import Path

import pytest

from tests.container.engine import TIMINGS, podman

pytestmark = [
    pytest.mark.container,
    pytest.mark.slow,
]


def tree_digest(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        p.relative_to(folder).as_posix(): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_image_runs_as_runner_with_exec_entrypoint(image: str) -> None:
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/local/bin/ingestgen-entrypoint"]
    who = podman("run", "--rm", "--network=none", "--entrypoint", "id", image, "-u")
    assert who.stdout.strip() == "10001"
    # /specs belongs to root: the runner cannot write there even when nothing is mounted.
    touch = podman("run", "--rm", "--network=none", "--entrypoint", "touch", image, "/specs/x")
    assert touch.returncode == 1 and "Permission denied" in touch.stderr


def test_entrypoint_refuses_unknown_modes(image: str) -> None:
    for args in ((), ("oneshot",), ("sometimes",)):
        done = podman("run", "--rm", "--network=none", image, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert "usage: oneshot JOB_FILE" in done.stderr


def test_oneshot_runs_the_demo_job_with_specs_read_only(
    image: str, repo_root: Path, tmp_path: Path
) -> None:
    specs = repo_root / "specs"
    before = tree_digest(specs)
    lake = tmp_path / "lake"
    lake.mkdir()
    lake.chmod(0o777)  # the runner (uid 10001) writes the embedded catalog here
    mounts = ["--volume", f"{specs}:/specs:ro", "--volume", f"{lake}:/app/projects/acme/.lake"]
    started = time.monotonic()
    run = podman(
        "run",
        "--rm",
        "--network=none",
        *mounts,
        image,
        "oneshot",
        "configs/acme/deals_daily.yaml",
        "--output",
        "json",
        timeout=900,
    )
    TIMINGS["oneshot_s"] = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    record = json.loads(run.stdout)
    assert (record["tenant"], record["job"], record["exit_code"]) == ("acme", "deals_daily", 0)
    assert record["totals"]["rows_landed"] == 50
    # A second container reads the table back from the same lake.
    show = podman(
        "run",
        "--rm",
        "--network=none",
        *mounts,
        "--entrypoint",
        "ingestgen",
        image,
        "show",
        "acme",
        "deals_daily",
        "--output",
        "json",
    )
    assert show.returncode == 0, show.stderr[-3000:]
    (table,) = json.loads(show.stdout)["tables"]
    assert table["table"] == "acme.deals_daily" and table["rows"] == 50
    assert (lake / "catalog.db").is_file()
    assert tree_digest(specs) == before


def test_orchestrated_serves_the_committed_workspace(image: str, repo_root: Path) -> None:
    from ingestgen.orchestrate.graphql import DagsterApiError, location_status

    # The committed workspace's code locations: one per shard that holds a scheduled tenant.
    shards = sorted((repo_root / "projects" / "_dagster").glob("shard_*.json"))
    expected = {p.stem: "LOADED" for p in shards}
    assert expected, "the committed workspace lists no shard"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    name = f"ingestgen-orchestrated-{port}"
    # Host networking with the webserver on loopback: reachable from this test, from nowhere else.
    started = time.monotonic()
    run = podman(
        "run",
        "--detach",
        "--init",
        "--name",
        name,
        "--network=host",
        image,
        "orchestrated",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    assert run.returncode == 0, run.stderr
    try:
        status: dict[str, str] = {}
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline and status != expected:
            state = podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            assert state == "true", podman("logs", name).stderr[-3000:]
            with contextlib.suppress(DagsterApiError):
                status = location_status(f"http://127.0.0.1:{port}")
            time.sleep(2)
        TIMINGS["orchestrated_ready_s"] = time.monotonic() - started
        assert status == expected, podman("logs", name).stderr[-3000:]
        # `podman stop` sends SIGTERM: ingestgen stops Dagster and exits 0.
        assert podman("stop", "--time", "60", name, timeout=120).returncode == 0
        state = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        logs = podman("logs", name)
        assert state == "0", logs.stdout[-2000:] + logs.stderr[-3000:]
        assert "dagster: stopping (SIGTERM)" in logs.stdout + logs.stderr
    finally:
        podman("rm", "--force", name)
