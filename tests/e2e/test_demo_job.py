"""End to end, as a user runs it: render the demo tenant, `meltano install`, `meltano run`, then
read the Iceberg table back with pyiceberg and check counts and typed values."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyiceberg.catalog import load_catalog

from ingestgen.meltano.tool import environment, executable

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BIN = Path(sys.executable).parent


def meltano(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable(), *args],
        cwd=project,
        env=environment(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture
def demo(sandbox: Path, repo_root: Path) -> Path:
    shutil.copytree(repo_root / "configs" / "acme", sandbox / "configs" / "acme")
    done = subprocess.run(
        [str(BIN / "ingestgen"), "render", "--root", str(sandbox)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    project = sandbox / "projects" / "acme"
    installed = meltano(project, "install")
    assert installed.returncode == 0, installed.stderr[-3000:]
    return project


def table_rows(project: Path) -> list[dict[str, object]]:
    catalog = load_catalog(
        "acme_embedded",  # SqlCatalog keys tables by catalog name: use the rendered one
        type="sql",
        uri=f"sqlite:///{project}/.lake/catalog.db",
        warehouse=f"file://{project}/.lake/warehouse",
    )
    table = catalog.load_table(("acme", "deals_daily"))
    return sorted(
        table.scan().to_arrow().to_pylist(), key=lambda r: (r["snapshot_date"], r["deal_id"])
    )


def test_demo_job_lands_typed_rows(demo: Path, repo_root: Path) -> None:
    run = meltano(demo, "run", "deals_daily")
    assert run.returncode == 0, run.stderr[-5000:]
    rows = table_rows(demo)
    csv_lines = sum(
        len(p.read_text().splitlines()) - 1
        for p in (repo_root / "configs" / "acme" / "data").glob("*.csv")
    )
    assert len(rows) == csv_lines == 50
    first = rows[0]
    assert first["deal_id"] == 1001
    assert first["snapshot_date"] == dt.date(2026, 11, 24)
    assert first["account"] == "Initech"
    assert first["amount"] == decimal.Decimal("19488.68")
    assert first["probability"] == pytest.approx(0.37)
    assert first["is_won"] is False
    # 04:25 at -05:00 is 09:25 UTC.
    assert first["updated_at"] == dt.datetime(2026, 11, 24, 9, 25, tzinfo=dt.UTC)
    # A second run finds no changed file and lands nothing new.
    again = meltano(demo, "run", "deals_daily")
    assert again.returncode == 0, again.stderr[-5000:]
    assert len(table_rows(demo)) == 50


def test_show_prints_what_landed(demo: Path) -> None:
    assert meltano(demo, "run", "deals_daily").returncode == 0
    root = demo.parents[1]
    done = subprocess.run(
        [
            str(BIN / "ingestgen"),
            "show",
            "acme",
            "deals_daily",
            "--root",
            str(root),
            "--limit",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("acme.deals_daily: 50 rows, snapshot ")
    assert len(lines) == 3 and '"deal_id": ' in lines[1]


def rejected_rows(project: Path) -> list[dict[str, object]]:
    catalog = load_catalog(
        "acme_embedded",
        type="sql",
        uri=f"sqlite:///{project}/.lake/catalog.db",
        warehouse=f"file://{project}/.lake/warehouse",
    )
    return catalog.load_table(("acme", "deals_daily__rejected")).scan().to_arrow().to_pylist()


def test_runs_reuse_the_catalog_and_a_new_column_still_reaches_the_loader(demo: Path) -> None:
    # The tap is installed as a package, so Meltano discovers once and caches the catalog;
    # the tap reads the headers itself (headers_from_files), so a column added to the files
    # after that still reaches the loader's unknown_columns policy (default: reject).
    first = meltano(demo, "run", "deals_daily")
    assert first.returncode == 0, first.stderr[-5000:]
    assert "Running catalog discovery" in first.stderr
    again = meltano(demo, "run", "deals_daily")
    assert again.returncode == 0, again.stderr[-5000:]
    assert "Running catalog discovery" not in again.stderr
    assert len(table_rows(demo)) == 50

    # Both files of the object gain a column (files of one object share a header).
    for path in sorted((demo.parents[1] / "configs" / "acme" / "data").glob("*.csv")):
        header, *rows = path.read_text().splitlines()
        path.write_text("\n".join([f"{header},region", *(f"{row},EU" for row in rows)]) + "\n")
    widened = meltano(demo, "run", "deals_daily")
    assert "Running catalog discovery" not in widened.stderr
    rejected = rejected_rows(demo)
    assert len(rejected) == 50, widened.stderr[-5000:]
    assert all(row["columns"] == ["region"] for row in rejected)
    assert all("unknown column(s) ['region']" in str(row["reason"]) for row in rejected)
    assert len(table_rows(demo)) == 50  # the re-read rows went to the rejects, not the table
