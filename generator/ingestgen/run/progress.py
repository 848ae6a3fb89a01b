"""What a person sees while a job runs.

Meltano's (redacted) log lines and, on a terminal, one progress line kept at the bottom with
the phase, elapsed time, records and throughput.

Progress comes from what the plugins already log: singer-sdk's ``METRIC`` record counters (the
tap's, per stream), the loader's commit lines and Meltano's phase messages. It is display only:
nothing here decides an outcome, and lines reach this module already redacted.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import TextIO

_METRIC = re.compile(r"METRIC: (\{.*\})\s*(?:\S+=.*)?$")
_COMMITTED = re.compile(r"committed (\S+): snapshot \d+")
_PHASES = [
    (re.compile(r"Installing (extractor|loader)"), "installing plugins"),
    (re.compile(r"Running catalog discovery"), "discovering streams"),
    (re.compile(r"Beginning (?:full_table|incremental|log_based)? ?sync of"), "extracting"),
    (re.compile(r"\brun \S+ into namespace\b"), "loading"),
    (re.compile(r"\bcommitted \S+: snapshot\b"), "committing"),
    (re.compile(r"\brun summary: "), "finishing"),
]


class Progress:
    """Counts records and notes the phase from Meltano's output lines."""

    def __init__(self, label: str, streams: list[str]) -> None:
        self.label = label
        self.streams = streams
        self.phase = "starting"
        self.records: dict[str, int] = {}
        self.committed: set[str] = set()
        self.started = time.monotonic()
        self._extract_started: float | None = None

    def feed(self, line: str) -> None:
        """Update from one output line."""
        for pattern, phase in _PHASES:
            if pattern.search(line):
                self.phase = phase
                if phase == "extracting" and self._extract_started is None:
                    self._extract_started = time.monotonic()
        committed = _COMMITTED.search(line)
        if committed:
            self.committed.add(committed.group(1))
        metric = _METRIC.search(line)
        if metric:
            self._metric(metric.group(1))

    def _metric(self, text: str) -> None:
        try:
            point = json.loads(text)
        except ValueError:
            return
        if point.get("metric") != "record_count" or point.get("type") != "counter":
            return
        stream = str((point.get("tags") or {}).get("stream", "?"))
        # singer-sdk counters log the increment since their last report.
        self.records[stream] = self.records.get(stream, 0) + int(point.get("value") or 0)

    @property
    def total_records(self) -> int:
        """Records the tap reported so far."""
        return sum(self.records.values())

    def rate(self) -> float:
        """Records per second since extraction started."""
        since = self._extract_started or self.started
        return self.total_records / max(time.monotonic() - since, 1e-3)

    def line(self) -> str:
        """The progress line."""
        elapsed = int(time.monotonic() - self.started)
        parts = [self.label, f"{elapsed // 60:02d}:{elapsed % 60:02d}", self.phase]
        if self.records:
            parts.append(f"{self.total_records:,} records read ({self.rate():,.0f}/s)")
        if self.committed:
            parts.append(f"committed {len(self.committed)}/{len(self.streams)} streams")
        return "  ".join(parts)


class Console:
    """Writes log lines to ``out``; on a terminal, keeps the progress line under them."""

    def __init__(
        self, out: TextIO, progress: Progress, *, tty: bool | None = None, tick_s: float = 1.0
    ) -> None:
        self.out = out
        self.tick_s = tick_s
        self.progress = progress
        self.tty = out.isatty() if tty is None else tty
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Console:
        if self.tty:
            # Elapsed time moves even while the plugins are quiet (discovery, commits).
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        if self.tty:
            with self._lock:
                self.out.write("\r\x1b[K")
                self.out.flush()

    def line(self, text: str) -> None:
        """Show one (already redacted) log line."""
        self.progress.feed(text)
        with self._lock:
            if self.tty:
                self.out.write(f"\r\x1b[K{text}\n{self.progress.line()}")
            else:
                self.out.write(text + "\n")
            self.out.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_s):
            with self._lock:
                self.out.write(f"\r\x1b[K{self.progress.line()}")
                self.out.flush()
