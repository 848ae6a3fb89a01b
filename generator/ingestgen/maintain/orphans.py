"""Find and remove a table's orphan files: under its location, referenced by nothing, old.

Referenced: the current metadata file and those in its log, statistics files, and for every
snapshot that stays, its manifest list, its manifests and every data or delete file live in
them. A file a manifest lists as deleted belongs to the snapshots before it: if one of those
stays, its own manifests list the file as live; if none does, nothing references it. A file
under the table's location that is none of these and older than the safety window is an orphan.
Files under another table's location nested inside this one are never looked at, and nothing
outside the table's location is ever listed or deleted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from pyarrow.fs import FileSelector, FileType
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import ManifestFile
from pyiceberg.table import Table


@dataclass(frozen=True)
class Orphan:
    """An unreferenced file."""

    location: str
    size: int
    modified: dt.datetime


def referenced(table: Table, snapshot_ids: Iterable[int]) -> set[str]:
    """Paths (scheme left off) of every file the table's metadata and these snapshots use."""
    metadata = table.metadata
    paths = {table.metadata_location}
    paths.update(entry.metadata_file for entry in metadata.metadata_log)
    paths.update(s.statistics_path for s in metadata.statistics)
    paths.update(s.statistics_path for s in metadata.partition_statistics)
    manifests: dict[str, ManifestFile] = {}
    for snapshot_id in snapshot_ids:
        snapshot = metadata.snapshot_by_id(snapshot_id)
        if snapshot is None:
            continue
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            manifests.setdefault(manifest.manifest_path, manifest)
    for path, manifest in manifests.items():
        paths.add(path)
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            paths.add(entry.data_file.file_path)
    return {_bare(p) for p in paths if p}


def find_orphans(
    table: Table,
    keep: set[str],
    older_than: dt.datetime,
    skip_under: Iterable[str] = (),
) -> list[Orphan]:
    """Files under the table's location not in ``keep``, last modified before ``older_than``.

    Args:
        table: the table.
        keep: `referenced` paths.
        older_than: the safety window's start.
        skip_under: other tables' locations; files under them are theirs.
    """
    io = PyArrowFileIO(properties=dict(table.io.properties))
    scheme, netloc, root = PyArrowFileIO.parse_location(table.location())
    fs = io.fs_by_scheme(scheme, netloc)
    root = root.rstrip("/")
    others = [_bare(s).rstrip("/") + "/" for s in skip_under]
    others = [o for o in others if o.startswith(root + "/")]
    found: list[Orphan] = []
    for info in fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True)):
        if info.type != FileType.File or not info.path.startswith(root + "/"):
            continue
        if info.path in keep or any(info.path.startswith(o) for o in others):
            continue
        modified = info.mtime
        if modified is None:
            continue
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=dt.UTC)
        if modified < older_than:
            found.append(Orphan(_location(scheme, info.path), int(info.size or 0), modified))
    return sorted(found, key=lambda o: o.location)


def remove(table: Table, orphans: Iterable[Orphan]) -> None:
    """Delete the files."""
    io = PyArrowFileIO(properties=dict(table.io.properties))
    for orphan in orphans:
        io.delete(orphan.location)


def _bare(location: str) -> str:
    return PyArrowFileIO.parse_location(location)[2]


def _location(scheme: str, path: str) -> str:
    return f"file://{path}" if scheme == "file" else f"{scheme}://{path}"
