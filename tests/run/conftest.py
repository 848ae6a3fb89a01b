"""Fixtures of the runner tests: the OpenMetadata-like server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.openmetadata import OpenMetadataServer

PIPELINES = ["ingestgen.acme_deals_daily", "ingestgen.acme_bad_rows"]


@pytest.fixture(scope="session")
def _openmetadata_process() -> Iterator[OpenMetadataServer]:
    with OpenMetadataServer(PIPELINES) as server:
        yield server


@pytest.fixture
def openmetadata_server(_openmetadata_process: OpenMetadataServer) -> OpenMetadataServer:
    """A started server knowing the pipelines in `PIPELINES`, with an empty request log."""
    _openmetadata_process.reset()
    return _openmetadata_process
