"""Write-audit-publish settings and checks are validated at render time, each error located."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestgen.cli.console import cli

pytestmark = pytest.mark.wap

GOOD = (Path(__file__).parent / "good_job.yaml").read_text().split("\n", 1)[1]
SPEC = """\
asset: orders
version: "2.0"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: total, type: "decimal(12,2)"}
    - {name: status, type: string}
  primary_key: [id]
"""
AUDIT = "audit:\n  row_count: {min: 1}\n"


def run(root: Path, spec: str, target_extra: str = "") -> tuple[int, str]:
    path = root / "specs/gdrive_csv/v2.0/orders.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec)
    job = root / "configs" / "acme" / "orders.yaml"
    job.parent.mkdir(parents=True, exist_ok=True)
    text = GOOD.replace("/app/specs/gdrive_csv/v1.0/deals_daily.yaml", str(path.relative_to(root)))
    job.write_text(text.replace("target:\n", "target:\n" + target_extra, 1))
    result = CliRunner().invoke(cli, ["validate", "--root", str(root)])
    return result.exit_code, result.stderr


def test_audited_job_and_checks_validate(sandbox: Path) -> None:
    assert run(sandbox, SPEC + AUDIT, "  audit: {on_fail: 1}\n") == (0, "")


def test_audit_with_the_spark_engine_is_refused_at_render_time(sandbox: Path) -> None:
    # Spark commits its snapshots to main itself: there is no audit branch to check.
    code, err = run(sandbox, SPEC + AUDIT, "  engine: {type: spark}\n  audit: {enabled: true}\n")
    assert code == 2
    assert (
        "configs/acme/orders.yaml:12 target.audit: audit (write-audit-publish) is not available "
        "with target engine 'spark' (use target engine native, or remove target.audit)"
    ) in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("spec", "extra", "expected"),
    [
        pytest.param(
            SPEC,
            "  audit: {enabled: true}\n",
            "target.audit: audit is enabled but the asset spec specs/gdrive_csv/v2.0/orders.yaml "
            "declares no audit checks",
            id="no-checks",
        ),
        pytest.param(
            SPEC + "audit:\n  ranges:\n    status: {min: 0}\n",
            "",
            "specs/gdrive_csv/v2.0/orders.yaml:9 audit: ranges: column 'status' is "
            "string; ranges needs a numeric column",
            id="range-on-text",
        ),
        pytest.param(
            SPEC + "audit:\n  not_null: {nope: 1}\n",
            "",
            "audit: not_null names 'nope', which is not a column (id, total, status)",
            id="unknown-column",
        ),
        pytest.param(
            SPEC + "audit:\n  freshness: {column: total, max_age: 2 days}\n",
            "",
            "audit.freshness.max_age",
            id="bad-duration",
        ),
        pytest.param(
            SPEC + AUDIT,
            "  audit: {on_fail: 3}\n",
            "target.audit.on_fail",
            id="exit-code",
        ),
    ],
)
def test_bad_audit_is_located(sandbox: Path, spec: str, extra: str, expected: str) -> None:
    code, err = run(sandbox, spec, extra)
    assert code == 2
    assert expected in err, err
