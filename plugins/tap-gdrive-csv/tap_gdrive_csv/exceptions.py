"""Errors raised by tap-gdrive-csv, each naming what went wrong and how to fix it.

Every error the user can act on derives from :class:`TapGDriveCsvError`; the console script
prints those as one line without a traceback and exits with the plugins' convention
(`plugin_errors`): 2 when the same run would fail again (a wrong file id, a bad setting), 75
when ``transient`` says running again unchanged may help (a rate limit, Drive unavailable).
This module must never import the Drive client or the stream, so every stage can raise these.
"""

from __future__ import annotations

from plugin_errors import ErrorKind


class TapGDriveCsvError(Exception):
    """Root of the errors this tap raises on purpose."""

    transient: bool = False


def error_kind(exc: BaseException) -> ErrorKind | None:
    """The convention's kind of one of this tap's errors (None for any other exception)."""
    if isinstance(exc, TapGDriveCsvError):
        return ErrorKind.TRANSIENT if exc.transient else ErrorKind.TERMINAL
    return None


class ConfigError(TapGDriveCsvError):
    """A setting is missing, contradictory or malformed."""


class SourceFileError(TapGDriveCsvError):
    """A configured file cannot be listed, read or parsed."""

    def __init__(self, message: str, *, file_id: str, transient: bool = False) -> None:
        super().__init__(message)
        self.file_id = file_id
        self.transient = transient


class FileNotFoundInSourceError(SourceFileError):
    """The file id names no file the tap can see."""


class AccessDeniedError(SourceFileError):
    """The account the tap authenticates as may not read the file."""


class AuthError(TapGDriveCsvError):
    """Google rejected the credentials, or no token could be minted."""


class HeaderMismatchError(SourceFileError):
    """A file's header does not match its object's other files or the catalog."""


class CsvFormatError(SourceFileError):
    """The file is not a CSV the configured options can parse."""
