"""Send a run to the configured metadata services.

OpenLineage START when the run begins; OpenLineage COMPLETE/FAIL and the OpenMetadata pipeline
status when it ends.

Each result is kept as a short redacted sentence for the record's ``emitted`` field. A service
that is down or refuses never fails the run: it is reported, and the record on disk still holds
everything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ingestgen.record.lineage_config import configured
from ingestgen.record.openmetadata import OpenMetadataError, OpenMetadataTarget, send_status
from ingestgen.redact import Redactor

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient

logger = logging.getLogger(__name__)
NOT_CONFIGURED = "not configured"


class Emitters:
    """The metadata services of one run."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str],
        tenant: str,
        job: str,
        source_type: str,
        redactor: Redactor,
    ) -> None:
        self.environ = dict(environ)
        self.tenant, self.job, self.source_type = tenant, job, source_type
        self.redactor = redactor
        self.results: dict[str, str] = {
            "openmetadata": NOT_CONFIGURED,
            "openlineage": NOT_CONFIGURED,
        }
        self._lineage: OpenLineageClient | None = None
        if configured(self.environ):
            # Imported only when configured: the client is slow to import (README, *Per-run cost*).
            from ingestgen.record import openlineage

            try:
                self._lineage = openlineage.client(self.environ)
            except Exception as exc:
                self._fail("openlineage", f"client not configured: {exc}")

    def start(self, run_id: str, streams: list[str], started_at: float) -> None:
        """Send OpenLineage START (if configured)."""
        if self._lineage is None:
            return
        from ingestgen.record import openlineage

        event = openlineage.start_event(
            run_id=run_id,
            tenant=self.tenant,
            job=self.job,
            source_type=self.source_type,
            streams=streams,
            started_at=started_at,
            environ=self.environ,
        )
        try:
            self._lineage.emit(event)
            self.results["openlineage"] = "START sent"
        except Exception as exc:
            self._fail("openlineage", f"START failed: {exc}")

    def finish(self, record: dict[str, Any]) -> dict[str, str]:
        """Send the end of the run to every configured service; return the results."""
        if self._lineage is not None:
            from ingestgen.record import openlineage

            event = openlineage.end_event(
                record, source_type=self.source_type, environ=self.environ
            )
            try:
                self._lineage.emit(event)
                self._lineage.close(timeout=10.0)
                kind = event.eventType.value if event.eventType else "event"
                self.results["openlineage"] = (
                    f"START and {kind} sent"
                    if self.results["openlineage"] == "START sent"
                    else f"{kind} sent; {self.results['openlineage']}"
                )
            except Exception as exc:
                self._fail("openlineage", f"end event failed: {exc}")
        try:
            target = OpenMetadataTarget.from_env(self.environ, self.tenant, self.job)
            if target is not None:
                send_status(target, record["openmetadata"]["status"])
                record["openmetadata"]["pipeline_fqn"] = target.fqn
                self.results["openmetadata"] = f"status sent to pipeline {target.fqn}"
        except OpenMetadataError as exc:
            self._fail("openmetadata", str(exc))
        return dict(self.results)

    def _fail(self, service: str, message: str) -> None:
        text = self.redactor.redact(message)
        self.results[service] = f"failed: {text}"
        logger.warning("%s: %s", service, text)
