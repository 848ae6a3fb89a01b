"""Fixtures of the fault tests: proxies in front of the session's servers that can fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .faulty_proxy import FaultyProxy

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import IcebergRestServer, S3Server


@pytest.fixture
def rest_proxy(iceberg_rest_server: IcebergRestServer) -> Iterator[FaultyProxy]:
    """A proxy in front of the session's REST catalog (``FaultyProxy.stall``, ``slow``)."""
    proxy = FaultyProxy(iceberg_rest_server.uri)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def s3_proxy(s3_server: S3Server) -> Iterator[FaultyProxy]:
    """A proxy in front of the session's S3 server (``kill``, ``stall``, ``slow``)."""
    proxy = FaultyProxy(s3_server.endpoint)
    try:
        yield proxy
    finally:
        proxy.close()
