"""`ingestgen report` over real run records and tables (the `landed` repository of conftest).

The JSON and the HTML page must show the records' own numbers, the snapshot summaries of the
runs' commits, and the quarantined rows with their reasons. The page is opened in headless
Chromium with the network emulated offline: it must ask for nothing but itself, draw its plots
(a screenshot is kept under build/test-artifacts/, or $TEST_ARTIFACTS_DIR) and show, in its DOM,
the numbers of every record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingestgen.cli.console import cli as cli_group
from tests.ops.browser import Page
from tests.ops.conftest import Landed, cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def report(root: Path, *args: str) -> tuple[int, str, str]:
    """The command in this process (the page test runs it as a user would)."""
    result = CliRunner().invoke(cli_group, ["report", "--root", str(root), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def report_json(root: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = report(root, "--output", "json", *args)
    return code, json.loads(out), err


def runs_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        run["run_id"]: {**run, "tenant": t["tenant"], "job": j["job"]}
        for t in data["tenants"]
        for j in t["jobs"]
        for run in j["history"]
    }


def artifacts_dir(repo_root: Path) -> Path:
    base = Path(os.environ.get("TEST_ARTIFACTS_DIR", repo_root / "build" / "test-artifacts"))
    base.mkdir(parents=True, exist_ok=True)
    return base


def test_json_shows_the_records_and_the_tables(landed: Landed) -> None:
    code, data, err = report_json(landed.root)
    assert code == 0, err
    runs = runs_by_id(data)
    assert set(runs) == {r["run_id"] for r in landed.records}
    for record in landed.records:
        run = runs[record["run_id"]]
        assert (run["tenant"], run["job"]) == (record["tenant"], record["job"])
        assert (run["status"], run["exit_code"]) == (record["status"], record["exit_code"])
        for key in ("rows_read", "rows_landed", "rows_rejected", "files"):
            assert run[key] == record["totals"][key], key
        assert run["duration_s"] == record["durations"]["total_s"]
        assert run["bytes_written"] == record["usage"]["bytes_written"]
        assert run["cpu_s"] == record["usage"]["cpu_s"]
    tenants = {t["tenant"]: t for t in data["tenants"]}
    assert set(tenants) == {"acme", "initech"}
    for name, tenant in tenants.items():
        mine = [r for r in landed.records if r["tenant"] == name]
        assert tenant["runs"] == len(mine)
        assert tenant["rows_landed"] == sum(r["totals"]["rows_landed"] for r in mine)
        assert tenant["cpu_s"] == pytest.approx(sum(r["usage"]["cpu_s"] for r in mine))
        assert tenant["bytes_written"] == sum(r["usage"]["bytes_written"] for r in mine)
    acme = {j["job"]: j for j in tenants["acme"]["jobs"]}
    assert acme["deals_daily"]["counts"] == {"success": 2, "partial": 0, "failed": 0}
    assert acme["bad_rows"]["counts"] == {"success": 0, "partial": 1, "failed": 0}
    assert acme["missing_file"]["counts"] == {"success": 0, "partial": 0, "failed": 1}

    # The snapshot summaries: the first run added 50 rows, the bad one 23 more (73 in all).
    first, _, bad, _, _ = landed.records
    (snap,) = runs[first["run_id"]]["snapshots"]
    assert snap["snapshot_id"] == first["iceberg"]["snapshot_ids"]["acme.deals_daily"]
    assert (snap["added_records"], snap["total_records"]) == (50, 50)
    assert snap["added_bytes"] == first["usage"]["bytes_written"]
    (snap,) = runs[bad["run_id"]]["snapshots"]
    assert (snap["added_records"], snap["total_records"]) == (23, 73)

    # The quarantine: one reason per bad row, with the row as the tap sent it.
    reasons = {r["reason"]: r for r in data["rejects"]}
    assert set(reasons) == {
        "deal_id: … is not a valid long",
        "snapshot_date: … is not a valid date",
    }
    long_ = reasons["deal_id: … is not a valid long"]
    assert long_["table"] == "acme.deals_daily__rejected" and long_["count"] == 1
    assert long_["columns"] == ["deal_id"]
    (sample,) = long_["samples"]
    assert json.loads(sample["raw"])["deal_id"] == "not-a-number"
    assert sample["run_id"] == bad["run_id"]
    assert "'not-a-number'" in sample["reason"]
    (sample,) = reasons["snapshot_date: … is not a valid date"]["samples"]
    assert json.loads(sample["raw"])["snapshot_date"] == "24/11/2026"
    assert data["skipped"] == [] and data["notes"] == []


def test_tenants_and_since_select_runs(landed: Landed) -> None:
    code, data, _ = report_json(landed.root, "initech")
    assert code == 0 and [t["tenant"] for t in data["tenants"]] == ["initech"]
    assert data["rejects"] == []
    code, data, _ = report_json(landed.root, "--since", "2h")
    assert code == 0 and len(runs_by_id(data)) == len(landed.records)
    last = landed.records[-1]["started_at"]
    code, data, _ = report_json(landed.root, "--since", last)
    assert code == 0 and list(runs_by_id(data)) == [landed.records[-1]["run_id"]]
    code, data, _ = report_json(landed.root, "--since", "2999-01-01")
    assert code == 0 and data["tenants"] == []
    assert data["notes"] == [
        "acme: no run records since then",
        "initech: no run records since then",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "is neither a date or time"),
        (["nosuch"], "tenant 'nosuch' has no rendered project"),
        (["../acme"], "is not a tenant id"),
    ],
)
def test_bad_arguments_are_clear_errors(landed: Landed, args: list[str], message: str) -> None:
    code, _, err = report(landed.root, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_file_that_is_no_record_is_listed_not_counted(landed: Landed) -> None:
    ghost = landed.root / "projects/acme/.meltano/runs/ghost"
    ghost.mkdir()
    try:
        (ghost / "broken.json").write_text("{not json")
        (ghost / "other.json").write_text(json.dumps({"tenant": "acme", "job": "ghost"}))
        code, data, _ = report_json(landed.root, "acme")
    finally:
        for path in ghost.iterdir():
            path.unlink()
        ghost.rmdir()
    assert code == 0
    assert len(runs_by_id(data)) == sum(r["tenant"] == "acme" for r in landed.records)
    assert data["skipped"] == [
        "projects/acme/.meltano/runs/ghost/broken.json: not a JSON object",
        "projects/acme/.meltano/runs/ghost/other.json: not a run record (KeyError: 'totals')",
    ]


DOM = """
(() => {
  const cell = (row, field) => row.querySelector(`td[data-field="${field}"]`).textContent;
  const runs = {};
  for (const row of document.querySelectorAll('table.runs tr[data-run-id]')) {
    const table = row.closest('table');
    runs[row.dataset.runId] = {
      tenant: table.dataset.tenant, job: table.dataset.job,
      status: cell(row, 'status'), exit_code: cell(row, 'exit_code'),
      rows_landed: cell(row, 'rows_landed'), rows_rejected: cell(row, 'rows_rejected'),
      duration_s: cell(row, 'duration_s'), bytes_written: cell(row, 'bytes_written'),
      cpu_s: cell(row, 'cpu_s'), table_rows: cell(row, 'table_rows'),
    };
  }
  const costs = {};
  for (const row of document.querySelectorAll('table.costs tr[data-tenant]')) {
    costs[row.dataset.tenant] = {runs: cell(row, 'runs'), cpu_s: cell(row, 'cpu_s'),
                                 bytes_written: cell(row, 'bytes_written')};
  }
  const rejects = [...document.querySelectorAll('table.rejects tr.reject')].map(row => ({
    reason: cell(row, 'reason'), count: cell(row, 'count'), samples: cell(row, 'samples')}));
  const plot = id => {
    const el = document.getElementById(id);
    return {
      svgs: el.querySelectorAll('svg.main-svg').length,
      points: el.querySelectorAll('.scatterlayer .point').length,
      bars: el.querySelectorAll('.barlayer .point').length,
      traces: (el.data || []).map(t => ({name: t.name, x: t.x, y: t.y, ids: t.customdata})),
    };
  };
  return {runs, costs, rejects,
          plots: {rows: plot('rows-plot'), duration: plot('duration-plot'),
                  cost: plot('cost-plot')}};
})()
"""


def number(text: str) -> float:
    return float(text.replace(",", ""))


def test_html_opens_offline_draws_its_plots_and_shows_the_records(
    landed: Landed, tmp_path: Path, repo_root: Path
) -> None:
    page_file = tmp_path / "report.html"
    done = cli(landed.root, "report", "--html", str(page_file))
    assert done.returncode == 0, done.stderr
    assert f"wrote {page_file}" in done.stdout
    text = page_file.read_text()
    assert "<script src" not in text and "<link" not in text
    shot = artifacts_dir(repo_root) / "report.png"
    shot.unlink(missing_ok=True)
    page = Page(tmp_path / "chromium")
    try:
        page.open(page_file.as_uri())
        page.wait_for("document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= 3")
        shown = page.evaluate(DOM)
        page.screenshot(shot)
        requests, errors = page.requests(), page.errors()
    finally:
        page.close()
    assert set(requests) == {page_file.as_uri()}, requests
    assert errors == []

    records = {r["run_id"]: r for r in landed.records}
    assert set(shown["runs"]) == set(records)
    for run_id, row in shown["runs"].items():
        record = records[run_id]
        assert (row["tenant"], row["job"], row["status"]) == (
            record["tenant"],
            record["job"],
            record["status"],
        )
        assert int(row["exit_code"]) == record["exit_code"]
        assert number(row["rows_landed"]) == record["totals"]["rows_landed"]
        assert number(row["rows_rejected"]) == record["totals"]["rows_rejected"]
        assert number(row["duration_s"]) == pytest.approx(record["durations"]["total_s"])
        assert number(row["bytes_written"]) == record["usage"]["bytes_written"]
        assert number(row["cpu_s"]) == pytest.approx(record["usage"]["cpu_s"])
    first, _, bad, _, _ = landed.records
    assert shown["runs"][first["run_id"]]["table_rows"] == "acme.deals_daily: 50"
    assert shown["runs"][bad["run_id"]]["table_rows"] == "acme.deals_daily: 73"
    for tenant, cost in shown["costs"].items():
        mine = [r for r in landed.records if r["tenant"] == tenant]
        assert number(cost["runs"]) == len(mine)
        assert number(cost["cpu_s"]) == pytest.approx(sum(r["usage"]["cpu_s"] for r in mine))
        assert number(cost["bytes_written"]) == sum(r["usage"]["bytes_written"] for r in mine)
    assert sorted((r["reason"], r["count"]) for r in shown["rejects"]) == [
        ("deal_id: … is not a valid long", "1"),
        ("snapshot_date: … is not a valid date", "1"),
    ]
    assert any("not-a-number" in r["samples"] for r in shown["rejects"])

    # The plots are drawn (SVG in the DOM) from the records' numbers: one marker per run and
    # series, one bar per tenant and measure.
    plots = shown["plots"]
    assert all(p["svgs"] >= 1 for p in plots.values())
    jobs = {(r["tenant"], r["job"]) for r in landed.records}
    assert plots["rows"]["points"] == 2 * len(landed.records)
    assert plots["duration"]["points"] == len(landed.records)
    assert plots["cost"]["bars"] == 2 * 2
    for trace in plots["rows"]["traces"]:
        tenant_job, series = trace["name"].rsplit(" ", 1)
        tenant, job = tenant_job.split("/")
        assert (tenant, job) in jobs
        key = "rows_landed" if series == "landed" else "rows_rejected"
        assert trace["y"] == [records[i]["totals"][key] for i in trace["ids"]]
    for trace in plots["duration"]["traces"]:
        assert trace["y"] == [records[i]["durations"]["total_s"] for i in trace["ids"]]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
