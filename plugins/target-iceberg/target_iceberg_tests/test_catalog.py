"""Catalog settings follow pyiceberg's conventions; the embedded SQLite catalog is the default."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from pyiceberg.catalog import load_catalog

from target_iceberg.catalog import flat_properties
from target_iceberg.target import TargetIceberg

from .conftest import messages, records, schema_msg

TEXT = messages(schema_msg("nums", {"id": {"type": "integer"}}), *records("nums", [{"id": 7}]))


def _run(config: dict[str, object]) -> None:
    target = TargetIceberg(config={"namespace": "acme", **config})
    with redirect_stdout(io.StringIO()):
        target.process_lines(io.StringIO(TEXT))
        target.process_endofpipe()


@pytest.fixture
def no_pyiceberg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("PYICEBERG_HOME", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_embedded_default_when_nothing_is_configured(no_pyiceberg_config: Path) -> None:
    _run({})
    lake = no_pyiceberg_config / ".lake"
    assert (lake / "catalog.db").is_file()
    catalog = load_catalog(
        "default",
        type="sql",
        uri=f"sqlite:///{lake / 'catalog.db'}",
        warehouse=(lake / "warehouse").as_uri(),
    )
    assert catalog.load_table("acme.nums").scan().to_arrow().to_pylist() == [{"id": 7}]
    assert list((lake / "warehouse").rglob("*.parquet"))


def test_pyiceberg_environment_variables(
    no_pyiceberg_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = tmp_path / "elsewhere"
    (where / "wh").mkdir(parents=True)
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__TYPE", "sql")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__URI", f"sqlite:///{where / 'c.db'}")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__WAREHOUSE", (where / "wh").as_uri())
    _run({"catalog_name": "lake"})
    assert not (no_pyiceberg_config / ".lake").exists()
    # (pyiceberg's own load_catalog read the environment when it was imported)
    catalog = load_catalog("lake", type="sql", uri=f"sqlite:///{where / 'c.db'}")
    assert catalog.load_table("acme.nums").scan().to_arrow().num_rows == 1


def test_pyiceberg_yaml(no_pyiceberg_config: Path, tmp_path: Path) -> None:
    where = tmp_path / "yaml-lake"
    (where / "wh").mkdir(parents=True)
    (tmp_path / "home" / ".pyiceberg.yaml").write_text(
        "catalog:\n"
        "  team:\n"
        "    type: sql\n"
        f"    uri: sqlite:///{where / 'c.db'}\n"
        f"    warehouse: {(where / 'wh').as_uri()}\n"
    )
    _run({"catalog_name": "team"})
    catalog = load_catalog("team", type="sql", uri=f"sqlite:///{where / 'c.db'}")
    assert catalog.load_table("acme.nums").scan().to_arrow().num_rows == 1


def test_flat_settings(no_pyiceberg_config: Path, tmp_path: Path) -> None:
    where = tmp_path / "flat"
    (where / "wh").mkdir(parents=True)
    _run({"catalog_uri": f"sqlite:///{where / 'c.db'}", "warehouse": (where / "wh").as_uri()})
    catalog = load_catalog("default", type="sql", uri=f"sqlite:///{where / 'c.db'}")
    assert catalog.load_table("acme.nums").scan().to_arrow().num_rows == 1


def test_properties_meltano_nested_by_their_dots_are_flattened_again() -> None:
    nested = {"type": "rest", "s3": {"endpoint": "http://s3", "path-style-access": "true"}}
    assert flat_properties(nested) == {
        "type": "rest",
        "s3.endpoint": "http://s3",
        "s3.path-style-access": "true",
    }
