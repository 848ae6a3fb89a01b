"""The spool disk full: a ``write_mode: merge`` run keeps its rows in ``spool_dir`` until the
end of the run, and here that folder is a 256 KiB tmpfs the test mounts (the tests run as
root; elsewhere the test is skipped and says why). The run fails with exit 75 (transient:
freeing space helps) and one line naming the folder and the setting to change, commits
nothing, emits no STATE and leaves nothing in the spool; with the tmpfs grown (remounted at
64 MiB) the same run lands every row once. The same for the embedded catalog's local warehouse
on the small disk (an append run writes its files there before the commit): exit 75 naming the
warehouse and the setting, nothing committed, and the retry with room lands every row once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .loader import STREAMS, ids, record, run_loader

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CATEGORY = "faults: disk full (spool, local warehouse)"
ROWS = 4000
SMALL = "256k"


def _text(first: int, last: int) -> str:
    """Rows of ~400 random bytes each (hex: the spool's compression cannot shrink them much)."""
    lines: list[dict[str, Any]] = []
    for stream in STREAMS:
        lines.append({"type": "SCHEMA", "stream": stream, "key_properties": ["id"],
                      "schema": {"type": "object", "properties": {
                          "id": {"type": "integer"}, "name": {"type": "string"}}}})  # fmt: skip
        lines += [
            {"type": "RECORD", "stream": stream, "record": {"id": i, "name": os.urandom(200).hex()}}
            for i in range(first, last + 1)
        ]
    lines.append({"type": "STATE", "value": {"bookmarks": dict.fromkeys(STREAMS, last)}})
    return "".join(json.dumps(m) + "\n" for m in lines)


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    mount = shutil.which("mount") or "mount"
    return subprocess.run([mount, *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, unmounted after the test."""
    point = tmp_path / "spool-fs"
    point.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", f"size={SMALL}", "tmpfs", str(point))
    if mounted.returncode != 0:
        pytest.skip(f"SPOOL-FULL NOT RUN: mounting a tmpfs needs root here: {mounted.stderr}")
    try:
        yield point
    finally:
        subprocess.run(
            [shutil.which("umount") or "umount", str(point)], capture_output=True, check=False
        )


def test_spool_disk_full_commits_nothing_and_the_retry_with_room_lands_once(
    small_disk: Path, tmp_path: Path, record_property: Any
) -> None:
    started = time.monotonic()
    (tmp_path / "warehouse").mkdir()
    props = {
        "type": "sql",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": (tmp_path / "warehouse").as_uri(),
    }
    spool = small_disk / "spool"

    def config(run_id: str) -> dict[str, Any]:
        return {
            "namespace": "acme",
            "catalog_properties": props,
            "write_mode": "merge",
            "spool_dir": str(spool),
            "run_id": run_id,
        }

    first = run_loader(tmp_path / "r1", config("r1"), _text(1, 10))
    assert first.code == 0, first.stderr[-3000:]
    before = ids(props, "acme")
    assert before == {s: list(range(1, 11)) for s in STREAMS}

    full = run_loader(tmp_path / "r2", config("r2"), _text(1, ROWS))
    assert full.code == 75, full.stderr[-3000:]
    line = full.error_line
    assert line.startswith("target-iceberg: error (transient, a retry may help): "), line
    assert f"the spool folder {spool} is full" in line, line
    assert "spool_dir setting" in line and "nothing was committed" in line, line
    assert "Traceback" not in full.stderr and full.states == []
    assert ids(props, "acme") == before  # nothing committed
    assert list(spool.iterdir()) == []  # the run removed its spool files

    grown = _mount("-o", "remount,size=64m", str(small_disk))
    assert grown.returncode == 0, grown.stderr
    again = run_loader(tmp_path / "r3", config("r3"), _text(1, ROWS))
    assert again.code == 0, again.stderr[-3000:]
    assert ids(props, "acme") == {s: list(range(1, ROWS + 1)) for s in STREAMS}
    assert again.states and list(spool.iterdir()) == []
    record(
        record_property,
        CATEGORY,
        f"spool_dir on a {SMALL} tmpfs, {ROWS} rows/table of ~400 random bytes",
        "transient (75), message names the folder and spool_dir; nothing committed, no STATE, "
        f"spool emptied; tmpfs grown to 64m: retry lands {ROWS} rows/table once",
        started,
    )


def test_warehouse_disk_full_commits_nothing_and_the_retry_with_room_lands_once(
    small_disk: Path, tmp_path: Path, record_property: Any
) -> None:
    """The embedded catalog's local warehouse (where an append run stages its files) fills up."""
    started = time.monotonic()
    warehouse = small_disk / "warehouse"
    warehouse.mkdir()
    props = {
        "type": "sql",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",  # the catalog itself has room
        "warehouse": warehouse.as_uri(),
    }

    def config(run_id: str) -> dict[str, Any]:
        return {"namespace": "acme", "catalog_properties": props, "run_id": run_id}

    first = run_loader(tmp_path / "r1", config("r1"), _text(1, 10))
    assert first.code == 0, first.stderr[-3000:]
    before = ids(props, "acme")

    full = run_loader(tmp_path / "r2", config("r2"), _text(11, ROWS))
    assert full.code == 75, full.stderr[-3000:]
    line = full.error_line
    assert line.startswith("target-iceberg: error (transient, a retry may help): "), line
    assert f"no space left on the disk holding the warehouse {warehouse.as_uri()}" in line, line
    assert "catalog_properties.warehouse" in line, line
    assert "Traceback" not in full.stderr and full.states == []
    assert ids(props, "acme") == before  # nothing committed

    grown = _mount("-o", "remount,size=64m", str(small_disk))
    assert grown.returncode == 0, grown.stderr
    again = run_loader(tmp_path / "r3", config("r3"), _text(11, ROWS))
    assert again.code == 0, again.stderr[-3000:]
    assert ids(props, "acme") == {s: list(range(1, ROWS + 1)) for s in STREAMS}
    record(
        record_property,
        CATEGORY,
        f"local warehouse on a {SMALL} tmpfs (append run, embedded catalog), {ROWS} rows/table",
        "transient (75), message names the warehouse and catalog_properties.warehouse; nothing "
        f"committed, no STATE; tmpfs grown to 64m: retry lands {ROWS - 10} more rows/table once",
        started,
    )
