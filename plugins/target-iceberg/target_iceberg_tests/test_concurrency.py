"""Concurrent runs on one embedded SQLite catalog, each loader in its own (forked) process.

- Several tenants' runs at once (their own namespaces, one catalog database): every run
  commits, every row lands once.
- Two runs of one tenant's job at once, from the same bookmark: both load, then both commit.
  The first commit wins; the second finds the other run of its job on the tables, commits
  nothing and exits 75 (transient, `CommitError`); its next run, from the state the winner
  emitted, adds nothing twice.

Both processes are held at a barrier after staging (the `stage` crash point, patched in the
child), so the runs overlap on every machine, with no sleeps.
"""

from __future__ import annotations

import io
import json
import os
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import load_catalog

from plugin_errors import EXIT_CODES, classify
from target_iceberg import crashpoint
from target_iceberg.errors import loader_kind
from target_iceberg.target import TargetIceberg

from .conftest import catalog_props
from .test_crash import ROWS, STREAMS, ids, run_loader, tap

pytestmark = pytest.mark.faults


def _child(lake: Path, config: dict[str, Any], barrier: Path, parties: int, out: Path) -> int:
    """Run the loader; wait at the barrier once every table is staged; the exit code."""

    def reached(point: str) -> None:
        if point == "committed" or point != "stage":
            return
        staged = barrier / f"{os.getpid()}-{len(list(barrier.glob(f'{os.getpid()}-*')))}"
        staged.touch()
        if len(list(barrier.glob(f"{os.getpid()}-*"))) < len(STREAMS):
            return
        (barrier / f"ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 60
        while len(list(barrier.glob("ready-*"))) < parties and time.monotonic() < deadline:
            time.sleep(0.01)  # a barrier, not a timing assumption: it waits for the others

    crashpoint.reached = reached  # type: ignore[assignment]  (this child only)
    target = TargetIceberg(config={"catalog_properties": catalog_props(lake), **config})
    try:
        with out.open("w") as stdout, redirect_stdout(stdout):
            target.process_lines(io.BytesIO(tap(None).encode()))  # type: ignore[arg-type]
            target.process_endofpipe()
    except Exception as exc:
        out.with_suffix(".err").write_text(str(exc))
        return EXIT_CODES[classify(exc, loader_kind)]
    return 0


def run_together(lake: Path, configs: list[dict[str, Any]], tmp: Path) -> list[tuple[int, Path]]:
    barrier = tmp / "barrier"
    barrier.mkdir()
    children = []
    for index, config in enumerate(configs):
        out = tmp / f"run{index}.out"
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            code = 3
            try:
                code = _child(lake, config, barrier, len(configs), out)
            finally:
                os._exit(code)
        children.append((pid, out))
    results = []
    for pid, out in children:
        _, status = os.waitpid(pid, 0)
        results.append((os.waitstatus_to_exitcode(status), out))
    return results


def test_several_tenants_at_once_each_lands_once(tmp_path: Path, record_property: Any) -> None:
    started = time.monotonic()
    lake = tmp_path / "lake"
    tenants = ["acme", "globex", "initech"]
    load_catalog("default", **catalog_props(lake)).create_namespace("warmup")  # the database
    configs = [{"namespace": t, "tenant": t, "job": "sync", "run_id": f"{t}-1"} for t in tenants]
    results = run_together(lake, configs, tmp_path)
    assert [code for code, _ in results] == [0, 0, 0], [
        out.with_suffix(".err").read_text() for code, out in results if code
    ]
    catalog = load_catalog("default", **catalog_props(lake))
    for tenant in tenants:
        for stream in STREAMS:
            table = catalog.load_table((tenant, stream))
            assert sorted(table.scan().to_arrow().column("id").to_pylist()) == list(
                range(1, ROWS + 1)
            )
    record_property("category", "faults: concurrency (SQLite catalog, one process per run)")
    record_property("case", "3 tenants' runs at once, held together before their commits")
    record_property("outcome", "all commit; every row once in every tenant's 3 tables")
    record_property("figures", f"{time.monotonic() - started:.1f} s")


def test_two_runs_of_one_job_at_once_land_every_row_once(
    tmp_path: Path, record_property: Any
) -> None:
    started = time.monotonic()
    lake = tmp_path / "lake"
    # The tables exist (an earlier run), so both runs' commits race on the same pointers.
    run_loader(lake, tap(None, STREAMS, 0), "earlier")
    configs = [
        {"namespace": "acme", "tenant": "acme", "job": "sync", "run_id": f"run-{n}"} for n in (1, 2)
    ]
    results = run_together(lake, configs, tmp_path)
    codes = sorted(code for code, _ in results)
    assert codes == [0, 75], codes
    loser = next(out for code, out in results if code == 75)
    winner = next(out for code, out in results if code == 0)
    assert "another run of job sync" in loser.with_suffix(".err").read_text()
    assert loser.read_text() == ""  # no STATE from the run that did not commit
    state = json.loads(winner.read_text().splitlines()[-1])
    catalog = load_catalog("default", **catalog_props(lake))
    whole = list(range(1, ROWS + 1))
    assert all(ids(catalog, s) == whole for s in STREAMS)
    # The losing run again, from the state Meltano stored (the winner's): nothing twice.
    run_loader(lake, tap(state), "run-2-again")
    assert all(ids(catalog, s) == whole for s in STREAMS)
    record_property("category", "faults: concurrency (SQLite catalog, one process per run)")
    record_property("case", "two runs of one tenant's job at once, from the same bookmark")
    record_property(
        "outcome",
        "first commit wins; the other commits nothing, exit 75 naming the other run; "
        "its re-run from the stored state lands nothing twice",
    )
    record_property("figures", f"{time.monotonic() - started:.1f} s")
