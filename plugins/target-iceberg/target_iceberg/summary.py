"""The run summary: rows read, landed and rejected per stream, snapshots, status.

The status maps to an exit code for a runner: success 0, partial 1 (rows quarantined),
failed 2.

Written as JSON to ``run_summary_path`` when set and always logged. Never decides anything.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

Status = Literal["success", "partial", "failed", "already_committed"]


@dataclass
class StreamSummary:
    """One stream's figures."""

    table: str
    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    rejected_table: str | None = None
    snapshot_id: int | None = None
    rejected_snapshot_id: int | None = None
    files: int = 0
    bytes: int = 0
    schema_changes: list[str] = field(default_factory=list)
    sample_rejects: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunSummary:
    """The whole run."""

    run_id: str
    namespace: str
    tenant: str | None
    job: str | None
    status: Status = "success"
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    duration_s: float = 0.0
    commit_s: float = 0.0
    streams: dict[str, StreamSummary] = field(default_factory=dict)
    nessie: dict[str, str | None] | None = None
    """Nessie catalogs: ``{"branch": ..., "commit_hash": ...}`` (the run's commit, if any)."""

    @property
    def exit_code(self) -> int:
        """0 all landed (or already committed), 1 partial (rows quarantined), 2 failed."""
        return {"success": 0, "already_committed": 0, "partial": 1, "failed": 2}[self.status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["exit_code"] = self.exit_code
        data["totals"] = {
            key: sum(getattr(s, key) for s in self.streams.values())
            for key in ("rows_read", "rows_landed", "rows_rejected", "files", "bytes")
        }
        return data

    def finish(self, path: str | None) -> None:
        """Stamp the duration, log the summary and write it to ``path`` if given."""
        self.duration_s = round(time.time() - self.started_at, 3)
        text = json.dumps(self.to_dict(), indent=2, default=str)
        logger.info("run summary: %s", json.dumps(self.to_dict(), default=str))
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text + "\n", encoding="utf-8")
