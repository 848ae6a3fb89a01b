"""The connector registry: canonical YAML, the JSON spelling, and its own consistency checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ingestgen.cli.console import cli
from ingestgen.errors import ConfigError
from ingestgen.registry.load import load_registry


def test_the_registry_loads(repo_root: Path) -> None:
    loaded = load_registry(repo_root)
    assert {"gdrive_csv", "stripe", "hubspot"} <= set(loaded.registry.sources)
    assert "iceberg" in loaded.registry.targets
    for plugin in loaded.registry.plugins.values():
        assert plugin.namespace and plugin.pip_url


def test_json_registry_is_accepted(sandbox: Path) -> None:
    reg = sandbox / "registry"
    data = yaml.safe_load((reg / "connectors.yaml").read_text())
    (reg / "connectors.yaml").unlink()
    (reg / "connectors.json").write_text(json.dumps(data, indent=2))
    assert load_registry(sandbox).registry.sources.keys() == data["sources"].keys()


def test_both_spellings_are_refused(sandbox: Path) -> None:
    reg = sandbox / "registry"
    (reg / "connectors.json").write_text("{}")
    with pytest.raises(ConfigError, match="both connectors.yaml and connectors.json exist"):
        load_registry(sandbox)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    default_engine: native\n    engines_supported: [native]\n    incremental",
            "    default_engine: jdbc\n    engines_supported: [native]\n    incremental",
            "sources.gdrive_csv.default_engine: 'jdbc' is not in engines_supported",
        ),
        (
            "        plugin: tap-stripe\n",
            "        plugin: tap-strype\n",
            "sources.stripe.engines.singer.plugin: unknown plugin 'tap-strype' (define it under "
            "plugins:)",
        ),
        (
            "    engines_supported: [singer]\n",
            "    engines_supported: [singer, airbyte]\n",
            "engine 'airbyte' is supported but has no rendering (add engines.airbyte.plugin)",
        ),
        (
            "    namespace: tap_stripe\n",
            "",
            "plugins.tap-stripe.namespace: this key is required but missing",
        ),
        (
            "-e ${MELTANO_PROJECT_ROOT}/../../plugins/plugin-errors -e ${MELTANO_PROJECT_ROOT}"
            "/../../plugins/tap-airbyte-bridge airbyte-source-hubspot",
            "-e ${MELTANO_PROJECT_ROOT}/../../plugins/tap-airbyte-bridge airbyte-source-hubspot",
            "plugins.tap-airbyte-hubspot.pip_url: installs one of our plugins from the repository "
            "but not plugins/plugin-errors",
        ),
    ],
)
def test_inconsistent_registry_is_refused(sandbox: Path, old: str, new: str, message: str) -> None:
    path = sandbox / "registry" / "connectors.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    result = CliRunner().invoke(cli, ["validate", "--root", str(sandbox)])
    assert result.exit_code == 2
    assert "registry/connectors.yaml:" in result.stderr and message in result.stderr, result.stderr


def test_template_named_after_an_unknown_connector(sandbox: Path) -> None:
    (sandbox / "registry" / "templates" / "salesforce.yaml").write_text("connector: salesforce\n")
    with pytest.raises(
        ConfigError, match="template for 'salesforce'.*name the file after a registry connector"
    ):
        load_registry(sandbox)


def test_template_defaults_yield_to_job_settings(sandbox: Path) -> None:
    job = sandbox / "configs" / "acme" / "d.yaml"
    job.parent.mkdir(parents=True)
    job.write_text(
        "tenant_id: acme\nsource:\n  type: gdrive_csv\n  api_base_url: http://127.0.0.1:9/\n"
        "  files: [{file_id: x, object: deals_daily}]\ntarget: {type: iceberg}\n"
        "asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml\n"
    )
    CliRunner().invoke(cli, ["render", "--root", str(sandbox)])
    project = yaml.safe_load((sandbox / "projects" / "acme" / "meltano.yml").read_text())
    tap = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-gdrive-csv--d")
    assert tap["config"]["api_base_url"] == "http://127.0.0.1:9/"
    assert tap["annotations"]["ingestgen"]["execution"]["retries"] == 2
