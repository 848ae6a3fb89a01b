"""singer-sdk's standard tap tests, run against the real airbyte-source-faker.

The SDK's test runner syncs stream by stream through `Stream.get_records` (the tap's `--test`
path), not through the tap's single-`read` sync; both paths are covered, this one here and the
other in test_bridge_faker.py. The connector path comes from conftest.py, which pytest imports
before this module.
"""

from __future__ import annotations

import os

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_airbyte_bridge.tap import TapAirbyteBridge

_CONFIG = {
    "connector": {"python": {"executable": os.environ["AIRBYTE_SOURCE_FAKER_EXECUTABLE"]}},
    "airbyte_config": {
        "count": 30,
        "seed": 11,
        "records_per_slice": 10,
        "always_updated": False,
        "parallelism": 1,
    },
}

_StandardTests = get_tap_test_class(
    TapAirbyteBridge,
    config=_CONFIG,
    suite_config=SuiteConfig(max_records_limit=30),
)


@pytest.mark.slow
# Optional fields such as purchases.returned_at are rightly absent from a small sample; the
# SDK reports that as a UserWarning, which the repository's filterwarnings turns into an error.
@pytest.mark.filterwarnings("ignore:Fields in transformed catalog but not in records")
class TestTapAirbyteBridgeStandard(_StandardTests):  # type: ignore[misc,valid-type]
    """The SDK's tap, stream and attribute tests."""
