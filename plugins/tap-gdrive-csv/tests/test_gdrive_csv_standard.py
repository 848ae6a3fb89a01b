"""singer-sdk's standard tap tests, in local-folder mode and in API mode.

API mode needs the Drive server while the test classes are built (the SDK discovers streams at
collection time), so this module starts one at import and stops it after its tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gdrive import DriveServer
from singer_sdk.testing import get_tap_test_class

from tap_gdrive_csv import TapGDriveCsv

DATA = Path(__file__).parent / "data"
FILES = [
    {"file_id": "deals_2024_01.csv", "object": "deals_daily"},
    {"file_id": "deals_2024_02.csv", "object": "deals_daily"},
    {"file_id": "contacts.csv", "object": "contacts"},
]

# Serves tests/data by file name; the Sheet exercises the export path.
_SERVER = DriveServer(folder=DATA).start()
_SERVER.add_spreadsheet("1SheetTargets", "region,target\nEMEA,100\nAPAC,\n", name="Targets")


@pytest.fixture(scope="module", autouse=True)
def _stop_drive_server() -> Iterator[None]:
    yield
    _SERVER.stop()


TestTapGDriveCsvLocal = get_tap_test_class(
    TapGDriveCsv,
    config={"local_folder": str(DATA), "files": FILES},
)

TestTapGDriveCsvApi = get_tap_test_class(
    TapGDriveCsv,
    config={
        "api_base_url": _SERVER.base_url,
        "oauth_token": _SERVER.issue_token(),
        "files": [*FILES, {"file_id": "1SheetTargets", "object": "targets"}],
    },
)
