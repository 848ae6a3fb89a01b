"""The two sides a plan compares: the base revision's rendered projects and a fresh render.

The base side is read from git without touching the working tree: ``projects/`` and ``specs/`` of
the revision are extracted into a temporary folder (the tar from ``git archive`` is unpacked with
the ``data`` filter, so no entry can land outside it). The working-tree side is the render that
``ingestgen render`` would write, held in a temporary folder too, so that both sides are read by
the same typed project view.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingestgen.errors import UserError
from ingestgen.meltano.project import PROJECTS, Project
from ingestgen.paths import spec_relpath
from ingestgen.registry.resolve import REPO
from ingestgen.render.project import RenderedFile
from ingestgen.render.workspace import WORKSPACE_DIR
from target_iceberg.contract.model import Contract
from target_iceberg.spec import AssetSpec

_GIT_TIMEOUT = 120


@dataclass(frozen=True)
class TableRef:
    """A table a job's loader writes, and the spec it keeps."""

    tenant: str
    job: str
    stream: str
    table: str
    """``<namespace>.<table>``."""
    catalog: str
    """The pyiceberg catalog name the loader writes to."""
    spec: PurePosixPath | None
    """Repository-relative spec path; None when the stream has no asset spec."""


@dataclass
class Side:
    """One side of the comparison."""

    label: str
    files: dict[str, str]
    """Rendered files (``projects/...``) by repository-relative path."""
    projects: dict[str, Project | str]
    """Each tenant's project, or why it cannot be read."""
    specs_root: Path
    """The folder holding this side's ``specs/``."""

    def tables(self) -> dict[tuple[str, str], list[TableRef]]:
        """Every table the side's loaders write, by catalog and ``<namespace>.<table>``."""
        found: dict[tuple[str, str], list[TableRef]] = {}
        for tenant, project in sorted(self.projects.items()):
            if isinstance(project, str):
                continue
            for job in project.jobs.values():
                for ref in loader_tables(tenant, job.name, job.contract.config):
                    found.setdefault((ref.catalog, ref.table), []).append(ref)
        return found

    def contract(self, spec: PurePosixPath | None) -> Contract | str | None:
        """The contract of ``spec`` on this side; a message when it cannot be read."""
        if spec is None:
            return None
        path = self.specs_root / spec
        try:
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return Contract.from_spec(AssetSpec.model_validate(data), spec.as_posix())
        except FileNotFoundError:
            return None
        except Exception as exc:
            return f"{spec} cannot be read on the {self.label} side: {type(exc).__name__}"


def loader_tables(tenant: str, job: str, config: dict[str, object]) -> list[TableRef]:
    """The tables a rendered loader config writes (its ``streams`` setting)."""
    namespace = str(config.get("namespace") or tenant)
    catalog = str(config.get("catalog_name") or "default")
    streams = config.get("streams")
    refs = []
    for stream, given in sorted(streams.items() if isinstance(streams, dict) else []):
        settings = given if isinstance(given, dict) else {}
        table = str(settings.get("table") or stream)
        name = f"{namespace}.{table}"
        refs.append(TableRef(tenant, job, str(stream), name, catalog, _spec(settings)))
    return refs


def _spec(settings: dict[str, object]) -> PurePosixPath | None:
    # The renderer writes `${MELTANO_PROJECT_ROOT}/../../specs/...`; anything else is not read.
    text = str(settings.get("asset_spec") or "")
    if not text.startswith(f"{REPO}/"):
        return None
    rel = spec_relpath(text.removeprefix(f"{REPO}/"))
    return rel if isinstance(rel, PurePosixPath) else None


def working_side(files: list[RenderedFile], root: Path, into: Path) -> Side:
    """The fresh render of the working tree, written under ``into`` only."""
    for item in files:
        path = into / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item.text, encoding="utf-8")
    return _side("working tree", into, root, {f.path: f.text for f in files})


def base_side(root: Path, rev: str, into: Path, tenants: set[str] | None) -> tuple[Side, str]:
    """``projects/`` and ``specs/`` of revision ``rev``, extracted under ``into``.

    Args:
        root: the repository (any folder inside a git work tree).
        rev: a commit, branch or tag.
        into: an empty folder.
        tenants: only these tenants' projects (and the Dagster workspace); None for all.

    Returns:
        The side and the full commit id ``rev`` names.

    Raises:
        UserError: not a git work tree, or ``rev`` names no commit.
    """
    prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
    commit = _commit(root, rev)
    tree = f"{commit}:{prefix}"
    top = set(_git(root, "ls-tree", "--name-only", tree).decode().split("\n"))
    wanted = [name for name in (PROJECTS, "specs") if name in top]
    if wanted:
        data = _git(root, "archive", "--format=tar", tree, "--", *wanted)
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(into, filter="data")
    files = {}
    for path in sorted((into / PROJECTS).glob("*/meltano.yml")) + sorted(
        (into / WORKSPACE_DIR).glob("*")
    ):
        rel = path.relative_to(into).as_posix()
        tenant = rel.split("/")[1]
        wanted_tenant = tenants is None or tenant in tenants or rel.startswith(WORKSPACE_DIR)
        if path.is_file() and wanted_tenant:
            files[rel] = path.read_text(encoding="utf-8")
    return _side(f"base {commit[:12]}", into, into, files), commit


def _side(label: str, folder: Path, specs_root: Path, files: dict[str, str]) -> Side:
    projects: dict[str, Project | str] = {}
    for rel in files:
        parts = rel.split("/")
        if len(parts) == 3 and parts[2] == "meltano.yml":
            try:
                projects[parts[1]] = Project.read(folder / PROJECTS / parts[1])
            except UserError as exc:
                projects[parts[1]] = str(exc)
    return Side(label, files, projects, specs_root)


def _commit(root: Path, rev: str) -> str:
    if rev.startswith("-") or not rev:
        raise UserError(f"--base {rev!r} is not a revision; give a commit, branch or tag")
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except UserError:
        raise UserError(
            f"--base {rev!r} names no commit of the repository at {root}; give a commit, branch "
            "or tag (e.g. HEAD, main, origin/main)"
        ) from None


def _git(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            check=False,
            timeout=_GIT_TIMEOUT,
        )
    except FileNotFoundError:
        raise UserError(
            "git is not installed; `ingestgen plan` compares with a git revision"
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        if any("not a git repository" in line for line in message):
            raise UserError(
                f"{root} is not in a git work tree; `ingestgen plan` compares the working tree "
                "with a commit, so run it in a clone of the repository"
            )
        raise UserError(f"git {args[0]} failed: {message[-1] if message else done.returncode}")
    return done.stdout
