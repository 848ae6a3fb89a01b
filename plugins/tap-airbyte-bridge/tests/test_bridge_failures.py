"""How connector failures surface: crash with stderr tail, TRACE error with exit 0, early stop.

These connectors are tiny scripts written by the tests, because a real connector cannot be
made to crash on demand; everything else (the tap, its CLI, the process handling) is real.
"""

from __future__ import annotations

import os
import sys
import time
import typing as t
from pathlib import Path

import pytest

CATALOG = {
    "type": "CATALOG",
    "catalog": {
        "streams": [
            {
                "name": "rows",
                "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_cursor": True,
                "default_cursor_field": ["id"],
                "source_defined_primary_key": [["id"]],
            }
        ]
    },
}


def _connector(tmp_path: Path, read_body: str) -> str:
    """Write a connector script: `discover` prints CATALOG, `read` runs `read_body`."""
    script = tmp_path / "source-fake"
    script.write_text(
        f"""#!{sys.executable}
import json, sys, time
def emit(message):
    print(json.dumps(message), flush=True)
if sys.argv[1] == "discover":
    emit({CATALOG!r})
    sys.exit(0)
{read_body}
"""
    )
    script.chmod(0o755)
    return str(script)


def _config(executable: str) -> dict[str, t.Any]:
    return {"connector": {"python": {"executable": executable}}, "airbyte_config": {}}


RECORD_AND_STATE = """
emit({"type": "RECORD", "record": {"stream": "rows", "data": {"id": 1}, "emitted_at": 1}})
emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
    "stream_descriptor": {"name": "rows"}, "stream_state": {"id": 1}}}})
"""


def test_crash_names_the_connector_and_its_stderr_tail(
    tmp_path: Path, run_tap: t.Callable[..., t.Any]
) -> None:
    executable = _connector(
        tmp_path,
        RECORD_AND_STATE
        + """
print("this line is not JSON", flush=True)
for n in range(60):
    print(f"stderr line {n}", file=sys.stderr)
print("MemoryError: out of quota", file=sys.stderr)
sys.exit(3)
""",
    )

    run = run_tap(_config(executable))

    assert run.returncode == 3  # internal: a crash without an Airbyte error message
    # What the connector sent before crashing was already written, in order.
    assert [m["type"] for m in run.messages] == ["SCHEMA", "RECORD", "STATE"]
    assert "connector source-fake exited with code 3 without an Airbyte error message" in (
        run.stderr
    )
    tail = run.stderr.split("last stderr lines:")[-1]
    assert "MemoryError: out of quota" in tail
    assert "stderr line 59" in tail
    assert "stderr line 5 |" not in tail  # only the tail is quoted, on the one error line
    assert "Traceback" not in run.stderr
    assert "non-protocol output: this line is not JSON" in run.stderr


def test_trace_error_fails_the_run_even_when_the_connector_exits_zero(
    tmp_path: Path, run_tap: t.Callable[..., t.Any]
) -> None:
    executable = _connector(
        tmp_path,
        RECORD_AND_STATE
        + """
emit({"type": "LOG", "log": {"level": "WARN", "message": "rate limited, giving up"}})
emit({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 2, "error": {
    "message": "Upstream said 503", "internal_message": "HTTPError 503",
    "failure_type": "transient_error"}}})
sys.exit(0)
""",
    )

    run = run_tap(_config(executable))

    assert run.returncode == 75  # transient: a retry may help
    assert "connector source-fake failed with transient_error: Upstream said 503" in run.stderr
    assert "internal: HTTPError 503" in run.stderr
    assert "WARNING" in run.stderr
    assert "[source-fake] rate limited, giving up" in run.stderr
    assert [m["type"] for m in run.messages] == ["SCHEMA", "RECORD", "STATE"]


def test_missing_connector_exits_2_with_the_install_hint(
    tmp_path: Path, run_tap: t.Callable[..., t.Any]
) -> None:
    run = run_tap(_config("source-does-not-exist"), "--discover")

    assert run.returncode == 2
    assert "connector executable 'source-does-not-exist' not found" in run.stderr
    assert "airbyte-source-does-not-exist" in run.stderr
    assert "Traceback" not in run.stderr


def test_connection_test_stops_an_endless_connector(
    tmp_path: Path, run_tap: t.Callable[..., t.Any]
) -> None:
    pid_file = tmp_path / "pid"
    executable = _connector(
        tmp_path,
        f"""
import os
open({str(pid_file)!r}, "w").write(str(os.getpid()))
n = 0
while True:
    n += 1
    emit({{"type": "RECORD", "record": {{"stream": "rows", "data": {{"id": n}}, "emitted_at": 1}}}})
    time.sleep(0.01)
""",
    )

    started = time.monotonic()
    run = run_tap(_config(executable), "--test")

    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 120
    assert [m["stream"] for m in run.messages if m["type"] == "RECORD"] == ["rows"]
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
