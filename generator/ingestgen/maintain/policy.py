"""Maintenance settings: ``runner.yaml``'s ``maintenance:`` block and what it means per table.

Three levels, each overriding the one before, setting by setting: the built-in defaults
(`BUILT_IN`), ``maintenance.defaults``, ``maintenance.tenants.<tenant>`` and
``maintenance.tenants.<tenant>.tables.<table>``. This module validates and resolves; it never
opens a catalog.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pydantic import Field, field_validator

from ingestgen.config.cron import cron_problem
from ingestgen.config.tenant import TenantId
from ingestgen.errors import excerpt
from target_iceberg.spec import Identifier
from target_iceberg.strict import StrictModel as _Strict

_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> dt.timedelta:
    """``0s``, ``90m``, ``36h``, ``3d``, ``2w`` as a time span.

    Raises:
        ValueError: not one of those forms (the message shows them).
    """
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(
            f"{excerpt(text)} is not a duration: write a whole number and a unit, s, m, h, d or "
            "w (0s, 90m, 36h, 3d, 2w)"
        )
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Retention(_Strict):
    """Upkeep settings; each one left out comes from the level above."""

    keep_days: float | None = Field(
        default=None,
        ge=0,
        le=3650,
        description="Expire snapshots older than this many days (default 7). Snapshots that a "
        "branch or tag points to, and the newest one holding the loader's state, are never "
        "expired.",
    )
    keep_snapshots: int | None = Field(
        default=None,
        ge=1,
        le=10000,
        description="Keep at least this many of each branch's newest snapshots, however old "
        "(default 5).",
    )
    orphan_age: str | None = Field(
        default=None,
        description="Remove an unreferenced file only when it is older than this (default 3d): "
        "a running load's files are not referenced yet. A duration: 0s, 90m, 36h, 3d, 2w.",
    )
    compact: bool | None = Field(
        default=None,
        description="Rewrite a table's small files into files of target_file_size_mb when "
        "their average size is under half of it (default true).",
    )
    target_file_size_mb: float | None = Field(
        default=None,
        gt=0,
        le=4096,
        description="File size compaction writes, in MB on disk (default: the loader's "
        "target_file_size_mb, else 128).",
    )

    @field_validator("orphan_age")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class TenantMaintenance(Retention):
    """One tenant's upkeep: a schedule, settings, and settings per table."""

    cron: str | None = Field(
        default=None,
        description="Run `ingestgen maintain <tenant>` on this five-field cron (UTC) as a "
        "Dagster schedule sharing the tenant's run queue (mode: orchestrated only).",
    )
    tables: dict[Identifier, Retention] = Field(
        default_factory=dict,
        description="Settings per table of the tenant's namespace, by table name.",
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:

        problem = cron_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value


class Maintenance(_Strict):
    """The ``maintenance:`` block of ``runner.yaml``."""

    defaults: Retention = Field(
        default_factory=Retention, description="Settings for every tenant's tables."
    )
    tenants: dict[TenantId, TenantMaintenance] = Field(
        default_factory=dict, description="Per tenant id: schedule and settings."
    )


@dataclass(frozen=True)
class Policy:
    """The settings for one table, resolved."""

    keep_days: float = 7
    keep_snapshots: int = 5
    orphan_age: dt.timedelta = dt.timedelta(days=3)
    compact: bool = True
    target_file_size_mb: float | None = None
    """None: the loader's target_file_size_mb, else 128."""


BUILT_IN = Policy()


def resolve(maintenance: Maintenance | None, tenant: str, table: str) -> Policy:
    """The policy of ``tenant``'s ``table``: built-in, defaults, tenant, table, in that order."""
    levels: list[Retention] = []
    if maintenance is not None:
        levels.append(maintenance.defaults)
        own = maintenance.tenants.get(tenant)
        if own is not None:
            levels.append(own)
            if table in own.tables:
                levels.append(own.tables[table])
    values: dict[str, object] = {}
    for level in levels:
        for name in Retention.model_fields:
            value = getattr(level, name)
            if value is not None:
                values[name] = parse_duration(value) if name == "orphan_age" else value
    return Policy(**values)  # type: ignore[arg-type]
