"""Our plugins' settings: declared once in each plugin, generated into the registry.

The registry's ``settings:`` lists of our plugins come from ``<plugin> --about --format=json``
(`ingestgen.registry.plugin_settings`); a stale or hand-edited list is drift for
``render --check`` and is rewritten by ``render``. The answers are cached under a hash of the
plugins' code (`ingestgen.registry.about_cache`), and the cache is what a render reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestgen import api
from ingestgen.registry import about_cache, plugin_settings
from ingestgen.registry.plugin_settings import REGISTRY, meltano_settings, own_plugin_folder

REPO = Path(__file__).resolve().parents[2]


def _settings(root: Path, plugin: str) -> dict[str, dict[str, object]]:
    data = yaml.safe_load((root / REGISTRY).read_text())
    return {s["name"]: s for s in data["plugins"][plugin]["settings"]}


def test_the_committed_lists_are_what_the_plugins_declare() -> None:
    from target_iceberg.config import SETTINGS

    report = api.render(REPO, check=True)
    assert REGISTRY in report.unchanged, report.diff[:3000]
    loader = _settings(REPO, "target-iceberg")
    # The disagreements issue 15 found are gone by construction.
    assert loader["catalog_properties"]["sensitive"] is True
    assert loader["target_file_size_mb"]["kind"] == "decimal"  # a number in the plugin
    assert list(loader) == list(SETTINGS["properties"])  # none missing, same order
    assert [o["value"] for o in loader["commit_mode"]["options"]] == ["per_table", "multi_table"]
    tap = _settings(REPO, "tap-gdrive-csv")
    assert {n for n, s in tap.items() if s.get("sensitive")} == {
        "oauth_token",
        "service_account_key",
    }
    assert _settings(REPO, "tap-airbyte-faker")["airbyte_config"]["sensitive"] is True


def test_a_hand_edited_list_is_drift_and_render_restores_it(sandbox: Path) -> None:
    path = sandbox / REGISTRY
    committed = path.read_text()
    edited = committed.replace(
        "{name: catalog_properties, kind: object, sensitive: true,",
        "{name: catalog_properties, kind: object,",
    )
    assert edited != committed
    path.write_text(edited)
    report = api.render(sandbox, check=True)
    assert REGISTRY in report.drifted
    assert "+      - {name: catalog_properties, kind: object, sensitive: true" in report.diff
    assert path.read_text() == edited  # --check writes nothing
    assert REGISTRY in api.render(sandbox).written
    assert path.read_text() == committed


def test_render_of_selected_jobs_leaves_the_registry_alone(sandbox: Path) -> None:
    path = sandbox / REGISTRY
    path.write_text(
        path.read_text().replace("sensitive: true, description: OAuth", "description: OAuth")
    )
    (sandbox / "configs" / "acme").mkdir()
    job = sandbox / "configs" / "acme" / "deals_daily.yaml"
    job.write_text((REPO / "configs" / "acme" / "deals_daily.yaml").read_text())
    report = api.render(sandbox, [job])
    assert REGISTRY not in report.written + report.drifted + report.unchanged


def test_json_schema_to_meltano_settings() -> None:
    schema = {
        "properties": {
            "a": {"type": ["string", "null"], "description": "A\n  text."},
            "b": {"type": "number"},
            "c": {"type": "string", "enum": ["x", "y"]},
            "d": {"type": "object", "secret": True, "writeOnly": True},
            "e": {"type": "string", "format": "date-time"},
            "f": {"type": ["array", "null"]},
            "g": {},
        }
    }
    assert meltano_settings(schema) == [
        {"name": "a", "kind": "string", "description": "A text."},
        {"name": "b", "kind": "decimal"},
        {
            "name": "c",
            "kind": "options",
            "options": [{"label": "x", "value": "x"}, {"label": "y", "value": "y"}],
        },
        {"name": "d", "kind": "object", "sensitive": True},
        {"name": "e", "kind": "date_iso8601"},
        {"name": "f", "kind": "array"},
        {"name": "g", "kind": "object"},
    ]


def test_only_our_plugins_are_generated() -> None:
    root = "${MELTANO_PROJECT_ROOT}/../../plugins"
    assert own_plugin_folder(f"-e {root}/plugin-errors -e {root}/target-iceberg") == (
        "target-iceberg"
    )
    assert own_plugin_folder("tap-stripe==3.3.0") is None
    assert own_plugin_folder(f"-e {root}/plugin-errors") is None


def _entries(cache: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((cache / about_cache.FOLDER).glob("*.json")):
        entry = json.loads(path.read_text())
        found[Path(entry["executable"]).name] = {"path": path, **entry}
    return found


def test_the_plugins_answers_are_cached_and_the_cache_is_what_render_uses(
    sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("INGESTGEN_CACHE_DIR", str(cache))
    plugin_settings._about.cache_clear()
    assert REGISTRY in api.render(sandbox, check=True).unchanged
    entries = _entries(cache)
    assert {"target-iceberg", "tap-gdrive-csv", "mapper-contract"} <= set(entries)
    # An entry holds exactly what the plugin prints.
    fresh = subprocess.run(
        [entries["target-iceberg"]["executable"], "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert entries["target-iceberg"]["about"] == json.loads(fresh.stdout)
    # The next render reads the entry instead of asking: an edited entry shows up as drift.
    entry = entries["target-iceberg"]
    about = entry["about"]
    about["settings"]["properties"]["catalog_properties"]["description"] = "EDITED IN THE CACHE"
    entry["path"].write_text(json.dumps({"executable": entry["executable"], "about": about}))
    plugin_settings._about.cache_clear()
    report = api.render(sandbox, check=True)
    assert REGISTRY in report.drifted
    assert "EDITED IN THE CACHE" in report.diff
    # Without the cache the plugin is asked again, and the committed list is current.
    monkeypatch.setenv("INGESTGEN_NO_CACHE", "1")
    plugin_settings._about.cache_clear()
    assert REGISTRY in api.render(sandbox, check=True).unchanged
    plugin_settings._about.cache_clear()


def test_a_malformed_cache_entry_is_asked_again_and_replaced(
    sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("INGESTGEN_CACHE_DIR", str(cache))
    plugin_settings._about.cache_clear()
    api.render(sandbox, check=True)
    broken = _entries(cache)["tap-gdrive-csv"]["path"]
    broken.write_text('{"executable": "tap-gdrive-csv", "about": [')
    plugin_settings._about.cache_clear()
    assert REGISTRY in api.render(sandbox, check=True).unchanged
    assert json.loads(broken.read_text())["about"]["settings"]["properties"]
    plugin_settings._about.cache_clear()


def test_the_key_changes_with_any_byte_of_the_plugin_source(tmp_path: Path) -> None:
    plugin = tmp_path / "plugins" / "tap-x"
    (plugin / "tap_x" / "__pycache__").mkdir(parents=True)
    (plugin / "tap_x" / "tap.py").write_text("SETTINGS = {'a': 1}\n")
    before = about_cache.source_digest([plugin])
    # Byte-code caches and build metadata are not source.
    (plugin / "tap_x" / "__pycache__" / "tap.cpython-311.pyc").write_bytes(b"\0")
    (plugin / "tap_x.egg-info").mkdir()
    (plugin / "tap_x.egg-info" / "PKG-INFO").write_text("Version: 2\n")
    assert about_cache.source_digest([plugin]) == before
    (plugin / "tap_x" / "tap.py").write_text("SETTINGS = {'a': 2}\n")
    changed = about_cache.source_digest([plugin])
    assert changed != before
    (plugin / "tap_x" / "more.py").write_text("")
    assert about_cache.source_digest([plugin]) not in {before, changed}


def test_only_this_environment_s_console_scripts_are_cached(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "tap-elsewhere"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    assert about_cache.key(str(script)) is None
    beside = Path(sys.executable).with_name("target-iceberg")
    assert about_cache.key(str(beside)) is not None
