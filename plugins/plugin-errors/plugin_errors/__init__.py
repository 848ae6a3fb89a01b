"""The error and exit-code convention of ingestgen's Singer plugins.

target-iceberg, tap-gdrive-csv and tap-airbyte-bridge all end the same way:

| exit | kind | meaning |
|---|---|---|
| 0 | - | success (a loader that committed with quarantined rows exits 0 too) |
| 2 | terminal | bad input, config or contract: retrying the same input cannot help |
| 75 | transient | a service was unavailable or a commit conflicted: a retry may help |
| 3 | internal | a bug in the plugin |
| 128+N | - | stopped by signal N: 143 for SIGTERM, 130 for SIGINT |

A plugin raises `TerminalError` or `TransientError` (or its own subclasses of `PluginError`)
with a message that names the fix; `run_cli` turns any exception into exactly one line on
stderr and the exit code above. A traceback is logged only when the plugin's logger is at
DEBUG (``LOGLEVEL=debug``). 75 is ``EX_TEMPFAIL`` of ``sysexits.h``; like singer-sdk's
``FatalSyncError``/``RetriableSyncError`` and dlt's terminal/transient exceptions, the kind
tells a runner whether retrying can help. This package never imports a plugin.
"""

from __future__ import annotations

import enum
import logging
import reprlib
import signal
import sys
from collections.abc import Callable, Mapping
from typing import NoReturn

__all__ = [
    "EXIT_CODES",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_SIGTERM",
    "EXIT_TERMINAL",
    "EXIT_TRANSIENT",
    "ErrorKind",
    "PluginError",
    "TerminalError",
    "TransientError",
    "classify",
    "exit_after_signal",
    "message",
    "one_line",
    "report",
    "run_cli",
]


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxtuple = 4
_SHORT.maxlevel = 2


def excerpt(value: object) -> str:
    """A short repr of a user value for messages: never more than about 60 characters of it.

    Long text says how long it is, so ``'xxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxx'
    (5,000,000 characters)`` stands for a five-megabyte value. Every message of ingestgen and of
    our plugins quotes user values with it.
    """
    text = _SHORT.repr(value)
    if isinstance(value, str) and len(value) > _SHORT.maxstring:
        text += f" ({len(value):,} characters)"
    return text


class ErrorKind(enum.StrEnum):
    """Whether retrying can help; the loader's run summary carries it as ``error_kind``."""

    TERMINAL = "terminal"
    TRANSIENT = "transient"
    INTERNAL = "internal"


EXIT_OK = 0
EXIT_TERMINAL = 2
EXIT_INTERNAL = 3
EXIT_TRANSIENT = 75
EXIT_SIGTERM = 128 + signal.SIGTERM
EXIT_CODES: Mapping[ErrorKind, int] = {
    ErrorKind.TERMINAL: EXIT_TERMINAL,
    ErrorKind.TRANSIENT: EXIT_TRANSIENT,
    ErrorKind.INTERNAL: EXIT_INTERNAL,
}
_MAX_MESSAGE = 4000

Classifier = Callable[[BaseException], ErrorKind | None]
"""A plugin's own mapping of third-party exceptions to a kind (None: not recognised)."""


class PluginError(Exception):
    """Root of the errors a plugin raises on purpose; the message says what to fix."""

    kind: ErrorKind = ErrorKind.TERMINAL
    """The class's kind; an instance may carry its own (e.g. a rate limit that outlasted the
    retries)."""

    @property
    def exit_code(self) -> int:
        """The process exit code for this error."""
        return EXIT_CODES[self.kind]


class TerminalError(PluginError):
    """Bad input, config or contract: the same input fails again."""

    kind = ErrorKind.TERMINAL


class TransientError(PluginError):
    """A service failed or a commit conflicted: running again unchanged may succeed."""

    kind = ErrorKind.TRANSIENT


def _sdk_kind(exc: BaseException) -> ErrorKind | None:
    try:
        from singer_sdk import exceptions as sdk
        from singer_sdk.singerlib.exceptions import SingerReadError
    except ImportError:  # pragma: no cover - every plugin of ours has singer-sdk
        return None
    if isinstance(exc, sdk.RetriableSyncError):
        return ErrorKind.TRANSIENT
    if isinstance(exc, sdk.FatalSyncError | sdk.ConfigurationError | SingerReadError):
        return ErrorKind.TERMINAL
    return None


def _network_kind(exc: BaseException) -> ErrorKind | None:
    if isinstance(exc, ConnectionError | TimeoutError):
        return ErrorKind.TRANSIENT
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with singer-sdk
        return None
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return ErrorKind.TRANSIENT
    return None


def classify(exc: BaseException, extra: Classifier | None = None) -> ErrorKind:
    """The kind of ``exc``: ours by class, then ``extra``, singer-sdk's, network errors.

    Anything not recognised is internal: an exception nobody anticipated is a bug.
    """
    if isinstance(exc, PluginError):
        return exc.kind
    for rule in (extra, _sdk_kind, _network_kind):
        kind = rule(exc) if rule is not None else None
        if kind is not None:
            return kind
    return ErrorKind.INTERNAL


def message(exc: BaseException) -> str:
    """The message of ``exc`` on one line (at most 4,000 characters)."""
    errors = getattr(exc, "errors", None)  # singer-sdk's ConfigValidationError
    text = str(exc)
    if isinstance(errors, list) and errors:
        text = f"{text}: " + "; ".join(str(e) for e in errors)
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    if len(flat) > _MAX_MESSAGE:
        flat = flat[: _MAX_MESSAGE - 3] + "..."
    return flat or type(exc).__name__


def one_line(name: str, exc: BaseException, kind: ErrorKind) -> str:
    """The single stderr line for ``exc`` (no line break inside)."""
    text = message(exc)
    if kind is ErrorKind.TRANSIENT:
        return f"{name}: error (transient, a retry may help): {text}"
    if kind is ErrorKind.INTERNAL:
        return (
            f"{name}: internal error (a bug; set LOGLEVEL=debug for the traceback): "
            f"{type(exc).__name__}: {text}"
        )
    return f"{name}: error: {text}"


def report(
    name: str,
    exc: BaseException,
    *,
    logger: logging.Logger | None = None,
    extra: Classifier | None = None,
) -> tuple[ErrorKind, int]:
    """Write the one line for ``exc`` to stderr; return its kind and exit code.

    The traceback goes to ``logger`` at DEBUG only.
    """
    kind = classify(exc, extra)
    if logger is not None and logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s failed", name, exc_info=exc)
    sys.stderr.write(one_line(name, exc, kind) + "\n")
    sys.stderr.flush()
    # A plugin's own error may carry a code of its own (a loader's failed audit exits 1 or 2).
    return kind, exc.exit_code if isinstance(exc, PluginError) else EXIT_CODES[kind]


def run_cli(
    name: str,
    main: Callable[[], object],
    *,
    logger: logging.Logger | None = None,
    extra: Classifier | None = None,
) -> None:
    """Run ``main``; any exception ends the process with one line and the convention's code.

    ``SystemExit`` passes through (click and signal handlers choose their own codes);
    ``KeyboardInterrupt`` exits 130.
    """
    try:
        main()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write(f"{name}: interrupted\n")
        sys.exit(128 + signal.SIGINT)
    except Exception as exc:  # the whole point: no exception escapes as a traceback
        _, code = report(name, exc, logger=logger, extra=extra)
        sys.exit(code)


def exit_after_signal(signum: int) -> NoReturn:
    """End the process as the convention says for signal ``signum`` (143 for SIGTERM)."""
    sys.exit(128 + signum)
