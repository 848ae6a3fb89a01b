"""The config ingestgen renders for each Airbyte connector is one the connector's own spec accepts.

The registry maps a job's settings onto each connector's config (HubSpot's OAuth credentials,
GitHub's personal access token, Stripe's keys). Those services cannot be reached here, so the
connectors' `check` cannot run; their `spec` can. Each connector comes from PyPI at the version
the registry's plugin pins, in a virtualenv of its own (as Meltano installs it: one plugin and
venv per connector), built once per machine under the temporary folder. The rendered
`airbyte_config`, with every `${...}` reference filled as it would be at run time, must validate
against the connector's `connectionSpecification`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from ingestgen import api

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"
JOBS = {
    "hubspot": CASES / "design_engines" / "configs" / "acme" / "contacts.yaml",
    "stripe": CASES / "airbyte_engines" / "configs" / "globex" / "charges.yaml",
    "github": CASES / "airbyte_engines" / "configs" / "globex" / "issues.yaml",
}


def pinned(plugin: str) -> str:
    """The connector requirement in the registry plugin's pip_url, e.g. airbyte-source-x==1.2."""
    registry = yaml.safe_load((REPO / "registry" / "connectors.yaml").read_text())
    (requirement,) = [
        part
        for part in registry["plugins"][plugin]["pip_url"].split()
        if part.startswith("airbyte-source-")
    ]
    return str(requirement)


def connector_script(requirement: str) -> Path:
    """The connector's console script, in its own venv (built once per machine)."""
    name, version = requirement.split("==")
    venv = Path(tempfile.gettempdir()) / f"ingestgen-{name}-{version}"
    script = venv / "bin" / name.removeprefix("airbyte-")
    if script.exists():
        return script
    uv = Path(sys.executable).parent / "uv"
    shutil.rmtree(venv, ignore_errors=True)  # a half-built venv from an interrupted run
    try:
        subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run(
            [str(uv), "pip", "install", "-q", requirement],
            check=True,
            env={**os.environ, "VIRTUAL_ENV": str(venv)},
            timeout=1200,
        )
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    return script


def rendered_airbyte_config(sandbox: Path, source: str) -> tuple[str, dict[str, Any]]:
    """Render the source's job; return its plugin and airbyte_config with references filled."""
    job = JOBS[source]
    tenant = job.parent.name
    target = sandbox / "configs" / tenant / job.name
    target.parent.mkdir(parents=True, exist_ok=True)
    # The airbyte engine from the PyPI package: the job without its container image.
    text = re.sub(r"\n    options:\n      airbyte:\n        docker_image: .*", "", job.read_text())
    target.write_text(text)
    api.render(sandbox)
    project = yaml.safe_load((sandbox / "projects" / tenant / "meltano.yml").read_text())
    (extractor,) = [
        e
        for e in project["plugins"]["extractors"]
        if e.get("inherit_from", "").startswith("tap-airbyte-")
    ]
    assert extractor["config"]["connector"] == {"python": {"executable": f"source-{source}"}}
    filled = re.sub(
        r"\$\{([A-Z0-9_]+)\}", lambda m: f"value-of-{m.group(1)}", json.dumps(extractor["config"])
    )
    return str(extractor["inherit_from"]), dict(json.loads(filled)["airbyte_config"])


@pytest.mark.parametrize("source", sorted(JOBS))
def test_the_rendered_config_is_valid_for_the_connector(sandbox: Path, source: str) -> None:
    plugin, config = rendered_airbyte_config(sandbox, source)
    script = connector_script(pinned(plugin))
    done = subprocess.run(
        [str(script), "spec"], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (spec,) = [
        json.loads(line)["spec"]
        for line in done.stdout.splitlines()
        if line.startswith("{") and json.loads(line).get("type") == "SPEC"
    ]
    schema = spec["connectionSpecification"]
    errors = [f"{list(e.path)}: {e.message}" for e in Draft7Validator(schema).iter_errors(config)]
    assert errors == []
    # Every secret the connector declares is given as a reference, never a literal.
    secrets = _secret_paths(schema)
    assert secrets
    for path in secrets:
        value: Any = config
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        assert value is None or str(value).startswith("value-of-"), path


def _secret_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, prop in (schema.get("properties") or {}).items():
        if prop.get("airbyte_secret"):
            found.append((*prefix, key))
        for branch in [prop, *(prop.get("oneOf") or [])]:
            if branch.get("properties"):
                found += _secret_paths(branch, (*prefix, key))
    return found
