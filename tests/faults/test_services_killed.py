"""Services failing mid-run: the REST catalog and the S3 server killed after the run wrote
data files and before its commit. Each run ends with exit 75 (transient) and one line naming
the address and the setting to check; every table is unchanged (the run's one multi-table
commit never happened); with the service back, a retry lands every row exactly once.

The loader is a child ``target-iceberg`` process that stops itself (SIGSTOP) at a named
point once its tables are staged (`target_iceberg.crashpoint`); the test makes the fault
there and lets it go on. The REST catalog is a private one started for the test (Apache
Iceberg's reference server, the session fixtures' launcher) and killed with SIGKILL; it
keeps its catalog in a file, so the restarted server has the same tables. The S3 server
holds its objects in memory, so its death is a proxy in front of it that dies (listener
closed, connections reset); the session's own servers are never stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ingestgen_services.iceberg_rest import LAUNCHER, IcebergRestService, start_iceberg_rest
from ingestgen_services.jdk import find_java
from ingestgen_services.process import terminate
from ingestgen_services.pytest_plugin import CACHE_DIR
from ingestgen_services.s3 import S3Service

from .faulty_proxy import FaultyProxy
from .loader import BOTH, FIRST, STREAMS, ids, multi_table_config, record, run_loader, singer_text

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import IcebergRestServer, S3Server

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CATEGORY = "faults: services failing mid-run (REST catalog, S3)"


def _config(props: dict[str, str], namespace: str, run_id: str) -> dict[str, Any]:
    return multi_table_config(props, namespace, run_id, catalog_timeout_s=20, s3_timeout_s=10)


class PrivateRest:
    """A reference REST catalog of this test's own, on the session's S3 server."""

    def __init__(self, state_dir: Path, s3: S3Server) -> None:
        self.state_dir = state_dir
        self.s3 = S3Service(
            endpoint=s3.endpoint,
            bucket=s3.bucket,
            region=s3.region,
            access_key=s3.access_key_id,
            secret_key=s3.secret_access_key,
            pid=0,
            log_path=state_dir / "logs" / "s3.log",
        )
        self.s3_props = {
            "s3.endpoint": s3.endpoint,
            "s3.access-key-id": s3.access_key_id,
            "s3.secret-access-key": s3.secret_access_key,
            "s3.region": s3.region,
            "s3.path-style-access": "true",
        }
        self.service: IcebergRestService | None = None

    def start(self) -> None:
        """Start (or restart: the catalog file in ``state_dir`` keeps the tables)."""
        self.service = start_iceberg_rest(
            state_dir=self.state_dir, cache_dir=CACHE_DIR, java=find_java(), s3=self.s3
        )

    def kill(self) -> None:
        """SIGKILL the server's process group: no shutdown hook runs."""
        assert self.service is not None and self.service.is_alive()
        os.killpg(self.service.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.service.pid, 0)  # reap it
        self.service = None

    def props(self) -> dict[str, str]:
        assert self.service is not None
        return {"type": "rest", "uri": self.service.uri, **self.s3_props}

    def close(self) -> None:
        if self.service is not None:
            terminate(self.service.pid, LAUNCHER)


@pytest.fixture
def private_rest(
    s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateRest]:
    rest = PrivateRest(tmp_path_factory.mktemp("private-rest"), s3_server)
    rest.start()
    try:
        yield rest
    finally:
        rest.close()


def test_rest_catalog_killed_before_the_commit(
    private_rest: PrivateRest, tmp_path: Path, record_property: Any
) -> None:
    started = time.monotonic()
    namespace = f"restkill_{uuid.uuid4().hex[:8]}"
    first = run_loader(
        tmp_path / "r1", _config(private_rest.props(), namespace, "r1"), singer_text(1, 12)
    )
    assert first.code == 0, first.stderr[-3000:]
    dead_uri = private_rest.props()["uri"]

    # Both tables staged (their data files are on S3), the commit not sent: kill the catalog.
    killed = run_loader(
        tmp_path / "r2",
        _config(private_rest.props(), namespace, "r2"),
        singer_text(13, 24),
        stop_at=f"stage:{len(STREAMS)}",
        when_stopped=private_rest.kill,
    )
    assert killed.code == 75, killed.stderr[-3000:]
    line = killed.error_line
    assert line.startswith("target-iceberg: error (transient, a retry may help): "), line
    assert f"the Iceberg catalog at {dead_uri} did not answer POST" in line, line
    assert "catalog server is running" in line and "catalog_properties.uri" in line, line
    assert "Traceback" not in killed.stderr
    assert killed.states == []  # no STATE: Meltano keeps the old bookmark

    private_rest.start()  # the same catalog file: the same tables, on a new port
    good = private_rest.props()
    assert ids(good, namespace) == dict.fromkeys(STREAMS, FIRST)  # every table unchanged
    again = run_loader(tmp_path / "r3", _config(good, namespace, "r3"), singer_text(13, 24))
    assert again.code == 0, again.stderr[-3000:]
    assert ids(good, namespace) == dict.fromkeys(STREAMS, BOTH) and again.states
    record(
        record_property,
        CATEGORY,
        "REST catalog SIGKILLed after both tables' files were written, before the commit",
        "transient (75), message names the catalog URI and setting; tables unchanged, no "
        "STATE; catalog restarted: retry lands 12 rows/table once",
        started,
    )


def test_s3_killed_mid_run(
    iceberg_rest_server: IcebergRestServer,
    s3_proxy: FaultyProxy,
    tmp_path: Path,
    record_property: Any,
) -> None:
    started = time.monotonic()
    namespace = f"s3kill_{uuid.uuid4().hex[:8]}"
    direct = iceberg_rest_server.catalog_properties()
    through = {**direct, "s3.endpoint": s3_proxy.url}
    first = run_loader(tmp_path / "r1", _config(through, namespace, "r1"), singer_text(1, 12))
    assert first.code == 0, first.stderr[-3000:]

    # One table's data files are on S3; the S3 server dies before the other table's.
    killed = run_loader(
        tmp_path / "r2",
        _config(through, namespace, "r2"),
        singer_text(13, 24),
        stop_at="stage:1",
        when_stopped=s3_proxy.kill,
    )
    assert killed.code == 75, killed.stderr[-3000:]
    line = killed.error_line
    assert line.startswith("target-iceberg: error (transient, a retry may help): "), line
    assert f"the S3 server at {s3_proxy.url} failed a request" in line, line
    assert "s3.endpoint" in line and "s3_timeout_s" in line, line
    assert "Traceback" not in killed.stderr
    assert killed.states == []
    assert ids(direct, namespace) == dict.fromkeys(STREAMS, FIRST)  # every table unchanged

    s3_proxy.revive()  # the same address answers again
    again = run_loader(tmp_path / "r3", _config(through, namespace, "r3"), singer_text(13, 24))
    assert again.code == 0, again.stderr[-3000:]
    assert ids(direct, namespace) == dict.fromkeys(STREAMS, BOTH) and again.states
    record(
        record_property,
        CATEGORY,
        "S3 endpoint killed (connections reset, port closed) after one table's files, before "
        "the other's and the commit",
        "transient (75), message names the S3 endpoint and settings; tables unchanged, no "
        "STATE; endpoint back: retry lands 12 rows/table once",
        started,
    )
