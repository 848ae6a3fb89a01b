"""Local-folder mode: ``file_id`` is a file name inside ``local_folder``.

Stands in for Drive in the demo and the tests with the same semantics: the modified time is
the file's mtime (UTC, RFC 3339) and the checksum the MD5 of its bytes. Never reads a path
outside the folder, so a job YAML cannot make the tap read arbitrary files; with ``local_root``
the folder itself, links followed, must lie inside that root (the generator checks the same at
render time; this catches a hand-edited project or a link made since).
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tap_gdrive_csv.exceptions import ConfigError, FileNotFoundInSourceError
from tap_gdrive_csv.sources.base import FileVersion, LocalCopy, iter_chunks


class LocalFolderSource:
    """Reads CSV files from one folder."""

    def __init__(self, folder: str, root: str | None = None) -> None:
        self.folder = Path(folder).expanduser().resolve()
        # The root as written, '..' collapsed but links kept: a root that is itself a link out
        # of the repository must not move the boundary.
        if root is not None and not self.folder.is_relative_to(os.path.abspath(root)):  # noqa: PTH100
            msg = (
                f"local_folder {folder!r} lies outside local_root {root!r} once its symbolic "
                "links are followed: point local_folder at a folder inside local_root, or "
                "replace the link with the files"
            )
            raise ConfigError(msg)
        if not self.folder.is_dir():
            msg = (
                f"local_folder {folder!r} is not an existing folder: create it or fix the "
                "local_folder setting (TAP_GDRIVE_CSV_LOCAL_FOLDER)"
            )
            raise ConfigError(msg)

    def _path(self, file_id: str) -> Path:
        path = (self.folder / file_id).resolve()
        if not path.is_relative_to(self.folder):
            msg = (
                f"file_id {file_id!r} points outside local_folder; in local-folder mode "
                "file_id must be a file name inside the folder"
            )
            raise ConfigError(msg)
        if not path.is_file():
            msg = (
                f"file {file_id!r} was not found in local_folder {str(self.folder)!r}: check "
                "the file_id in source.files or put the file in the folder"
            )
            raise FileNotFoundInSourceError(msg, file_id=file_id)
        return path

    def describe(self, file_id: str) -> FileVersion:
        """Return the file's name, mtime and size (the MD5 is taken when it is read)."""
        path = self._path(file_id)
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        return FileVersion(
            file_id=file_id,
            name=path.name,
            mime_type=mimetypes.guess_type(path.name)[0] or "text/csv",
            modified_time=modified.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            md5=None,
            size=stat.st_size,
        )

    def head(self, version: FileVersion, size: int) -> tuple[bytes, bool]:
        """Return the first ``size`` bytes and whether that is the whole file."""
        with self._path(version.file_id).open("rb") as handle:
            data = handle.read(size + 1)
        return data[:size], len(data) <= size

    @contextlib.contextmanager
    def fetch(self, version: FileVersion) -> Iterator[LocalCopy]:
        """Yield the file in place, with the MD5 of its content."""
        path = self._path(version.file_id)
        digest = hashlib.md5(usedforsecurity=False)
        for chunk in iter_chunks(path):
            digest.update(chunk)
        yield LocalCopy(path=path, md5=digest.hexdigest())

    def close(self) -> None:
        """Nothing to release."""
