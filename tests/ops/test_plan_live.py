"""`ingestgen plan` against live tables: the embedded catalog the `landed` runs wrote.

The plan must read the table itself (its current snapshot, its schema), leave the catalog file
untouched, and decide as the loader does: the run the plan refuses fails with the same reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyiceberg.catalog import load_catalog

from ingestgen.cli.console import cli as cli_group
from tests.ops.conftest import SPEC, Landed, cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def current_snapshot(root: Path, tenant: str) -> int:
    project = root / "projects" / tenant
    catalog = load_catalog(
        f"{tenant}_embedded",
        type="sql",
        uri=f"sqlite:///{project}/.lake/catalog.db",
        warehouse=f"file://{project}/.lake/warehouse",
    )
    snapshot = catalog.load_table((tenant, "deals_daily")).current_snapshot()
    assert snapshot is not None
    return snapshot.snapshot_id


def test_plan_reads_the_live_table_and_the_loader_agrees(landed: Landed, tmp_path: Path) -> None:
    root = landed.root
    spec = root / SPEC
    original = spec.read_text()
    db = root / "projects" / "acme" / ".lake" / "catalog.db"
    snapshots = {t: current_snapshot(root, t) for t in ("acme", "initech")}
    changed = (
        original.replace(
            "{name: account, type: string, required: true}",
            "{name: account, type: long, required: true}",
        )
        .replace('"decimal(18,2)"', '"decimal(20,2)"')
        .replace(
            "    - {name: updated_at",
            "    - {name: note, type: string}\n    - {name: updated_at",
        )
    )
    try:
        spec.write_text(changed)
        before = db.read_bytes()
        result = CliRunner().invoke(cli_group, ["plan", "--root", str(root)])
        assert db.read_bytes() == before
        text = result.stdout
        assert result.exit_code == 2, text
        for tenant in ("acme", "initech"):
            assert (
                f"compared with: live table in catalog {tenant}_embedded "
                f"(snapshot {snapshots[tenant]})" in text
            )
        assert "jobs bad_rows, deals_daily, missing_file" in text
        assert "allowed  promote amount: decimal(18,2) -> decimal(20,2)" in text
        assert "allowed  add column note: string" in text
        assert "refused  column account: cannot change string to long" in text

        # The loader decides the same: the next run fails on it and commits nothing.
        done = cli(
            root,
            "run",
            "configs/acme/bad_rows.yaml",
            "--record-dir",
            str(tmp_path / "records"),
            "--output",
            "json",
        )
        assert done.returncode == 2, done.stderr[-3000:]
        assert "column account: cannot change string to long" in json.loads(done.stdout)["error"]
        assert current_snapshot(root, "acme") == snapshots["acme"]
    finally:
        spec.write_text(original)
    result = CliRunner().invoke(cli_group, ["plan", "--root", str(root)])
    assert result.exit_code == 0, result.stdout
