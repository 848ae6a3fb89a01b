"""The hostile-config harness: a bad repository through `validate` and `render`, outcomes asserted.

A case writes files into a sandbox repository (see tests/conftest.py), then `hostile` runs
``ingestgen validate`` on the job and ``ingestgen render`` on the whole repository, in process,
and asserts for both: the exit code, the message fragments, no traceback, a short output that
quotes no foreign content, and the file tree: unchanged when refused, changed only under
``projects/<tenant>/`` when accepted. It records the trust report's row, with the CPU time and
peak Python memory of the two commands as figures (recorded, never asserted).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from ingestgen.cli.console import cli

GOOD = (Path(__file__).parents[1] / "generator" / "good_job.yaml").read_text().split("\n", 1)[1]
# Longest output a refused config may print: a few located lines, never a value in full.
MAX_OUTPUT = 2_000

Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One hostile input and what must come of it."""

    category: str
    case: str
    job: str | bytes | Setup
    """The job file configs/acme/job.yaml (text or bytes), or a function preparing the sandbox."""
    expect: tuple[str, ...] = ()
    """Fragments of stderr, e.g. the located message."""
    code: int = 2
    absent: tuple[str, ...] = ()
    """Text that must appear in no output (content of a file that is not a spec)."""
    job_path: str = "configs/acme/job.yaml"


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``root`` (links not followed) with what would show a write."""
    out: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("plugins"):
            continue
        if path.is_symlink():
            out[rel] = ("link", str(path.readlink()))
        elif path.is_file():
            stat = path.stat()
            out[rel] = ("file", stat.st_size, stat.st_mtime_ns)
        else:
            out[rel] = ("dir",)
    return out


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


def _assert_clean(result: Result, case: Case, what: str) -> None:
    output = result.stdout + result.stderr
    assert result.exit_code == case.code, f"{what}: exit {result.exit_code}\n{output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{what}: raised {result.exception!r}"
    )
    assert "Traceback" not in output and "RecursionError" not in output
    if case.code:
        assert len(result.stderr) <= MAX_OUTPUT, f"{what}: {len(result.stderr)} characters"
    for fragment in case.expect:
        assert fragment in result.stderr, f"{what}: {fragment!r} not in:\n{result.stderr}"
    for secret in case.absent:
        assert secret not in output, f"{what} printed {secret!r}"


def run_case(case: Case, sandbox: Path, record: Callable[[str, object], None]) -> Path:
    """Prepare ``case`` in ``sandbox``, validate, render, assert; record the report's row."""
    record("category", case.category)
    record("case", case.case)
    job = sandbox / case.job_path
    job.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(case.job, str):
        job.write_text(case.job, encoding="utf-8")
    elif isinstance(case.job, bytes):
        job.write_bytes(case.job)
    else:
        case.job(sandbox)
    before = tree(sandbox)
    tracemalloc.start()
    start = time.process_time()
    validated = _invoke(["validate", "--root", str(sandbox), str(job)])
    rendered = _invoke(["render", "--root", str(sandbox)])
    seconds = time.process_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    after = tree(sandbox)
    _assert_clean(validated, case, "validate")
    _assert_clean(rendered, case, "render")
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if case.code:
        assert changed == [], f"a refused config changed the tree: {changed}"
        outcome = f"exit {case.code}, located message, nothing written, no traceback"
        if case.absent:
            outcome += ", the value or foreign content never printed"
    else:
        assert changed, "an accepted config rendered nothing"
        tenant = case.job_path.split("/")[1]
        assert all(k.startswith(f"projects/{tenant}") for k in changed), changed
        outcome = f"exit 0, value kept verbatim, writes only under projects/{tenant}/"
    record("outcome", outcome)
    record("figures", f"{seconds:.2f} s CPU, {peak / 2**20:.1f} MiB peak (validate + render)")
    return sandbox
