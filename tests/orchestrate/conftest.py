"""Repositories with two tenants (acme, initech) and a runner config, built from the real registry,
specs and templates, with the demo job's CSV files as both tenants' data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

JOB = """\
tenant_id: {tenant}
source:
  type: gdrive_csv
  local_folder: configs/{tenant}/data
  files:
    - file_id: deals_2026_11_24.csv
      object: deals_daily
    - file_id: deals_2026_11_25.csv
      object: deals_daily
  incremental:
    strategy: file_modified_time
target:
  type: iceberg
  catalog: embedded
asset_definition: /app/specs/gdrive_csv/v1.0/deals_daily.yaml
"""

RUNNER = """\
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
      - name: acme_daily
        config: configs/acme/deals_daily.yaml
        cron: "{acme_cron}"
      - name: initech_nightly
        config: /app/configs/initech/deals_daily.yaml
        cron: "{initech_cron}"
    concurrency_per_tenant: 1
"""


def add_tenants(root: Path, repo: Path, tenants: tuple[str, ...] = ("acme", "initech")) -> None:
    """Write each tenant's demo job and a copy of the demo CSV files."""
    for tenant in tenants:
        folder = root / "configs" / tenant
        shutil.copytree(repo / "configs" / "acme" / "data", folder / "data")
        (folder / "deals_daily.yaml").write_text(JOB.format(tenant=tenant))


@pytest.fixture
def repo(sandbox: Path, repo_root: Path) -> Path:
    """A repository with acme's and initech's demo jobs and no runner config."""
    add_tenants(sandbox, repo_root)
    return sandbox
