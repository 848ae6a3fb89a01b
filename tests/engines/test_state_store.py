"""Incremental state in Meltano's state backend: per tenant, per job, never advanced by a failure.

Runs the native engine (tap-gdrive-csv on a local folder: no servers, fast installs), whose
bookmark is each file's modified time and MD5, so what the state holds is checkable by hand:

- state ids are ``dev:<tap>--<job>-to-<target>--<job>``, one per job; two tenants with the same
  job name keep separate state, each in its own project's ``file://`` backend;
- a run the loader fails (``max_rejected_ratio`` exceeded) commits nothing and leaves the
  bookmark where it was, so the next good run reads the file again;
- a tap that crashes mid-file leaves that file's bookmark where it was (the loader, seeing only
  the end of its input, commits the rows it got and the last STATE it got: files read whole
  before the crash do move on);
- with ``MELTANO_STATE_BACKEND_URI=s3://...`` (production) the state lives in the bucket and a
  second run resumes from it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from ingestgen_services.pytest_plugin import S3Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HEADER = "deal_id,snapshot_date,account,stage,amount,currency,probability,is_won,updated_at\n"


def deals_job(tenant: str, files: list[str], options: str = "") -> str:
    listed = "".join(f"    - {{file_id: {f}, object: deals_daily}}\n" for f in files)
    return f"""\
tenant_id: {tenant}
source:
  type: gdrive_csv
  local_folder: data/{tenant}
  files:
{listed}target:
  type: iceberg
{options}asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""


def write_csv(path: Path, first_id: int, count: int, *, bad_amount_at: int | None = None) -> str:
    """Write ``count`` deal rows; return the file's MD5 (what the tap bookmarks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for n in range(first_id, first_id + count):
        amount = "lots" if n == bad_amount_at else f"{n}.50"
        lines.append(
            f"{n},2026-11-24,Acct {n},proposal,{amount},EUR,0.5,false,2026-11-24T10:00:00Z\n"
        )
    path.write_text("".join(lines))
    return hashlib.md5(path.read_bytes()).hexdigest()  # Drive's checksum is MD5


def bookmarked_md5s(state: dict[str, Any]) -> dict[str, str]:
    files = state["bookmarks"]["deals_daily"]["files"]
    return {file_id: entry["md5"] for file_id, entry in files.items()}


def test_state_ids_are_per_job_and_tenants_never_share_state(
    make_project: Callable[..., Any], sandbox: Path
) -> None:
    acme_md5 = write_csv(sandbox / "data" / "acme" / "a.csv", 1, 3)
    write_csv(sandbox / "data" / "acme" / "b.csv", 10, 2)
    initech_md5 = write_csv(sandbox / "data" / "initech" / "a.csv", 100, 4)
    acme = make_project(
        "acme", {"deals": deals_job("acme", ["a.csv"]), "leads": deals_job("acme", ["b.csv"])}
    )
    initech = make_project("initech", {"deals": deals_job("initech", ["a.csv"])})

    acme.run("deals", "leads")
    initech.run("deals")

    assert acme.state_ids() == [
        "dev:tap-gdrive-csv--deals-to-target-iceberg--deals",
        "dev:tap-gdrive-csv--leads-to-target-iceberg--leads",
    ]
    assert initech.state_ids() == ["dev:tap-gdrive-csv--deals-to-target-iceberg--deals"]
    # The same state id, two projects, two stores: each holds its own tenant's file.
    same_id = "dev:tap-gdrive-csv--deals-to-target-iceberg--deals"
    assert bookmarked_md5s(acme.state(same_id)) == {"a.csv": acme_md5}
    assert bookmarked_md5s(initech.state(same_id)) == {"a.csv": initech_md5}
    for project in (acme, initech):
        stored = project.path / ".meltano" / "state"
        assert sorted(p.name for p in stored.iterdir()) == sorted(project.state_ids())
    assert len(acme.rows("deals_daily")) == 5
    assert sorted(r["deal_id"] for r in initech.rows("deals_daily")) == [100, 101, 102, 103]


def test_a_failed_run_never_advances_the_bookmark(
    make_project: Callable[..., Any], sandbox: Path
) -> None:
    csv = sandbox / "data" / "acme" / "a.csv"
    good_md5 = write_csv(csv, 1, 3)
    strict = (
        "  engine:\n    type: native\n    options:\n      native:\n        max_rejected_ratio: 0\n"
    )
    project = make_project("acme", {"deals": deals_job("acme", ["a.csv"], strict)})
    state_id = "dev:tap-gdrive-csv--deals-to-target-iceberg--deals"
    project.run("deals")
    snapshots = len(project.table("deals_daily").snapshots())

    # The file changes and one row breaks the contract: the loader fails the run.
    bad_md5 = write_csv(csv, 1, 5, bad_amount_at=4)
    assert bad_md5 != good_md5
    failed = project.meltano("run", "deals")
    assert failed.returncode == 1
    assert "max_rejected_ratio" in failed.stderr
    assert bookmarked_md5s(project.state(state_id)) == {"a.csv": good_md5}
    assert len(project.table("deals_daily").snapshots()) == snapshots
    assert len(project.rows("deals_daily")) == 3

    # Fixed, the file is read again because the bookmark still names the old version.
    fixed_md5 = write_csv(csv, 1, 5)
    project.run("deals")
    assert bookmarked_md5s(project.state(state_id)) == {"a.csv": fixed_md5}
    assert len(project.rows("deals_daily")) == 3 + 5


def test_a_tap_crash_never_advances_the_crashing_files_bookmark(
    make_project: Callable[..., Any], sandbox: Path
) -> None:
    folder = sandbox / "data" / "acme"
    old_a_md5 = write_csv(folder / "a.csv", 1, 2)
    b_md5 = write_csv(folder / "b.csv", 10, 1)
    project = make_project("acme", {"deals": deals_job("acme", ["a.csv", "b.csv"])})
    state_id = "dev:tap-gdrive-csv--deals-to-target-iceberg--deals"
    project.run("deals")
    before = project.table("deals_daily").current_snapshot()

    # Both files change; b.csv breaks after its first megabytes (past the header the tap
    # checks at discovery), so the tap dies mid-file after a.csv's bookmark went out.
    a_md5 = write_csv(folder / "a.csv", 1, 3)
    write_csv(folder / "b.csv", 10, 30_000)
    with (folder / "b.csv").open("a") as out:
        out.write("99999,2026-11-24,ragged\n")
    crashed = project.meltano("run", "deals")
    assert crashed.returncode == 1, crashed.stderr[-3000:]
    # Meltano relays the tap's stderr asynchronously, so either line may be the one logged last.
    log = crashed.stderr
    assert "Extractor failed" in log or "cannot parse a row of file 'b.csv'" in log, log[-5000:]
    # The tap always ends with a STATE (the registry renders require_final_state for it), so
    # records after the last STATE mean it stopped mid-stream: the loader commits nothing and
    # no bookmark moves, not even a.csv's, which was read whole.
    assert bookmarked_md5s(project.state(state_id)) == {"a.csv": old_a_md5, "b.csv": b_md5}
    table = project.table("deals_daily")
    assert table.current_snapshot().snapshot_id == before.snapshot_id
    assert len(project.rows("deals_daily")) == 2 + 1

    # Fixed, both changed files are read again whole and land once beside the first run's
    # rows (a changed file is read whole and appended), none of the crashed run's twice.
    fixed_md5 = write_csv(folder / "b.csv", 10, 30_000)
    project.run("deals")
    assert bookmarked_md5s(project.state(state_id)) == {"a.csv": a_md5, "b.csv": fixed_md5}
    ids = [r["deal_id"] for r in project.rows("deals_daily")]
    assert sorted(ids) == sorted([1, 2, 10, *range(1, 4), *range(10, 30_010)])


def test_s3_state_backend_keeps_state_in_the_bucket(
    make_project: Callable[..., Any], sandbox: Path, s3_server: S3Server
) -> None:
    write_csv(sandbox / "data" / "acme" / "a.csv", 1, 3)
    prefix = "state/acme"
    env = {
        "MELTANO_STATE_BACKEND_URI": f"s3://{s3_server.bucket}/{prefix}",
        # Meltano ignores the endpoint unless key and secret are Meltano settings too.
        "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL": s3_server.endpoint,
        "AWS_DEFAULT_REGION": s3_server.region,
    }
    project = make_project("acme", {"deals": deals_job("acme", ["a.csv"])}, env=env)

    project.run("deals")
    s3 = boto3.client("s3", **s3_server.boto3_kwargs())
    listed = s3.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert any("dev:tap-gdrive-csv--deals-to-target-iceberg--deals" in k for k in keys), keys
    assert not (project.path / ".meltano" / "state").exists()
    assert project.state_ids() == ["dev:tap-gdrive-csv--deals-to-target-iceberg--deals"]

    # Resumed from the bucket's state: the unchanged file is skipped.
    project.run("deals")
    assert len(project.rows("deals_daily")) == 3
    assert len(project.table("deals_daily").snapshots()) == 1
