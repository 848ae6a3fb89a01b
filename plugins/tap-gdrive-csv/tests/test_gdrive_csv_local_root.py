"""``local_root``: the tap re-checks at run time that its local folder stays inside the root.

The generator refuses a local folder outside the tenant's own folders at render time; these cover
what it cannot see: a project edited by hand, or a symbolic link made after the render.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_gdrive_csv.exceptions import ConfigError

Discover = Callable[[dict[str, Any]], dict[str, Any]]
FILES = [{"file_id": "deals.csv", "object": "deals"}]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the tenant's folder data/acme and a folder outside the repository."""
    root = tmp_path / "repo"
    (root / "data" / "acme").mkdir(parents=True)
    (root / "data" / "acme" / "deals.csv").write_text("deal_id\n1\n")
    (root / "projects" / "acme").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "deals.csv").write_text("secret\nroot:x:0:0\n")
    return root


def config(root: Path, folder: str) -> dict[str, Any]:
    # As Meltano hands them over: project-relative references expanded to absolute paths.
    project = root / "projects" / "acme"
    return {
        "local_folder": f"{project}/../../{folder}",
        "local_root": f"{project}/../../data/acme",
        "files": FILES,
    }


def test_a_folder_inside_the_root_is_read(repo: Path, discover: Discover) -> None:
    catalog = discover(config(repo, "data/acme"))
    assert [s["tap_stream_id"] for s in catalog["streams"]] == ["deals"]


def _link(root: Path, name: str) -> str:
    (root / name).symlink_to(root.parent / "outside", target_is_directory=True)
    return name


def _relink(root: Path) -> str:
    # The tenant folder moved away and replaced by a link: the boundary is the root as written.
    tenant = root / "data" / "acme"
    tenant.rename(root.parent / "moved")
    tenant.symlink_to(root.parent / "outside", target_is_directory=True)
    return "data/acme"


def _other(root: Path) -> str:
    (root / "data" / "globex").mkdir()
    (root / "data" / "globex" / "deals.csv").write_text("deal_id\n2\n")
    return "data/globex"


def _linked(root: Path) -> str:
    return _link(root, "data/acme/linked")


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("local folder linked out of the root", _linked),
        ("tenant folder itself a link out", _relink),
        ("local folder edited to another tenant", _other),
    ],
)
def test_a_folder_leaving_the_root_is_refused_unread(
    repo: Path,
    discover: Discover,
    record_property: Callable[[str, object], None],
    case: str,
    make: Callable[[Path], str],
) -> None:
    record_property("category", "config: paths (run-time re-check in tap-gdrive-csv)")
    record_property("case", case)
    record_property("outcome", "ConfigError naming local_root, nothing read")
    folder = make(repo)
    with pytest.raises(ConfigError, match="lies outside local_root") as info:
        discover(config(repo, folder))
    assert "secret" not in str(info.value) and "root:x" not in str(info.value)
