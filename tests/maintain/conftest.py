"""A rendered repository with tenant acme on the embedded catalog, and an in-process loader."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog, load_catalog

from ingestgen import api
from target_iceberg.target import TargetIceberg

JOB = (Path(__file__).parents[1] / "orchestrate" / "job.yaml.in").read_text()

Load = Callable[..., None]


def write_runner(root: Path, maintenance: str, mode: str = "oneshot") -> None:
    """``configs/runner.yaml`` with this ``maintenance:`` block (YAML, indented by 2)."""
    head = "runner:\n  mode: oneshot\n"
    if mode == "orchestrated":
        head = (
            "runner:\n  mode: orchestrated\n  orchestrator:\n    type: dagster\n"
            "    concurrency_per_tenant: 1\n"
        )
    (root / "configs" / "runner.yaml").write_text(head + "  maintenance:\n" + maintenance)


@pytest.fixture
def repo(sandbox: Path, repo_root: Path) -> Path:
    """acme's demo job, rendered (its catalog is the project's .lake/ folder)."""
    import shutil

    folder = sandbox / "configs" / "acme"
    shutil.copytree(repo_root / "configs" / "acme" / "data", folder / "data")
    (folder / "deals_daily.yaml").write_text(JOB.format(tenant="acme"))
    api.render(sandbox)
    return sandbox


def lake_props(repo: Path, tenant: str = "acme") -> dict[str, str]:
    """The embedded catalog's properties, as the rendered loader sees them."""
    project = repo / "projects" / tenant
    (project / ".lake" / "warehouse").mkdir(parents=True, exist_ok=True)
    return {
        "type": "sql",
        "uri": f"sqlite:///{project.resolve()}/.lake/catalog.db",
        "warehouse": f"file://{project.resolve()}/.lake/warehouse",
    }


@pytest.fixture
def catalog(repo: Path) -> Catalog:
    return load_catalog("acme_embedded", **lake_props(repo))


@pytest.fixture
def load(repo: Path) -> Load:
    """Run the loader in-process: ``load(rows, state=...)`` appends one snapshot to acme.events."""

    def run(rows: list[dict[str, Any]], *, state: dict[str, Any] | None = None) -> None:
        lines = [
            {
                "type": "SCHEMA",
                "stream": "events",
                "key_properties": ["id"],
                "schema": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}},
                    "required": ["id"],
                },
            },
            *({"type": "RECORD", "stream": "events", "record": r} for r in rows),
        ]
        if state is not None:
            lines.append({"type": "STATE", "value": state})
        config = {
            "namespace": "acme",
            "tenant": "acme",
            "job": "events",
            "catalog_name": "acme_embedded",
            "catalog_properties": lake_props(repo),
        }
        target = TargetIceberg(config=config)
        text = "".join(json.dumps(line) + "\n" for line in lines)
        with redirect_stdout(io.StringIO()):
            target.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
            target.process_endofpipe()

    return run
