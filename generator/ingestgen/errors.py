"""One error root for ingestgen, the user-facing subclasses, and the documented exit codes.

The CLI prints a `UserError` without a traceback (``--debug`` shows one); anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from plugin_errors import excerpt

__all__ = [
    "ConfigError",
    "DriftError",
    "ExitCode",
    "IngestgenError",
    "Problem",
    "UserError",
    "each_or_all_problems",
    "excerpt",
]

T = TypeVar("T")
R = TypeVar("R")


class ExitCode(IntEnum):
    """Exit codes of every ingestgen command (the seed's run codes, shared by the generator).

    0: success. 1: partial (``render --check`` found drift; a run landed some data). 2: hard
    failure (invalid configuration, bad usage, nothing done). 3: internal error (a bug: report it).
    """

    OK = 0
    PARTIAL = 1
    INVALID = 2
    INTERNAL = 3


class IngestgenError(Exception):
    """Root of every error ingestgen raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UserError(IngestgenError):
    """A problem the user can fix; the message says how. Printed without a traceback."""

    exit_code = ExitCode.INVALID


# Longest message, hint or key path a problem prints: a backstop for values echoed in full.
_MAX_TEXT = 400


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 12] + "... (cut)"


@dataclass(frozen=True, order=True)
class Problem:
    """One located validation problem: ``file:line key.path: message (hint)``.

    Messages quote user values with `excerpt`; whatever slips through is cut at 400 characters.
    """

    file: str
    line: int
    path: str
    message: str
    hint: str = ""

    def __post_init__(self) -> None:
        for name in ("path", "message", "hint"):
            object.__setattr__(self, name, _clip(getattr(self, name)))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        head = f"{where} {self.path}: " if self.path else f"{where}: "
        tail = f" ({self.hint})" if self.hint else ""
        return head + self.message + tail

    def as_dict(self) -> dict[str, object]:
        """JSON form for ``--output json``."""
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class ConfigError(UserError):
    """Every problem found in the given configuration, reported at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found:\n{lines}")


def each_or_all_problems(items: Iterable[T], step: Callable[[T], R]) -> list[R]:
    """Apply ``step`` to every item; if any raised `ConfigError`, raise one with all problems."""
    out: list[R] = []
    problems: list[Problem] = []
    for item in items:
        try:
            out.append(step(item))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return out


class DriftError(IngestgenError):
    """Committed rendered projects differ from a fresh render (``render --check``)."""

    exit_code = ExitCode.PARTIAL
