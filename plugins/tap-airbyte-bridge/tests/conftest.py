"""Fixtures for tap-airbyte-bridge tests: a real `airbyte-source-faker` and a CLI runner.

airbyte-source-faker pins packages that conflict with Meltano in the shared dev virtualenv
(airbyte-cdk wants packaging 23.x and psutil 6.x; meltano 4.4 wants packaging>=24.2 and
psutil>=7), so it lives in its own virtualenv: `$AIRBYTE_SOURCE_FAKER_EXECUTABLE` may name its
`source-faker`, else one is built once per machine in the temp folder with uv.
(pytest runs with --import-mode=importlib: tests get helpers as fixtures, not imports.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

import pytest

FAKER_VERSION = "7.2.1"
FAKER_ENV = "AIRBYTE_SOURCE_FAKER_EXECUTABLE"
HERE = Path(__file__).parent


def build_faker_venv(target: Path) -> None:
    """Create a virtualenv at `target` holding airbyte-source-faker (uv if available)."""
    uv = Path(sys.executable).parent / "uv"
    uv_cmd = str(uv) if uv.exists() else shutil.which("uv")
    requirement = f"airbyte-source-faker=={FAKER_VERSION}"
    shutil.rmtree(target, ignore_errors=True)  # a half-built venv from an interrupted run
    try:
        if uv_cmd:
            venv = [uv_cmd, "venv", "-q", "--python", sys.executable, str(target)]
            subprocess.run(venv, check=True)
            subprocess.run(
                [uv_cmd, "pip", "install", "-q", requirement],
                check=True,
                env={**os.environ, "VIRTUAL_ENV": str(target)},
            )
        else:
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
            subprocess.run([str(target / "bin" / "pip"), "install", "-q", requirement], check=True)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def faker_config(**overrides: t.Any) -> dict[str, t.Any]:
    """A small, seeded faker config whose streams stop after `count` records."""
    return {
        "count": 12,
        "seed": 7,
        "records_per_slice": 5,
        "always_updated": False,
        "parallelism": 1,
        **overrides,
    }


def tap_config(executable: str, **airbyte: t.Any) -> dict[str, t.Any]:
    """The bridge's config for a Python connector."""
    return {
        "connector": {"python": {"executable": executable}},
        "airbyte_config": faker_config(**airbyte),
    }


class TapRun(t.NamedTuple):
    """One CLI run of the tap."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[dict[str, t.Any]]:
        """The Singer messages written to stdout, in order."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def of_type(self, kind: str) -> list[dict[str, t.Any]]:
        """The messages of one type, in order."""
        return [message for message in self.messages if message["type"] == kind]


def invoke_tap(
    workdir: Path,
    config: dict[str, t.Any],
    *args: str,
    catalog: dict[str, t.Any] | None = None,
    state: dict[str, t.Any] | None = None,
) -> TapRun:
    """Run `tap-airbyte-bridge` as Meltano does: config, catalog and state as files."""
    workdir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    argv = [str(Path(sys.executable).parent / "tap-airbyte-bridge")]
    for name, payload in (("config", config), ("catalog", catalog), ("state", state)):
        if payload is not None:
            path = run_dir / f"{name}.json"
            path.write_text(json.dumps(payload))
            argv += [f"--{name}", str(path)]
    argv += list(args)
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    return TapRun(done.returncode, done.stdout, done.stderr)


def ensure_faker() -> str:
    """Path of a real `source-faker` console script, building its virtualenv if needed."""
    configured = os.environ.get(FAKER_ENV)
    if configured:
        return configured
    target = Path(tempfile.gettempdir()) / f"ingestgen-airbyte-source-faker-{FAKER_VERSION}"
    executable = target / "bin" / "source-faker"
    if not executable.exists():
        build_faker_venv(target)
    return str(executable)


# singer-sdk's standard test class discovers streams while pytest collects the test module,
# so the connector must exist before test modules are imported; pytest imports this first.
os.environ[FAKER_ENV] = ensure_faker()


@pytest.fixture(scope="session")
def faker_executable() -> str:
    """Path of a real `source-faker` console script."""
    return os.environ[FAKER_ENV]


@pytest.fixture
def run_tap(tmp_path: Path) -> t.Callable[..., TapRun]:
    """`invoke_tap` in this test's temporary folder."""

    def run(config: dict[str, t.Any], *args: str, **files: t.Any) -> TapRun:
        return invoke_tap(tmp_path, config, *args, **files)

    return run


@pytest.fixture(scope="session", name="faker_config")
def faker_config_fixture() -> t.Callable[..., dict[str, t.Any]]:
    """`faker_config` for tests."""
    return faker_config


@pytest.fixture(scope="session", name="tap_config")
def tap_config_fixture(faker_executable: str) -> t.Callable[..., dict[str, t.Any]]:
    """The bridge's config running the real faker; keyword args override its config."""

    def make(**airbyte: t.Any) -> dict[str, t.Any]:
        return tap_config(faker_executable, **airbyte)

    return make


@pytest.fixture(scope="session", name="invoke_tap")
def invoke_tap_fixture() -> t.Callable[..., TapRun]:
    """`invoke_tap` for module-scoped fixtures."""
    return invoke_tap


KNOWN_CONNECTOR_DEFECTS = {
    "test_tap_stream_record_matches_stream_schema[purchases]": (
        "airbyte-source-faker writes purchases.created_at without a zone "
        "('2012-01-12T15:17:41.849711') under format date-time; the bridge passes values "
        "as written, so the SDK's schema check rightly fails"
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark standard tests that fail because of the connector's own output (strict xfail)."""
    here = Path(__file__).parent
    for item in items:
        reason = KNOWN_CONNECTOR_DEFECTS.get(item.name)
        if reason and here in item.path.parents:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
