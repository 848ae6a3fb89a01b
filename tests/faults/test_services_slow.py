"""Slow and hung services: a REST catalog, Nessie's API or an S3 server that accepts
connections and never answers. The loader gives up after its documented timeouts
(``catalog_timeout_s``, ``s3_timeout_s``), exits 75 (transient) with a line naming the address
and the setting, and commits nothing; once the server answers again (also slowly), a retry
lands every row once.

The hang is a proxy in front of the session's real servers (`faulty_proxy`) that stops
forwarding: the request reaches the proxy and no answer ever comes back.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .faulty_proxy import FaultyProxy
from .loader import BOTH, FIRST, STREAMS, ids, multi_table_config, record, run_loader, singer_text

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import IcebergRestServer

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CATEGORY = "faults: services hanging (REST catalog, Nessie API, S3)"
TIMEOUT_S = 2
# A server answering again, slowly: every answer delayed, each well within the timeout
# (the retry makes dozens of requests, so more would only lengthen the suite).
SLOW_S = 0.05


def _config(
    props: dict[str, str], namespace: str, run_id: str, timeout: float = 60
) -> dict[str, Any]:
    # Only the run that meets the hang has the short timeout: a loaded machine's honest
    # answers may take longer than it.
    return multi_table_config(
        props, namespace, run_id, catalog_timeout_s=timeout, s3_timeout_s=timeout
    )


def test_catalog_hanging_at_the_commit_times_out(
    iceberg_rest_server: IcebergRestServer,
    rest_proxy: FaultyProxy,
    tmp_path: Path,
    record_property: Any,
) -> None:
    started = time.monotonic()
    namespace = f"resthang_{uuid.uuid4().hex[:8]}"
    direct = iceberg_rest_server.catalog_properties()
    through = {**direct, "uri": rest_proxy.url}
    first = run_loader(tmp_path / "r1", _config(through, namespace, "r1"), singer_text(1, 12))
    assert first.code == 0, first.stderr[-3000:]

    hung = run_loader(
        tmp_path / "r2",
        _config(through, namespace, "r2", TIMEOUT_S),
        singer_text(13, 24),
        stop_at=f"stage:{len(STREAMS)}",
        when_stopped=rest_proxy.stall,
    )
    assert hung.code == 75, hung.stderr[-3000:]
    line = hung.error_line
    assert line.startswith("target-iceberg: error (transient, a retry may help): "), line
    assert f"the Iceberg catalog at {rest_proxy.url} did not answer POST" in line, line
    assert f"within {TIMEOUT_S} s (the catalog_timeout_s setting)" in line, line
    assert "Traceback" not in hung.stderr and hung.states == []
    assert ids(direct, namespace) == dict.fromkeys(STREAMS, FIRST)  # the commit never landed

    rest_proxy.slow(SLOW_S)  # answering again, slowly: within the timeout
    again = run_loader(tmp_path / "r3", _config(through, namespace, "r3"), singer_text(13, 24))
    assert again.code == 0, again.stderr[-3000:]
    assert ids(direct, namespace) == dict.fromkeys(STREAMS, BOTH) and again.states
    record(
        record_property,
        CATEGORY,
        f"REST catalog hangs at the commit (catalog_timeout_s={TIMEOUT_S})",
        "gives up after the timeout: transient (75), message names the URI and "
        f"catalog_timeout_s; tables unchanged; retry through a slow ({SLOW_S} s/answer) catalog "
        "lands 12 rows/table once",
        started,
    )


def test_s3_hanging_times_out(
    iceberg_rest_server: IcebergRestServer,
    s3_proxy: FaultyProxy,
    tmp_path: Path,
    record_property: Any,
) -> None:
    started = time.monotonic()
    namespace = f"s3hang_{uuid.uuid4().hex[:8]}"
    direct = iceberg_rest_server.catalog_properties()
    through = {**direct, "s3.endpoint": s3_proxy.url}
    first = run_loader(tmp_path / "r1", _config(through, namespace, "r1"), singer_text(1, 12))
    assert first.code == 0, first.stderr[-3000:]

    s3_proxy.stall()
    hung = run_loader(
        tmp_path / "r2", _config(through, namespace, "r2", TIMEOUT_S), singer_text(13, 24)
    )
    assert hung.code == 75, hung.stderr[-3000:]
    line = hung.error_line
    assert line.startswith("target-iceberg: error (transient, a retry may help): "), line
    assert f"the S3 server at {s3_proxy.url} failed a request" in line, line
    assert f"after {TIMEOUT_S} s (the s3_timeout_s setting)" in line, line
    assert "Traceback" not in hung.stderr and hung.states == []
    assert ids(direct, namespace) == dict.fromkeys(STREAMS, FIRST)

    s3_proxy.slow(SLOW_S)
    again = run_loader(tmp_path / "r3", _config(through, namespace, "r3"), singer_text(13, 24))
    assert again.code == 0, again.stderr[-3000:]
    assert ids(direct, namespace) == dict.fromkeys(STREAMS, BOTH) and again.states
    record(
        record_property,
        CATEGORY,
        f"S3 server hangs (accepts, never answers; s3_timeout_s={TIMEOUT_S})",
        "gives up after the timeout: transient (75), message names the endpoint and "
        f"s3_timeout_s; tables unchanged; retry through a slow ({SLOW_S} s/answer) S3 lands 12 "
        "rows/table once",
        started,
    )


def test_nessie_api_hanging_at_the_start_times_out(tmp_path: Path, record_property: Any) -> None:
    """A run on a Nessie catalog opens its branch first: a hung Nessie API stops it there."""
    started = time.monotonic()
    hung = FaultyProxy("http://127.0.0.1:9")  # stalls before it would connect anywhere
    hung.stall()
    try:
        config = {
            "namespace": "acme",
            "catalog_properties": {"type": "rest", "uri": f"{hung.url}/iceberg/acme"},
            "nessie": {"branch": "acme", "api_uri": f"{hung.url}/api/v2"},
            "commit_mode": "multi_table",
            "catalog_timeout_s": TIMEOUT_S,
        }
        outcome = run_loader(tmp_path / "r1", config, singer_text(1, 3))
    finally:
        hung.close()
    assert outcome.code == 75, outcome.stderr[-3000:]
    line = outcome.error_line
    assert f"Nessie at {hung.url}/api/v2 did not answer" in line, line
    assert f"within {TIMEOUT_S} s (the catalog_timeout_s setting)" in line, line
    assert "Traceback" not in outcome.stderr and outcome.states == []
    record(
        record_property,
        CATEGORY,
        f"Nessie API hangs when the run opens its branch (catalog_timeout_s={TIMEOUT_S})",
        "gives up after the timeout: transient (75), message names Nessie's API root and "
        "catalog_timeout_s; nothing written",
        started,
    )
