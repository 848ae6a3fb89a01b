"""What the container tests share: the runner image's name, build and run figures, podman."""

from __future__ import annotations

import subprocess

IMAGE = "localhost/ingestgen-runner:test"
TIMINGS: dict[str, float] = {}


def podman(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=False, timeout=timeout, env=env
    )
