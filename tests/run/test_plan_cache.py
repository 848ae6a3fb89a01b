"""A run's plan skips validation and the render check only while nothing it reads has changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingestgen.errors import ConfigError
from ingestgen.render import repository
from ingestgen.run import plan_cache
from ingestgen.run.plan import RenderDriftError, plan

REPO = Path(__file__).resolve().parents[2]
UNCHANGED = "(repository unchanged since it was checked)"
JOB = """\
tenant_id: acme
source:
  type: gdrive_csv
  local_folder: configs/acme/data
  files:
    - {file_id: deals_2026_11_24.csv, object: deals_daily}
target:
  type: iceberg
  catalog: embedded
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""


@pytest.fixture
def job_file(sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INGESTGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("INGESTGEN_NO_CACHE", raising=False)
    shutil.copytree(REPO / "configs" / "acme" / "data", sandbox / "configs" / "acme" / "data")
    path = sandbox / "configs" / "acme" / "deals.yaml"
    path.write_text(JOB)
    repository.render(sandbox, [path])
    return path


def test_an_unchanged_repository_is_planned_from_the_cache(sandbox: Path, job_file: Path) -> None:
    first = plan(sandbox, job_file)
    second = plan(sandbox, job_file)
    assert UNCHANGED not in first.rendered and UNCHANGED in second.rendered
    assert (second.tenant, second.job.name, second.streams) == ("acme", "deals", ["deals_daily"])
    assert (second.source_type, second.redaction) == (first.source_type, first.redaction)
    assert second.state_id == first.state_id


def test_an_edited_job_file_is_validated_again(sandbox: Path, job_file: Path) -> None:
    plan(sandbox, job_file)
    job_file.write_text(JOB.replace("catalog: embedded", "catalgo: embedded"))
    with pytest.raises(ConfigError, match="catalgo"):
        plan(sandbox, job_file)


def test_a_hand_edited_project_is_still_drift(sandbox: Path, job_file: Path) -> None:
    plan(sandbox, job_file)
    project = sandbox / "projects" / "acme" / "meltano.yml"
    project.write_text(project.read_text() + "# a hand edit\n")
    with pytest.raises(RenderDriftError, match="differs from a fresh render"):
        plan(sandbox, job_file)


def test_a_registry_change_that_changes_the_render_is_drift(sandbox: Path, job_file: Path) -> None:
    plan(sandbox, job_file)
    registry = sandbox / "registry" / "templates" / "gdrive_csv.yaml"
    text = registry.read_text()
    assert "timeout_seconds: 3600" in text
    registry.write_text(text.replace("timeout_seconds: 3600", "timeout_seconds: 1800", 1))
    with pytest.raises(RenderDriftError):
        plan(sandbox, job_file)


def test_the_cache_can_be_turned_off(
    sandbox: Path, job_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan(sandbox, job_file)
    monkeypatch.setenv("INGESTGEN_NO_CACHE", "1")
    assert UNCHANGED not in plan(sandbox, job_file).rendered


def test_a_project_gaining_its_working_state_is_still_unchanged(
    sandbox: Path, job_file: Path
) -> None:
    # A first run creates .meltano/ and .lake/ in the project, which moves the project folder's
    # own times: the next run still plans from the cache.
    plan(sandbox, job_file)
    project = sandbox / "projects" / "acme"
    (project / ".meltano" / "run").mkdir(parents=True)
    (project / ".lake").mkdir()
    (project / ".lake" / "catalog.db").write_bytes(b"x")
    assert UNCHANGED in plan(sandbox, job_file).rendered


def test_a_new_file_beside_a_project_is_planned_again(sandbox: Path, job_file: Path) -> None:
    plan(sandbox, job_file)
    (sandbox / "projects" / "acme" / "extra.yml").write_text("plugins: {}\n")
    assert UNCHANGED not in plan(sandbox, job_file).rendered


def test_the_digest_covers_the_code_of_every_plugin_of_ours() -> None:
    # The render asks each of our plugins what it declares: a plugin whose code the digest
    # leaves out could change a render while the cache says nothing changed.
    inits = (REPO / "plugins").glob("*/*/__init__.py")
    packages = {i.parent.name for i in inits if not i.parent.name.endswith("tests")}
    assert packages and packages <= set(plan_cache.CODE), packages - set(plan_cache.CODE)
