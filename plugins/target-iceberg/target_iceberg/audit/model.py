"""The audit checks an asset spec declares (``audit:``) and the loader's ``audit`` setting.

Declarative only: no SQL, no expressions. Each check names columns of the spec and bounds;
`target_iceberg.spec.AssetSpec` checks that the columns exist and have types the check applies
to, so a spec that renders is a spec whose checks can run. Reads nothing, evaluates nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from target_iceberg.strict import Hint, StrictModel

ColumnName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
    Hint("column name", "name a column of the spec's schema"),
]
Duration = Annotated[
    str,
    StringConstraints(pattern=r"^[1-9][0-9]{0,6}[mhd]$"),
    Hint("duration", "write a whole number of minutes, hours or days: 90m, 36h or 2d"),
]
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
NUMERIC = re.compile(r"^(int|long|float|double|decimal\(\d+,\s*\d+\))$")
TEMPORAL = frozenset({"date", "timestamp", "timestamptz"})
ACCEPTED = re.compile(r"^(string|int|long|boolean)$")


def seconds(duration: str) -> int:
    """A `Duration` in seconds."""
    return int(duration[:-1]) * _UNIT_SECONDS[duration[-1]]


class RowCount(StrictModel):
    """Bounds on the rows the run adds to the table (quarantined records not counted)."""

    min: int | None = Field(default=None, ge=0, description="At least this many rows.")
    max: int | None = Field(default=None, ge=0, description="At most this many rows.")

    @model_validator(mode="after")
    def _ordered(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        return self


class Range(StrictModel):
    """Inclusive bounds on a numeric column's values among the run's rows (nulls ignored)."""

    min: float | None = Field(default=None, description="Smallest allowed value.")
    max: float | None = Field(default=None, description="Largest allowed value.")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        return self


class Freshness(StrictModel):
    """The newest value of a date or timestamp column in the table must be recent."""

    column: ColumnName = Field(description="A date, timestamp or timestamptz column.")
    max_age: Duration = Field(description="How old the newest value may be: 90m, 36h, 2d.")


class AuditChecks(StrictModel):
    """The checks a run's data must pass before it is published (all optional).

    Row-level checks (not_null, accepted_values, ranges) look at the rows the run adds;
    unique_key and freshness look at the whole table as the audit branch holds it.
    """

    row_count: RowCount | None = Field(
        default=None, description="{min, max}: rows the run adds to the table."
    )
    not_null: dict[ColumnName, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="Per column, the smallest share (0..1) of the run's rows with a value.",
    )
    unique_key: bool = Field(
        default=False,
        description="The primary key identifies at most one row across the whole table.",
    )
    accepted_values: dict[ColumnName, list[str | int | bool]] = Field(
        default_factory=dict,
        description="Per column (string, int, long, boolean), the only values allowed (nulls ok).",
    )
    ranges: dict[ColumnName, Range] = Field(
        default_factory=dict, description="Per numeric column, {min, max} of the run's values."
    )
    freshness: Freshness | None = Field(
        default=None, description="{column, max_age}: the table's newest value is recent."
    )
    max_reject_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Quarantined records over records read, per stream, at most this (0..1).",
    )

    def count(self) -> int:
        """How many checks are declared."""
        return (
            (self.row_count is not None)
            + len(self.not_null)
            + self.unique_key
            + len(self.accepted_values)
            + len(self.ranges)
            + (self.freshness is not None)
            + (self.max_reject_ratio is not None)
        )


class AuditSettings(StrictModel):
    """The loader's ``audit`` setting: write-audit-publish for this job's runs."""

    enabled: bool = Field(
        default=True,
        description="Write each table's snapshot to an audit branch, check it, then publish.",
    )
    on_fail: Literal[1, 2] = Field(
        default=2,
        description=(
            "Exit code when a check fails: 2 (terminal: the run failed) or 1 (the run is "
            "reported like a partial one). Either way main is untouched and no STATE is emitted."
        ),
    )
