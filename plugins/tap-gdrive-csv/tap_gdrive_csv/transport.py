"""HTTP with bounded retries for the Drive API and the OAuth token endpoint.

Retries only what Google documents as transient: 429, 5xx, a 403 whose reason is a rate limit,
and connection errors or time-outs, with exponential back-off and jitter (honouring
``Retry-After``). Everything else is returned to the caller, which turns it into an error
naming the file and the fix. Never logs request headers (they carry the bearer token).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from tap_gdrive_csv.exceptions import TapGDriveCsvError

logger = logging.getLogger("tap-gdrive-csv")

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 32.0
BACKOFF_BASE_SECONDS = 1.0


def error_reason(response: requests.Response) -> tuple[str, str]:
    """Return (reason, message) from a Google JSON error body, or ('', short text)."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200].strip()
    if not isinstance(body, dict):
        return "", str(body)[:200]
    error = body.get("error")
    if isinstance(error, dict):
        details = error.get("errors") or [{}]
        first = details[0] if isinstance(details, list) and details else {}
        reason = first.get("reason", "") if isinstance(first, dict) else ""
        return str(reason or error.get("status") or ""), str(error.get("message") or "")
    if isinstance(error, str):  # OAuth token endpoint: {"error": ..., "error_description": ...}
        return error, str(body.get("error_description") or "")
    return "", str(body)[:200]


def is_retryable(response: requests.Response) -> bool:
    """Whether Google documents this answer as worth retrying."""
    if response.status_code in RETRY_STATUSES:
        return True
    return response.status_code == 403 and error_reason(response)[0] in RATE_LIMIT_REASONS


class Transport:
    """A requests session with the tap's retry policy."""

    def __init__(
        self,
        *,
        timeout: float,
        max_retries: int,
        backoff_base: float | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "tap-gdrive-csv"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = BACKOFF_BASE_SECONDS if backoff_base is None else backoff_base
        self._sleep = sleep or time.sleep

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send a request, retrying transient failures; return the last response.

        Args:
            method: HTTP method.
            url: Full URL.
            what: What is being fetched, for log lines and the error if all attempts fail.
            headers: Extra headers.
            params: Query parameters.
            data: Form body.
            stream: Whether to leave the body unread (for downloads).

        Returns:
            The response (possibly an error status that is not worth retrying).

        Raises:
            TapGDriveCsvError: When every attempt failed to connect or time out.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    params=dict(params or {}),
                    data=dict(data) if data is not None else None,
                    timeout=self.timeout,
                    stream=stream,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.max_retries:
                    where = url.split("?", maxsplit=1)[0]
                    msg = (
                        f"could not reach {where} for {what} after {attempt} "
                        f"attempts ({type(exc).__name__}): check api_base_url and the network, "
                        "or raise request_timeout / max_retries"
                    )
                    err = TapGDriveCsvError(msg)
                    err.transient = True
                    raise err from exc
                self._back_off(attempt, None, f"{what}: {type(exc).__name__}")
                continue
            if attempt < self.max_retries and is_retryable(response):
                reason = error_reason(response)[0] or response.reason
                retry_after = response.headers.get("Retry-After")
                response.close()
                why = f"{what}: HTTP {response.status_code} {reason}"
                self._back_off(attempt, retry_after, why)
                continue
            return response

    def _back_off(self, attempt: int, retry_after: str | None, why: str) -> None:
        delay = min(MAX_BACKOFF_SECONDS, self.backoff_base * 2 ** (attempt - 1))
        delay += random.uniform(0, self.backoff_base)  # noqa: S311 - jitter, not security
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        logger.warning("Retrying %s in %.1f s (attempt %d of %d)", why, delay, attempt + 1,
                       self.max_retries)
        self._sleep(delay)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()


def json_body(response: requests.Response) -> dict[str, Any]:
    """Decode a JSON object body, or raise a readable error."""
    try:
        body = response.json()
    except ValueError as exc:
        msg = (
            f"expected JSON from {response.url.split('?')[0]}, got "
            f"{response.headers.get('Content-Type', 'no content type')}: is api_base_url right?"
        )
        raise TapGDriveCsvError(msg) from exc
    if not isinstance(body, dict):
        msg = f"expected a JSON object from {response.url.split('?')[0]}"
        raise TapGDriveCsvError(msg)
    return body
