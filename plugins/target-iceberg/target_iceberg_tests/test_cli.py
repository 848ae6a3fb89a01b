"""The console script as Meltano runs it: a process reading standard input, its exit codes,
its messages and the run summary file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyiceberg.catalog import Catalog

from .conftest import catalog_props, messages, records, schema_msg, write_config

EXE = str(Path(sys.executable).with_name("target-iceberg"))
PROPS = {"id": {"type": "integer"}}


def _run(tmp_path: Path, lake: Path, text: str, **cfg: object) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / "config.json", lake, tmp_path / "summary.json", **cfg)
    return subprocess.run(
        [EXE, "--config", str(config)],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_success_prints_state_and_exits_zero(tmp_path: Path, lake: Path, catalog: Catalog) -> None:
    text = messages(
        schema_msg("nums", PROPS),
        *records("nums", [{"id": 1}, {"id": "x"}]),
        {"type": "STATE", "value": {"n": 1}},
    )
    done = _run(tmp_path, lake, text)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"n": 1}'
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "partial"
    assert summary["exit_code"] == 1
    assert catalog.load_table("acme.nums").scan().to_arrow().num_rows == 1


def test_threshold_exits_two_with_the_fix(tmp_path: Path, lake: Path, catalog: Catalog) -> None:
    text = messages(
        schema_msg("nums", PROPS),
        *records("nums", [{"id": "x"}, {"id": "y"}]),
        {"type": "STATE", "value": {"n": 2}},
    )
    done = _run(tmp_path, lake, text, max_rejected_rows=0)
    assert done.returncode == 2
    assert done.stdout == ""  # no STATE: nothing was committed
    assert "max_rejected_rows=0" in done.stderr
    assert "raise max_rejected_rows" in done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert summary["streams"]["nums"]["rows_rejected"] == 2
    assert catalog.list_tables("acme") == []


def test_invalid_setting_names_the_setting(tmp_path: Path, lake: Path) -> None:
    done = _run(tmp_path, lake, "", unknown_columns="drop")
    assert done.returncode != 0
    assert "unknown_columns" in done.stderr


def test_bad_spec_names_the_file(tmp_path: Path, lake: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("asset: x\nversion: 1\nschema: {columns: [{name: a, type: money}]}\n")
    text = messages(schema_msg("nums", PROPS), *records("nums", [{"id": 1}]))
    done = _run(tmp_path, lake, text, streams={"nums": {"asset_spec": str(spec)}})
    assert done.returncode == 2
    assert "broken.yaml" in done.stderr
    assert "unknown type 'money'" in done.stderr


def test_sigterm_commits_nothing_and_deletes_its_files(
    tmp_path: Path, lake: Path, catalog: Catalog
) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"namespace": "acme", "catalog_properties": catalog_props(lake), "batch_size_rows": 100}
        )
    )
    with subprocess.Popen(
        [EXE, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None
        rows = [{"id": i} for i in range(5000)]
        head = messages(schema_msg("nums", PROPS), *records("nums", rows))
        proc.stdin.write((head + messages({"type": "STATE", "value": {"n": 5000}})).encode())
        proc.stdin.flush()  # the input stays open: the run is still going
        deadline = time.monotonic() + 60
        while not list(lake.rglob("*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.1)  # wait until the run has data files open
        assert list(lake.rglob("*.parquet"))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()[-2000:]
    assert out == b""  # no STATE
    assert list(lake.rglob("*.parquet")) == []
    assert catalog.list_tables("acme") == []


def test_broken_singer_stream_exits_two_without_traceback(tmp_path: Path, lake: Path) -> None:
    text = messages(*records("nums", [{"id": 1}]))  # no SCHEMA first
    done = _run(tmp_path, lake, text)
    assert done.returncode == 2
    assert "before a corresponding schema" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "failed"
