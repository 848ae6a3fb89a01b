"""Shared fixtures: a real embedded SQLite catalog in a temporary folder, and a runner."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog, load_catalog

from target_iceberg.target import TargetIceberg


def catalog_props(root: Path) -> dict[str, str]:
    (root / "warehouse").mkdir(parents=True, exist_ok=True)
    return {
        "type": "sql",
        "uri": f"sqlite:///{root / 'catalog.db'}",
        "warehouse": (root / "warehouse").as_uri(),
    }


def write_config(path: Path, lake: Path, summary: Path, **settings: Any) -> Path:
    """Write the loader's config file for the lake's catalog, the summary going to ``summary``."""
    config = {
        "namespace": "acme",
        "catalog_properties": catalog_props(lake),
        "run_summary_path": str(summary),
        **settings,
    }
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def catalog(lake: Path) -> Catalog:
    return load_catalog("default", **catalog_props(lake))


def messages(*items: dict[str, Any]) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def schema_msg(stream: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        **extra,
    }


def records(stream: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "RECORD", "stream": stream, "record": row} for row in rows]


RunTarget = Callable[..., tuple[TargetIceberg, list[str]]]


@pytest.fixture
def run_target(lake: Path) -> RunTarget:
    """Run the target in-process over Singer text; return it and the lines it printed."""

    def run(text: str, **config: Any) -> tuple[TargetIceberg, list[str]]:
        cfg = {"namespace": "acme", "catalog_properties": catalog_props(lake), **config}
        target = TargetIceberg(config=cfg)
        out = io.StringIO()
        with redirect_stdout(out):
            # Binary input, as standard input is in production (the chunked reader).
            target.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
            target.process_endofpipe()
        return target, [line for line in out.getvalue().splitlines() if line.strip()]

    return run


# Last: hostile.py imports the helpers above.
from .hostile import run_cli  # noqa: E402, F401  (the fixture, re-exported)
