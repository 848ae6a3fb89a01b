"""Bad asset definitions are reported located in the spec file, with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestgen.cli.console import cli

GOOD = (Path(__file__).parent / "good_job.yaml").read_text().split("\n", 1)[1]

SPEC = """\
asset: orders
version: "2.0"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: total, type: "decimal(12,2)"}
    - {name: placed_at, type: timestamptz}
  primary_key: [id]
"""


def run(
    root: Path, spec: str, spec_path: str = "specs/gdrive_csv/v2.0/orders.yaml"
) -> tuple[int, str]:
    path = root / spec_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec)
    job = root / "configs" / "acme" / "orders.yaml"
    job.parent.mkdir(parents=True, exist_ok=True)
    job.write_text(GOOD.replace("/app/specs/gdrive_csv/v1.0/deals_daily.yaml", spec_path))
    result = CliRunner().invoke(cli, ["validate", "--root", str(root)])
    return result.exit_code, result.stderr


def test_good_spec(sandbox: Path) -> None:
    assert run(sandbox, SPEC) == (0, "")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            SPEC.replace("decimal(12,2)", "decimal(40,2)"),
            "specs/gdrive_csv/v2.0/orders.yaml:6 schema.columns[1].type: decimal "
            "precision 40 in 'decimal(40,2)' must be between 1 and 38",
            id="precision",
        ),
        pytest.param(
            SPEC.replace("type: timestamptz", "type: datetime"),
            "specs/gdrive_csv/v2.0/orders.yaml:7 schema.columns[2].type: unknown type "
            "'datetime' at character 1 of 'datetime'; valid types: boolean, int, long",
            id="unknown-type",
        ),
        pytest.param(
            SPEC + "  cursor: placed_at\n",
            "schema: cursor column 'placed_at' must be `required: true`",
            id="cursor-optional",
        ),
        pytest.param(
            SPEC + "  cursor: updated\n",
            "schema: cursor names 'updated', which is not a column",
            id="cursor-unknown",
        ),
        pytest.param(
            SPEC + "  cursor: id\n",
            "schema: cursor 'id' is a primary_key column; name a version column",
            id="cursor-is-key",
        ),
        pytest.param(
            SPEC.replace("[id]", "[total]"),
            "specs/gdrive_csv/v2.0/orders.yaml:3 schema: primary_key column 'total' "
            "must be `required: true`",
            id="pk-not-required",
        ),
        pytest.param(
            SPEC + "  partitioning:\n    - {column: total, transform: day}\n",
            "transform 'day' needs a date or timestamp column, 'total' is decimal(12,2)",
            id="partition-transform",
        ),
        pytest.param(
            SPEC.replace('version: "2.0"', 'version: "3.0"'),
            "specs/gdrive_csv/v2.0/orders.yaml:1: the asset 'orders' version 3.0 is filed "
            "at specs/gdrive_csv/v2.0/orders.yaml (move it to "
            "specs/gdrive_csv/v3.0/orders.yaml",
            id="version-folder",
        ),
        pytest.param(
            SPEC.replace(
                "    - {name: id, type: long, required: true}\n",
                "    - {name: id, type: long, required: true}\n    - {name: id, type: string}\n",
            ),
            "schema: column 'id' is defined twice",
            id="duplicate-column",
        ),
        pytest.param(
            SPEC.replace("asset: orders", "asset: orders\nowner: sales"),
            "specs/gdrive_csv/v2.0/orders.yaml:2 owner: unknown key 'owner' (valid keys: "
            "asset, audit, description, kind, schema, version)",
            id="unknown-key",
        ),
    ],
)
def test_bad_spec_is_located_in_the_spec(sandbox: Path, spec: str, expected: str) -> None:
    code, err = run(sandbox, spec)
    assert code == 2
    assert expected in err, err


def test_spec_of_another_source(sandbox: Path) -> None:
    code, err = run(sandbox, SPEC, "specs/stripe/v2.0/orders.yaml")
    assert code == 2
    assert (
        "configs/acme/orders.yaml:15 asset_definition: specs/stripe/v2.0/orders.yaml is an "
        "asset of source 'stripe', not of 'gdrive_csv' (use a spec under specs/gdrive_csv/)" in err
    )
