"""The convention itself, and the three plugins keeping it as processes."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.singerlib.exceptions import InvalidInputLine

from plugin_errors import (
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_SIGTERM,
    EXIT_TERMINAL,
    EXIT_TRANSIENT,
    ErrorKind,
    PluginError,
    TerminalError,
    TransientError,
    classify,
    one_line,
    run_cli,
)

BIN = Path(sys.executable).parent


def test_the_codes_are_the_documented_ones() -> None:
    assert (EXIT_TERMINAL, EXIT_TRANSIENT, EXIT_INTERNAL, EXIT_SIGTERM) == (2, 75, 3, 143)
    assert {k.value: c for k, c in EXIT_CODES.items()} == {
        "terminal": 2,
        "transient": 75,
        "internal": 3,
    }


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TerminalError("x"), ErrorKind.TERMINAL),
        (TransientError("x"), ErrorKind.TRANSIENT),
        (FatalAPIError("404"), ErrorKind.TERMINAL),
        (RetriableAPIError("503"), ErrorKind.TRANSIENT),
        (InvalidInputLine("not JSON"), ErrorKind.TERMINAL),
        (ConnectionRefusedError("down"), ErrorKind.TRANSIENT),
        (TimeoutError(), ErrorKind.TRANSIENT),
        (ValueError("oops"), ErrorKind.INTERNAL),
        (KeyError("k"), ErrorKind.INTERNAL),
    ],
)
def test_classify(exc: BaseException, kind: ErrorKind) -> None:
    assert classify(exc) is kind


def test_an_instance_may_carry_its_own_kind_and_a_plugin_its_own_rules() -> None:
    err = PluginError("rate limited")
    err.kind = ErrorKind.TRANSIENT
    assert classify(err) is ErrorKind.TRANSIENT
    assert err.exit_code == 75
    assert classify(LookupError(), lambda e: ErrorKind.TERMINAL) is ErrorKind.TERMINAL


def test_one_line_flattens_and_names_the_kind() -> None:
    exc = TerminalError("first line\n  second line\n")
    assert one_line("tap-x", exc, ErrorKind.TERMINAL) == "tap-x: error: first line | second line"
    transient = one_line("tap-x", TransientError("Drive said 503"), ErrorKind.TRANSIENT)
    assert transient == "tap-x: error (transient, a retry may help): Drive said 503"
    internal = one_line("tap-x", ValueError("boom"), ErrorKind.INTERNAL)
    assert internal.startswith("tap-x: internal error (a bug; set LOGLEVEL=debug")
    assert internal.endswith("ValueError: boom")
    assert "\n" not in one_line("t", TerminalError("x" * 10_000), ErrorKind.TERMINAL)


@pytest.mark.parametrize(
    ("exc", "code"),
    [(TerminalError("fix it"), 2), (TransientError("later"), 75), (RuntimeError("bug"), 3)],
)
def test_run_cli_exits_with_the_code_and_one_line(
    exc: Exception, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    def main() -> None:
        raise exc

    with pytest.raises(SystemExit) as done:
        run_cli("tap-x", main)
    assert done.value.code == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_the_traceback_only_at_debug(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tap-x")

    def main() -> None:
        raise RuntimeError("bug")

    with caplog.at_level(logging.DEBUG, logger="tap-x"), pytest.raises(SystemExit):
        run_cli("tap-x", main, logger=logger)
    assert any(r.exc_info for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tap-x"), pytest.raises(SystemExit):
        run_cli("tap-x", main, logger=logger)
    assert not caplog.records


def test_system_exit_passes_through() -> None:
    def main() -> None:
        sys.exit(0)

    with pytest.raises(SystemExit) as done:
        run_cli("tap-x", main)
    assert done.value.code == 0


@pytest.mark.parametrize(
    ("plugin", "config"),
    [
        ("target-iceberg", {"namespace": "acme", "unknown_columns": "drop"}),
        ("tap-gdrive-csv", {"files": [{"file_id": "", "object": "bad-name"}]}),
        ("tap-airbyte-bridge", {"connector": {"python": {"executable": "source-nope"}}}),
    ],
)
def test_every_plugin_ends_a_bad_config_with_exit_2_and_one_line(
    plugin: str, config: dict[str, object], tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    args = [str(BIN / plugin), "--config", str(path)]
    if plugin != "target-iceberg":
        args.append("--discover")
    done = subprocess.run(
        args, input="", capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith(f"{plugin}: error: ")]
    assert len(lines) == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    about = subprocess.run(
        [str(BIN / plugin), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert about.returncode == 0, about.stderr[-2000:]
    assert json.loads(about.stdout)["name"] == plugin
