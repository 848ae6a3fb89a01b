"""A repository where real runs happened: the data the report and the live plan read.

Two tenants in a git repository, rendered and committed, then `ingestgen run` for real on the
embedded catalog: acme's demo job twice (50 rows, then nothing new), a job whose file has two bad
rows (23 landed, 2 quarantined), a job whose file is missing (a failed run), and initech's demo
job. Built once per session (about 100 CPU seconds: one `meltano install` and five runs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingestgen.meltano.tool import environment, executable

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "configs" / "acme" / "data"
SPEC = "specs/gdrive_csv/v1.0/deals_daily.yaml"


def job(tenant: str, files: list[str], folder: str) -> str:
    listed = "\n".join(f"    - {{file_id: {f}, object: deals_daily}}" for f in files)
    return (
        f"tenant_id: {tenant}\nsource:\n  type: gdrive_csv\n  local_folder: {folder}\n"
        f"  files:\n{listed}\ntarget:\n  type: iceberg\n  catalog: embedded\n"
        f"asset_definition: {SPEC}\n"
    )


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENLINEAGE", "OPENMETADATA"))}
    return subprocess.run(
        [str(BIN / "ingestgen"), *args],
        cwd=root,
        env=environment(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


@dataclass(frozen=True)
class Landed:
    """The repository and the records its runs wrote, in run order."""

    root: Path
    records: list[dict[str, Any]]


@pytest.fixture(scope="session")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Landed:
    root = tmp_path_factory.mktemp("landed") / "repo"
    root.mkdir()
    for name in ("registry", "specs", "templates"):
        shutil.copytree(REPO / name, root / name)
    (root / "plugins").symlink_to(REPO / "plugins")
    # Each tenant's files live in its own data/<tenant>/ folder (the path rule).
    shutil.copytree(DATA, root / "data" / "acme" / "good")
    shutil.copytree(DATA, root / "data" / "initech" / "good")
    rows = (DATA / "deals_2026_11_24.csv").read_text().splitlines()
    # Two rows break the contract: a deal id that is no number, a date that is no date.
    rows[3] = "not-a-number" + rows[3][rows[3].index(",") :]
    rows[5] = rows[5].replace("2026-11-24", "24/11/2026", 1)
    (root / "data" / "acme" / "bad").mkdir()
    (root / "data" / "acme" / "bad" / "deals_bad.csv").write_text("\n".join(rows) + "\n")
    good = ["deals_2026_11_24.csv", "deals_2026_11_25.csv"]
    jobs = {
        "acme/deals_daily": job("acme", good, "data/acme/good"),
        "acme/bad_rows": job("acme", ["deals_bad.csv"], "data/acme/bad"),
        "acme/missing_file": job("acme", ["no_such_file.csv"], "data/acme/good"),
        "initech/deals_daily": job("initech", good[:1], "data/initech/good"),
    }
    for name, text in jobs.items():
        path = root / "configs" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "projects").mkdir()
    rendered = cli(root, "render")
    assert rendered.returncode == 0, rendered.stderr
    (root / ".gitignore").write_text("projects/*/.meltano/\nprojects/*/.lake/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    _install_once(root, "acme", "initech")
    records = []
    for name, code in (
        ("acme/deals_daily", 0),
        ("acme/deals_daily", 0),
        ("acme/bad_rows", 1),
        ("acme/missing_file", 2),
        ("initech/deals_daily", 0),
    ):
        done = cli(root, "run", f"configs/{name}.yaml", "--output", "json")
        assert done.returncode == code, done.stderr[-3000:]
        records.append(json.loads(done.stdout))
    return Landed(root, records)


def _install_once(root: Path, first: str, *others: str) -> None:
    """`meltano install` in one project; the others use its plugin venvs.

    Every tenant's project renders the same plugins with the same pip_url, so the venvs are the
    same; sharing them saves an install per tenant and leaves the runs themselves untouched.
    """
    done = subprocess.run(
        [executable(), "install"],
        cwd=root / "projects" / first,
        env=environment(dict(os.environ)),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for tenant in others:
        meltano = root / "projects" / tenant / ".meltano"
        meltano.mkdir(parents=True, exist_ok=True)
        for kind in ("extractors", "loaders"):
            (meltano / kind).symlink_to(root / "projects" / first / ".meltano" / kind)
