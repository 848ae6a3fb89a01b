"""``ingestgen maintain`` on the embedded catalog: real files on disk, snapshots, row counts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyiceberg.catalog import Catalog

from ingestgen.cli.console import cli
from ingestgen.maintain.compact import MAINTENANCE, fingerprint
from target_iceberg.commit import STATE

from .conftest import Load, write_runner

pytestmark = pytest.mark.upkeep

DAY = 86400


def _maintain(repo: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(
        cli, ["maintain", "--root", str(repo), "--output", "json", *args], catch_exceptions=False
    )
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def _files(catalog: Catalog) -> set[Path]:
    location = catalog.load_table(("acme", "events")).location().removeprefix("file://")
    return {p for p in Path(location).rglob("*") if p.is_file()}


def _age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def test_maintain_compacts_expires_and_removes_orphans(
    repo: Path, catalog: Catalog, load: Load
) -> None:
    write_runner(repo, "    defaults: {keep_days: 0, keep_snapshots: 2}\n")
    for n in range(6):
        load([{"id": n * 10 + i, "name": f"r{n}-{i}"} for i in range(3)], state={"n": n})
    table = catalog.load_table(("acme", "events"))
    history = [s.snapshot_id for s in table.snapshots()]
    manifest_lists = [Path(s.manifest_list.removeprefix("file://")) for s in table.snapshots()]
    # An audit branch and a tag on old snapshots: maintain must keep both readable.
    table.manage_snapshots().create_branch(history[1], "audit").create_tag(
        history[2], "v1"
    ).commit()
    rows, checksum = fingerprint(table.scan().to_arrow())
    location = Path(table.location().removeprefix("file://"))
    old_orphan, new_orphan = (
        location / "data" / "killed-run.parquet",
        location / "data" / "new.parquet",
    )
    old_orphan.write_bytes(b"left by a killed run")
    new_orphan.write_bytes(b"a load in flight")
    before = _files(catalog)
    for path in before:
        _age(path, 10 * DAY)  # every file is old; only the fresh orphan is not
    _age(new_orphan, 60)

    code, dry = _maintain(repo, "acme", "--dry-run")
    assert code == 0, dry
    (planned,) = dry["tenants"][0]["tables"]
    assert planned["compaction"]["would_compact"] is True
    assert planned["orphan_files"] and str(old_orphan) in json.dumps(planned["orphan_files"])
    assert str(new_orphan) not in json.dumps(planned["orphan_files"])
    assert _files(catalog) == before  # a dry run writes and deletes nothing
    assert len(catalog.load_table(("acme", "events")).snapshots()) == 6

    code, done = _maintain(repo, "acme")
    assert code == 0, done
    (item,) = done["tenants"][0]["tables"]
    assert item["compaction"]["compacted"] is True
    assert item["compaction"]["files"] == 6
    assert item["compaction"]["files_after"] == 1
    table = catalog.load_table(("acme", "events"))
    head = table.current_snapshot()
    assert head is not None
    assert head.summary is not None
    assert head.summary[MAINTENANCE] == "compact"
    assert json.loads(head.summary[STATE] or "{}") == {"n": 5}
    assert fingerprint(table.scan().to_arrow()) == (rows, checksum)
    assert len(list(table.scan().plan_files())) == 1
    kept = {s.snapshot_id for s in table.snapshots()}
    # Kept: main's two newest, the tag's, and the audit branch's two newest (its head and
    # parent). Expired: the rest of main's history.
    assert kept == {head.snapshot_id, history[5], history[2], history[1], history[0]}
    assert sorted(item["expired_snapshots"]) == sorted([history[3], history[4]])
    assert len(table.scan(snapshot_id=history[1]).to_arrow()) == 6  # its files are still there
    assert table.refs()["audit"].snapshot_id == history[1]
    assert not old_orphan.exists()
    assert new_orphan.exists()
    # The expired snapshots' own files are gone; the kept snapshots' are there.
    assert [p.exists() for p in manifest_lists] == [True, True, True, False, False, True]

    # The loader's next increment lands on the compacted table.
    load([{"id": 999, "name": "after"}], state={"n": 6})
    table = catalog.load_table(("acme", "events"))
    assert len(table.scan().to_arrow()) == rows + 1


def test_snapshot_holding_the_state_is_never_expired(
    repo: Path, catalog: Catalog, load: Load
) -> None:
    write_runner(repo, "    defaults: {keep_days: 0, keep_snapshots: 1}\n")
    for n in range(3):
        load([{"id": n, "name": None}], state={"n": n})
    load([{"id": 100, "name": "no state"}])  # a run whose tap sent no STATE
    history = [s.snapshot_id for s in catalog.load_table(("acme", "events")).snapshots()]
    code, done = _maintain(repo, "--only", "expire")
    assert code == 0, done
    (item,) = done["tenants"][0]["tables"]
    assert item["compaction"] is None
    assert item["orphan_files"] == []
    table = catalog.load_table(("acme", "events"))
    assert {s.snapshot_id for s in table.snapshots()} == {history[2], history[3]}
    assert history[2] in item["protected_snapshots"]
    assert len(table.scan().to_arrow()) == 4


def test_tables_are_left_alone_until_their_files_are_small(
    repo: Path, catalog: Catalog, load: Load
) -> None:
    write_runner(
        repo,
        "    tenants:\n      acme:\n        tables:\n          events: {compact: false}\n",
    )
    for n in range(3):
        load([{"id": n, "name": "x"}])
    before = _files(catalog)
    code, done = _maintain(repo, "acme")
    assert code == 0, done
    (item,) = done["tenants"][0]["tables"]
    assert item["compaction"] is None  # per-table setting
    assert item["expired_snapshots"] == []  # younger than the default 7 days
    assert item["orphan_files"] == []  # nothing is old enough
    assert _files(catalog) == before
    assert len(catalog.load_table(("acme", "events")).snapshots()) == 3


def test_invalid_settings_are_located_and_exit_2(repo: Path) -> None:
    write_runner(
        repo,
        "    defaults: {keep_snapshots: 0, orphan_age: 3 days}\n"
        "    tenants:\n"
        "      globex: {keep_days: 1}\n"
        "      acme: {cron: '0 3 * *'}\n",
    )
    result = CliRunner().invoke(cli, ["validate", "--root", str(repo)])
    assert result.exit_code == 2
    text = result.output
    assert "runner.maintenance.defaults.keep_snapshots" in text
    assert "'3 days' is not a duration" in text
    assert "runner.maintenance.tenants.globex: no tenant 'globex'" in text
    assert "runner.maintenance.tenants.acme.cron" in text
    code, _ = _maintain(repo, "acme")
    assert code == 2


def test_usage_errors_exit_2(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["maintain", "--root", str(repo), "--orphan-age", "3days"])
    assert result.exit_code == 2
    assert "not a duration" in result.output
    result = CliRunner().invoke(cli, ["maintain", "--root", str(repo), "nobody"])
    assert result.exit_code == 2
    assert "no rendered project" in result.output
    code, empty = _maintain(repo)  # nothing loaded yet: nothing to do
    assert code == 0
    assert empty["tenants"] == [{"tenant": "acme", "tables": [], "errors": []}]


def test_a_concurrent_load_makes_compaction_fail_cleanly(
    repo: Path, catalog: Catalog, load: Load
) -> None:
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    from ingestgen.maintain.compact import compact, plan_compaction

    for n in range(3):
        load([{"id": n, "name": "x"}], state={"n": n})
    stale = catalog.load_table(("acme", "events"))
    plan = plan_compaction(stale, 128)
    assert plan.run
    load([{"id": 3, "name": "meanwhile"}], state={"n": 3})  # commits between plan and commit
    # pyiceberg retries the commit on the new head, and its conflict check refuses it there.
    with pytest.raises((CommitFailedException, ValidationException)):
        compact(stale, plan, tenant="acme")
    table = catalog.load_table(("acme", "events"))
    assert len(table.scan().to_arrow()) == 4
    assert len(table.snapshots()) == 4
    assert not [p for p in _files(catalog) if p.name.startswith("compact-")]  # new files gone


def test_a_table_outside_the_tenants_warehouse_is_not_touched(
    repo: Path, catalog: Catalog, load: Load, tmp_path: Path
) -> None:
    import pyarrow as pa

    load([{"id": 1, "name": "x"}])
    elsewhere = tmp_path / "elsewhere"
    schema = pa.schema([pa.field("id", pa.int64())])
    foreign = catalog.create_table(("acme", "foreign"), schema=schema, location=elsewhere.as_uri())
    for n in range(3):
        foreign.append(pa.table({"id": [n]}, schema=schema))
    planted = elsewhere / "data" / "old.parquet"
    planted.write_bytes(b"not acme's to delete")
    _age(planted, 10 * DAY)
    before = {p for p in elsewhere.rglob("*") if p.is_file()}
    code, done = _maintain(repo, "acme", "--orphan-age", "0s")
    assert code == 1
    tables = {t["table"]: t for t in done["tenants"][0]["tables"]}
    assert "outside the tenant's warehouse" in tables["acme.foreign"]["error"]
    assert tables["acme.events"]["error"] is None
    assert {p for p in elsewhere.rglob("*") if p.is_file()} == before
    assert len(catalog.load_table(("acme", "foreign")).snapshots()) == 3


def test_settings_resolve_table_over_tenant_over_defaults() -> None:
    import datetime as dt

    from ingestgen.maintain.policy import BUILT_IN, Maintenance, resolve

    settings = Maintenance.model_validate(
        {
            "defaults": {"keep_days": 3, "orphan_age": "36h"},
            "tenants": {
                "acme": {
                    "keep_snapshots": 9,
                    "tables": {"deals": {"keep_days": 30, "target_file_size_mb": 64}},
                }
            },
        }
    )
    deals = resolve(settings, "acme", "deals")
    assert (deals.keep_days, deals.keep_snapshots, deals.orphan_age) == (
        30,
        9,
        dt.timedelta(hours=36),
    )
    assert deals.target_file_size_mb == 64
    other = resolve(settings, "acme", "other")
    assert (other.keep_days, other.keep_snapshots) == (3, 9)
    assert resolve(settings, "initech", "deals").keep_snapshots == BUILT_IN.keep_snapshots
    assert resolve(None, "acme", "deals") == BUILT_IN


def test_a_table_setting_must_name_a_table_of_the_tenant(repo: Path) -> None:
    write_runner(
        repo,
        "    tenants:\n      acme:\n        tables:\n"
        "          deals_daily__rejected: {keep_days: 30}\n"
        "          deals_dialy: {keep_days: 1}\n",
    )
    for command in ("validate", "render"):
        result = CliRunner().invoke(cli, [command, "--root", str(repo)])
        assert result.exit_code == 2, result.output
        assert (
            "configs/runner.yaml:8 runner.maintenance.tenants.acme.tables.deals_dialy: no job of "
            "tenant 'acme' writes a table 'deals_dialy' (tables of its jobs: deals_daily, "
            "deals_daily__rejected)"
        ) in result.output
        assert "deals_daily__rejected:" not in result.output.split("problem")[1]
