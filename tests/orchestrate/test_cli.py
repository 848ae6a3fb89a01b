"""`ingestgen orchestrate` refuses, before starting anything, what it must not serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingestgen import api

BIN = Path(sys.executable).parent
RUNNER = """\
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
      - name: initech_nightly
        config: configs/initech/deals_daily.yaml
        cron: "30 2 * * *"
"""


def orchestrate(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "ingestgen"),
            "orchestrate",
            "--root",
            str(root),
            "--home",
            str(root.parent / "home"),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_refuses_without_an_orchestrated_runner_config(repo: Path) -> None:
    done = orchestrate(repo)
    assert done.returncode == 2
    assert done.stderr == (
        "error: no runner config with mode: orchestrated under configs/; add configs/runner.yaml "
        "(see configs/examples/runner.yaml)\n"
    )
    (repo / "configs" / "runner.yaml").write_text("runner:\n  mode: oneshot\n")
    assert orchestrate(repo).returncode == 2


def test_refuses_projects_that_drifted_from_configs(repo: Path) -> None:
    runner = repo / "configs" / "runner.yaml"
    runner.write_text(RUNNER)
    api.render(repo)
    runner.write_text(RUNNER.replace("30 2 * * *", "45 2 * * *"))
    done = orchestrate(repo)
    assert done.returncode == 2
    assert done.stderr == (
        "error: projects/ differ from configs/ (projects/initech/meltano.yml, "
        "projects/_dagster/shard_0.json); "
        "run `ingestgen render`\n"
    )
    assert not (repo.parent / "home").exists()  # nothing started, nothing written


def test_refuses_an_invalid_runner_config(repo: Path) -> None:
    (repo / "configs" / "runner.yaml").write_text(RUNNER.replace("30 2 * * *", "30 2 * *"))
    done = orchestrate(repo)
    assert done.returncode == 2
    assert "configs/runner.yaml:8 runner.orchestrator.schedules[0].cron: '30 2 * *' has 4" in (
        done.stderr
    )
