"""OpenLineage run events for a run, sent with the ``openlineage-python`` client.

START before Meltano starts, COMPLETE or FAIL after, all keyed by the run id.

Sending is on when the client is configured the usual OpenLineage way: ``OPENLINEAGE_URL`` (and
``OPENLINEAGE_API_KEY``), ``OPENLINEAGE_CONFIG`` (a YAML file) or ``OPENLINEAGE__TRANSPORT__*``
variables (e.g. a file transport); ``OPENLINEAGE_DISABLED=true`` turns it off. Without any of
these nothing is sent (the client would otherwise print events to the console). The job is
``<tenant>.<job>`` in namespace ``$OPENLINEAGE_NAMESPACE`` (default ``ingestgen``); inputs are
the source's streams, outputs the Iceberg tables with their row, byte and file counts.

Events carry only the record's redacted values. Failing to send never changes the exit code.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run, processing_engine_run
from openlineage.client.generated.base import RunFacet
from openlineage.client.generated.output_statistics_output_dataset import (
    OutputStatisticsOutputDatasetFacet as OutputStatistics,
)

from ingestgen import __version__
from ingestgen.record.lineage_config import configured

PRODUCER = f"urn:ingestgen:{__version__}"
DEFAULT_NAMESPACE = "ingestgen"
_PREFIX = "OPENLINEAGE"
__all__ = ["client", "configured", "end_event", "start_event"]


@attr.define
class IngestgenRunFacet(RunFacet):
    """ingestgen's own run facet: the seed's status and exit code, totals and usage."""

    tenant: str
    status: str
    exitCode: int
    totals: dict[str, int]
    usage: dict[str, Any]

    _additional_skip_redact: ClassVar[list[str]] = ["tenant", "status", "exitCode"]

    @staticmethod
    def _get_schema() -> str:
        return "urn:ingestgen:facets:IngestgenRunFacet:1"


def client(environ: Mapping[str, str]) -> OpenLineageClient:
    """A client that configures itself the OpenLineage way, from ``environ``.

    The client reads its configuration (a config file, ``OPENLINEAGE__*`` variables,
    ``OPENLINEAGE_URL``) from ``os.environ`` while it is built, so for that moment
    ``os.environ`` holds ``environ``'s OpenLineage variables (the same ones in a real run), and
    afterwards what it held before: the aliases the client writes there are dropped too.
    """
    with _lineage_variables(environ):
        return OpenLineageClient()


@contextmanager
def _lineage_variables(environ: Mapping[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith(_PREFIX)}
    try:
        for key in saved:
            del os.environ[key]
        os.environ.update({k: v for k, v in environ.items() if k.startswith(_PREFIX)})
        yield
    finally:
        for key in [k for k in os.environ if k.startswith(_PREFIX)]:
            del os.environ[key]
        os.environ.update(saved)


def start_event(
    *,
    run_id: str,
    tenant: str,
    job: str,
    source_type: str,
    streams: list[str],
    started_at: float,
    environ: Mapping[str, str],
) -> RunEvent:
    """The START event, sent before Meltano starts."""
    return RunEvent(
        eventType=RunState.START,
        eventTime=_iso(started_at),
        run=Run(runId=run_id, facets={"processing_engine": _engine()}),
        job=_job(tenant, job, environ),
        inputs=[InputDataset(namespace=f"{source_type}://{tenant}", name=s) for s in streams],
        producer=PRODUCER,
    )


def end_event(record: dict[str, Any], *, source_type: str, environ: Mapping[str, str]) -> RunEvent:
    """COMPLETE (exit 0 or 1: something landed) or FAIL (exit 2) for a finished run's record."""
    failed = record["exit_code"] == 2
    facets: dict[str, RunFacet] = {
        "processing_engine": _engine(),
        "ingestgen": IngestgenRunFacet(
            tenant=record["tenant"],
            status=record["status"],
            exitCode=record["exit_code"],
            totals=record["totals"],
            usage=record["usage"],
            producer=PRODUCER,
        ),
    }
    if record["exit_code"] != 0:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=record.get("error") or record["reason"],
            programmingLanguage="python",
            producer=PRODUCER,
        )
    outputs = [
        OutputDataset(
            namespace=f"iceberg://{record['iceberg']['catalog']}",
            name=s["table"],
            outputFacets={
                "outputStatistics": OutputStatistics(
                    rowCount=s["rows_landed"],
                    size=s["bytes"],
                    fileCount=s["files"],
                    producer=PRODUCER,
                )
            },
        )
        for s in record["streams"]
        if s["table"] and s["snapshot_id"] is not None
    ]
    return RunEvent(
        eventType=RunState.FAIL if failed else RunState.COMPLETE,
        eventTime=record["ended_at"],
        run=Run(runId=record["run_id"], facets=facets),
        job=_job(record["tenant"], record["job"], environ),
        inputs=[
            InputDataset(namespace=f"{source_type}://{record['tenant']}", name=s["name"])
            for s in record["streams"]
        ],
        outputs=outputs,
        producer=PRODUCER,
    )


def _job(tenant: str, job: str, environ: Mapping[str, str]) -> Job:
    namespace = environ.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE
    return Job(namespace=namespace, name=f"{tenant}.{job}")


def _engine() -> processing_engine_run.ProcessingEngineRunFacet:
    return processing_engine_run.ProcessingEngineRunFacet(
        version=__version__, name="ingestgen", producer=PRODUCER
    )


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).isoformat(timespec="milliseconds")
