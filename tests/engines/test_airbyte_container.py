"""airbyte engine from a container image, end to end: ingestgen render, meltano install, meltano
run (and ingestgen run), with real images run by podman.

- faker: a job whose engine override names `airbyte/source-faker:7.2.1`, an image built here
  from the connector's PyPI package (docker/build-connector-image, reused while its inputs are
  unchanged). Discovery, records, state, a resumed run, and a TRACE error from the connector.
- the design's own override (HubSpot from `airbyte/source-hubspot:1.0.15`): that image cannot
  be had here (no registry; PyPI has no 1.0.15 to build it from), so the run goes as far as it
  can and must stop with exit 2 saying which image is missing and how to get it, with nothing
  committed and no secret in the output.

Opt-in locally (INGESTGEN_CONTAINER_TESTS=1), always on in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.container,
    pytest.mark.e2e,
    pytest.mark.slow,
]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FAKER_IMAGE = "airbyte/source-faker:7.2.1"
JOB = f"""\
tenant_id: globex
source:
  type: faker
  engine:
    type: airbyte
    options:
      airbyte:
        docker_image: "{FAKER_IMAGE}"
        container_engine: podman
        memory: 512m
        cpus: 1
  count: 60
  seed: 7
  always_updated: false
target:
  type: iceberg
asset_definition: specs/faker/v1.0/users.yaml
"""
STATE_ID = "dev:tap-airbyte-faker--users-to-target-iceberg--users"
DESIGN = REPO / "tests" / "cases" / "design_engines" / "configs" / "acme" / "contacts.yaml"


@pytest.fixture(scope="module")
def faker_image(connector_image: Callable[[str, str], str]) -> str:
    return connector_image("source-faker", "7.2.1")


def ingestgen_run(root: Path, job: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ingestgen"), "run", "--root", str(root), str(root / job), "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )


def test_a_job_runs_the_connector_image_end_to_end(
    faker_image: str,
    make_project: Callable[..., Any],
    sandbox: Path,
    summary: Callable[[str, str], dict[str, Any]],
) -> None:
    project = make_project("globex", {"users": JOB})

    # Discovery runs the image: the catalog is the connector's.
    discovered = project.meltano("invoke", "--dump=catalog", "tap-airbyte-faker--users")
    assert discovered.returncode == 0, discovered.stderr[-3000:]
    streams = {s["tap_stream_id"] for s in json.loads(discovered.stdout)["streams"]}
    assert streams == {"users", "products", "purchases"}

    first = project.run("users")
    assert f"[{faker_image}]" in first  # the image's connector spoke, not the PyPI package
    assert summary(first, "users")["rows_landed"] == 60
    assert summary(first, "users")["rows_rejected"] == 0
    assert sorted(r["id"] for r in project.rows("users")) == list(range(1, 61))
    stored = project.state(STATE_ID)
    stream_state = stored["airbyte"]["streams"]["users"]["stream"]["stream_state"]
    assert stream_state["seed"] == 7 and stream_state["loop_offset"] == 60

    # Resumed from that state: faker (always_updated: false) has no new users, so nothing new
    # lands, and nothing lands twice.
    snapshots = len(project.table("users").snapshots())
    second = project.run("users")
    assert summary(second, "users")["rows_read"] == 0
    assert sorted(r["id"] for r in project.rows("users")) == list(range(1, 61))
    assert len(project.table("users").snapshots()) == snapshots

    # The connector refuses its config with a TRACE error (an operator's override in the
    # project's .env, which Meltano reads): exit 2, the connector's message, nothing committed,
    # the bookmark kept.
    (project.path / ".env").write_text(
        'TAP_AIRBYTE_FAKER__USERS_AIRBYTE_CONFIG=\'{"count": "abc"}\'\n'
    )
    failed = ingestgen_run(sandbox, "configs/globex/users.yaml", {})
    assert failed.returncode == 2, failed.stderr[-4000:]
    assert (
        f"connector {faker_image} failed with config_error: Config validation error: 'abc' is "
        "not of type 'integer'"
    ) in failed.stderr
    record = json.loads(failed.stdout)
    assert (record["exit_code"], record["status"]) == (2, "failed")
    assert len(project.table("users").snapshots()) == snapshots
    assert project.state(STATE_ID) == stored


def test_the_designs_hubspot_image_is_missing_here_and_the_run_says_so(
    container_engine: str, make_project: Callable[..., Any], sandbox: Path
) -> None:
    image = "airbyte/source-hubspot:1.0.15"
    present = subprocess.run([container_engine, "image", "exists", image], check=False)
    if present.returncode == 0:
        pytest.skip(f"{image} is present on this machine: the run would reach HubSpot")
    project = make_project("acme", {"contacts": DESIGN.read_text()})
    secret = {
        "ACME__HUBSPOT_CLIENT_SECRET": f"cs-{secrets.token_hex(12)}",
        "ACME__HUBSPOT_REFRESH_TOKEN": f"rt-{secrets.token_hex(12)}",
    }

    done = ingestgen_run(sandbox, "configs/acme/contacts.yaml", secret)

    assert done.returncode == 2, done.stderr[-4000:]
    assert (
        f"container image '{image}' is not in podman's local images, and runs never pull: pull "
        f"it where a registry is reachable (podman pull {image}), load a saved copy (podman "
        "load -i FILE.tar), or build it from the connector's PyPI package (ingestgen: "
        f"docker/build-connector-image source-hubspot 1.0.15 --tag {image})"
    ) in done.stderr
    record = json.loads(done.stdout)
    assert (record["exit_code"], record["status"]) == (2, "failed")
    # Nothing committed: no table, no catalog entry.
    assert record["totals"]["rows_landed"] == 0
    catalog = project.path / ".lake" / "catalog.db"
    if catalog.exists():
        with pytest.raises(Exception, match="contacts"):
            project.table("contacts")
    # No secret anywhere the run wrote or showed.
    written = [done.stdout, done.stderr] + [
        p.read_text(errors="replace")
        for p in (project.path / ".meltano" / "runs").rglob("*")
        if p.is_file()
    ]
    for value in secret.values():
        assert not [text for text in written if value in text]
