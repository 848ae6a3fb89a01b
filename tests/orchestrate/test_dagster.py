"""Orchestrated mode for real: `ingestgen orchestrate` runs `dagster-daemon` and
`dagster-webserver` on loopback with a temporary DAGSTER_HOME, on a two-tenant workspace.

The two tenants are built by two code locations (shards; one repository per tenant). Runs are
launched through the GraphQL API and one schedule ticks on its own; the tests read the run storage
back (start and end times, tags) and the rows the runs landed in each tenant's
Iceberg table (embedded catalog). The UI's schedule list is checked in headless Chromium, with a
screenshot kept under build/test-artifacts/ (or $TEST_ARTIFACTS_DIR).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ingestgen import api, lake
from ingestgen.orchestrate.graphql import DagsterApiError, location_status, query
from ingestgen.render.workspace import shard_name, shard_of
from tests.fixtures.chromium import FLAGS, chromium

pytestmark = [pytest.mark.dagster, pytest.mark.slow]
BIN = Path(sys.executable).parent

TENANTS = ("acme", "initech")
# The default four shards: acme and initech hash to different ones.
SHARD = {tenant: shard_name(shard_of(tenant, 4)) for tenant in TENANTS}
RUNS = """
{ runsOrError { __typename ... on Runs { results {
    runId jobName status startTime endTime
    repositoryOrigin { repositoryLocationName repositoryName }
    tags { key value } } } } }
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
QUEUE = """
{ instance { runQueuingSupported
             runQueueConfig { maxConcurrentRuns tagConcurrencyLimitsYaml } } }
"""
SCHEDULES = """
query Schedules($location: String!, $repository: String!) {
  schedulesOrError(repositorySelector: {repositoryLocationName: $location,
                                        repositoryName: $repository}) {
    __typename
    ... on Schedules { results {
      name cronSchedule executionTimezone pipelineName scheduleState { status } } }
  }
}
"""
SCHEDULE_ID = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) { __typename ... on Schedule { id } }
}
"""
STOP_SCHEDULE = """
mutation Stop($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""


@dataclass
class Orchestrated:
    root: Path
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    tick_schedule: str


def artifacts_dir(repo_root: Path) -> Path:
    base = Path(os.environ.get("TEST_ARTIFACTS_DIR", repo_root / "build" / "test-artifacts"))
    folder = base / "dagster"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def orchestrated(
    tmp_path_factory: pytest.TempPathFactory, repo_root: Path
) -> Iterator[Orchestrated]:
    root = tmp_path_factory.mktemp("orchestrated") / "repo"
    root.mkdir()
    for name in ("registry", "specs", "templates"):
        shutil.copytree(repo_root / name, root / name)
    (root / "plugins").symlink_to(repo_root / "plugins")
    (root / "projects").mkdir()
    job = (repo_root / "tests" / "orchestrate" / "job.yaml.in").read_text()
    for tenant in TENANTS:
        folder = root / "configs" / tenant
        shutil.copytree(repo_root / "configs" / "acme" / "data", folder / "data")
        (folder / "deals_daily.yaml").write_text(job.format(tenant=tenant))
    # initech's schedule ticks every minute of the next 20 (UTC), each hour: Dagster's daemon
    # only runs ticks that come after it starts (a default-running schedule starts counting at
    # the daemon's first look), so whenever it comes up within those 20 minutes a tick follows.
    # The test stops the schedule after its first run. acme's ticks at 03:17 UTC only (were the
    # test running then, one more acme run would change no assertion).
    now = dt.datetime.now(dt.UTC)
    minutes = sorted({(now.minute + k) % 60 for k in range(1, 21)})
    tick_cron = f"{','.join(str(m) for m in minutes)} * * * *"
    (root / "configs" / "runner.yaml").write_text(f"""\
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
      - name: acme_nightly
        config: configs/acme/deals_daily.yaml
        cron: "17 3 * * *"
      - name: initech_tick
        config: /app/configs/initech/deals_daily.yaml
        cron: "{tick_cron}"
    concurrency_per_tenant: 1
""")
    assert api.render(root).clean
    # Started as a user starts it: `ingestgen orchestrate`, here with its plugins installed first.
    port = free_port()
    log = root.parent / "orchestrate.log"
    command = [
        str(BIN / "ingestgen"),
        "orchestrate",
        "--root",
        str(root),
        "--home",
        str(root.parent / "dagster_home"),
        "--port",
        str(port),
        "--install",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_loaded(url, process, log, timeout=600)
        yield Orchestrated(root, url, process, log, "initech_tick")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # The log outlives the temporary folder, for a failed CI run's post-mortem.
        shutil.copy(log, artifacts_dir(repo_root) / "orchestrate.log")


def wait_loaded(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status: dict[str, str] = {}
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-5000:]
        with contextlib.suppress(DagsterApiError):
            status = location_status(url)
            if status == dict.fromkeys(SHARD.values(), "LOADED"):
                return
        time.sleep(2)
    raise AssertionError(f"not loaded after {timeout:.0f} s: {status}")


def runs(url: str) -> list[dict[str, object]]:
    found = query(url, RUNS)["runsOrError"]["results"]
    for run in found:
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        run["location"] = run["repositoryOrigin"]["repositoryLocationName"]
        run["repository"] = run["repositoryOrigin"]["repositoryName"]
    return list(found)


def launch(url: str, tenant: str, job: str) -> str:
    params = {
        "selector": {
            "repositoryLocationName": SHARD[tenant],
            "repositoryName": tenant,
            "jobName": job,
        },
        "runConfigData": {},
    }
    answer = query(url, LAUNCH, {"params": params})["launchRun"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    return str(answer["run"]["runId"])


def wait_finished(url: str, run_ids: set[str], timeout: float) -> dict[str, dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {r["runId"]: r for r in runs(url) if r["runId"] in run_ids}
        if len(found) == len(run_ids) and all(
            r["status"] in {"SUCCESS", "FAILURE", "CANCELED"} for r in found.values()
        ):
            return found  # type: ignore[return-value]
        time.sleep(2)
    raise AssertionError(f"runs not finished after {timeout:.0f} s: {runs(url)}")


def rows(root: Path, tenant: str) -> int:
    # Read back with the catalog settings the tenant's loader used (ingestgen show's reader).
    (table,) = lake.preview(root / "projects" / tenant, tenant, "deals_daily", 0)
    return table.rows


def overlap(a: dict[str, object], b: dict[str, object]) -> bool:
    return float(a["startTime"]) < float(b["endTime"]) and float(b["startTime"]) < float(
        a["endTime"]
    )  # type: ignore[arg-type]


def test_every_tenants_schedules_are_listed_running_in_utc(orchestrated: Orchestrated) -> None:
    listed = {}
    for tenant in TENANTS:
        answer = query(
            orchestrated.url, SCHEDULES, {"location": SHARD[tenant], "repository": tenant}
        )["schedulesOrError"]
        assert answer["__typename"] == "Schedules"
        listed[tenant] = {
            s["name"]: (
                s["cronSchedule"],
                s["pipelineName"],
                s["executionTimezone"],
                s["scheduleState"]["status"],
            )
            for s in answer["results"]
        }
    assert listed["acme"] == {"acme_nightly": ("17 3 * * *", "deals_daily", "UTC", "RUNNING")}
    ((name, (cron, job, zone, state)),) = listed["initech"].items()
    assert (name, job, zone, state) == ("initech_tick", "deals_daily", "UTC", "RUNNING")
    assert len(cron.split()) == 5


def test_a_schedule_tick_starts_a_tagged_run(orchestrated: Orchestrated) -> None:
    url = orchestrated.url
    deadline = time.monotonic() + 1200
    ticked: list[dict[str, object]] = []
    while time.monotonic() < deadline and not ticked:
        ticked = [
            r
            for r in runs(url)
            if r["tags"].get("dagster/schedule_name") == orchestrated.tick_schedule
        ]  # type: ignore[union-attr]
        time.sleep(2)
    assert ticked, f"no run from the schedule {orchestrated.tick_schedule}"
    # One tick is enough: the schedule is stopped (a tick already under way may still run).
    selector = {
        "repositoryLocationName": SHARD["initech"],
        "repositoryName": "initech",
        "scheduleName": orchestrated.tick_schedule,
    }
    found = query(url, SCHEDULE_ID, {"selector": selector})["scheduleOrError"]
    assert found["__typename"] == "Schedule", found
    stopped = query(url, STOP_SCHEDULE, {"id": found["id"]})["stopRunningSchedule"]
    assert stopped["__typename"] == "ScheduleStateResult", stopped
    (run,) = wait_finished(url, {str(ticked[0]["runId"])}, timeout=900).values()
    assert run["status"] == "SUCCESS"
    assert run["tags"]["tenant"] == "initech"  # type: ignore[index]
    assert (run["location"], run["repository"]) == (SHARD["initech"], "initech")
    assert rows(orchestrated.root, "initech") == 50


def test_runs_land_rows_and_never_overlap_within_a_tenant(orchestrated: Orchestrated) -> None:
    # What the run queue guarantees, not what a fast machine happens to do: a tenant never has
    # two runs in progress, another tenant's limit is its own (the running instance says so),
    # and every run completes and lands its rows. When initech's run starts relative to acme's
    # depends on when the daemon's queue loop and the run workers get the CPU, so it is not
    # asserted.
    url, root = orchestrated.url, orchestrated.root
    instance = query(url, QUEUE)["instance"]
    assert instance["runQueuingSupported"]
    queue = instance["runQueueConfig"]
    assert yaml.safe_load(queue["tagConcurrencyLimitsYaml"]) == [
        {"key": "tenant", "limit": 1, "value": {"applyLimitPerUniqueValue": True}}
    ]
    # No global cap below one run per tenant (-1: none), so one tenant never waits for another.
    assert queue["maxConcurrentRuns"] == -1 or queue["maxConcurrentRuns"] >= len(TENANTS)
    # Two runs of acme requested at once, and one of initech.
    acme = {launch(url, "acme", "deals_daily"), launch(url, "acme", "deals_daily")}
    initech = {launch(url, "initech", "deals_daily")}
    done = wait_finished(url, acme | initech, timeout=1200)
    assert {r["status"] for r in done.values()} == {"SUCCESS"}, done
    assert {r["runId"]: r["tags"]["tenant"] for r in done.values()} == {
        **dict.fromkeys(acme, "acme"),
        **dict.fromkeys(initech, "initech"),
    }
    first, second = sorted((done[i] for i in acme), key=lambda r: float(r["startTime"]))
    # The run queue held the second acme run until the first one ended.
    assert float(second["startTime"]) >= float(first["endTime"])
    # Both tenants' rows landed in their own tables; acme's second run found nothing new.
    assert rows(root, "acme") == 50
    assert rows(root, "initech") == 50
    # Every run of one tenant, manual or scheduled, ran alone; each ran in its tenant's shard.
    for tenant in TENANTS:
        mine = [r for r in runs(url) if r["repository"] == tenant and r["endTime"]]
        assert {r["location"] for r in mine} == {SHARD[tenant]}
        for i, a in enumerate(mine):
            for b in mine[i + 1 :]:
                assert not overlap(a, b), (a, b)


CHROMIUM_FLAGS = [*FLAGS, "--window-size=1600,900", "--virtual-time-budget=20000"]


def test_ui_lists_every_tenants_schedules(
    orchestrated: Orchestrated, tmp_path: Path, repo_root: Path
) -> None:
    browser = chromium()
    artifacts = artifacts_dir(repo_root)
    page = f"{orchestrated.url}/overview/schedules"
    shot = artifacts / "schedules.png"
    shot.unlink(missing_ok=True)
    common = [browser, *CHROMIUM_FLAGS]
    dom = subprocess.run(
        [*common, f"--user-data-dir={tmp_path / 'dom'}", "--dump-dom", page],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    (artifacts / "schedules.html").write_text(dom.stdout)
    for tenant, schedule in (("acme", "acme_nightly"), ("initech", orchestrated.tick_schedule)):
        assert f">{tenant}<" in dom.stdout
        assert f'href="/locations/{tenant}@{SHARD[tenant]}/schedules/{schedule}"' in dom.stdout
    done = subprocess.run(
        [*common, f"--user-data-dir={tmp_path / 'shot'}", f"--screenshot={shot}", page],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_orchestrate_stops_cleanly_on_sigterm(orchestrated: Orchestrated) -> None:
    # Last in this module: stops the processes the other tests used.
    process = orchestrated.process
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=120) == 0, orchestrated.log.read_text()[-3000:]
    text = orchestrated.log.read_text()
    assert "dagster: ready, code locations shard_0, shard_2 loaded" in text
    assert "dagster: stopping (SIGTERM)" in text
    # Nothing it started is left: webserver, daemon, code servers and run workers are gone.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alive = subprocess.run(
            ["pgrep", "-f", str(orchestrated.root / "projects" / "_dagster")],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if not alive:
            break
        time.sleep(1)
    assert not alive
