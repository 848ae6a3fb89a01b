"""Send a run's pipeline status to OpenMetadata: ``PUT /api/v1/pipelines/{fqn}/status``.

Configured by environment variables: ``OPENMETADATA_URL`` (the server, with or without the
``/api`` suffix) and ``OPENMETADATA_TOKEN`` (a bot's JWT); optionally
``OPENMETADATA_PIPELINE_SERVICE`` (default ``ingestgen``) or a full
``OPENMETADATA_PIPELINE_FQN`` (``{tenant}`` and ``{job}`` are filled in). The pipeline entity
must exist: OpenMetadata keeps statuses only for known pipelines, and creating entities is the
catalog owner's decision, so a missing one is reported with the fix, not created.

Only the status payload is sent, never the rest of the record. Failing to send never changes a
run's exit code; the caller records the failure.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ingestgen.errors import UserError

DEFAULT_SERVICE = "ingestgen"
TIMEOUT_S = 10.0


class OpenMetadataError(UserError):
    """OpenMetadata refused the status or could not be reached; the message says what to fix."""


@dataclass(frozen=True)
class OpenMetadataTarget:
    """Where and as whom to send."""

    url: str
    token: str
    fqn: str

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], tenant: str, job: str
    ) -> OpenMetadataTarget | None:
        """The configured target, or None when ``OPENMETADATA_URL`` is unset.

        Raises:
            OpenMetadataError: the URL is set without a token.
        """
        url = environ.get("OPENMETADATA_URL", "").strip()
        if not url:
            return None
        token = environ.get("OPENMETADATA_TOKEN", "").strip()
        if not token:
            raise OpenMetadataError(
                "OPENMETADATA_URL is set but OPENMETADATA_TOKEN is not: set it "
                "to the JWT of an OpenMetadata bot allowed to edit pipelines"
            )
        base = url.rstrip("/").removesuffix("/api")
        template = (
            environ.get("OPENMETADATA_PIPELINE_FQN")
            or (environ.get("OPENMETADATA_PIPELINE_SERVICE") or DEFAULT_SERVICE) + ".{tenant}_{job}"
        )
        return cls(base, token, template.format(tenant=tenant, job=job))


def send_status(target: OpenMetadataTarget, status: dict[str, Any]) -> dict[str, Any]:
    """Check that the pipeline exists, then PUT ``status``; return the server's answer.

    Raises:
        OpenMetadataError: unreachable, token refused, pipeline missing or payload rejected.
    """
    fqn = quote(target.fqn, safe="")
    _call(
        target,
        "GET",
        f"/api/v1/pipelines/name/{fqn}",
        None,
        missing=(
            f"pipeline {target.fqn!r} does not exist in OpenMetadata at {target.url}: create it "
            "(a pipeline service and a pipeline entity) or point OPENMETADATA_PIPELINE_FQN at an "
            "existing one"
        ),
    )
    return _call(
        target,
        "PUT",
        f"/api/v1/pipelines/{fqn}/status",
        status,
        missing=(f"OpenMetadata at {target.url} has no pipeline {target.fqn!r}"),
    )


def _call(
    target: OpenMetadataTarget, method: str, path: str, body: dict[str, Any] | None, *, missing: str
) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is the configured server
        target.url + path,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {target.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        if exc.code == 404:
            raise OpenMetadataError(missing) from exc
        if exc.code in (401, 403):
            raise OpenMetadataError(
                f"OpenMetadata refused the token (HTTP {exc.code}): check "
                "OPENMETADATA_TOKEN and the bot's roles"
            ) from exc
        raise OpenMetadataError(
            f"OpenMetadata answered {method} {path} with HTTP {exc.code}: {detail}"
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OpenMetadataError(
            f"cannot reach OpenMetadata at {target.url} ({reason}): check OPENMETADATA_URL"
        ) from exc
    try:
        answer = json.loads(text) if text.strip() else {}
    except ValueError:
        answer = {"text": text[:500]}
    return answer if isinstance(answer, dict) else {"value": answer}
