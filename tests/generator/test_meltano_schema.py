"""The schema check of rendered projects: entries met before are skipped, never a broken one.

`ingestgen.render.meltano_schema` remembers the plugin entries it found valid, keyed by what
Meltano's schema constrains in them (a job's ``config:`` is any mapping there). These tests take
the repository's rendered projects, check them, then break one entry in ways the schema forbids,
after its valid twin was remembered.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestgen.errors import IngestgenError
from ingestgen.render import meltano_schema
from ingestgen.render.meltano_schema import validate_meltano_yml

REPO = Path(__file__).resolve().parents[2]


def _project(tenant: str = "acme") -> dict[str, Any]:
    data = yaml.safe_load((REPO / "projects" / tenant / "meltano.yml").read_text())
    assert isinstance(data, dict)
    return data


def _job_extractor(data: dict[str, Any]) -> dict[str, Any]:
    entry = next(e for e in data["plugins"]["extractors"] if "inherit_from" in e)
    assert isinstance(entry, dict)
    return entry


def test_jobs_differing_only_where_the_schema_is_free_are_checked_once() -> None:
    meltano_schema._VALID_ENTRIES.clear()
    first = _project()
    validate_meltano_yml(first, "first")
    remembered = set(meltano_schema._VALID_ENTRIES)
    second = copy.deepcopy(first)
    entry = _job_extractor(second)
    entry["config"] = {"local_folder": "elsewhere", "anything": [1, {"x": None}]}
    entry["annotations"]["ingestgen"]["tenant"] = "another"
    validate_meltano_yml(second, "second")
    assert remembered == meltano_schema._VALID_ENTRIES


@pytest.mark.parametrize(
    ("break_it", "where"),
    [
        (lambda e: e.__setitem__("config", ["not", "a", "mapping"]), "config"),
        (lambda e: e.__setitem__("select", [1]), "select"),
        (lambda e: e["annotations"].__setitem__("ingestgen", "text"), "annotations"),
        (lambda e: e.__setitem__("name", 3), "name"),
        (lambda e: e.__setitem__("inherit_from", ["a"]), "inherit_from"),
    ],
)
def test_a_broken_entry_is_found_after_its_valid_twin(break_it: Any, where: str) -> None:
    meltano_schema._VALID_ENTRIES.clear()
    data = _project()
    validate_meltano_yml(data, "good")
    broken = copy.deepcopy(data)
    break_it(_job_extractor(broken))
    with pytest.raises(IngestgenError, match=r"projects/acme/meltano.yml does not validate") as exc:
        validate_meltano_yml(broken, "projects/acme/meltano.yml")
    assert "plugins.extractors." in str(exc.value)
    assert where in str(exc.value)
