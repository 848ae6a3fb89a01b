"""Runs in containers for real: `ingestgen orchestrate` (Dagster's daemon and webserver) with the
rendered instance settings (launcher docker, PostgreSQL storage) starts each run in a container of
the runner image, through podman's Docker API, with dagster-docker's own launcher.

Two tenants, acme and initech, each run the demo job: two acme runs and one initech run are
requested at once. The test reads back the rows each run landed in its tenant's Iceberg table, the
order of the runs' events in the event storage (acme's second run starts only after its first
ended; initech's run does not wait for acme's), and each run's container through the Docker API:
its limits (initech has its own) and its environment (its own tenant's variables, never another
tenant's, never the daemon's whole environment).

Paths: Dagster hands a run the code location's file path as the daemon's code server loaded it,
so the test repository is mounted into every run container at its own path (``volumes`` in the
runner config); the tenants' lakes (embedded catalog) are in it. Runs reach PostgreSQL on the
daemon's loopback (``network: host``). The tenants' Meltano plugins are installed by the image's
own Meltano, in a container, as the image build does for the repository's projects.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ingestgen_services.postgres import PostgresService, psql

from ingestgen import api
from tests.container.engine import IMAGE, TIMINGS, podman
from tests.orchestrate.conftest import add_tenants
from tests.orchestrate.test_dagster import (
    artifacts_dir,
    free_port,
    launch,
    rows,
    runs,
    wait_finished,
    wait_loaded,
)

pytestmark = [pytest.mark.container, pytest.mark.slow]

BIN = Path(sys.executable).parent
RUNNER_UID = 10001  # the image's user "runner"
SECRETS = {"ACME__DEMO_TOKEN": "acme-only", "INITECH__DEMO_TOKEN": "initech-only"}
DAEMON_ONLY = "INGESTGEN_DAEMON_ONLY_SECRET"
# podman's own, in every container whatever the launcher passes, none from the daemon.
ENGINE_ENV = {"container", "HOME", "HOSTNAME", "TERM"}
LIMITS = {
    # The common limits, and initech's own.
    "acme": {"NanoCpus": 1_000_000_000, "Memory": 1536 * 2**20},
    "initech": {"NanoCpus": 750_000_000, "Memory": 1024 * 2**20},
}


@dataclass
class Deployment:
    root: Path
    url: str
    home: Path
    env: dict[str, str]
    docker: Any
    image: str
    image_env: set[str]
    peak_memory: dict[str, int] = field(default_factory=dict)


def _chown(folder: Path) -> None:
    # The run containers write the tenants' lakes, Meltano folders and compute logs as the
    # image's runner user; podman runs as root here, so ids are the host's.
    for path in [folder, *folder.rglob("*")]:
        with contextlib.suppress(FileNotFoundError):
            os.lchown(path, RUNNER_UID, RUNNER_UID)


def _repository(base: Path, repo_root: Path, image: str) -> Path:
    root = base / "repo"
    root.mkdir()
    for name in ("registry", "specs", "templates"):
        shutil.copytree(repo_root / name, root / name)
    # A copy, not a link: the plugins are installed (editable) from here inside a container.
    shutil.copytree(
        repo_root / "plugins",
        root / "plugins",
        ignore=shutil.ignore_patterns(
            "tests", "build", "*.egg-info", "__pycache__", ".pytest_cache", "bench"
        ),
    )
    (root / "projects").mkdir()
    add_tenants(root, repo_root)
    (root / "configs" / "runner.yaml").write_text(f"""\
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
      - name: acme_nightly
        config: configs/acme/deals_daily.yaml
        cron: "17 3 * * *"
      - name: initech_nightly
        config: configs/initech/deals_daily.yaml
        cron: "19 3 * * *"
    concurrency_per_tenant: 1
    launcher:
      type: docker
      image: {image}
      network: host
      volumes: ["{base}:{base}"]
      resources: {{cpu: 1, memory: 1536Mi}}
      tenant_resources:
        initech: {{cpu: 0.75, memory: 1Gi}}
""")
    assert api.render(root).clean
    return root


def _install_plugins(image: str, base: Path, root: Path) -> None:
    # The image's Meltano installs each tenant's plugins, as the image build does for the
    # repository's own projects; a shared uv cache downloads each package once.
    script = " && ".join(
        f"meltano --cwd {root / 'projects' / tenant} install" for tenant in ("acme", "initech")
    )
    started = time.monotonic()
    done = podman(
        "run",
        "--rm",
        "--network=host",
        "--volume",
        f"{base}:{base}",
        "--env",
        "UV_NO_CACHE=0",
        "--env",
        f"UV_CACHE_DIR={base / 'uv-cache'}",
        "--entrypoint",
        "bash",
        image,
        "-c",
        script,
        timeout=900,
    )
    TIMINGS["plugins_install_s"] = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.rmtree(base / "uv-cache", ignore_errors=True)


def _pings(sock: Path) -> bool:
    # The Docker API's /_ping on a plain socket: docker-py leaves its socket open when a
    # connect fails, which a server still starting makes likely.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.settimeout(5)
            conn.connect(str(sock))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
            status = conn.recv(4096).split(b"\r\n", 1)[0]
            return status.split()[1:2] == [b"200"]
        except OSError:
            return False


@pytest.fixture(scope="module")
def podman_api(tmp_path_factory: pytest.TempPathFactory, container_engine: str) -> Iterator[str]:
    """podman serving the Docker API on a socket of its own; its address (DOCKER_HOST)."""
    folder = tmp_path_factory.mktemp("podman-api")
    sock = folder / "podman.sock"
    address = f"unix://{sock}"
    log = (folder / "service.log").open("wb")
    service = subprocess.Popen(
        [container_engine, "system", "service", "--time=0", address],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert service.poll() is None, (folder / "service.log").read_text()[-3000:]
            if _pings(sock):
                break
            assert time.monotonic() < deadline, "podman's Docker API did not answer in 60 s"
            time.sleep(0.5)
        yield address
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        log.close()


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    repo_root: Path,
    image: str,
    podman_api: str,
    postgres_server: PostgresService,
) -> Iterator[Deployment]:
    import docker

    base = tmp_path_factory.mktemp("docker-launcher")
    # A tag of this session's own: the runs must start in the image built above, whatever else
    # tags the shared name meanwhile.
    image = f"{image.rsplit(':', 1)[0]}:launcher-{os.getpid()}"
    assert podman("tag", IMAGE, image).returncode == 0
    root = _repository(base, repo_root, image)
    _chown(base)
    _install_plugins(image, base, root)
    psql(postgres_server, "CREATE DATABASE dagster_containers")
    home = base / "dagster_home"
    env = {
        **os.environ,
        "DOCKER_HOST": podman_api,
        "DAGSTER_PG_HOST": postgres_server.host,
        "DAGSTER_PG_PORT": str(postgres_server.port),
        "DAGSTER_PG_USER": postgres_server.user,
        "DAGSTER_PG_PASSWORD": postgres_server.password,
        "DAGSTER_PG_DB": "dagster_containers",
        DAEMON_ONLY: "never-in-a-run",
        **SECRETS,
    }
    port = free_port()
    log = base / "orchestrate.log"
    command = [str(BIN / "ingestgen"), "orchestrate", "--root", str(root), "--home", str(home)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    client = docker.DockerClient(base_url=podman_api)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_loaded(url, process, log, timeout=600)
        # Written by the daemon's side (root) since: the Meltano system databases.
        _chown(base)
        image_env = {e.split("=", 1)[0] for e in client.images.get(image).attrs["Config"]["Env"]}
        yield Deployment(root, url, home, env, client, image, image_env)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for container in client.containers.list(all=True, filters={"label": "dagster/run_id"}):
            container.remove(force=True)
        client.close()
        podman("rmi", image)
        shutil.copy(log, artifacts_dir(repo_root) / "orchestrate-docker.log")


def _watch(deployment: Deployment, run_ids: set[str], timeout: float) -> dict[str, Any]:
    """Wait for the runs to finish, sampling each run container's memory (cgroup) meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        every = deployment.docker.containers.list(all=True, filters={"label": "dagster/run_id"})
        for container in every:
            # A run worker that died is reported at once, with its output (Dagster's run
            # monitoring would fail the run only after its poll interval).
            state = container.attrs["State"]
            assert state["Status"] != "exited" or state["ExitCode"] == 0, container.logs()[-3000:]
            if state["Status"] != "running":
                continue
            with contextlib.suppress(Exception):
                stats = container.stats(stream=False)["memory_stats"]
                used = int(stats.get("max_usage") or stats.get("usage") or 0)
                run = container.labels["dagster/run_id"]
                deployment.peak_memory[run] = max(deployment.peak_memory.get(run, 0), used)
        found = {r["runId"]: r for r in runs(deployment.url) if r["runId"] in run_ids}
        if len(found) == len(run_ids) and all(
            r["status"] in {"SUCCESS", "FAILURE", "CANCELED"} for r in found.values()
        ):
            return found
        time.sleep(1)
    return wait_finished(deployment.url, run_ids, timeout=1)


def _events(deployment: Deployment, run_id: str) -> dict[str, int]:
    """The storage id (the event storage's order) of each of the run's lifecycle events."""
    from dagster import DagsterInstance

    previous = {k: os.environ.get(k) for k in deployment.env if k.startswith("DAGSTER_PG_")}
    os.environ.update({k: deployment.env[k] for k in previous})
    try:
        with DagsterInstance.from_config(str(deployment.home)) as instance:
            records = instance.get_records_for_run(run_id).records
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    out: dict[str, int] = {}
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None:
            out.setdefault(event.event_type_value, record.storage_id)
    return out


@pytest.fixture(scope="module")
def finished(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Two acme runs and one initech run, requested at once, each run to its end."""
    started = time.monotonic()
    acme = [launch(deployment.url, "acme", "deals_daily") for _ in range(2)]
    initech = launch(deployment.url, "initech", "deals_daily")
    done = _watch(deployment, {*acme, initech}, timeout=900)
    TIMINGS["three_runs_s"] = time.monotonic() - started
    for run in done.values():
        run["events"] = _events(deployment, run["runId"])
    seconds = [float(r["endTime"]) - float(r["startTime"]) for r in done.values()]
    TIMINGS["run_in_container_s_min"] = min(seconds)
    TIMINGS["run_in_container_s_max"] = max(seconds)
    if deployment.peak_memory:
        TIMINGS["run_container_peak_mib"] = max(deployment.peak_memory.values()) / 2**20
    return {"acme": [done[i] for i in acme], "initech": [done[initech]]}


def test_runs_land_rows_from_containers_of_the_runner_image(
    deployment: Deployment, finished: dict[str, list[dict[str, Any]]]
) -> None:
    every = [*finished["acme"], *finished["initech"]]
    assert {r["status"] for r in every} == {"SUCCESS"}, every
    for run in every:
        container = deployment.docker.api.inspect_container(run["tags"]["docker/container_id"])
        assert container["Config"]["Image"] == deployment.image
        assert container["Config"]["Labels"]["dagster/run_id"] == run["runId"]
        assert container["State"]["ExitCode"] == 0
    # Each tenant's rows in its own table; acme's second run found nothing new.
    assert rows(deployment.root, "acme") == 50
    assert rows(deployment.root, "initech") == 50


def test_a_tenant_never_has_two_runs_at_once_and_never_waits_for_another(
    finished: dict[str, list[dict[str, Any]]],
) -> None:
    # Read from the event storage's order (storage ids), not from clocks: a run starts
    # (RUN_STARTING: the queue hands it to the launcher) and ends (RUN_SUCCESS).
    first, second = sorted(finished["acme"], key=lambda r: r["events"]["PIPELINE_STARTING"])
    (initech,) = finished["initech"]
    # The queue held acme's second run until its first one had ended...
    assert second["events"]["PIPELINE_STARTING"] > first["events"]["PIPELINE_SUCCESS"]
    # ...and started initech's run while acme's first one was still running.
    assert initech["events"]["PIPELINE_STARTING"] < first["events"]["PIPELINE_SUCCESS"]


def test_each_container_has_its_tenants_limits(
    deployment: Deployment, finished: dict[str, list[dict[str, Any]]]
) -> None:
    for tenant, tenant_runs in finished.items():
        for run in tenant_runs:
            host = deployment.docker.api.inspect_container(run["tags"]["docker/container_id"])[
                "HostConfig"
            ]
            assert {k: host[k] for k in LIMITS[tenant]} == LIMITS[tenant], tenant


def test_each_container_sees_only_its_own_tenants_variables(
    deployment: Deployment, finished: dict[str, list[dict[str, Any]]]
) -> None:
    for tenant, tenant_runs in finished.items():
        own = f"{tenant.upper()}__DEMO_TOKEN"
        for run in tenant_runs:
            config = deployment.docker.api.inspect_container(run["tags"]["docker/container_id"])[
                "Config"
            ]
            env = dict(item.split("=", 1) for item in config["Env"])
            assert env[own] == SECRETS[own]
            # Beyond the image's own variables and those the engine sets in every container:
            # the storage's, the tenant's, the job's name.
            assert set(env) - deployment.image_env - ENGINE_ENV == {
                "DAGSTER_PG_HOST",
                "DAGSTER_PG_PORT",
                "DAGSTER_PG_USER",
                "DAGSTER_PG_PASSWORD",
                "DAGSTER_PG_DB",
                "DAGSTER_RUN_JOB_NAME",
                own,
            }, tenant
            assert not set(SECRETS.values()) - {SECRETS[own]} & set(env.values())
            assert DAEMON_ONLY not in env
    print(f"container timings: {json.dumps({k: round(v, 1) for k, v in TIMINGS.items()})}")
