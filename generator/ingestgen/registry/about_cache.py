"""A cache of our plugins' ``--about`` output, keyed on everything that output is made from.

A full ``ingestgen render`` asks each of our plugins for its settings (`plugin_settings`); each
answer costs the plugin's start-up (a second or more of CPU, about 3.5 s for the three). The
answer depends only on the code that runs, so it is kept under a key that hashes that code:

- the console script (its resolved path and its bytes) and the Python version;
- every distribution installed in the environment (name and version): an SDK upgrade is a new key;
- the bytes of every file of every editable (source-folder) distribution but ingestgen's own
  (which plugins never import): how our plugins and their shared code are installed, so an edit
  to a plugin is a new key.

A changed plugin is therefore asked again, and ``render --check`` reports exactly the drift it
reported when every render asked. Only a console script of this interpreter's environment is
cached (another one's environment cannot be read from here). Entries are JSON files in
``$INGESTGEN_CACHE_DIR`` (default ``$XDG_CACHE_HOME/ingestgen``, else ``~/.cache/ingestgen``),
written atomically; an unreadable or malformed entry is ignored and replaced.
``INGESTGEN_NO_CACHE=1`` turns the cache off. Never stores anything but the plugin's answer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ingestgen.paths import cache_folder

FOLDER = "plugin-about"
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}


def cache_dir() -> Path | None:
    """Where entries live, or None when ``INGESTGEN_NO_CACHE`` is set."""
    return cache_folder(FOLDER)


def _skipped(part: str) -> bool:
    # Caches, build metadata and hidden working state: not code a plugin runs.
    return part in _SKIPPED_PARTS or part.endswith(".egg-info") or part.startswith(".")


def source_digest(folders: Iterable[Path]) -> str:
    """A hash of every file's path and bytes under ``folders`` (caches and build metadata aside)."""
    digest = hashlib.sha256()
    for folder in sorted(set(folders)):
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file() and not any(_skipped(part) for part in p.relative_to(folder).parts)
        )
        digest.update(f"folder {folder}\n".encode())
        for path in files:
            with contextlib.suppress(OSError):
                data = path.read_bytes()
                digest.update(f"{path.relative_to(folder).as_posix()} {len(data)}\n".encode())
                digest.update(data)
    return digest.hexdigest()


@functools.cache
def environment_digest() -> str:
    """A hash of this environment: distributions with versions, and editable sources' bytes."""
    names: list[str] = []
    editable: list[Path] = []
    for dist in metadata.distributions():
        names.append(f"{dist.metadata['Name']}=={dist.version}")
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            info = json.loads(dist.read_text("direct_url.json") or "null")
            url = urlparse(info["url"])
            # ingestgen itself (the repository) is left out: a plugin never imports it.
            own = dist.metadata["Name"] == "ingestgen"
            if info.get("dir_info", {}).get("editable") and url.scheme == "file" and not own:
                editable.append(Path(unquote(url.path)))
    digest = hashlib.sha256(sys.version.encode())
    digest.update("\n".join(sorted(names)).encode())
    digest.update(source_digest(p for p in editable if p.is_dir()).encode())
    return digest.hexdigest()


def key(executable: str) -> str | None:
    """The cache key of ``executable``'s answer, or None (not a console script of this env)."""
    path = Path(executable)
    if path.parent != Path(sys.executable).parent:
        return None
    try:
        script = path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(f"{path.resolve()}\n".encode())
    digest.update(script)
    digest.update(environment_digest().encode())
    return digest.hexdigest()


def read(executable: str) -> dict[str, Any] | None:
    """The cached answer of ``executable``, if there is a sound one."""
    folder, name = cache_dir(), key(executable)
    if folder is None or name is None:
        return None
    try:
        entry = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("executable") != executable:
        return None
    about = entry.get("about")
    return about if isinstance(about, dict) else None


def write(executable: str, about: dict[str, Any]) -> None:
    """Keep ``about`` as ``executable``'s answer (best effort: a read-only cache is no error)."""
    folder, name = cache_dir(), key(executable)
    if folder is None or name is None:
        return
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"executable": executable, "about": about})
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, suffix=".tmp", delete=False
        ) as handle:
            handle.write(text)
        Path(handle.name).replace(folder / f"{name}.json")
