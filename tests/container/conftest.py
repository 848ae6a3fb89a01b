"""The runner image, built once per session with podman from our Dockerfile, for every test here.

Needs root, podman, runc and debootstrap (scripts/install-system-deps); the base image comes from
docker/build-base, which caches Debian's root file system under /var/tmp/ingestgen.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.container.engine import IMAGE, TIMINGS, podman


@pytest.fixture(scope="session")
def image(repo_root: Path, container_engine: str) -> Iterator[str]:
    started = time.monotonic()
    base = subprocess.run(
        [str(repo_root / "docker" / "build-base")],
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert base.returncode == 0, base.stderr[-3000:]
    TIMINGS["base_s"] = time.monotonic() - started
    started = time.monotonic()
    # Host networking for the build only: pip fetches packages; the runs below have no network.
    built = podman(
        "build",
        "--pull=never",
        # SHELL (bash with pipefail) is a Docker-format instruction; OCI format ignores it.
        "--format=docker",
        "--network=host",
        "--tag",
        IMAGE,
        "--file",
        str(repo_root / "Dockerfile"),
        str(repo_root),
        timeout=2400,
    )
    assert built.returncode == 0, built.stdout[-5000:] + built.stderr[-3000:]
    TIMINGS["build_s"] = time.monotonic() - started
    yield IMAGE
    print(f"container timings: {json.dumps({k: round(v, 1) for k, v in TIMINGS.items()})}")
