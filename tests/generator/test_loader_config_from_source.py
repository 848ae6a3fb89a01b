"""Loader settings a source calls for (the registry's ``loader_config`` of a source engine).

tap-gdrive-csv always ends its output with a STATE, so its jobs' loaders get
``require_final_state: true``; loaders fed by other taps (the Airbyte bridge sends its STATE
first) do not. Checked on every rendered project: the repository's and the golden cases'.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestgen import api
from ingestgen.errors import ConfigError
from ingestgen.registry.load import load_registry

ROOT = Path(__file__).parents[2]
PROJECTS = sorted(
    [
        *ROOT.glob("projects/*/meltano.yml"),
        *ROOT.glob("tests/cases/*/expected/projects/*/meltano.yml"),
    ]
)
FINAL_STATE_TAPS = {"tap-gdrive-csv"}


def _pairs(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(extractor base, loader config) of every job task of a rendered project."""
    project = yaml.safe_load(path.read_text())
    plugins = {p["name"]: p for kind in project["plugins"].values() for p in kind if "name" in p}
    pairs = []
    for job in project.get("jobs", []):
        for task in job["tasks"]:
            names = task.split()
            extractor, loader = plugins[names[0]], plugins[names[-1]]
            pairs.append((extractor.get("inherit_from", extractor["name"]), loader["config"]))
    return pairs


def test_rendered_loaders_require_a_final_state_exactly_for_gdrive_csv() -> None:
    seen: dict[bool, int] = {True: 0, False: 0}
    for path in PROJECTS:
        for tap, config in _pairs(path):
            wanted = tap in FINAL_STATE_TAPS
            assert config.get("require_final_state", False) is wanted, (path, tap)
            seen[wanted] += 1
    assert seen[True] and seen[False], seen  # both kinds of job were rendered and checked


def test_a_loader_setting_the_loader_does_not_declare_is_refused(sandbox: Path) -> None:
    path = sandbox / "registry" / "connectors.yaml"
    text = path.read_text()
    assert "require_final_state: true\n" in text
    path.write_text(text.replace("require_final_state: true\n", "require_final_stat: true\n", 1))
    shutil.copytree(
        ROOT / "tests/cases/engine_default/configs", sandbox / "configs", dirs_exist_ok=True
    )
    with pytest.raises(ConfigError) as info:
        api.render(sandbox)
    assert "sets loader setting(s) require_final_stat that the job's loader does not declare" in (
        str(info.value)
    )
    assert load_registry(sandbox).registry.sources["gdrive_csv"]  # the registry itself loads
