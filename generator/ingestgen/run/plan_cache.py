"""What a run's plan found the last time the repository looked exactly as it does now.

Planning a run validates the job and renders its tenant's project to compare it with the
committed one: most of ingestgen's own cost per run (README, *Per-run cost*), spent again on
every run of a repository that has not changed. The plan's facts (tenant, job, streams, source
type, redaction) are kept here under a digest of everything that plan read or could have read:

- every entry under ``configs/``, ``data/``, ``registry/``, ``templates/``, ``specs/`` and
  ``projects/`` (the committed renders; each project's working state ``.meltano/``, ``.lake/``
  and ``output/`` aside), symbolic links followed and their targets recorded: a file's path,
  size, modification and change times (the change time moves on every write, whatever the
  tool); a folder's path only (its times move when a run creates its working state in it);
- the code that validates and renders: the files of ingestgen and of each of our plugins (the
  render reads what each declares), the same way, and the name (with version) of every
  distribution installed, and the Python.

A run whose digest matches uses the facts and skips validation and the render check; any other
run plans in full, and only a plan that succeeded (job valid, render current) is kept. Entries
are JSON files under the user's cache folder (``$INGESTGEN_CACHE_DIR``, else
``$XDG_CACHE_HOME/ingestgen``, else ``~/.cache/ingestgen``), written atomically; an unreadable
one is a miss. ``INGESTGEN_NO_CACHE=1`` turns it off. Never stores a secret: the facts hold names
only.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ingestgen.paths import cache_folder

FOLDER = "run-plan"
FORMAT = "1"
AREAS = ("configs", "data", "registry", "templates", "specs", "projects")
# Every package of ours: the render asks each plugin what it declares (registry/about_cache).
CODE = (
    "ingestgen",
    "target_iceberg",
    "plugin_errors",
    "tap_gdrive_csv",
    "tap_airbyte_bridge",
    "mapper_contract",
)
_WORKING_STATE = {".meltano", ".lake", "output"}  # under projects/<tenant>/, as .gitignore says
_SKIPPED = {"__pycache__"}


@dataclass(frozen=True)
class PlanFacts:
    """What validating the job file told the plan."""

    tenant: str
    job: str
    streams: list[str]
    source_type: str
    redaction: bool


def cache_dir() -> Path | None:
    """Where entries live, or None when ``INGESTGEN_NO_CACHE`` is set."""
    return cache_folder(FOLDER)


def digest(root: Path) -> str:
    """The digest of the repository at ``root`` and of the code that plans (module docstring)."""
    out = hashlib.sha256(f"format {FORMAT}\n{sys.version}\n{sys.executable}\n".encode())
    for area in AREAS:
        _walk(out, root / area, f"{area}/", projects=area == "projects")
    for package in CODE:
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            _walk(out, Path(location), f"code {package}/", projects=False)
    # Distribution names carry their versions; where they were found does not matter (the
    # script's folder or the working directory head sys.path, depending on how Python started).
    names: set[str] = set()
    for folder in filter(None, sys.path):
        with contextlib.suppress(OSError):
            names.update(p.name for p in Path(folder).iterdir() if p.name.endswith(".dist-info"))
    out.update(f"dists {' '.join(sorted(names))}\n".encode())
    return out.hexdigest()


def _walk(out: hashlib._Hash, top: Path, label: str, *, projects: bool) -> None:
    if not top.exists():
        out.update(f"{label} absent\n".encode())
        return
    seen: set[str] = set()
    for folder, dirs, files in os.walk(top, followlinks=True):
        here = Path(folder)
        real = os.path.realpath(folder)
        if real in seen:  # a link back up: recorded once, never walked twice
            dirs[:] = []
            continue
        seen.add(real)
        depth = len(here.relative_to(top).parts)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _SKIPPED and not (projects and depth == 1 and d in _WORKING_STATE)
        )
        # A folder by its name and link only: its own times move whenever an entry in it comes
        # or goes, a project's working state included, and its entries are recorded anyway.
        for name in dirs:
            rel = (here / name).relative_to(top).as_posix()
            out.update(f"{label}{rel}/ {_link(here / name)}\n".encode())
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(top).as_posix()
            try:
                st = path.stat()
                link = _link(path)
            except OSError:
                st, link = None, "?"
            stamp = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}" if st else "-"
            out.update(f"{label}{rel} {stamp} {link}\n".encode())


def _link(path: Path) -> str:
    try:
        return str(path.readlink()) if path.is_symlink() else ""
    except OSError:
        return "?"


def _entry(folder: Path, root: Path, job_file: Path) -> Path:
    name = hashlib.sha256(f"{root.resolve()}\n{job_file.resolve()}".encode()).hexdigest()
    return folder / f"{name}.json"


def read(root: Path, job_file: Path, key: str) -> PlanFacts | None:
    """The facts kept for ``job_file`` under ``key``; None if absent, stale or unreadable."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        entry = json.loads(_entry(folder, root, job_file).read_text(encoding="utf-8"))
        if entry["key"] != key or entry["job_file"] != str(job_file.resolve()):
            return None
        return PlanFacts(**entry["facts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(root: Path, job_file: Path, key: str, facts: PlanFacts) -> None:
    """Keep ``facts`` for ``job_file`` under ``key`` (best effort: a read-only cache is fine)."""
    folder = cache_dir()
    if folder is None:
        return
    text = json.dumps({"key": key, "job_file": str(job_file.resolve()), "facts": asdict(facts)})
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, suffix=".tmp", delete=False
        ) as handle:
            handle.write(text)
        Path(handle.name).replace(_entry(folder, root, job_file))
