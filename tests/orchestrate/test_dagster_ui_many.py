"""The Dagster UI lists every schedule of many tenants spread over the shards.

Forty tenants with one scheduled job each are rendered into the default four code locations
(shards); `dagster-webserver` is started on the rendered workspace (no daemon: nothing runs) and
the schedules overview is read in headless Chromium, in a window tall enough that the UI's
virtualised list draws every row. Each tenant is a repository of its shard, and each schedule
links to ``/locations/<tenant>@<shard>/schedules/<name>``. The page is kept under
build/test-artifacts/dagster/ (or $TEST_ARTIFACTS_DIR).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestgen import api
from ingestgen.orchestrate.graphql import DagsterApiError, location_status
from ingestgen.orchestrate.process import prepare_home, process_env
from ingestgen.render.workspace import WORKSPACE_DIR, shard_name, shard_of
from tests.fixtures.chromium import FLAGS, chromium
from tests.orchestrate.test_dagster import artifacts_dir, free_port

pytestmark = [pytest.mark.dagster, pytest.mark.scale, pytest.mark.slow]
BIN = Path(sys.executable).parent
TENANTS = [f"tenant{index:02d}" for index in range(40)]
SHARDS = 4


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Iterator[str]:
    root = tmp_path_factory.mktemp("many") / "repo"
    root.mkdir()
    for name in ("registry", "specs", "templates"):
        shutil.copytree(repo_root / name, root / name)
    (root / "plugins").symlink_to(repo_root / "plugins")
    (root / "projects").mkdir()
    job = (repo_root / "tests" / "orchestrate" / "job.yaml.in").read_text()
    schedules = []
    for index, tenant in enumerate(TENANTS):
        folder = root / "configs" / tenant
        shutil.copytree(repo_root / "configs" / "acme" / "data", folder / "data")
        (folder / "deals_daily.yaml").write_text(job.format(tenant=tenant))
        schedules.append(
            f"      - {{name: {tenant}_nightly, config: configs/{tenant}/deals_daily.yaml, "
            f'cron: "{index} 3 * * *"}}\n'
        )
    (root / "configs" / "runner.yaml").write_text(
        "runner:\n  mode: orchestrated\n  orchestrator:\n    type: dagster\n"
        f"    concurrency_per_tenant: 1\n    shards: {SHARDS}\n    schedules:\n"
        + "".join(schedules)
    )
    assert api.render(root).clean
    home = prepare_home(root, root.parent / "dagster_home")
    port = free_port()
    log = root.parent / "webserver.log"
    workspace = str(root / WORKSPACE_DIR / "workspace.yaml")
    command = [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=process_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        expected = {shard_name(k): "LOADED" for k in {shard_of(t, SHARDS) for t in TENANTS}}
        deadline = time.monotonic() + 600
        status: dict[str, str] = {}
        while status != expected:
            assert process.poll() is None, log.read_text()[-5000:]
            assert time.monotonic() < deadline, f"not loaded after 600 s: {status}"
            with contextlib.suppress(DagsterApiError):
                status = location_status(url)
            time.sleep(2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.copy(log, artifacts_dir(repo_root) / "webserver-many.log")


def test_the_ui_lists_every_schedule_of_forty_tenants_on_four_shards(
    webserver: str, tmp_path: Path, repo_root: Path
) -> None:
    assert len({shard_of(t, SHARDS) for t in TENANTS}) == SHARDS  # every shard holds tenants
    browser = chromium()
    dom = subprocess.run(
        [
            browser,
            *FLAGS,
            "--window-size=1600,12000",
            "--virtual-time-budget=30000",
            f"--user-data-dir={tmp_path / 'dom'}",
            "--dump-dom",
            f"{webserver}/overview/schedules",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    (artifacts_dir(repo_root) / "schedules-many.html").write_text(dom.stdout)
    missing = [
        tenant
        for tenant in TENANTS
        if f'href="/locations/{tenant}@{shard_name(shard_of(tenant, SHARDS))}'
        f'/schedules/{tenant}_nightly"' not in dom.stdout
    ]
    assert not missing, f"schedules not listed in the UI: {missing}"
