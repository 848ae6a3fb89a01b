"""pytest plugin: the `container` marker's switch, the container engine and connector images.

Tests marked ``container`` build and run images with podman. They are opt-in locally
(``INGESTGEN_CONTAINER_TESTS=1``) and always on in CI (``CI=true``); elsewhere they are skipped
with that reason. Fixtures:

- ``container_engine``: podman and runc are there, and ``CONTAINERS_CONF`` points at
  ``docker/containers.conf`` (runc and raised ulimits, see docker/README.md).
- ``connector_image``: ``connector_image("source-faker", "7.2.1")`` builds (or reuses, while its
  inputs are unchanged) ``airbyte/source-faker:7.2.1`` with ``docker/build-connector-image`` and
  returns its name.

Register it with ``-p ingestgen_services.containers`` (pyproject's addopts does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
OPT_IN = "INGESTGEN_CONTAINER_TESTS"


def opted_in() -> bool:
    """Whether container tests run here: in CI, or when asked for."""
    return os.environ.get(OPT_IN) == "1" or os.environ.get("CI") == "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the ``container`` tests unless they are switched on."""
    if opted_in():
        return
    skip = pytest.mark.skip(reason=f"container tests are opt-in locally: set {OPT_IN}=1")
    for item in items:
        if item.get_closest_marker("container"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def container_engine() -> str:
    """podman, ready to build and run images on this host; its path."""
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing; run scripts/install-system-deps")
    os.environ["CONTAINERS_CONF"] = str(REPO / "docker" / "containers.conf")
    return str(shutil.which("podman"))


@pytest.fixture(scope="session")
def connector_image(container_engine: str) -> Callable[[str, str], str]:
    """Build (or reuse) an Airbyte connector image from PyPI; returns its Airbyte name."""
    built: dict[tuple[str, str], str] = {}

    def build(connector: str, version: str) -> str:
        if (connector, version) not in built:
            done = subprocess.run(
                [str(REPO / "docker" / "build-connector-image"), connector, version],
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            built[connector, version] = f"airbyte/{connector}:{version}"
        return built[connector, version]

    return build
