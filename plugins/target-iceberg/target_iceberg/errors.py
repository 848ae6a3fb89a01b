"""Errors of the loader. Each message says what to fix: the setting, the file or the value.

`LoaderError` is the root, a `plugin_errors.PluginError`: the CLI prints its message as one
line without a traceback and exits with the convention's code (2 terminal, 75 transient; see
the README). A subclass sets ``terminal = False`` when retrying unchanged may help (a commit
conflict, a service that did not answer). `loader_kind` names the kind of the third-party
errors the loader meets (catalog, storage).
"""

from __future__ import annotations

import errno
from typing import Any, ClassVar

from plugin_errors import ErrorKind, PluginError


class LoaderError(PluginError):
    """Root of target-iceberg's errors; the message is meant for the user."""

    terminal: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = ErrorKind.TERMINAL if cls.terminal else ErrorKind.TRANSIENT


class ConfigError(LoaderError):
    """A setting is missing or invalid; the message names the setting and the valid values."""


class ContractError(LoaderError):
    """The asset spec or a Singer SCHEMA cannot be turned into a table contract."""


class EvolutionError(LoaderError):
    """The table's schema cannot legally become the contract's schema; nothing was written."""


class RejectThresholdError(LoaderError):
    """Too many records broke the contract; the run failed and nothing was committed."""


class StreamError(LoaderError):
    """The Singer stream itself is broken (not one record): nothing of the run is committed.

    For example a line that is not JSON, two streams landing in one table, a BATCH message
    naming a file that does not exist.
    """


class TapStoppedError(LoaderError):
    """The input ended with records after the tap's last STATE: the tap stopped mid-stream.

    Nothing is committed: those records are covered by no bookmark, so the state Meltano keeps
    would make the next run send them again. Running again helps (the tap resumes).
    """

    terminal = False


class StorageUnavailableError(LoaderError):
    """The object store (S3) did not answer or failed a request; a retry may succeed."""

    terminal = False


class StorageFullError(LoaderError):
    """A local disk the run writes to is full; freeing space (or moving it) helps."""

    terminal = False


class SpoolFullError(LoaderError):
    """The spool folder ran out of space; nothing was committed. Free space or move it."""

    terminal = False


class CatalogRequestError(LoaderError):
    """The catalog server refused a request; the message carries the server's own reason."""


class CatalogUnavailableError(CatalogRequestError):
    """The server did not answer, was overloaded or failed (5xx); a retry may succeed.

    Defined here, not in `target_iceberg.rest`: opening a SQL catalog names it too, without
    importing the REST client.
    """

    terminal = False


class CommitError(LoaderError):
    """The catalog refused the commit (e.g. a concurrent change); re-running is safe."""

    terminal = False


class AuditFailedError(LoaderError):
    """An audit check failed: main is untouched and the audit branch is kept as evidence.

    Exits with the job's ``audit.on_fail`` code (1 or 2), not the terminal kind's 2 alone.
    """

    def __init__(self, text: str, *, exit_code: int = 2) -> None:
        super().__init__(text)
        self._exit_code = exit_code

    @property
    def exit_code(self) -> int:
        """The job's ``audit.on_fail``."""
        return self._exit_code


_TRANSIENT_NAMES = frozenset(
    {
        # pyiceberg: the catalog service failed or a concurrent commit won.
        "CommitFailedException",
        "CommitStateUnknownException",
        "ServiceUnavailableError",
        "ServerError",
        "TooManyRequestsError",
        "AuthorizationExpiredError",
        "WaitingForLockException",
        # SQLAlchemy: the SQLite catalog is locked or its file cannot be opened right now.
        "OperationalError",
    }
)
_TERMINAL_NAMES = frozenset(
    {"BadRequestError", "UnauthorizedError", "ForbiddenError", "OAuthError", "ValidationError"}
)
_TERMINAL_OS = (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)


def loader_kind(exc: BaseException) -> ErrorKind | None:
    """The kind of a catalog or storage error; None for anything else.

    Matched by class name so that optional catalog backends need not be importable.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _TRANSIENT_NAMES:
        return ErrorKind.TRANSIENT
    if names & _TERMINAL_NAMES and "pyiceberg" in type(exc).__module__:
        return ErrorKind.TERMINAL
    if isinstance(exc, _TERMINAL_OS):
        return ErrorKind.TERMINAL
    if isinstance(exc, OSError) and (
        exc.errno in (errno.ENOSPC, errno.EDQUOT) or exc.errno is None
    ):
        # Disk full, or an object store that failed mid-request (pyarrow raises OSError).
        return ErrorKind.TRANSIENT
    return None
