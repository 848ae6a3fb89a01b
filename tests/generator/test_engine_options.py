"""Engine options whose keys are partly the platform's: gdrive_csv's batch_config."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from ingestgen.cli.console import cli

JOB = """\
tenant_id: acme
source:
  type: gdrive_csv
  local_folder: data/acme
  files:
    - {file_id: deals.csv, object: deals_daily}
  engine:
    type: native
    options:
      native:
        batch_config: {encoding: {format: parquet}, batch_size: 40}
target:
  type: iceberg
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""


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
    assert tap["config"]["local_root"] == "${MELTANO_PROJECT_ROOT}/../../data/acme"


def test_without_batch_config_no_batch_block_is_rendered(sandbox: Path) -> None:
    (sandbox / "configs" / "acme").mkdir()
    text = JOB.replace("  engine:\n    type: native\n    options:\n      native:\n", "")
    text = text.replace("        batch_config: {encoding: {format: parquet}, batch_size: 40}\n", "")
    (sandbox / "configs" / "acme" / "deals.yaml").write_text(text)
    assert CliRunner().invoke(cli, ["render", "--root", str(sandbox)]).exit_code == 0
    project = yaml.safe_load((sandbox / "projects" / "acme" / "meltano.yml").read_text())
    (tap,) = (p for p in project["plugins"]["extractors"] if p["name"] == "tap-gdrive-csv--deals")
    assert "batch_config" not in tap["config"]
