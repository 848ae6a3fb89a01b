"""Google Drive API v3 source: file metadata, blob download, Google Sheets export.

Uses only the documented read endpoints:
``GET /drive/v3/files/{id}?fields=...&supportsAllDrives=true`` (metadata),
``GET /drive/v3/files/{id}?alt=media`` (content; ``Range`` for the header), and
``GET /drive/v3/files/{id}/export?mimeType=text/csv`` (Sheets: first sheet only).
Downloads stream to a private temporary folder with their MD5 checked against Drive's.
HTTP errors become messages naming the file id and the fix. Never sends anything but GET to
Drive, so it cannot change a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import requests

from tap_gdrive_csv.auth import DRIVE_READONLY_SCOPE, TokenProvider
from tap_gdrive_csv.exceptions import (
    AccessDeniedError,
    AuthError,
    FileNotFoundInSourceError,
    SourceFileError,
)
from tap_gdrive_csv.sources.base import FileVersion, LocalCopy
from tap_gdrive_csv.transport import RATE_LIMIT_REASONS, Transport, error_reason, json_body

METADATA_FIELDS = "id,name,mimeType,modifiedTime,md5Checksum,size"
FOLDER_MIME = "application/vnd.google-apps.folder"
GOOGLE_APPS_PREFIX = "application/vnd.google-apps."
_CHUNK = 1 << 20


class DriveSource:
    """Reads CSV files and Google Sheets through the Drive API v3."""

    def __init__(self, base_url: str, tokens: TokenProvider, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.transport = transport

    def _url(self, file_id: str, suffix: str = "") -> str:
        return f"{self.base_url}/drive/v3/files/{quote(file_id, safe='')}{suffix}"

    def _get(
        self,
        url: str,
        *,
        file_id: str,
        what: str,
        params: dict[str, str],
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        renewed = False
        while True:
            auth = {"Authorization": f"Bearer {self.tokens.token()}", **(headers or {})}
            response = self.transport.request(
                "GET", url, what=f"{what} of file {file_id!r}", headers=auth, params=params,
                stream=stream,
            )
            # An expired minted token is renewed once; a given token cannot be.
            if response.status_code == 401 and not renewed and self.tokens.refresh():
                renewed = True
                response.close()
                continue
            if response.status_code >= 400:
                raise self._error(response, file_id, what)
            return response

    def describe(self, file_id: str) -> FileVersion:
        """Fetch the file's metadata and check that it can be read as CSV."""
        response = self._get(
            self._url(file_id),
            file_id=file_id,
            what="metadata",
            params={"fields": METADATA_FIELDS, "supportsAllDrives": "true"},
        )
        body = json_body(response)
        mime = str(body.get("mimeType") or "")
        version = FileVersion(
            file_id=file_id,
            name=str(body.get("name") or file_id),
            mime_type=mime,
            modified_time=str(body.get("modifiedTime") or ""),
            md5=body.get("md5Checksum") or None,
            size=int(body["size"]) if body.get("size") not in (None, "") else None,
        )
        if mime == FOLDER_MIME:
            msg = (
                f"Google Drive file {file_id!r} ({version.name}) is a folder: list the CSV "
                "files inside it in source.files, one entry per file"
            )
            raise SourceFileError(msg, file_id=file_id)
        if mime.startswith(GOOGLE_APPS_PREFIX) and not version.is_spreadsheet:
            msg = (
                f"Google Drive file {file_id!r} ({version.name}) is a {mime}, which has no CSV "
                "form: point file_id at a CSV file or a Google Sheet"
            )
            raise SourceFileError(msg, file_id=file_id)
        if not version.modified_time:
            msg = f"Drive returned no modifiedTime for file {file_id!r}: is api_base_url right?"
            raise SourceFileError(msg, file_id=file_id)
        return version

    def _content(self, version: FileVersion, headers: dict[str, str] | None = None,
                 ) -> requests.Response:
        if version.is_spreadsheet:
            return self._get(
                self._url(version.file_id, "/export"),
                file_id=version.file_id,
                what="CSV export",
                params={"mimeType": "text/csv"},
                stream=True,
            )
        return self._get(
            self._url(version.file_id),
            file_id=version.file_id,
            what="content",
            params={"alt": "media", "supportsAllDrives": "true"},
            headers=headers,
            stream=True,
        )

    def head(self, version: FileVersion, size: int) -> tuple[bytes, bool]:
        """Return the first ``size`` bytes (a ranged download; Sheets export whole)."""
        if version.size == 0:
            return b"", True  # a Range request on zero bytes is answered 416
        headers = None if version.is_spreadsheet else {"Range": f"bytes=0-{size - 1}"}
        with contextlib.closing(self._content(version, headers)) as response:
            data = bytearray()
            for chunk in response.iter_content(_CHUNK):
                data.extend(chunk)
                if len(data) > size:
                    break
        if response.status_code == 206:
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            complete = total.isdigit() and int(total) <= size
        else:
            complete = len(data) <= size
        return bytes(data[:size]), complete

    @contextlib.contextmanager
    def fetch(self, version: FileVersion) -> Iterator[LocalCopy]:
        """Download (or export) the file into a temporary folder, checking its MD5."""
        with tempfile.TemporaryDirectory(prefix="tap-gdrive-csv-") as folder:
            path = Path(folder) / "content.csv"
            digest = hashlib.md5(usedforsecurity=False)
            with contextlib.closing(self._content(version)) as response, path.open("wb") as out:
                for chunk in response.iter_content(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            md5 = digest.hexdigest()
            if version.md5 and md5 != version.md5:
                msg = (
                    f"the content of Google Drive file {version.file_id!r} ({version.name}) "
                    f"does not match its md5Checksum (got {md5}, Drive says {version.md5}): the "
                    "file probably changed during the download; run the tap again"
                )
                raise SourceFileError(msg, file_id=version.file_id, transient=True)
            yield LocalCopy(path=path, md5=md5)

    def close(self) -> None:
        """Close pooled connections."""
        self.transport.close()

    def _error(self, response: requests.Response, file_id: str, what: str) -> Exception:
        status = response.status_code
        reason, message = error_reason(response)
        detail = f"HTTP {status}{' ' + reason if reason else ''}: {message or response.reason}"
        who = self.tokens.describe()
        if status == 401:
            return AuthError(
                f"Google Drive rejected {who} while reading the {what} of file {file_id!r} "
                f"({detail}): set a current access token in TAP_GDRIVE_CSV_OAUTH_TOKEN, or use a "
                "service account key (TAP_GDRIVE_CSV_SERVICE_ACCOUNT_KEY), which the tap renews"
            )
        if status == 404:
            return FileNotFoundInSourceError(
                f"Google Drive file {file_id!r} was not found ({detail}): check the file_id in "
                f"source.files (the id after /d/ in the file's URL) and share the file with "
                f"{who}; for a file on a shared drive, add that account to the drive",
                file_id=file_id,
            )
        if status == 403 and reason in RATE_LIMIT_REASONS:
            return SourceFileError(
                f"Google Drive kept rate-limiting the {what} of file {file_id!r} ({detail}) "
                f"after {self.transport.max_retries} attempts: run later or raise max_retries",
                file_id=file_id,
                transient=True,
            )
        if status == 403 and reason == "exportSizeLimitExceeded":
            return SourceFileError(
                f"Google Sheet {file_id!r} is too large for Drive's CSV export ({detail}): "
                "save it as a CSV file in Drive and point file_id at that file",
                file_id=file_id,
            )
        if status == 403:
            return AccessDeniedError(
                f"access to the {what} of Google Drive file {file_id!r} was denied ({detail}): "
                f"share the file (Viewer is enough) with {who}, make sure viewers may download "
                f"it, and grant the token the {DRIVE_READONLY_SCOPE} scope",
                file_id=file_id,
            )
        transient = status == 429 or status >= 500
        hint = (
            f"Drive kept failing after {self.transport.max_retries} attempts: run later or "
            "raise max_retries"
            if transient
            else "check api_base_url and the file id"
        )
        return SourceFileError(
            f"could not read the {what} of Google Drive file {file_id!r} ({detail}): {hint}",
            file_id=file_id,
            transient=transient,
        )
