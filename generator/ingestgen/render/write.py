"""Write rendered projects, or compare them with what is committed (the GitOps drift gate).

Writes only under ``projects/``; never deletes a project on its own (a stale project is reported,
and removing it is a reviewed change).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from ingestgen.render.project import RenderedFile


@dataclass
class RenderReport:
    """What a render or check found."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    diff: str = ""

    @property
    def clean(self) -> bool:
        """No drift and no stale projects."""
        return not self.drifted and not self.stale


def apply(files: list[RenderedFile], root: Path, *, check: bool, tenants_all: bool) -> RenderReport:
    """Write ``files`` (or with ``check``, only compare them) under ``root``.

    Args:
        files: rendered files with repository-relative paths.
        root: the repository root.
        check: compare only; fill ``drifted`` and a unified ``diff``.
        tenants_all: every tenant was rendered, so a project without jobs is stale.
    """
    report = RenderReport()
    diffs: list[str] = []
    for item in files:
        path = root / item.path
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == item.text:
            report.unchanged.append(item.path)
            continue
        if check:
            report.drifted.append(item.path)
            diffs.append(
                "".join(
                    difflib.unified_diff(
                        (current or "").splitlines(keepends=True),
                        item.text.splitlines(keepends=True),
                        fromfile=f"a/{item.path}" if current is not None else "/dev/null",
                        tofile=f"b/{item.path}",
                    )
                )
            )
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item.text, encoding="utf-8")
        report.written.append(item.path)
    if tenants_all:
        report.stale = _stale(root / "projects", {f.path for f in files}, root)
    report.diff = "".join(diffs)
    return report


def _stale(projects: Path, rendered: set[str], root: Path) -> list[str]:
    """Rendered-kind files under ``projects/`` that no job or runner config renders any more."""
    if not projects.is_dir():
        return []
    candidates = list(projects.glob("*/meltano.yml"))
    workspace = projects / "_dagster"
    if workspace.is_dir():
        candidates += [
            p
            for p in workspace.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
        ]
    relative = (p.relative_to(root).as_posix() for p in candidates)
    return sorted(path for path in relative if path not in rendered)
