"""Job files that try to leave the tenant's branch or warehouse prefix: refused at render time.

Every case is a located error (``file:line target.<key>``), exit code 2, and nothing rendered.
The same rules (`target_iceberg.tenancy`) hold again in the loader at run time
(plugins/target-iceberg/target_iceberg_tests/test_guard.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ingestgen.cli.console import cli

# pytest's record_property fixture: one row of the trust report per case.
RecordProperty = Callable[[str, object], None]

JOB = """\
tenant_id: {tenant}
source:
  type: gdrive_csv
  files:
    - {{file_id: 1a2B3cGDRIVEID, object: deals_daily}}
target:
  type: iceberg
  catalog: {catalog}
{extra}asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""
TARGET_LINE = 8  # the line of `catalog:`; extra keys follow it


def _render(root: Path, text: str, tenant: str = "acme") -> tuple[int, str]:
    path = root / "configs" / tenant / "deals.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    result = CliRunner().invoke(cli, ["render", "--root", str(root), str(path)])
    return result.exit_code, result.stderr


def _job(catalog: str = "nessie", tenant: str = "acme", **target: str) -> str:
    extra = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in target.items())
    return JOB.format(tenant=tenant, catalog=catalog, extra=extra)


def test_the_seeds_job_example_is_valid_verbatim(repo_root: Path, sandbox: Path) -> None:
    example = repo_root / "configs" / "examples" / "gdrive_deals.yaml"
    data = yaml.safe_load(example.read_text())
    assert (data["target"]["branch"], data["target"]["warehouse"]) == ("acme", "s3://lake/acme/")
    (sandbox / "configs" / "examples").mkdir()
    shutil.copy(example, sandbox / "configs" / "examples" / "gdrive_deals.yaml")
    result = CliRunner().invoke(cli, ["render", "--root", str(sandbox)])
    assert result.exit_code == 0, result.stderr
    project = yaml.safe_load((sandbox / "projects" / "acme" / "meltano.yml").read_text())
    config = project["plugins"]["loaders"][1]["config"]
    assert config["catalog_properties"]["uri"] == "${NESSIE_ICEBERG_URI}/acme"
    assert config["catalog_properties"]["warehouse"] == "acme"  # Nessie's warehouse, by name
    assert config["catalog_properties"]["s3.access-key-id"] == "${ACME__S3_ACCESS_KEY_ID}"
    assert config["nessie"] == {"branch": "acme", "api_uri": "${NESSIE_URI}"}
    assert config["namespace"] == "acme"


BRANCHES = [
    ("main", "the default branch"),
    ("globex", "another tenant's branch"),
    ("acme_eu", "tenant acme_eu's branch"),
    ("acme/../main", "path syntax"),
    ("acme__x/../../main", "path syntax after a valid start"),
    ("acme%2F..%2Fmain", "percent-encoding"),
    ("acme@0123abcd", "a commit hash"),
    ("acme|main", "Nessie's prefix separator"),
    ("acme?ref=main", "a query string"),
    ("acme__x.", "a trailing dot"),
    ("acme__Main", "upper case"),
]


@pytest.mark.hostile
@pytest.mark.parametrize(("branch", "what"), BRANCHES)
def test_branch_escapes_are_located_errors(
    sandbox: Path, branch: str, what: str, record_property: RecordProperty
) -> None:
    record_property("category", "config: branch escape")
    record_property("case", f"job file, tenant acme, target.branch {branch!r} ({what})")
    code, err = _render(sandbox, _job(branch=branch))
    assert code == 2, err
    assert f"configs/acme/deals.yaml:{TARGET_LINE + 1} target.branch: " in err
    assert "use 'acme' or 'acme__<suffix>'" in err
    assert not (sandbox / "projects" / "acme").exists()
    record_property("outcome", "exit 2, located message naming acme's branches, nothing rendered")


WAREHOUSES = [
    ("s3://lake/globex/acme/", "inside another tenant's prefix"),
    ("s3://lake/acme/../globex/", "'..' into another tenant's prefix"),
    ("s3://lake/acmex/", "a look-alike tenant"),
    ("s3://lake/", "the lake root"),
    ("s3://other/acme/", "another bucket"),
    ("s3a://lake/acme/", "another scheme"),
    ("file:///tmp/acme/", "a local folder"),
    ("s3://lake/%61cme/", "percent-encoding"),
]


@pytest.mark.hostile
@pytest.mark.parametrize(("warehouse", "what"), WAREHOUSES)
@pytest.mark.parametrize("catalog", ["nessie", "rest"])
def test_warehouse_escapes_are_located_errors(
    sandbox: Path,
    catalog: str,
    warehouse: str,
    what: str,
    record_property: RecordProperty,
) -> None:
    record_property("category", "config: warehouse prefix")
    record_property("case", f"job file, {catalog}, tenant acme, warehouse {warehouse!r} ({what})")
    code, err = _render(sandbox, _job(catalog, warehouse=warehouse))
    assert code == 2, err
    assert f"configs/acme/deals.yaml:{TARGET_LINE + 1} target.warehouse: " in err
    assert "omit it or write 's3://lake/acme/'" in err
    assert not (sandbox / "projects" / "acme").exists()
    record_property("outcome", "exit 2, located message naming s3://lake/acme/, nothing rendered")


@pytest.mark.parametrize("warehouse", ["s3://lake/acme/", "s3://lake/acme", None])
def test_the_tenants_own_prefix_or_none_renders(sandbox: Path, warehouse: str | None) -> None:
    target = {"warehouse": warehouse} if warehouse else {}
    code, err = _render(sandbox, _job(**target))
    assert code == 0, err


CATALOG_MISUSE = [
    ("embedded", {"warehouse": "s3://lake/acme/"}, "target.warehouse", "project's .lake/"),
    ("embedded", {"branch": "acme"}, "target.branch", "has no branches"),
    ("rest", {"branch": "acme__x"}, "target.branch", "has no branches"),
]


@pytest.mark.hostile
@pytest.mark.parametrize(("catalog", "target", "key", "says"), CATALOG_MISUSE)
def test_settings_a_catalog_cannot_honour_are_errors(
    sandbox: Path,
    catalog: str,
    target: dict[str, str],
    key: str,
    says: str,
    record_property: RecordProperty,
) -> None:
    record_property("category", "config: catalog settings")
    record_property("case", f"job file, catalog {catalog} with {target}")
    code, err = _render(sandbox, _job(catalog, **target))
    assert code == 2, err
    assert f"configs/acme/deals.yaml:{TARGET_LINE + 1} {key}: " in err and says in err
    record_property("outcome", "exit 2, located message, nothing rendered")


@pytest.mark.hostile
@pytest.mark.parametrize("tenant", ["deadbeef", "cafe0123"])
def test_a_tenant_id_nessie_reads_as_a_hash_needs_an_explicit_branch(
    sandbox: Path, tenant: str, record_property: RecordProperty
) -> None:
    record_property("category", "config: branch escape")
    record_property("case", f"tenant {tenant!r} on nessie, default branch (hash-like name)")
    code, err = _render(sandbox, _job(tenant=tenant), tenant=tenant)
    assert code == 2, err
    assert f"configs/{tenant}/deals.yaml:1 tenant_id: Nessie refuses" in err
    code, err = _render(sandbox, _job(tenant=tenant, branch=f"{tenant}__lake"), tenant=tenant)
    assert code == 0, err
    record_property("outcome", "exit 2 with the default branch, renders with <tenant>__lake")


def test_unknown_catalog_lists_the_registrys(sandbox: Path) -> None:
    code, err = _render(sandbox, _job("glue"))
    assert code == 2
    assert f":{TARGET_LINE} target.catalog: unknown catalog 'glue' (known catalogs: " in err
