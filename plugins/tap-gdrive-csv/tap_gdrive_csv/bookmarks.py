"""The per-object bookmark: for each file id, the version of the file last read whole.

Stream state looks like::

    {"files": {"<file_id>": {"modified_time": "...", "md5": "...", "name": "...", "rows": 42}}}

A file is unchanged when its modified time is the bookmarked one (and, where the source knows
the MD5 up front, so is the MD5), or when its content MD5 is the bookmarked one. Pure
functions only: reading files and writing state happen in the stream.
"""

from __future__ import annotations

from typing import Any

from tap_gdrive_csv.sources.base import FileVersion

Bookmark = dict[str, Any]


def file_bookmarks(stream_state: dict[str, Any]) -> dict[str, Bookmark]:
    """Return the per-file bookmarks, now owned by (and to be updated in) the stream state.

    They are copied first: the input state the caller passed in must not change under it.
    """
    files = stream_state.get("files")
    owned = {
        str(file_id): dict(entry)
        for file_id, entry in (files.items() if isinstance(files, dict) else ())
        if isinstance(entry, dict)
    }
    stream_state["files"] = owned
    return owned


def unchanged_by_metadata(previous: Bookmark | None, version: FileVersion) -> bool:
    """Whether the metadata alone shows the bookmarked version is still current."""
    if not previous:
        return False
    known_md5 = version.md5 is not None and previous.get("md5") is not None
    if known_md5 and previous["md5"] == version.md5:
        return True
    same_time = previous.get("modified_time") == version.modified_time
    return same_time and not (known_md5 and previous["md5"] != version.md5)


def unchanged_by_content(previous: Bookmark | None, md5: str) -> bool:
    """Whether the content read now is the content bookmarked."""
    return bool(previous) and previous.get("md5") == md5  # type: ignore[union-attr]


def make_bookmark(version: FileVersion, md5: str, rows: int | None) -> Bookmark:
    """Describe the version just read (or confirmed unchanged)."""
    entry: Bookmark = {
        "modified_time": version.modified_time,
        "md5": md5,
        "name": version.name,
    }
    if rows is not None:
        entry["rows"] = rows
    return entry
