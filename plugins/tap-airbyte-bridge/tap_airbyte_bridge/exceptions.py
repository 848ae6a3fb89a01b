"""Errors of the bridge: one root, each message says what to change.

`SettingsError` is a mistake in the tap's own config (fix the setting it names).
`ConnectorError` means the Airbyte connector failed or reported an error; it carries the
connector's own message and `failure_type` so the caller can tell config errors from
transient or system errors. Each error has the kind of the plugins' convention
(`plugin_errors`), which decides the exit code: terminal 2, transient 75, internal 3.
Nothing here formats tracebacks: the CLI prints the message as one line.
"""

from __future__ import annotations

from plugin_errors import ErrorKind, PluginError


class BridgeError(PluginError):
    """Root of every error the bridge raises on purpose."""


class SettingsError(BridgeError):
    """The tap's config is missing or contradicts itself; the message names the setting."""


class ConnectorNotFoundError(SettingsError):
    """The connector executable or container engine cannot be found."""


class ImageNotFoundError(ConnectorNotFoundError):
    """The connector's container image is not in the engine's local images (runs never pull)."""


class ProtocolError(BridgeError):
    """The connector wrote a message that breaks the Airbyte protocol (a connector bug)."""

    kind = ErrorKind.INTERNAL


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
        if failure_type == "transient_error" or (returncode is not None and returncode < 0):
            # Airbyte says a retry may help, or the connector was killed by a signal.
            self.kind = ErrorKind.TRANSIENT
        elif failure_type != "config_error":
            # A system_error, or a crash without an Airbyte error: the connector failed in a
            # way nobody anticipated; someone has to look.
            self.kind = ErrorKind.INTERNAL

    @property
    def transient(self) -> bool:
        """True when a retry may help (Airbyte said so, or a signal killed the connector)."""
        return self.kind is ErrorKind.TRANSIENT
