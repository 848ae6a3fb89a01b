"""airbyte engine end to end: airbyte-source-faker through tap-airbyte-bridge into Iceberg.

The connector comes from PyPI in the tap's own venv (the registry's pip_url) and needs no
network. Its ``users`` stream is incremental by ``updated_at``: with ``always_updated: false`` a
run resumed from the state Meltano stored emits nothing, which proves the bridge hands the
connector its state back; the table then keeps exactly the first run's rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOB = """\
tenant_id: globex
source:
  type: faker
  count: 60
  seed: 7
  always_updated: false
target:
  type: iceberg
asset_definition: specs/faker/v1.0/users.yaml
"""
STATE_ID = "dev:tap-airbyte-faker--users-to-target-iceberg--users"


def test_faker_lands_users_and_a_resumed_run_lands_none(
    make_project: Callable[..., Any],
    sandbox: Path,
    summary: Callable[[str, str], dict[str, Any]],
) -> None:
    project = make_project("globex", {"users": JOB})

    first = project.run("users")
    assert summary(first, "users")["rows_landed"] == 60
    assert summary(first, "users")["rows_rejected"] == 0
    rows = sorted(project.rows("users"), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == list(range(1, 61))
    for row in rows:
        # Both land as timezone-aware UTC timestamps. How they relate is the connector's
        # business: with a fixed seed its created_at is a fixed date (which may lie ahead of
        # the machine's clock) while updated_at is the time of the run.
        for column in ("created_at", "updated_at"):
            assert isinstance(row[column], dt.datetime), column
            assert row[column].utcoffset() == dt.timedelta(0), column
        assert row["email"] and "@" in row["email"]
        assert set(row["address"]) >= {"city", "country_code", "postal_code"}
    # The Airbyte state (the connector's own, per stream) is stored by Meltano under the job.
    stored = project.state(STATE_ID)
    stream_state = stored["airbyte"]["streams"]["users"]["stream"]["stream_state"]
    assert stream_state["seed"] == 7 and "updated_at" in stream_state

    # Resumed from that state, the connector has nothing new: no rows, no new snapshot.
    snapshots = len(project.table("users").snapshots())
    second = project.run("users")
    assert summary(second, "users")["rows_read"] == 0
    assert len(project.rows("users")) == 60
    assert len(project.table("users").snapshots()) == snapshots
