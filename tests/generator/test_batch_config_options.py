"""Engine options whose keys are partly the platform's: gdrive_csv's batch_config."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner
from hostile_harness import GOOD

from ingestgen.cli.console import cli

ENGINE = """\
  engine:
    type: native
    options:
      native:
        batch_config: {encoding: {format: parquet}, batch_size: 40}
"""
JOB = GOOD.replace("  incremental:", ENGINE + "  incremental:")


def test_batch_files_go_to_the_tenants_project(sandbox: Path) -> None:
    (sandbox / "configs" / "acme").mkdir()
    (sandbox / "configs" / "acme" / "deals.yaml").write_text(JOB)
    result = CliRunner().invoke(cli, ["render", "--root", str(sandbox)])
    assert result.exit_code == 0, result.output
    project = yaml.safe_load((sandbox / "projects" / "acme" / "meltano.yml").read_text())
    (tap,) = (p for p in project["plugins"]["extractors"] if p["name"] == "tap-gdrive-csv--deals")
    assert tap["config"]["batch_config"] == {
        "encoding": {"format": "parquet"},
        "batch_size": 40,
        "storage": {"root": "file://${MELTANO_PROJECT_ROOT}/.batches"},
    }
    assert tap["config"]["local_root"] == "${MELTANO_PROJECT_ROOT}/../../configs/acme"


def test_without_batch_config_no_batch_block_is_rendered(sandbox: Path) -> None:
    (sandbox / "configs" / "acme").mkdir()
    (sandbox / "configs" / "acme" / "deals.yaml").write_text(GOOD)
    assert CliRunner().invoke(cli, ["render", "--root", str(sandbox)]).exit_code == 0
    project = yaml.safe_load((sandbox / "projects" / "acme" / "meltano.yml").read_text())
    (tap,) = (p for p in project["plugins"]["extractors"] if p["name"] == "tap-gdrive-csv--deals")
    assert "batch_config" not in tap["config"]
