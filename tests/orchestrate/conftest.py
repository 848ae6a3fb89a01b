"""Repositories with two tenants (acme, initech), built from the real registry, specs and
templates, each tenant running the demo job on its own copy of the demo CSV files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

JOB = (Path(__file__).parent / "job.yaml.in").read_text()


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
