"""Our plugins' settings: declared once in each plugin, generated into the registry.

The registry's ``settings:`` lists of our plugins come from ``<plugin> --about --format=json``
(`ingestgen.registry.plugin_settings`); a stale or hand-edited list is drift for
``render --check`` and is rewritten by ``render``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ingestgen import api
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
