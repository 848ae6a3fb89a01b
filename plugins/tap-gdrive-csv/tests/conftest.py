"""Fixtures for the tap's tests: in-process runs, sample data, the Drive server.

pytest runs with ``--import-mode=importlib`` here, so helpers reach tests as fixtures.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections import defaultdict
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The Drive fixture lives in the repository's tests/fixtures/gdrive; import it as top-level
# ``gdrive`` because the name ``tests`` may be taken by another plugin's tests package.
_FIXTURES = str(Path(__file__).resolve().parents[3] / "tests" / "fixtures")
if _FIXTURES not in sys.path:
    sys.path.insert(0, _FIXTURES)

from gdrive.plugin import gdrive_server  # noqa: E402

from tap_gdrive_csv import TapGDriveCsv  # noqa: E402
from tap_gdrive_csv import transport as transport_module  # noqa: E402

__all__ = ["gdrive_server"]

DATA = Path(__file__).parent / "data"


@dataclass
class SyncResult:
    """What one tap run wrote to stdout."""

    messages: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records[message["stream"]].append(message["record"])

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def state(self) -> dict[str, Any]:
        """The last STATE message's value (what Meltano would store)."""
        return self.states[-1]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


def sync(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> SyncResult:
    """Run a full sync in-process, as the CLI would, and parse stdout."""
    tap = TapGDriveCsv(config=config, state=state, catalog=catalog, parse_env_config=False)
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        tap.sync_all()
    buffer.seek(0)
    lines = [line for line in buffer.read().splitlines() if line.strip()]
    return SyncResult([json.loads(line) for line in lines])


def discover(config: dict[str, Any]) -> dict[str, Any]:
    """Return the catalog the tap discovers."""
    return TapGDriveCsv(config=config, parse_env_config=False).catalog_dict


Sync = Callable[..., SyncResult]
Discover = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture(name="sync")
def sync_fixture() -> Sync:
    """``sync(config, state=None, catalog=None) -> SyncResult``."""
    return sync


@pytest.fixture(name="discover")
def discover_fixture() -> Discover:
    """``discover(config) -> catalog dict``."""
    return discover


@pytest.fixture
def data_folder(tmp_path: Path) -> Path:
    """A private copy of tests/data (tests change files and their mtimes)."""
    folder = tmp_path / "drive"
    shutil.copytree(DATA, folder)
    return folder


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait milliseconds, not seconds, in tests."""
    monkeypatch.setattr(transport_module, "BACKOFF_BASE_SECONDS", 0.01)
