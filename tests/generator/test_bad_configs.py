"""Bad job files: every problem reported at once, located as file:line key.path, exit code 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestgen.cli.console import cli

# A valid job; each case below breaks one thing in it (line numbers refer to its body).
GOOD = (Path(__file__).parent / "good_job.yaml").read_text().split("\n", 1)[1]


def run_validate(root: Path, text: str, name: str = "job.yaml") -> tuple[int, str]:
    path = root / "configs" / "acme" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    result = CliRunner().invoke(cli, ["validate", "--root", str(root), str(path)])
    return result.exit_code, result.stderr


def test_the_good_config_is_valid(sandbox: Path) -> None:
    code, err = run_validate(sandbox, GOOD)
    assert (code, err) == (0, "")


CASES = [
    pytest.param(
        GOOD.replace("tenant_id: acme", "tenant_id: Acme-Corp"),
        [
            "configs/acme/job.yaml:1 tenant_id: 'Acme-Corp' is not a valid tenant id "
            "(use 1-40 lower-case"
        ],
        id="tenant-not-identifier",
    ),
    pytest.param(
        GOOD.replace("  catalog: embedded", "  catalog: embedded\n  catalgo: x"),
        ["configs/acme/job.yaml:13 target.catalgo: unknown key 'catalgo' (did you mean 'catalog'?"],
        id="unknown-target-key",
    ),
    pytest.param(
        GOOD.replace("  type: gdrive_csv", "  type: gdrive_csv\n  engine:\n    type: airbite"),
        [
            "configs/acme/job.yaml:5 source.engine.type: 'airbite' is not one of airbyte, singer, "
            "native, jdbc"
        ],
        id="engine-type-typo",
    ),
    pytest.param(
        GOOD.replace("  type: gdrive_csv", "  type: gdrive_csv\n  engine:\n    type: airbyte"),
        [
            "configs/acme/job.yaml:5 source.engine.type: engine 'airbyte' is not supported by "
            "source 'gdrive_csv' (supported: native)"
        ],
        id="engine-unsupported",
    ),
    pytest.param(
        GOOD.replace(
            "  type: iceberg",
            "  type: iceberg\n  engine:\n    type: meltano\n    options:\n      meltano:\n"
            "        write_mode: merge",
        ),
        [
            "configs/acme/job.yaml:17 target.catalog: the meltano engine (target-s3tables) cannot "
            "write to the embedded catalog (use catalog: rest, or another engine)",
            "configs/acme/job.yaml:20 asset_definition: column amount of "
            "specs/gdrive_csv/v1.0/deals_daily.yaml is decimal(18,2): the meltano engine "
            "(target-s3tables) would not write decimal exactly",
            "configs/acme/job.yaml:16 target.engine.options.meltano.write_mode: unknown "
            "option 'write_mode' for the meltano engine (valid options: batch_size_rows, "
            "max_rejected_ratio, max_rejected_rows, unknown_columns)",
        ],
        id="target-engine-meltano-limits",
    ),
    pytest.param(
        GOOD.replace("type: gdrive_csv", "type: gdrive"),
        [
            "configs/acme/job.yaml:3 source.type: unknown source 'gdrive' (known sources: "
            "faker, gdrive_csv, github, hubspot, jsonl, postgres, stripe)"
        ],
        id="unknown-source",
    ),
    pytest.param(
        GOOD.replace("type: iceberg", "type: delta"),
        ["configs/acme/job.yaml:11 target.type: unknown target 'delta' (known targets: iceberg)"],
        id="unknown-target",
    ),
    pytest.param(
        GOOD.replace("asset_definition: /app/specs/gdrive_csv/v1.0/deals_daily.yaml\n", ""),
        ["configs/acme/job.yaml:1 asset_definition: this key is required but missing (add it)"],
        id="missing-asset-definition",
    ),
    pytest.param(
        GOOD.replace("deals_daily.yaml", "nope.yaml"),
        [
            "configs/acme/job.yaml:15 asset_definition: specs/gdrive_csv/v1.0/nope.yaml does not "
            "exist (create the asset definition or fix the path)"
        ],
        id="asset-definition-missing-file",
    ),
    pytest.param(
        GOOD.replace("/app/specs/gdrive_csv/v1.0/deals_daily.yaml", "/etc/passwd"),
        [
            "configs/acme/job.yaml:15 asset_definition: '/etc/passwd': absolute paths must start "
            "with /app/specs/"
        ],
        id="asset-definition-outside-tree",
    ),
    pytest.param(
        GOOD.replace("/app/specs/gdrive_csv", "specs/../registry"),
        [
            "asset_definition: 'specs/../registry/v1.0/deals_daily.yaml': the path must stay "
            "inside specs/"
        ],
        id="asset-definition-dotdot",
    ),
    pytest.param(
        GOOD.replace("      object: deals_daily", "      objekt: deals_daily"),
        [
            "configs/acme/job.yaml:7 source.files[0].objekt: unknown key 'objekt' "
            "(did you mean 'object'?",
            "configs/acme/job.yaml:6 source.files[0]: missing required key 'object'",
        ],
        id="file-entry-typo",
    ),
    pytest.param(
        GOOD.replace("  local_folder: configs/acme/data\n", "  local_folder: x\n  folder_id: y\n"),
        ["configs/acme/job.yaml:5 source.folder_id: unknown key 'folder_id'"],
        id="unknown-connector-key",
    ),
    pytest.param(
        GOOD.replace("strategy: file_modified_time", "strategy: cdc"),
        [
            "configs/acme/job.yaml:9 source.incremental.strategy: 'cdc' is not a strategy of "
            "'gdrive_csv' (use one of file_modified_time, full_refresh)"
        ],
        id="incremental-strategy",
    ),
    pytest.param(
        GOOD.replace("  local_folder: configs/acme/data\n", "  oauth_token: ya29.secret\n"),
        [
            "configs/acme/job.yaml:4 source.oauth_token: a secret must not be written in the job "
            "file (give it as an environment reference, e.g. oauth_token: ${ACME__OAUTH_TOKEN}"
        ],
        id="literal-secret",
    ),
    pytest.param(
        GOOD.replace("  catalog: embedded", "  catalog: nessie\n  branch: globex"),
        [
            "configs/acme/job.yaml:13 target.branch: 'globex' is not tenant 'acme''s own branch "
            "(use 'acme' or 'acme__<suffix>'",
        ],
        id="foreign-branch",
    ),
    pytest.param(
        GOOD.replace("  catalog: embedded", "  catalog: nessie\n  warehouse: s3://lake/globex/"),
        [
            "configs/acme/job.yaml:13 target.warehouse: 's3://lake/globex/' is not tenant 'acme''s "
            "own prefix (omit it or write 's3://lake/acme/'"
        ],
        id="foreign-warehouse",
    ),
    pytest.param(
        GOOD.replace("  catalog: embedded", "  catalog: glue"),
        [
            "configs/acme/job.yaml:12 target.catalog: unknown catalog 'glue' (known catalogs: "
            "embedded, nessie, rest)"
        ],
        id="unknown-catalog",
    ),
    pytest.param(
        GOOD.replace("  redaction: true", "  redaction: sometimes"),
        ["configs/acme/job.yaml:14 logging.redaction: expected true or false, got str 'sometimes'"],
        id="redaction-not-bool",
    ),
    pytest.param(
        GOOD.replace("tenant_id: acme", "tenant_id: !!python/object/apply:os.system ['true']"),
        [
            "configs/acme/job.yaml:1 tenant_id: the tag 'tag:yaml.org,2002:python/object/apply:"
            "os.system' is not allowed"
        ],
        id="python-tag",
    ),
    pytest.param(
        GOOD + "tenant_id: globex\n",
        [
            "configs/acme/job.yaml:16 tenant_id: the key 'tenant_id' appears twice "
            "(keep one of them)"
        ],
        id="duplicate-key",
    ),
    pytest.param(
        GOOD.replace("  files:\n", "  files: {}\n  _: \n"),
        ["source.files: expected array, got dict {}"],
        id="files-wrong-type",
    ),
    pytest.param(
        GOOD.replace(
            "  type: iceberg",
            "  type: iceberg\n  engine:\n    type: native\n    options:\n"
            "      native: {batch_rows: 5}",
        ),
        [
            "configs/acme/job.yaml:15 target.engine.options.native.batch_rows: unknown option "
            "'batch_rows' for the native engine (valid options: batch_size_rows,"
        ],
        id="unknown-engine-option",
    ),
    pytest.param(
        GOOD.replace(
            "  type: iceberg",
            "  type: iceberg\n  engine:\n    type: native\n    options:\n"
            "      spark: {executors: 5}",
        ),
        [
            "configs/acme/job.yaml:12 target.engine: options given for spark but engine.type is "
            "'native'"
        ],
        id="options-for-other-engine",
    ),
    pytest.param(
        GOOD.replace(
            "  type: iceberg",
            "  type: iceberg\n  engine:\n    type: spark\n    options:\n      spark:\n"
            "        master: yarn-ish\n        write_mode: upsert\n        driver_memory: 1\n"
            "        conf: {spark.jars: /tmp/x.jar}",
        ),
        [
            "target.engine.options.spark.master: 'yarn-ish' is not valid (Spark master: local[N]",
            "target.engine.options.spark.write_mode: 'upsert' is not one of ['append', 'merge']",
            "target.engine.options.spark.driver_memory: 1 is not of type 'string' (Driver JVM",
            "target.engine.options.spark.conf: 'spark.jars' should not be valid",
        ],
        id="spark-engine-option-values",
    ),
    pytest.param(
        "tenant_id: acme\nsource: [1, 2\n",
        ["configs/acme/job.yaml:3: not valid YAML:"],
        id="not-yaml",
    ),
    pytest.param(
        "- just\n- a list\n",
        ["configs/acme/job.yaml:1: a job file must be a mapping of keys"],
        id="not-a-mapping",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_bad_config_is_reported_located(sandbox: Path, text: str, expected: list[str]) -> None:
    code, err = run_validate(sandbox, text)
    assert code == 2, err
    for fragment in expected:
        assert fragment in err, f"{fragment!r} not in:\n{err}"


def test_all_problems_of_all_files_at_once(sandbox: Path) -> None:
    run_validate(sandbox, GOOD.replace("catalog: embedded", "catalgo: embedded"), "one.yaml")
    run_validate(sandbox, GOOD.replace("tenant_id: acme", "tenant_id: 9lives"), "two.yaml")
    result = CliRunner().invoke(cli, ["validate", "--root", str(sandbox)])
    assert result.exit_code == 2
    assert "2 problems found" in result.stderr
    assert "configs/acme/one.yaml:12 target.catalgo" in result.stderr
    assert "configs/acme/two.yaml:1 tenant_id" in result.stderr


def test_bad_job_file_name(sandbox: Path) -> None:
    code, err = run_validate(sandbox, GOOD, "Deals-Daily.yaml")
    assert code == 2
    assert "job name 'Deals-Daily' (the file name) is not a safe identifier" in err


def test_json_output_lists_problems(sandbox: Path) -> None:
    path = sandbox / "configs" / "acme" / "job.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(GOOD.replace("catalog: embedded", "catalog: glue"))
    result = CliRunner().invoke(cli, ["validate", "--root", str(sandbox), "--output", "json"])
    assert result.exit_code == 2
    import json

    payload = json.loads(result.stdout)
    assert payload["status"] == "invalid"
    assert payload["problems"] == [
        {
            "file": "configs/acme/job.yaml",
            "line": 12,
            "path": "target.catalog",
            "message": "unknown catalog 'glue'",
            "hint": "known catalogs: embedded, nessie, rest",
        }
    ]


def test_connector_requirement_beyond_settings(sandbox: Path) -> None:
    code, err = run_validate(
        sandbox,
        "tenant_id: acme\nsource:\n  type: stripe\n  client_secret: ${ACME__STRIPE_KEY}\n"
        "  account_id: acct_1\ntarget: {type: iceberg}\n"
        "asset_definition: specs/stripe/v1.0/charges.yaml\n",
    )
    assert code == 2
    assert (
        "configs/acme/job.yaml:2 source.incremental.start_date: stripe needs "
        "source.incremental.start_date (tap-stripe needs the first date to sync" in err
    )
