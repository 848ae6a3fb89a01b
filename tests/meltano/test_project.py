"""The typed view of a rendered project: inheritance, jobs, annotations, catalogs, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestgen.errors import UserError
from ingestgen.meltano.project import Execution, Project, project_dir, system_database

BASE = """
default_environment: prod
plugins:
  extractors:
  - name: tap-x
    namespace: tap_x
    settings:
    - {name: token, sensitive: true}
    - {name: url}
    config: {url: https://base, page_size: 10}
  - name: tap-x--deals
    inherit_from: tap-x
    config: {url: https://job}
    annotations:
      ingestgen:
        job: deals
        tenant: acme
        engine: singer
        execution: {timeout_seconds: 60, retries: 2, rate_limit_per_second: 5}
      other_tool: {anything: [1, 2]}
  loaders:
  - name: target-iceberg
    namespace: target_iceberg
  - name: target-iceberg--deals
    inherit_from: target-iceberg
    config:
      catalog_name: acme_embedded
      catalog_properties: {type: sql, uri: "sqlite:///${MELTANO_PROJECT_ROOT}/c.db"}
jobs:
- name: deals
  tasks:
  - tap-x--deals target-iceberg--deals
schedules:
- {name: acme_daily, job: deals, interval: "0 3 * * *"}
"""


def project(tmp_path: Path, text: str = BASE) -> Project:
    (tmp_path / "meltano.yml").write_text(text)
    return Project.read(tmp_path)


def test_a_job_knows_its_plugins_their_bases_and_its_state_id(tmp_path: Path) -> None:
    view = project(tmp_path)
    job = view.job("deals")
    assert (job.extractor.name, job.extractor.base) == ("tap-x--deals", "tap-x")
    assert (job.loader.name, job.loader.base) == ("target-iceberg--deals", "target-iceberg")
    assert job.state_id(view.default_environment) == "prod:tap-x--deals-to-target-iceberg--deals"
    assert [p.name for p in view.of_kind("loaders")] == ["target-iceberg", "target-iceberg--deals"]
    assert [(s.name, s.job, s.interval) for s in view.schedules] == [
        ("acme_daily", "deals", "0 3 * * *")
    ]


def test_inheritance_merges_config_and_keeps_the_bases_settings(tmp_path: Path) -> None:
    extractor = project(tmp_path).plugins["tap-x--deals"]
    assert extractor.config == {"url": "https://job", "page_size": 10}
    assert extractor.sensitive == {"token"}
    assert extractor.setting_env_vars("token") == {
        "TAP_X__DEALS_TOKEN",
        "TAP_X_TOKEN",  # the base's name and its namespace agree here
    }


def test_annotations_and_catalogs_are_typed(tmp_path: Path) -> None:
    view = project(tmp_path)
    annotation = view.plugins["tap-x--deals"].annotation
    assert annotation is not None
    assert (annotation.job, annotation.tenant, annotation.engine) == ("deals", "acme", "singer")
    assert annotation.execution.timeout_seconds == 60
    assert annotation.execution.retries == 2
    assert annotation.execution.retry_backoff_seconds is None
    assert annotation.execution.model_extra == {"rate_limit_per_second": 5}
    assert view.plugins["tap-x"].annotation is None
    catalog = view.job("deals").loader.catalog
    assert catalog is not None
    assert catalog.name == "acme_embedded"
    # As rendered: the view never expands a reference.
    assert catalog.properties["uri"] == "sqlite:///${MELTANO_PROJECT_ROOT}/c.db"
    assert view.plugins["target-iceberg"].catalog is None
    assert Execution().retries == 0


def test_reads_every_committed_project(repo_root: Path) -> None:
    folders = sorted(p.parent for p in (repo_root / "projects").glob("*/meltano.yml"))
    assert folders
    for folder in folders:
        view = Project.read(folder)
        assert view.jobs
        for name, job in view.jobs.items():
            assert job.extractor.annotation is not None
            assert job.extractor.annotation.job == name
            assert job.extractor.annotation.tenant == folder.name
            assert job.loader.catalog is not None


def test_installed_looks_for_the_base_plugins_venv(tmp_path: Path) -> None:
    view = project(tmp_path)
    job = view.job("deals")
    assert not view.installed(job.extractor, job.loader)
    for kind, base in (("extractors", "tap-x"), ("loaders", "target-iceberg")):
        python = tmp_path / ".meltano" / kind / base / "venv" / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.touch()
    assert view.installed(job.extractor, job.loader)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "meltano.yml does not exist; run `ingestgen render` first"),
        ("plugins: [1, 2]", "is not a project as ingestgen renders it (plugins: "),
        ("plugins: {extractors: [{name: a}, {name: a}]}", "defines plugin 'a' twice"),
        (
            "plugins: {extractors: [{name: a, inherit_from: b}]}",
            "plugin 'a' inherits from 'b', which is not a plugin of the project",
        ),
        (
            "plugins: {extractors: [{name: a, inherit_from: b}, {name: b, inherit_from: a}]}",
            "inherits back",
        ),
        (
            BASE.replace("tap-x--deals target-iceberg--deals", "tap-x--deals nope"),
            "job 'deals' is not one extractor into one loader of the project (tasks: tap-x",
        ),
        (BASE.replace("timeout_seconds: 60", "timeout_seconds: -1"), "timeout_seconds"),
        (BASE.replace("engine: singer", "engine: singr"), "engine"),
        ("{{{", "cannot be read"),
    ],
)
def test_a_file_that_is_not_a_rendered_project_says_to_render(
    tmp_path: Path, text: str | None, message: str
) -> None:
    if text is not None:
        (tmp_path / "meltano.yml").write_text(text)
    with pytest.raises(UserError, match="run `ingestgen render`") as caught:
        Project.read(tmp_path)
    assert message in str(caught.value)


def test_an_unknown_job_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"has no job 'other' \(jobs: deals\)"):
        project(tmp_path).job("other")


@pytest.mark.parametrize("tenant", ["../etc", "acme/../../x", "Acme", "", "_dagster"])
def test_project_dir_refuses_what_is_not_a_tenant_id(tmp_path: Path, tenant: str) -> None:
    with pytest.raises(UserError, match="is not a tenant id"):
        project_dir(tmp_path, tenant)
    assert project_dir(tmp_path, "acme") == tmp_path / "projects" / "acme"


def test_system_database_follows_meltano_database_uri(tmp_path: Path) -> None:
    assert system_database(tmp_path, {}) == tmp_path / ".meltano" / "meltano.db"
    relative = {"MELTANO_DATABASE_URI": "sqlite:///state/m.db"}
    assert system_database(tmp_path, relative) == tmp_path / "state" / "m.db"
    absolute = {"MELTANO_DATABASE_URI": "sqlite:////var/m.db"}
    assert system_database(tmp_path, absolute) == Path("/var/m.db")
    assert system_database(tmp_path, {"MELTANO_DATABASE_URI": "postgresql://db/m"}) is None
