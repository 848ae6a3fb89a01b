"""native engine, BATCH mode: the gdrive_csv engine option ``batch_config`` end to end.

The demo job (tests/e2e/test_demo_job.py) covers the native engine's RECORD path and its
incremental second run; this covers the Parquet BATCH path the option renders: the tap writes
Parquet files, sends BATCH messages, and the loader reads them in Arrow and types the strings.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOB = """\
tenant_id: acme
source:
  type: gdrive_csv
  local_folder: data/acme
  files:
    - {file_id: deals.csv, object: deals_daily}
  engine:
    type: native
    options:
      native:
        batch_config:
          encoding: {format: parquet}
          batch_size: 40
target:
  type: iceberg
asset_definition: specs/gdrive_csv/v1.0/deals_daily.yaml
"""


def test_batch_config_sends_parquet_batches_that_land_typed(
    make_project: Callable[..., Any],
    sandbox: Path,
    summary: Callable[[str, str], dict[str, Any]],
) -> None:
    csv = sandbox / "data" / "acme" / "deals.csv"
    csv.parent.mkdir(parents=True)
    lines = ["deal_id,snapshot_date,account,stage,amount,currency,probability,is_won,updated_at"]
    lines += [
        f"{n},2026-11-24,Acct {n},won,{n}.25,EUR,0.5,{str(n % 2 == 0).lower()},"
        "2026-11-24T10:00:00-05:00"
        for n in range(1, 101)
    ]
    csv.write_text("\n".join(lines) + "\n")
    project = make_project("acme", {"deals": JOB})

    log = project.run("deals")
    # 100 rows at 40 per file: three Parquet files, three BATCH messages.
    files = sorted((project.path / ".batches").glob("*.parquet"))
    assert len(files) == 3
    assert "0 batch manifests" not in log and "3 batch manifests" in log
    assert summary(log, "deals_daily")["rows_landed"] == 100
    rows = sorted(project.rows("deals_daily"), key=lambda r: r["deal_id"])
    assert [r["deal_id"] for r in rows] == list(range(1, 101))
    assert rows[0]["amount"] == decimal.Decimal("1.25")
    assert rows[0]["is_won"] is False and rows[1]["is_won"] is True
    assert rows[0]["updated_at"] == dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
