"""Crash anywhere: a three-table load SIGKILLed at named points, then run again.

Each case forks a child that runs the loader over a tap's Singer output and kills itself
with SIGKILL at one crash point (`target_iceberg.crashpoint`: deterministic, no timing).
After the kill, every table holds either what it held before or the whole run, never part
of it; the re-run, fed what the tap sends from the state Meltano would keep (the last STATE
the loader emitted, else the state before the run), lands every row exactly once. Files the
killed run left are never referenced by a table; `unreferenced_files` finds them (the
orphan clean-up removes them).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NoSuchTableError

from target_iceberg.crashpoint import ENV
from target_iceberg.errors import TapStoppedError
from target_iceberg.target import TargetIceberg

from .conftest import catalog_props

pytestmark = pytest.mark.faults

STREAMS = ("accounts", "deals", "notes")
PROPS = {"id": {"type": "integer"}, "name": {"type": "string"}}
ROWS = 24  # ids 1..ROWS in every stream once the run is through
BEFORE = 8  # accounts and deals hold ids 1..BEFORE before the killed run; notes is new
STATE_EVERY = 4
BATCH = 5  # records per block: several flushes per stream

# (point, n): the n-th time the run reaches the point. 23 points over the whole run.
POINTS = [
    ("schema", 1), ("schema", 2), ("schema", 3),
    ("flush", 1), ("flush", 2), ("flush", 4), ("flush", 6), ("flush", 8), ("flush", 10),
    ("state", 1), ("state", 2), ("state", 4), ("state", 6),
    ("stage", 1), ("stage", 2), ("stage", 3),
    ("metadata", 1), ("metadata", 2), ("metadata", 3),
    ("flip", 1),
    ("committed", 1),
    ("state-emitted", 1),
]  # fmt: skip


def tap(state: dict[str, Any] | None, streams: tuple[str, ...] = STREAMS, upto: int = ROWS) -> str:
    """What a bookmarking tap sends from ``state``: records past each stream's bookmark."""
    marks = (state or {}).get("bookmarks", {})
    out = [
        {"type": "SCHEMA", "stream": s, "schema": {"type": "object", "properties": PROPS},
         "key_properties": ["id"]}
        for s in streams
    ]  # fmt: skip
    for i in range(1, upto + 1):
        out += [
            {"type": "RECORD", "stream": s, "record": {"id": i, "name": f"{s}-{i}"}}
            for s in streams
            if i > marks.get(s, 0)
        ]
        if i % STATE_EVERY == 0 or i == upto:
            out.append({"type": "STATE", "value": {"bookmarks": dict.fromkeys(streams, i)}})
    return "".join(json.dumps(m) + "\n" for m in out)


def _config(lake: Path, run_id: str) -> dict[str, Any]:
    return {
        "namespace": "acme",
        "catalog_properties": catalog_props(lake),
        "run_id": run_id,
        "batch_size_rows": BATCH,
    }


def run_loader(lake: Path, text: str, run_id: str) -> list[str]:
    """Run the loader in this process; return the STATE lines it emitted."""
    target = TargetIceberg(config=_config(lake, run_id))
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
        target.process_endofpipe()
    return out.getvalue().splitlines()


def run_killed(lake: Path, text: str, point: str, nth: int, stdout: Path) -> int:
    """Run the loader in a forked child that SIGKILLs itself at ``point``; its wait status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 0
        try:
            os.environ[ENV] = f"{point}:{nth}"
            with stdout.open("w") as out, redirect_stdout(out):
                target = TargetIceberg(config=_config(lake, "killed-run"))
                target.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
                target.process_endofpipe()
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def ids(catalog: Catalog, stream: str) -> list[int] | None:
    """The table's ids in order, or None if the table does not exist."""
    try:
        table = catalog.load_table(("acme", stream))
    except NoSuchTableError:
        return None
    return sorted(table.scan().to_arrow().column("id").to_pylist())


def referenced_files(catalog: Catalog, namespace: str) -> set[str]:
    """Every file a table of ``namespace`` references: metadata, manifests, data files."""
    found: set[str] = set()
    for ident in catalog.list_tables(namespace):
        table = catalog.load_table(ident)
        found.add(table.metadata_location)
        found.update(entry.metadata_file for entry in table.metadata.metadata_log)
        for snapshot in table.snapshots():
            found.add(snapshot.manifest_list)
            for manifest in snapshot.manifests(table.io):
                found.add(manifest.manifest_path)
                for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                    found.add(entry.data_file.file_path)
    return {_local(path) for path in found}


def unreferenced_files(catalog: Catalog, namespace: str, warehouse: Path) -> set[str]:
    """Files under the namespace's folder that no table references (a killed run's leftovers).

    The orphan clean-up (``ingestgen maintain --only orphans``) removes exactly these: see
    tests/maintain/test_killed_run.py.
    """
    folder = warehouse / namespace
    present = {str(p) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()
    return present - referenced_files(catalog, namespace)


def _local(uri: str) -> str:
    return uri.removeprefix("file://")


@pytest.mark.parametrize(("point", "nth"), POINTS, ids=[f"{p}-{n}" for p, n in POINTS])
def test_sigkill_leaves_tables_whole_and_rerun_lands_exactly_once(
    tmp_path: Path, point: str, nth: int, record_property: Any
) -> None:
    started = time.monotonic()
    lake = tmp_path / "lake"
    warehouse = lake / "warehouse"
    emitted = run_loader(lake, tap(None, STREAMS[:2], BEFORE), "before")
    state_before = json.loads(emitted[-1])
    catalog = load_catalog("default", **catalog_props(lake))
    before = {s: ids(catalog, s) for s in STREAMS}
    files_before = {str(p) for p in warehouse.rglob("*") if p.is_file()}

    stdout = tmp_path / "killed.out"
    status = run_killed(lake, tap(state_before), point, nth, stdout)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
        f"the run was not killed at {point}:{nth} (status {status})"
    )

    # Every table is unchanged or holds the whole run.
    whole = list(range(1, ROWS + 1))
    after = {s: ids(catalog, s) for s in STREAMS}
    states = [json.loads(line) for line in stdout.read_text().splitlines() if line.strip()]
    assert all(after[s] in (before[s], whole) for s in STREAMS), after
    committed = {s for s in STREAMS if after[s] == whole}
    assert committed in (set(), set(STREAMS)), f"half a run committed: {committed}"
    assert not states or committed, "a STATE was emitted for a run that did not commit"

    # What the killed run left, and no table references it.
    leftovers = unreferenced_files(catalog, "acme", warehouse) - files_before
    state = states[-1] if states else state_before
    run_loader(lake, tap(state), "rerun")
    catalog = load_catalog("default", **catalog_props(lake))
    for stream in STREAMS:
        assert ids(catalog, stream) == whole, f"{stream} after the re-run"
    assert not leftovers & referenced_files(catalog, "acme")
    assert all(Path(p).exists() for p in leftovers)
    assert not unreferenced_files(catalog, "acme", warehouse) - files_before - leftovers, (
        "the re-run left unreferenced files"
    )
    outcome = "all tables committed" if committed else "no table changed"
    record_property("category", "crash anywhere (SIGKILL, 3 tables, SQLite catalog)")
    record_property("case", f"SIGKILL at {point} #{nth}")
    record_property(
        "outcome",
        f"{outcome}; re-run lands {ROWS} rows per table exactly once; "
        f"{len(leftovers)} unreferenced file(s) left for orphan clean-up",
    )
    record_property("figures", f"{time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("required", [True, False], ids=["require_final_state", "default"])
def test_input_ending_after_its_last_state(
    tmp_path: Path, required: bool, record_property: Any
) -> None:
    # A tap that died mid-stream: its input simply ends, records after its last STATE.
    lake = tmp_path / "lake"
    text = tap(None).rsplit('{"type": "STATE"', 1)[0]  # ids 21..24 follow the last STATE
    cut = text.count('"RECORD"') - text[: text.rindex('"STATE"')].count('"RECORD"')
    target = TargetIceberg(config={**_config(lake, "cut"), "require_final_state": required})
    out = io.StringIO()
    catalog = load_catalog("default", **catalog_props(lake))
    with redirect_stdout(out):
        target.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
        if required:
            with pytest.raises(TapStoppedError, match="stopped before it finished"):
                target.process_endofpipe()
        else:
            target.process_endofpipe()
    landed = {s: ids(catalog, s) for s in STREAMS}
    record_property("category", "faults: tap stopped mid-stream (loader input)")
    if required:
        assert out.getvalue() == ""  # no STATE: Meltano keeps the old bookmark
        assert landed == dict.fromkeys(STREAMS)
        assert target.summary.error_kind == "transient"
        assert list(lake.rglob("*.parquet")) == []
        record_property("case", f"input ends {cut} records after its last STATE, setting on")
        record_property("outcome", "TapStoppedError (exit 75), nothing committed, no STATE")
    else:
        assert all(rows is not None and len(rows) == ROWS for rows in landed.values())
        record_property("case", f"input ends {cut} records after its last STATE, setting off")
        record_property("outcome", "committed as it is (taps that send STATE first, e.g. bridge)")


def test_the_console_script_killed_inside_the_catalog_transaction(
    tmp_path: Path, record_property: Any
) -> None:
    # The same hook in the process Meltano starts: `target-iceberg --config`, input on stdin.
    lake = tmp_path / "lake"
    emitted = run_loader(lake, tap(None, STREAMS[:2], BEFORE), "before")
    catalog = load_catalog("default", **catalog_props(lake))
    before = {s: ids(catalog, s) for s in STREAMS}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_config(lake, "killed-cli")))
    exe = Path(sys.executable).with_name("target-iceberg")
    done = subprocess.run(
        [str(exe), "--config", str(config)],
        input=tap(json.loads(emitted[-1])),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, ENV: "flip:1"},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert done.stdout == ""
    assert {s: ids(catalog, s) for s in STREAMS} == before  # the transaction never committed
    run_loader(lake, tap(json.loads(emitted[-1])), "rerun")
    assert all(ids(catalog, s) == list(range(1, ROWS + 1)) for s in STREAMS)
    record_property("category", "crash anywhere (SIGKILL, 3 tables, SQLite catalog)")
    record_property("case", "console script SIGKILLed inside the catalog transaction")
    record_property("outcome", "no table changed, no STATE; re-run lands every row once")
