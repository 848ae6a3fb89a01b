"""Golden files of rendered projects: one folder per case under tests/cases/.

Each case holds ``configs/`` (job files) and ``expected/`` (the projects a render must produce,
byte for byte). Regenerate after an intended change with ``pytest --update-golden`` and review
the diff like any other code change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingestgen import api

CASES = Path(__file__).parents[1] / "cases"


def rendered_files(root: Path) -> dict[str, str]:
    base = root / "projects"
    return {
        p.relative_to(base).as_posix(): p.read_text()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_render_matches_golden(case: str, sandbox: Path, update_golden: bool) -> None:
    shutil.rmtree(sandbox / "configs")
    shutil.copytree(CASES / case / "configs", sandbox / "configs")
    report = api.render(sandbox)
    assert report.clean
    got = rendered_files(sandbox)
    expected_dir = CASES / case / "expected" / "projects"
    if update_golden:
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(sandbox / "projects", expected_dir)
    expected = {
        p.relative_to(expected_dir).as_posix(): p.read_text()
        for p in sorted(expected_dir.rglob("*"))
        if p.is_file()
    }
    assert got == expected
    # Deterministic: a second render changes nothing, and --check agrees.
    again = api.render(sandbox)
    projects = sorted(u for u in again.unchanged if u.startswith("projects/"))
    assert again.written == [] and projects == sorted(f"projects/{k}" for k in got)
    assert api.render(sandbox, check=True).clean
