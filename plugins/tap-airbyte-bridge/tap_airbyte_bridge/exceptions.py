"""Errors of the bridge: one root, each message says what to change.

`SettingsError` is a mistake in the tap's own config (fix the setting it names).
`ConnectorError` means the Airbyte connector failed or reported an error; it carries the
connector's own message and `failure_type` so the caller can tell config errors from
transient or system errors. Nothing here formats tracebacks: the CLI prints `str(exc)`.
"""

from __future__ import annotations

# Exit codes of the CLI, documented in the README.
EXIT_CONNECTOR_FAILED = 1
EXIT_SETTINGS_INVALID = 2


class BridgeError(Exception):
    """Root of every error the bridge raises on purpose."""

    exit_code = EXIT_CONNECTOR_FAILED


class SettingsError(BridgeError):
    """The tap's config is missing or contradicts itself; the message names the setting."""

    exit_code = EXIT_SETTINGS_INVALID


class ConnectorNotFoundError(SettingsError):
    """The connector executable or container engine cannot be found."""


class ImageNotFoundError(ConnectorNotFoundError):
    """The connector's container image is not in the engine's local images (runs never pull)."""


class ProtocolError(BridgeError):
    """The connector wrote a message that breaks the Airbyte protocol."""


class ConnectorError(BridgeError):
    """The connector reported an error (TRACE ERROR) or exited abnormally.

    Attributes:
        connector: Human-readable name of the connector (executable or image).
        failure_type: Airbyte's `failure_type` (`config_error`, `system_error`,
            `transient_error`) or None when the connector crashed without a TRACE message.
        returncode: The connector's exit code, None if it was still running.
    """

    def __init__(
        self,
        message: str,
        *,
        connector: str,
        failure_type: str | None = None,
        returncode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.connector = connector
        self.failure_type = failure_type
        self.returncode = returncode

    @property
    def transient(self) -> bool:
        """True when Airbyte marked the failure as transient, so a retry may help."""
        return self.failure_type == "transient_error"
