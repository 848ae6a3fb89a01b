"""The contract between the stream and a file source."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"


@dataclass(frozen=True)
class FileVersion:
    """What a source says about one file at one moment (its bookmark-worthy facts)."""

    file_id: str
    name: str
    mime_type: str
    modified_time: str
    """RFC 3339 UTC timestamp, as the source reports it."""
    md5: str | None
    """MD5 of the content, when the source knows it without a download (not for Sheets)."""
    size: int | None

    @property
    def is_spreadsheet(self) -> bool:
        """Whether the file is a Google Sheet (exported as CSV rather than downloaded)."""
        return self.mime_type == SPREADSHEET_MIME


class FileSource(Protocol):
    """Reads files by id; never writes."""

    def describe(self, file_id: str) -> FileVersion:
        """Return the file's current metadata."""
        ...

    def head(self, version: FileVersion, size: int) -> tuple[bytes, bool]:
        """Return up to ``size`` leading bytes and whether they are the whole file."""
        ...

    def fetch(self, version: FileVersion) -> contextlib.AbstractContextManager[LocalCopy]:
        """Make the whole content readable on local disk for the duration of the block."""
        ...

    def close(self) -> None:
        """Release connections and temporary files."""
        ...


@dataclass(frozen=True)
class LocalCopy:
    """A file's content on local disk, and the MD5 actually read."""

    path: Path
    md5: str


def iter_chunks(path: Path, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Yield a file's bytes in chunks (for hashing without loading it whole)."""
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk
