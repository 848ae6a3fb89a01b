"""`ingestgen validate` on a runner config: validated as one, never read as a job (issue 9, 7)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestgen import api
from ingestgen.cli.console import cli
from ingestgen.errors import ConfigError


def validate(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", "--root", str(root), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def examples(sandbox: Path, repo_root: Path) -> Path:
    shutil.copytree(repo_root / "configs" / "examples", sandbox / "configs" / "examples")
    return sandbox


def test_the_seeds_runner_config_validates_as_a_runner(examples: Path) -> None:
    code, out, err = validate(examples, str(examples / "configs/examples/runner.yaml"))
    assert (code, err) == (0, "")
    assert out.strip() == (
        "ok  configs/examples/runner.yaml: runner config, orchestrated, 1 schedule: "
        "stripe_hourly (globex/stripe)"
    )
    code, out, _ = validate(
        examples, str(examples / "configs/examples/runner.yaml"), "--output", "json"
    )
    assert json.loads(out)["runners"] == [
        {
            "file": "configs/examples/runner.yaml",
            "mode": "orchestrated",
            "concurrency_per_tenant": 1,
            "schedules": [
                {"name": "stripe_hourly", "cron": "0 * * * *", "tenant": "globex", "job": "stripe"}
            ],
        }
    ]


def test_a_folder_with_a_runner_config_validates_both(examples: Path) -> None:
    code, out, err = validate(examples, str(examples / "configs/examples"))
    assert (code, err) == (0, "")
    assert "2 job files valid" in out
    assert "ok  configs/examples/runner.yaml: runner config" in out


def test_a_broken_runner_config_gets_runner_errors_not_job_errors(examples: Path) -> None:
    path = examples / "configs" / "examples" / "runner.yaml"
    path.write_text(path.read_text().replace("mode: orchestrated", "mode: sometimes"))
    code, _, err = validate(examples, str(examples / "configs/examples/runner.yaml"))
    assert code == 2
    assert err == (
        "error: 1 problem found:\n  configs/examples/runner.yaml:4 runner.mode: 'sometimes' is "
        "not one of oneshot, orchestrated\n"
    )


def test_a_runner_config_where_a_job_is_expected_is_one_clear_error(examples: Path) -> None:
    # `ingestgen run` resolves its job through api.validate.
    with pytest.raises(ConfigError) as caught:
        api.validate(examples, [examples / "configs" / "examples" / "runner.yaml"])
    assert [str(p) for p in caught.value.problems] == [
        "configs/examples/runner.yaml: this is a runner config, not a job file (give a job "
        "file, configs/<tenant>/<job>.yaml)"
    ]
