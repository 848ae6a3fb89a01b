"""Cron expressions that Meltano and Dagster both run: one check for every schedule we render."""

from __future__ import annotations

import re

from ingestgen.errors import excerpt

# 7 is Sunday too, as in Vixie cron and Dagster.
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
# The field forms Meltano's schema accepts (its meltano.yml check), all of which Dagster runs:
# *, */step, n, n-m, n/step, and lists of numbers. Names (mon, jan) and macros are not among them.
_CRON_FIELD = re.compile(r"^(?:\*(?:/\d+)?|\d+(?:[-/]\d+)?|\d+(?:,\d+)+)$")


def cron_problem(cron: str) -> str | None:
    """Why ``cron`` is not a five-field cron that Meltano and Dagster both run, or None."""
    fields = cron.split()
    if len(fields) != 5:
        return (
            f"{excerpt(cron)} has {len(fields)} field{'s' if len(fields) != 1 else ''}; a cron "
            "expression has five: minute hour day-of-month month day-of-week, e.g. '0 * * * *'"
        )
    for text, (label, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        match = _CRON_FIELD.match(text)
        if not match:
            return (
                f"{excerpt(cron)}: the {label} field {excerpt(text)} is not one of *, */step, n, "
                "n-m, n/step or n,m,... (numbers only)"
            )
        if "/" in text and int(text.rsplit("/", 1)[1]) == 0:
            return f"{excerpt(cron)}: the {label} field {excerpt(text)} has a step of 0"
        head = text.split("/", 1)[0]
        numbers = [int(n) for n in re.split(r"[-,]", head) if n != "*"]
        for number in numbers:
            if not low <= number <= high:
                return f"{excerpt(cron)}: {label} {number} is outside {low}-{high}"
        if "-" in head and numbers[0] > numbers[1]:
            return f"{excerpt(cron)}: the {label} range {excerpt(head)} runs backwards"
    return None
