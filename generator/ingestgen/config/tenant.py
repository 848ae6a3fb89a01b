"""The tenant id grammar: one rule, used wherever a tenant id is read.

A tenant id names an Iceberg namespace, a Nessie branch, a folder, a Meltano name and the prefix
of the tenant's environment variables (``ACME__...``), so it is a plain identifier: 1-40 of
``a-z 0-9 _``, starting with a letter, never holding ``__`` (the separator after a tenant id, in
branch names and variable names) nor ending with ``_``, and never a name the catalog reserves
(``main``, ``master``). Look-alikes are refused with a message saying why: upper case, spaces,
and non-ASCII letters that merely look like ``a-z``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from ingestgen.errors import excerpt

RESERVED = frozenset({"main", "master"})
"""Branch names of the catalog itself: a tenant by that name would write them."""
PATTERN = r"^(?!(?:main|master)$)(?!.*__)[a-z](?:[a-z0-9_]{0,38}[a-z0-9])?$"
_VALID = re.compile(PATTERN)
_SHAPE = "use 1-40 lower-case letters, digits or '_', starting with a letter"


def tenant_problem(value: str) -> str | None:
    """Why ``value`` is not a tenant id, as a message that names the fix; None when it is one."""
    if _VALID.match(value):
        return None
    shown = excerpt(value)
    if value in RESERVED:
        return f"{shown} is reserved: it is the catalog's own branch (choose another tenant id)"
    foreign = next((c for c in value if not c.isascii()), None)
    if foreign is not None:
        name = unicodedata.name(foreign, "unnamed")
        return (
            f"{shown} is not a valid tenant id: it holds {foreign!r} (U+{ord(foreign):04X} "
            f"{name}), which is not an ASCII letter ({_SHAPE})"
        )
    if value != value.strip():
        return f"{shown} is not a valid tenant id: remove the spaces around it"
    if value.lower() != value and _VALID.match(value.lower()):
        return f"{shown} is not a valid tenant id: write it in lower case, {value.lower()!r}"
    if "__" in value and len(value) <= 40:
        fixed = re.sub("_+", "_", value).strip("_")
        return (
            f"{shown} is not a valid tenant id: '__' separates a tenant id from a branch suffix "
            f"or a variable name, so a tenant id never holds it (e.g. {fixed!r})"
        )
    if value.endswith("_") and len(value) <= 40:
        return f"{shown} is not a valid tenant id: remove the trailing '_'"
    return f"{shown} is not a valid tenant id ({_SHAPE})"


def _check(value: str) -> str:
    problem = tenant_problem(value)
    if problem:
        raise ValueError(problem)
    return value


TenantId = Annotated[
    str,
    AfterValidator(_check),
    WithJsonSchema({"type": "string", "pattern": PATTERN, "maxLength": 40}),
]
"""A tenant id: safe as an Iceberg namespace, a Nessie branch, a folder and a Meltano name."""
