"""The Meltano tool wrapper: the executable, the quiet environment, variable names, running."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ingestgen.errors import UserError
from ingestgen.meltano.tool import (
    BIN,
    PRECOMPILED,
    QUIET,
    Meltano,
    env_var_name,
    environment,
    executable,
    expand,
    references,
)


def test_env_var_name_follows_meltano() -> None:
    assert env_var_name("target-iceberg--deals_daily", "run_summary_path") == (
        "TARGET_ICEBERG__DEALS_DAILY_RUN_SUMMARY_PATH"
    )
    assert env_var_name("tap_gdrive_csv", "oauth_token") == "TAP_GDRIVE_CSV_OAUTH_TOKEN"
    assert env_var_name("tap-x", "s3.endpoint") == "TAP_X_S3_ENDPOINT"


def test_environment_is_quiet_and_puts_this_environment_first() -> None:
    base = {"PATH": "/usr/bin", "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "true", "KEEP": "1"}
    env = environment(base, MELTANO_RUN_ID="r-1")
    assert env["PATH"] == f"{BIN}{os.pathsep}/usr/bin"
    assert {k: env[k] for k in QUIET} == QUIET  # the quiet settings win over the base
    assert (env["KEEP"], env["MELTANO_RUN_ID"]) == ("1", "r-1")
    assert base["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] == "true"  # the base is not changed
    # No empty PATH entry, which would mean the working directory.
    assert environment({})["PATH"] == str(BIN)


def test_environment_installs_plugins_with_their_bytecode_unless_told_otherwise() -> None:
    # Without bytecode a process that may not write __pycache__ compiles every module per start.
    assert environment({})["UV_COMPILE_BYTECODE"] == PRECOMPILED["UV_COMPILE_BYTECODE"] == "1"
    assert environment({"UV_COMPILE_BYTECODE": "0"})["UV_COMPILE_BYTECODE"] == "0"


def test_references_and_expand() -> None:
    value = {"a": "${ONE}/x", "b": ["${TWO}", {"c": "no $THREE ref"}], "d": 3}
    assert references(value) == {"ONE", "TWO"}
    assert references(None) == set()
    assert expand("s3://${B}/${P}/", {"B": "lake", "P": "acme"}) == "s3://lake/acme/"
    with pytest.raises(KeyError):
        expand("${MISSING}", {})


def test_executable_prefers_this_environment_and_names_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert executable() == str(Path(sys.executable).parent / "meltano")
    with pytest.raises(UserError, match=r"no-such-tool command is not installed .*; do this"):
        executable("no-such-tool", fix="do this")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="the meltano command is not on PATH; fix it"):
        executable(path_only=True, fix="fix it")


def test_stream_hands_over_every_line_and_measures_the_command(tmp_path: Path) -> None:
    lines: list[str] = []
    done = Meltano.quiet(tmp_path).stream("--version", on_line=lines.append)
    assert done.exit_code == 0
    assert any(line.startswith("meltano, version 4.4") for line in lines)
    assert done.seconds > 0
    assert done.usage.cpu_s > 0


def test_stream_stops_meltano_when_the_callback_fails(tmp_path: Path) -> None:
    def fail(line: str) -> None:
        raise RuntimeError(f"callback failed on {line!r}")

    with pytest.raises(RuntimeError, match="callback failed"):
        Meltano.quiet(tmp_path).stream("--help", on_line=fail)
