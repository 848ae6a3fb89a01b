"""Write run records next to the run: ``<record dir>/<run id>.json``.

The default record dir is ``projects/<tenant>/.meltano/runs/<job>/`` (Meltano's own working
area, ignored by git). Writes are atomic (temp file + rename) so a reader never sees half a
record. This module never writes outside the record dir it is given.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def default_record_dir(project: Path, job: str) -> Path:
    """Where a job's run records go when ``--record-dir`` is not given."""
    return project / ".meltano" / "runs" / job


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None if the file is missing, empty or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
