"""singer-sdk's standard target test suite, run against target-iceberg on a real catalog."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from singer_sdk.testing import get_target_test_class

from target_iceberg.target import TargetIceberg

from .conftest import catalog_props

_LAKE = Path(tempfile.mkdtemp(prefix="target-iceberg-sdk-"))
atexit.register(shutil.rmtree, _LAKE, True)

TestTargetIcebergStandard = get_target_test_class(
    TargetIceberg,
    config={"namespace": "sdk_tests", "catalog_properties": catalog_props(_LAKE)},
)
