"""Where things live in an ingestgen repository, and the rule for asset definition paths.

Asset definition rule: ``asset_definition`` is either repository-relative (``specs/...``) or the
same path under ``/app/`` (the repository's place inside the runner image, as in the seed). Both
must name a ``.yaml`` file inside the repository's ``specs/`` folder; nothing outside it is read.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ingestgen.errors import UserError

IMAGE_ROOT = PurePosixPath("/app")
RUNNER_FILE = "runner.yaml"


def find_root(start: Path | None = None) -> Path:
    """Find the repository root.

    ``--root`` wins, else ``$INGESTGEN_ROOT``, else the nearest parent of the working directory
    holding ``registry/`` and ``configs/``.

    Raises:
        UserError: no such folder; the message says how to point at one.
    """
    for given, how in ((start, "--root"), (os.environ.get("INGESTGEN_ROOT"), "INGESTGEN_ROOT")):
        if given:
            root = Path(given).resolve()
            if not (root / "registry").is_dir():
                raise UserError(
                    f"{how} {root} has no registry/ folder; point it at an ingestgen repository"
                )
            return root
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "registry").is_dir() and (folder / "configs").is_dir():
            return folder
    raise UserError(
        f"no ingestgen repository (a folder with registry/ and configs/) at or above {here}; "
        "run inside one, pass --root DIR or set INGESTGEN_ROOT"
    )


def repo_relpath(text: str, folder: str, example: str) -> PurePosixPath | str:
    """``text`` as a path inside the repository's ``folder``, or a message saying why not.

    The one rule for paths written in configs: repository-relative, or the same under ``/app/``
    (the repository's place in the runner image); either way it must stay inside ``folder``.
    """
    path = PurePosixPath(text)
    if path.is_absolute():
        if not path.is_relative_to(IMAGE_ROOT):
            return f"absolute paths must start with {IMAGE_ROOT}/{folder}/ (the image's {folder})"
        path = path.relative_to(IMAGE_ROOT)
    if ".." in path.parts or not path.parts or path.parts[0] != folder:
        return f"the path must stay inside {folder}/ (e.g. {folder}/{example})"
    return path


def spec_relpath(asset_definition: str) -> PurePosixPath | str:
    """The repository-relative path of an asset definition, or an error message saying why not."""
    path = repo_relpath(asset_definition, "specs", "gdrive_csv/v1.0/deals_daily.yaml")
    if isinstance(path, PurePosixPath) and path.suffix != ".yaml":
        return "an asset definition is a .yaml file"
    return path


def display(path: Path, root: Path) -> str:
    """A path as messages show it: relative to the repository when inside it."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def job_files(root: Path, selected: list[Path] | None = None) -> list[Path]:
    """Job YAML files: the selected files and folders, or every one under ``configs/``.

    ``runner.yaml`` files are orchestration configs, not jobs, and are skipped.
    """
    roots = selected or [root / "configs"]
    found: set[Path] = set()
    for item in roots:
        if item.is_dir():
            found.update(p for p in item.rglob("*.yaml") if p.name != RUNNER_FILE)
        elif item.exists():
            found.add(item)
        else:
            raise UserError(f"{item}: no such file or folder; give a job YAML file or a folder")
    return sorted(p.resolve() for p in found)
