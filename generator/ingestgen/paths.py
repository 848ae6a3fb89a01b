"""Where things live in an ingestgen repository, and the rules for paths a config writes.

Asset definition rule: ``asset_definition`` is either repository-relative (``specs/...``) or the
same path under ``/app/`` (the repository's place inside the runner image, as in the seed). Both
must name a ``.yaml`` file inside the repository's ``specs/`` folder; nothing outside it is read.

Connector path rule (settings the registry lists under ``paths``, e.g. a local folder or a
glob): relative to the repository, inside the tenant's own ``configs/<tenant>/`` or
``data/<tenant>/``; never absolute, ``~``, ``$``, ``..`` or a hidden name.

Every path is also checked as it resolves on disk, symbolic links followed: a spec, a job file or
a connector path that a link takes out of its folder is refused, and its content never read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from ingestgen.errors import ConfigError, Problem, UserError, excerpt

IMAGE_ROOT = PurePosixPath("/app")
RUNNER_FILE = "runner.yaml"
TENANT_AREAS = ("configs", "data")
"""Top folders holding a folder per tenant, where a tenant's connector paths may point."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_GLOB = re.compile(r"[*?\[]")
# Entries looked at under a connector path for links that leave it (a bound on render time).
_SCAN_LIMIT = 10_000


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
    if _CONTROL.search(text):
        return "the path holds a control character"
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


def resolves_inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, every symbolic link followed, lies in ``folder``.

    ``folder`` is taken as written (build it from the resolved repository root): a folder that
    is itself a link out of the repository does not move the boundary. A link loop or an
    unreadable path counts as outside.
    """
    real = resolved(path)
    return real is not None and real.is_relative_to(folder)


def connector_path(text: str, tenant: str, root: Path) -> PurePosixPath | str:
    """A connector path setting as a repository-relative path, or a message saying why not.

    See the module docstring. The folders before a glob's first wildcard are checked on disk,
    and so is every link found under them (up to 10,000 entries are looked at).
    """
    example = f"data/{tenant}/..."
    if not text or _CONTROL.search(text):
        return "the path is empty or holds a control character"
    if "$" in text or text.startswith("~"):
        return f"'$' and '~' are not expanded; write the path from the repository, e.g. {example}"
    path = PurePosixPath(text)
    if path.is_absolute():
        return f"absolute paths are refused; write it relative to the repository, e.g. {example}"
    if ".." in path.parts:
        return f"'..' is refused; write the path from the repository root, e.g. {example}"
    if any(part.startswith(".") for part in path.parts):
        return "a path never names a hidden file or folder (.git, .meltano, ...)"
    areas = " or ".join(f"{area}/{tenant}/" for area in TENANT_AREAS)
    if len(path.parts) < 2 or path.parts[0] not in TENANT_AREAS or path.parts[1] != tenant:
        return f"a path of tenant {tenant!r} lies in {areas}, e.g. {example}"
    real_root = root.resolve()
    own = real_root / path.parts[0] / tenant
    head: list[str] = []
    for part in path.parts:
        if _GLOB.search(part):
            break
        head.append(part)
    base = real_root.joinpath(*head)
    if (base.exists() or base.is_symlink()) and (
        not resolves_inside(base, own) or _link_leaving(base, own)
    ):
        return f"a symbolic link takes the path out of {areas}; replace the link with the files"
    return path


def _link_leaving(base: Path, own: Path) -> bool:
    if not base.is_dir():
        return False
    seen = 0
    for folder, dirs, files in os.walk(base):
        for name in (*dirs, *files):
            entry = Path(folder, name)
            if entry.is_symlink() and not resolves_inside(entry, own):
                return True
            seen += 1
            if seen >= _SCAN_LIMIT:
                return False
    return False


def display(path: Path, root: Path) -> str:
    """A path as messages show it: relative to the repository when inside it."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def job_files(root: Path, selected: list[Path] | None = None) -> list[Path]:
    """Job YAML files: the selected files and folders, or every one under ``configs/``.

    ``runner.yaml`` files are orchestration configs, not jobs, and are skipped.

    Raises:
        UserError: a selected path does not exist.
        ConfigError: a file lies outside ``configs/`` once its links are followed.
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
    return inside_configs(found, root)


def inside_configs(files: set[Path], root: Path) -> list[Path]:
    """``files`` resolved, sorted; each must lie in ``configs/`` once its links are followed.

    Raises:
        ConfigError: one problem per file outside; none of them is read.
    """
    configs = root.resolve() / "configs"
    # Each file resolved once (a thousand tenants' files are three thousand resolves).
    real = {p: resolved(p) for p in files}
    outside = sorted(p for p, r in real.items() if r is None or not r.is_relative_to(configs))
    if outside:
        raise ConfigError(
            [
                Problem(
                    _lexical(p, root),
                    0,
                    "",
                    "the file lies outside configs/ (it is, or is reached through, a symbolic "
                    "link leaving it); it was not read",
                    "config files live in configs/<tenant>/; put the file itself there",
                )
                for p in outside
            ]
        )
    return sorted(r for r in real.values() if r is not None)


def resolved(path: Path) -> Path | None:
    """``path`` with every link followed; None for a link loop or an unreadable path.

    A caller that needs the resolved path as well as `resolves_inside` resolves once with this.
    """
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def _lexical(path: Path, root: Path) -> str:
    # Where the user put the file, not where a link points (that target is not shown).
    try:
        return path.absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        return excerpt(str(path))


def cache_folder(name: str) -> Path | None:
    """The cache folder ``name`` of ingestgen, or None when ``INGESTGEN_NO_CACHE`` is set.

    Under ``$INGESTGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/ingestgen``, else ``~/.cache/ingestgen``.
    """
    if os.environ.get("INGESTGEN_NO_CACHE", "") not in ("", "0"):
        return None
    if given := os.environ.get("INGESTGEN_CACHE_DIR"):
        return Path(given) / name
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ingestgen" / name
