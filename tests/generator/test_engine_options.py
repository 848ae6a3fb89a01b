"""Engine options: names the engine's rendering knows, values the registry's schema allows.

The jobs here start from the design's engine override (HubSpot through the Airbyte connector's
image, tests/cases/design_engines) and break one option at a time. The image itself is never
looked for at render time: that depends on the machine, so the plugin checks it where the job
runs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ingestgen.cli.console import cli
from tap_airbyte_bridge.container import IMAGE_REFERENCE, MEMORY, NETWORK

CASE = Path(__file__).parents[1] / "cases" / "design_engines" / "configs" / "acme" / "contacts.yaml"
JOB = CASE.read_text()
IMAGE_LINE = '        docker_image: "airbyte/source-hubspot:1.0.15"\n'
LINE = JOB.splitlines().index(IMAGE_LINE.rstrip("\n")) + 1


def with_options(*lines: str) -> str:
    """The design's job with its airbyte options replaced by ``lines``."""
    assert IMAGE_LINE in JOB
    return JOB.replace(IMAGE_LINE, "".join(f"        {line}\n" for line in lines))


def validate(root: Path, text: str) -> tuple[int, str]:
    path = root / "configs" / "acme" / "contacts.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    result = CliRunner().invoke(cli, ["validate", "--root", str(root), str(path)])
    return result.exit_code, result.stderr


def render(root: Path, text: str) -> dict[str, Any]:
    """Render ``text`` as acme's job and return the job's extractor config."""
    code, err = validate(root, text)
    assert (code, err) == (0, "")
    result = CliRunner().invoke(cli, ["render", "--root", str(root)])
    assert result.exit_code == 0, result.output
    project = yaml.safe_load((root / "projects" / "acme" / "meltano.yml").read_text())
    (extractor,) = [
        p for p in project["plugins"]["extractors"] if p["name"] == "tap-airbyte-hubspot--contacts"
    ]
    return dict(extractor["config"])


AT = "source.engine.options.airbyte"

CASES = [
    pytest.param(
        ['docker_image: "airbyte/source-hubspot"'],
        [(0, f"{AT}.docker_image: 'airbyte/source-hubspot' is not a valid docker_image (run the")],
        id="image-without-tag",
    ),
    pytest.param(
        ['docker_image: "--privileged"'],
        [(0, f"{AT}.docker_image: '--privileged' is not a valid docker_image")],
        id="image-is-an-engine-flag",
    ),
    pytest.param(
        ['docker_image: "airbyte/source-hubspot:1.0.15 --network=host"'],
        [(0, f"{AT}.docker_image: 'airbyte/source-hubspot:1.0.15 --network=host' is not a valid")],
        id="image-with-arguments",
    ),
    pytest.param(
        ["docker_image: 15"],
        [(0, f"{AT}.docker_image: expected string, got int 15")],
        id="image-not-a-string",
    ),
    pytest.param(
        ['dockerimage: "airbyte/source-hubspot:1.0.15"'],
        [
            (
                0,
                f"{AT}.dockerimage: unknown option 'dockerimage' for the airbyte engine (valid "
                "options: container_engine, cpus, docker_image, memory, network)",
            )
        ],
        id="unknown-option",
    ),
    pytest.param(
        ["memory: 512m"],
        [(0, f"{AT}.memory: option 'memory' needs option 'docker_image' (run the connector from")],
        id="container-limit-without-image",
    ),
    pytest.param(
        ['docker_image: "airbyte/source-hubspot:1.0.15"', "container_engine: lxc"],
        [
            (
                1,
                f"{AT}.container_engine: 'lxc' is not one of auto, docker, podman (docker, podman",
            )
        ],
        id="unknown-container-engine",
    ),
    pytest.param(
        [
            'docker_image: "airbyte/source-hubspot:1.0.15"',
            "network: container:crm-db",
            "memory: lots",
            "cpus: 0",
        ],
        [
            (
                1,
                f"{AT}.network: 'container:crm-db' is not a valid network (the container's",
            ),
            (2, f"{AT}.memory: 'lots' is not a valid memory (the container's memory limit"),
            (
                3,
                f"{AT}.cpus: 0 is less than or equal to the minimum of 0 (the container's CPU",
            ),
        ],
        id="every-bad-value-at-once",
    ),
]


@pytest.mark.parametrize(("options", "expected"), CASES)
def test_bad_options_are_located(
    sandbox: Path, options: list[str], expected: list[tuple[int, str]]
) -> None:
    code, err = validate(sandbox, with_options(*options))
    assert code == 2
    lines = [line.strip() for line in err.splitlines()[1:]]
    assert len(lines) == len(expected), err
    # Option k of the list sits k lines below the first.
    for line, (k, start) in zip(lines, expected, strict=True):
        assert line.startswith(f"configs/acme/contacts.yaml:{LINE + k} {start}"), err


def test_the_container_gets_the_jobs_network_and_limits(sandbox: Path) -> None:
    config = render(
        sandbox,
        with_options(
            'docker_image: "airbyte/source-hubspot:1.0.15"',
            "container_engine: podman",
            "network: none",
            "memory: 1g",
            "cpus: 1.5",
        ),
    )
    assert config["connector"] == {
        "docker_image": "airbyte/source-hubspot:1.0.15",
        "engine": "podman",
        "network": "none",
        "memory": "1g",
        "cpus": 1.5,
    }


def test_without_an_image_the_connector_runs_from_its_package(sandbox: Path) -> None:
    text = JOB.replace(
        "    options:\n      airbyte:\n" + IMAGE_LINE, "", 1
    )  # engine: {type: airbyte} alone
    config = render(sandbox, text)
    assert config["connector"] == {"python": {"executable": "source-hubspot"}}
    # Secrets stay the tenant's environment references, nested inside the connector's config.
    assert config["airbyte_config"]["credentials"]["refresh_token"] == (
        "${ACME__HUBSPOT_REFRESH_TOKEN}"
    )


def test_registry_patterns_are_the_bridges(repo_root: Path) -> None:
    # The generator checks at render time what the bridge checks again where the job runs.
    registry = yaml.safe_load((repo_root / "registry" / "connectors.yaml").read_text())
    airbyte = registry["engine_options"]["sources"]["airbyte"]["properties"]
    assert airbyte["docker_image"]["pattern"] == IMAGE_REFERENCE.pattern
    assert airbyte["network"]["pattern"] == NETWORK.pattern
    assert airbyte["memory"]["pattern"] == MEMORY.pattern


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '        cpus:\n          description: "the container\'s CPU limit, e.g. 1 or 0.5"\n'
            "          type: number\n",
            "",
            "registry/connectors.yaml:",
        ),
        ("          enum: [auto, docker, podman]\n", "          enum: auto\n", "not a valid JSON"),
    ],
    ids=["option-not-declared", "schema-invalid"],
)
def test_registry_option_schemas_are_checked(
    sandbox: Path, old: str, new: str, message: str
) -> None:
    path = sandbox / "registry" / "connectors.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    result = CliRunner().invoke(cli, ["validate", "--root", str(sandbox)])
    assert result.exit_code == 2
    assert message in result.stderr
    if new == "":
        assert "option 'cpus' is not declared for the airbyte engine" in result.stderr
        assert textwrap.dedent("add it to engine_options.sources.airbyte.properties") in (
            result.stderr
        )
