"""Errors raised by tap-gdrive-csv, each naming what went wrong and how to fix it.

Every error the user can act on derives from :class:`TapGDriveCsvError`; the console script
prints those as one line without a traceback and exits with code 1. ``transient`` tells a
caller whether running again unchanged may help (a rate limit) or not (a wrong file id).
This module must never import the Drive client or the stream, so every stage can raise these.
"""

from __future__ import annotations


class TapGDriveCsvError(Exception):
    """Root of the errors this tap raises on purpose."""

    transient: bool = False


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
