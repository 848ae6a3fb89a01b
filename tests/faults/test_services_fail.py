"""Services failing: the Iceberg REST catalog and the S3 server down at start. Each ends with
a transient error (exit 75: retrying helps) whose message names the address that did not
answer, nothing committed, no STATE, and a retry that lands every row exactly once.

The loader runs in this process against the session's reference REST catalog (multi-table
commits); the failing service is a closed port, so no shared server is ever stopped.
"""

from __future__ import annotations

import io
import json
import socket
import time
import uuid
from contextlib import redirect_stdout
from typing import TYPE_CHECKING, Any

import pytest

from plugin_errors import ErrorKind, classify
from target_iceberg.errors import loader_kind
from target_iceberg.rest import CatalogUnavailableError
from target_iceberg.target import TargetIceberg

from .loader import PROPS, STREAMS, ids

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import IcebergRestServer, S3Server

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ROWS = 12


def _text() -> str:
    lines = []
    for stream in STREAMS:
        lines.append({"type": "SCHEMA", "stream": stream, "key_properties": ["id"],
                      "schema": {"type": "object", "properties": PROPS}})  # fmt: skip
        lines += [
            {"type": "RECORD", "stream": stream, "record": {"id": i, "name": f"{stream}{i}"}}
            for i in range(1, ROWS + 1)
        ]
    lines.append({"type": "STATE", "value": {"bookmarks": dict.fromkeys(STREAMS, ROWS)}})
    return "".join(json.dumps(m) + "\n" for m in lines)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _target(props: dict[str, str], namespace: str, run_id: str) -> TargetIceberg:
    return TargetIceberg(
        config={
            "namespace": namespace,
            "catalog_properties": props,
            "commit_mode": "multi_table",
            "run_id": run_id,
        }
    )


def run(props: dict[str, str], namespace: str, run_id: str) -> tuple[TargetIceberg, list[str]]:
    target = _target(props, namespace, run_id)
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.BytesIO(_text().encode()))  # type: ignore[arg-type]
        target.process_endofpipe()
    return target, out.getvalue().splitlines()


def failing_run(props: dict[str, str], namespace: str, run_id: str) -> tuple[TargetIceberg, str]:
    target = _target(props, namespace, run_id)
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.BytesIO(_text().encode()))  # type: ignore[arg-type]
        with pytest.raises(Exception) as info:  # noqa: PT011 (the test checks its kind)
            target.process_endofpipe()
    assert out.getvalue() == "", "a STATE was emitted by a failed run"
    return target, str(info.value)


WHOLE = list(range(1, ROWS + 1))


def _record(record_property: Any, case: str, outcome: str, started: float) -> None:
    record_property("category", "faults: services failing (REST catalog, S3)")
    record_property("case", case)
    record_property("outcome", outcome)
    record_property("figures", f"{time.monotonic() - started:.1f} s")


def test_catalog_down_at_start(
    iceberg_rest_server: IcebergRestServer, record_property: Any
) -> None:
    started = time.monotonic()
    namespace = f"down_{uuid.uuid4().hex[:8]}"
    good = iceberg_rest_server.catalog_properties()
    port = closed_port()
    with pytest.raises(CatalogUnavailableError, match="did not answer") as info:
        run({**good, "uri": f"http://127.0.0.1:{port}"}, namespace, "r1")
    assert classify(info.value, loader_kind) == ErrorKind.TRANSIENT  # exit 75
    assert f"the Iceberg catalog at http://127.0.0.1:{port} did not answer" in str(info.value)
    assert "catalog server is running" in str(info.value)
    _, out = run(good, namespace, "r2")
    assert ids(good, namespace) == dict.fromkeys(STREAMS, WHOLE) and out
    outcome = "transient (75), message names the catalog URI; retry lands all rows once"
    _record(record_property, "REST catalog down at start (port closed)", outcome, started)


def test_s3_down_at_start(
    iceberg_rest_server: IcebergRestServer, s3_server: S3Server, record_property: Any
) -> None:
    started = time.monotonic()
    namespace = f"s3down_{uuid.uuid4().hex[:8]}"
    good = iceberg_rest_server.catalog_properties()
    port = closed_port()
    target, error = failing_run(
        {**good, "s3.endpoint": f"http://127.0.0.1:{port}"}, namespace, "r1"
    )
    assert target.summary.error_kind == ErrorKind.TRANSIENT
    assert f"127.0.0.1:{port}" in error
    assert all(v in (None, []) for v in ids(good, namespace).values())
    _, out = run(good, namespace, "r2")
    assert ids(good, namespace) == dict.fromkeys(STREAMS, WHOLE) and out
    outcome = "transient (75), message names the S3 endpoint, nothing committed; retry lands once"
    _record(record_property, "S3 server down at start (endpoint port closed)", outcome, started)
