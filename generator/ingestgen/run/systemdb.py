"""Redact what Meltano stored about a run in its system database.

Meltano keeps each run's row in the ``runs`` table of its system database, and a failed run's
``payload`` holds the error text, including the failing plugin's stderr: a URL with a password
there would outlive the redacted log. After a run, the runner rewrites that one row through the
redactor. Only the default SQLite database (``.meltano/meltano.db``, or a ``sqlite:///`` URI in
``MELTANO_DATABASE_URI``) is handled; this module never touches other rows or tables.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

from ingestgen.meltano.project import system_database
from ingestgen.redact import Redactor


def redact_run(project: Path, environ: Mapping[str, str], run_id: str, redactor: Redactor) -> int:
    """Redact the ``payload`` of the run's rows; return how many rows changed."""
    if not redactor.enabled:
        return 0
    path = system_database(project, environ)
    if path is None or not path.exists():
        return 0
    ids = {run_id, uuid.UUID(run_id).hex}
    changed = 0
    with closing(sqlite3.connect(path, timeout=30)) as db, db:
        try:
            rows = db.execute(
                "SELECT id, payload FROM runs WHERE run_id IN (?, ?)", sorted(ids)
            ).fetchall()
        except sqlite3.OperationalError:  # no runs table: Meltano never recorded a run here
            return 0
        for row_id, payload in rows:
            if not isinstance(payload, str):
                continue
            clean = redactor.redact(payload)
            if clean != payload:
                db.execute("UPDATE runs SET payload = ? WHERE id = ?", (clean, row_id))
                changed += 1
    return changed
