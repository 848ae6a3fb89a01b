"""Fixtures for the per-engine end-to-end tests: a tenant's project, rendered and installed.

Each test writes job files into a throw-away repository (the ``sandbox`` fixture: the real
registry, specs and templates, plugins linked), renders it with the real ``ingestgen render``,
runs ``meltano install``, and then drives ``meltano run`` and ``meltano state`` as a user would.
Tables are read back with pyiceberg from the embedded catalog the project renders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.table import Table

BIN = Path(sys.executable).parent
# Meltano asks PyPI for a newer version and sends usage statistics unless told not to.
QUIET = {
    "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
}


@dataclass
class EngineProject:
    """One tenant's rendered Meltano project inside a sandbox repository."""

    root: Path
    tenant: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.root / "projects" / self.tenant

    def meltano(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            **QUIET,
            **self.env,
            **(env or {}),
            "PATH": f"{BIN}:{os.environ['PATH']}",
        }
        return subprocess.run(
            [str(BIN / "meltano"), *args],
            cwd=self.path,
            env=full_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )

    def run(self, *jobs: str, env: Mapping[str, str] | None = None) -> str:
        """``meltano run`` the jobs, which must succeed; return the log."""
        done = self.meltano("run", *jobs, env=env)
        assert done.returncode == 0, done.stderr[-6000:]
        return done.stderr

    def state_ids(self, env: Mapping[str, str] | None = None) -> list[str]:
        done = self.meltano("state", "list", env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        return sorted(line.strip() for line in done.stdout.splitlines() if line.strip())

    def state(self, state_id: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The Singer state Meltano holds for ``state_id`` ({} when it holds none)."""
        done = self.meltano("state", "get", state_id, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        text = done.stdout.strip()
        return dict(json.loads(text)["singer_state"]) if text else {}

    def table(self, name: str) -> Table:
        catalog = load_catalog(
            f"{self.tenant}_embedded",  # SqlCatalog keys tables by catalog name: the rendered one
            type="sql",
            uri=f"sqlite:///{self.path}/.lake/catalog.db",
            warehouse=f"file://{self.path}/.lake/warehouse",
        )
        return catalog.load_table((self.tenant, name))

    def rows(self, name: str) -> list[dict[str, Any]]:
        return list(self.table(name).scan().to_arrow().to_pylist())


ProjectFactory = Callable[..., EngineProject]


@pytest.fixture
def make_project(sandbox: Path) -> ProjectFactory:
    """Write job files for a tenant, render the repository and ``meltano install`` the project.

    Call it as ``make_project("acme", {"deals": "<job yaml>"}, env={...})``; files to read
    (CSV, JSONL) go under ``sandbox`` before or after, as the test needs.
    """

    def make(
        tenant: str, jobs: Mapping[str, str], env: Mapping[str, str] | None = None
    ) -> EngineProject:
        folder = sandbox / "configs" / tenant
        folder.mkdir(parents=True, exist_ok=True)
        for job, text in jobs.items():
            (folder / f"{job}.yaml").write_text(text)
        done = subprocess.run(
            [str(BIN / "ingestgen"), "render", "--root", str(sandbox)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        project = EngineProject(root=sandbox, tenant=tenant, env=dict(env or {}))
        installed = project.meltano("install")
        assert installed.returncode == 0, installed.stderr[-5000:]
        return project

    return make


def run_summary(log: str, stream: str) -> dict[str, Any]:
    """The loader's run summary for ``stream`` from a ``meltano run`` log."""
    marker = "run summary: "
    summaries = [
        json.loads(line.split(marker, 1)[1]) for line in log.splitlines() if marker in line
    ]
    found = [s["streams"][stream] for s in summaries if stream in s.get("streams", {})]
    assert len(found) == 1, f"expected one summary for {stream!r}, got {len(found)}"
    return dict(found[0])


@pytest.fixture
def summary() -> Callable[[str, str], dict[str, Any]]:
    """``summary(log, stream)``: the loader's per-stream run summary in a ``meltano run`` log."""
    return run_summary
