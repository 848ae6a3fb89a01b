"""`ingestgen plan` golden plans: one real change per kind, in a git sandbox repository.

The base commit holds two tenants' job files, a runner config and their rendered projects; each
case changes the working tree as a pull request would and compares what `ingestgen plan` prints
(text, and JSON for some) and its exit code with tests/ops/golden/plan/<case>.txt. The catalogs
are Nessie ones whose settings are left unset, so tables are planned from the spec alone (the
live-table path is tested in test_plan_live.py). Regenerate with `--update-golden`.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestgen.cli.console import cli
from tests.ops.conftest import git

GOLDEN = Path(__file__).parent / "golden" / "plan"
SPEC = "specs/gdrive_csv/v1.0/deals_daily.yaml"
SPEC_V1 = """\
asset: deals_daily
version: "1.0"
schema:
  columns:
    - {name: deal_id, type: long, required: true}
    - {name: snapshot_date, type: date, required: true}
    - {name: account, type: string, required: true}
    - {name: seats, type: int}
    - {name: score, type: float}
    - {name: amount, type: "decimal(18,2)"}
    - {name: stage, type: string}
    - {name: updated_at, type: timestamptz}
  primary_key: [deal_id, snapshot_date]
  partitioning:
    - {column: snapshot_date, transform: month}
"""
DEALS = """\
tenant_id: acme
source:
  type: gdrive_csv
  files:
    - {file_id: 1a2B3cGDRIVEID, object: deals_daily}
  incremental:
    strategy: file_modified_time
  service_account_key: ${ACME__GDRIVE_SERVICE_ACCOUNT_KEY}
target:
  type: iceberg
  catalog: nessie
  warehouse: s3://lake/acme/
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""
CHARGES = """\
tenant_id: globex
source:
  type: stripe
  client_secret: ${GLOBEX__STRIPE_CLIENT_SECRET}
  account_id: acct_1GlobexDemo
  incremental:
    strategy: replication_key
    start_date: "2026-01-01T00:00:00Z"
target:
  type: iceberg
  catalog: nessie
  warehouse: s3://lake/globex/
asset_definition: specs/stripe/v1.0/charges.yaml
"""
RUNNER = """\
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
      - {name: deals_nightly, config: configs/acme/deals.yaml, cron: "0 2 * * *"}
    concurrency_per_tenant: 1
"""
UNSET = dict.fromkeys(
    (
        "NESSIE_ICEBERG_URI",
        "S3_ENDPOINT",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "INGESTGEN_ROOT",
    )
)


def plan(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["plan", "--root", str(root), *args], env=UNSET)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """The base commit: acme's deals and globex's charges, scheduled, rendered, committed."""
    root = tmp_path_factory.mktemp("plan") / "repo"
    root.mkdir()
    for name in ("registry", "specs", "templates"):
        shutil.copytree(repo_root / name, root / name)
    (root / "plugins").symlink_to(repo_root / "plugins")
    (root / SPEC).write_text(SPEC_V1)
    write(root, "configs/acme/deals.yaml", DEALS)
    write(root, "configs/globex/charges.yaml", CHARGES)
    write(root, "configs/runner.yaml", RUNNER)
    result = CliRunner().invoke(cli, ["render", "--root", str(root)], env=UNSET)
    assert result.exit_code == 0, result.output
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new))


def spec_edit(old: str, new: str) -> Callable[[Path], None]:
    return lambda root: edit(root, SPEC, old, new)


def add_and_promote(root: Path) -> None:
    edit(root, SPEC, "{name: seats, type: int}", "{name: seats, type: long}")
    edit(root, SPEC, "{name: score, type: float}", "{name: score, type: double}")
    edit(root, SPEC, '"decimal(18,2)"', '"decimal(20,2)"')
    edit(
        root,
        SPEC,
        "    - {name: updated_at, type: timestamptz}\n",
        "    - {name: updated_at, type: timestamptz}\n"
        "    - {name: note, type: string}\n"
        "    - {name: region, type: string, required: true}\n",
    )


def refused_types(root: Path) -> None:
    edit(root, SPEC, "{name: stage, type: string}", "{name: stage, type: long}")
    edit(root, SPEC, '"decimal(18,2)"', '"decimal(18,4)"')
    edit(root, SPEC, "{name: seats, type: int}", "{name: seats, type: long}")


def required_ness(root: Path) -> None:
    edit(root, SPEC, "{name: stage, type: string}", "{name: stage, type: string, required: true}")
    edit(
        root, SPEC, "{name: account, type: string, required: true}", "{name: account, type: string}"
    )
    edit(root, SPEC, "    - {name: updated_at, type: timestamptz}\n", "")


def layout(root: Path) -> None:
    edit(root, SPEC, "transform: month", "transform: day")
    edit(root, SPEC, "primary_key: [deal_id, snapshot_date]", "primary_key: [deal_id]")


def new_spec_version(root: Path) -> None:
    text = (root / SPEC).read_text().replace('version: "1.0"', 'version: "1.1"')
    text = text.replace(
        "    - {name: stage", "    - {name: owner, type: string}\n    - {name: stage"
    )
    write(root, "specs/gdrive_csv/v1.1/deals_daily.yaml", text)
    edit(root, "configs/acme/deals.yaml", "v1.0/deals_daily", "v1.1/deals_daily")


def renamed_job(root: Path) -> None:
    (root / "configs/acme/deals.yaml").rename(root / "configs/acme/deals_v2.yaml")
    edit(root, "configs/runner.yaml", "configs/acme/deals.yaml", "configs/acme/deals_v2.yaml")


def renamed_stream(root: Path) -> None:
    edit(root, "configs/acme/deals.yaml", "object: deals_daily", "object: deals")


def engine_switch(root: Path) -> None:
    edit(
        root,
        "configs/globex/charges.yaml",
        "  type: stripe\n",
        "  type: stripe\n  engine:\n    type: airbyte\n",
    )


def incremental(root: Path) -> None:
    edit(root, "configs/acme/deals.yaml", "strategy: file_modified_time", "strategy: full_refresh")


def registry_plugin(root: Path) -> None:
    edit(
        root,
        "registry/connectors.yaml",
        "plugins/target-iceberg\n",
        "plugins/target-iceberg[nessie]\n",
    )


def runner_schedule(root: Path) -> None:
    edit(
        root,
        "configs/runner.yaml",
        "    concurrency_per_tenant: 1\n",
        '      - {name: charges_hourly, config: configs/globex/charges.yaml, cron: "0 * * * *"}\n'
        "    concurrency_per_tenant: 2\n",
    )
    edit(root, "configs/runner.yaml", '"0 2 * * *"', '"30 3 * * *"')


def new_tenant(root: Path) -> None:
    job = DEALS.replace("acme", "initech").replace("ACME__", "INITECH__")
    write(root, "configs/initech/deals.yaml", job)


def invalid(root: Path) -> None:
    edit(
        root,
        "configs/acme/deals.yaml",
        "  type: gdrive_csv\n",
        "  type: gdrive_csv\n  colour: red\n",
    )


CASES: dict[str, tuple[Callable[[Path], None] | None, int]] = {
    "no_change": (None, 0),
    "add_and_promote": (add_and_promote, 1),
    "narrowing": (spec_edit("{name: deal_id, type: long", "{name: deal_id, type: int"), 1),
    "refused_types": (refused_types, 2),
    "refused_required_column_removed": (
        spec_edit("    - {name: account, type: string, required: true}\n", ""),
        2,
    ),
    "required_ness": (required_ness, 1),
    "partition_and_key": (layout, 1),
    "new_spec_version": (new_spec_version, 1),
    "renamed_job": (renamed_job, 1),
    "renamed_stream": (renamed_stream, 1),
    "engine_switch": (engine_switch, 1),
    "incremental_settings": (incremental, 1),
    "registry_plugin": (registry_plugin, 1),
    "runner_schedule": (runner_schedule, 1),
    "new_tenant": (new_tenant, 1),
    "invalid_job": (invalid, 2),
}


def changed(case: str, base: Path, tmp_path: Path) -> tuple[Path, str, int]:
    """A copy of the base with the case's change: its root, the base commit, the exit code."""
    change, code = CASES[case]
    root = tmp_path / "repo"
    shutil.copytree(base, root, symlinks=True)
    commit = git(root, "rev-parse", "HEAD").strip()
    if change is not None:
        change(root)
    return root, commit, code


def normalise(text: str, root: Path, commit: str) -> str:
    return text.replace(commit[:12], "<base>").replace(str(root), "<repo>")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_plan(case: str, base: Path, tmp_path: Path, update_golden: bool) -> None:
    root, commit, code = changed(case, base, tmp_path)
    exit_code, text = plan(root)
    assert exit_code == code, text
    shown = f"exit {exit_code}\n{normalise(text, root, commit)}"
    golden = GOLDEN / f"{case}.txt"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(shown)
    assert shown == golden.read_text()


@pytest.mark.parametrize("case", ["refused_types", "renamed_job"])
def test_golden_plan_json(case: str, base: Path, tmp_path: Path, update_golden: bool) -> None:
    root, commit, code = changed(case, base, tmp_path)
    exit_code, text = plan(root, "--output", "json", "--diff")
    data = json.loads(text)
    assert exit_code == code == data["exit_code"]
    assert data["commit"] == commit
    shown = json.dumps({**data, "commit": "<base>"}, indent=2, sort_keys=True) + "\n"
    golden = GOLDEN / f"{case}.json"
    if update_golden:
        golden.write_text(shown)
    assert shown == golden.read_text()


def test_plan_after_render_and_commit_is_empty(base: Path, tmp_path: Path) -> None:
    """Against the commit that carries the change (rendered), nothing is left to plan."""
    root = tmp_path / "repo"
    shutil.copytree(base, root, symlinks=True)
    add_and_promote(root)
    assert plan(root)[0] == 1
    git(root, "add", "-A")
    git(root, "commit", "-qm", "change")
    assert plan(root) == (0, plan(root)[1])
    code, text = plan(root, "--base", "HEAD~1")
    assert code == 1 and "promote seats: int -> long" in text


def test_plan_diff_and_selected_paths(base: Path, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(base, root, symlinks=True)
    incremental(root)
    engine_switch(root)
    code, text = plan(root, "--diff", str(root / "configs/acme"))
    assert code == 1
    assert "-      incremental_strategy: file_modified_time" in text
    assert "+      incremental_strategy: full_refresh" in text
    # Only acme's project was planned: globex's engine switch is not in it.
    assert "globex" not in text.split("Plan:", 2)[1]
    assert "Not rendered in the working tree yet" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "no-such-branch"], "--base 'no-such-branch' names no commit"),
        (["--base", "--upload-pack=x"], "is not a revision"),
    ],
)
def test_bad_base_is_a_clear_error(base: Path, args: list[str], message: str) -> None:
    code, text = plan(base, *args)
    assert code == 2 and message in text and "Traceback" not in text


def test_not_a_git_work_tree(base: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(base, root, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    code, text = plan(root)
    assert code == 2 and "is not in a git work tree" in text and "Traceback" not in text


def test_plan_never_writes(base: Path, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(base, root, symlinks=True)
    new_tenant(root)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert plan(root)[0] == 1
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before
    assert not re.search(r"\S", git(root, "status", "--porcelain", "--", "projects"))


def test_an_unreachable_rest_catalog_falls_back_to_the_spec(base: Path, tmp_path: Path) -> None:
    root, _, _ = changed("add_and_promote", base, tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "NESSIE_ICEBERG_URI": f"http://127.0.0.1:{port}/iceberg",
        "S3_ENDPOINT": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1",
        "ACME__S3_ACCESS_KEY_ID": "k",
        "ACME__S3_SECRET_ACCESS_KEY": "s",
        "NESSIE_URI": f"http://127.0.0.1:{port}/api/v2",
    }
    result = CliRunner().invoke(cli, ["plan", "--root", str(root)], env=env)
    assert result.exit_code == 1, result.output
    assert "compared with: the spec alone: the table that the base's" in result.stdout
    assert "(catalog acme_nessie not reachable: CatalogUnreachableError" in result.stdout
    assert "did not answer GET /iceberg/acme/v1/config (ConnectionError" in result.stdout
    assert "allowed  promote seats: int -> long" in result.stdout
