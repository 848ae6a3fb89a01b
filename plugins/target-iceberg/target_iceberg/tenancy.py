"""Tenant isolation rules, one implementation for render time and run time.

The generator checks job files with these rules (``ingestgen validate``/``render``) and the loader
checks its settings with them again before any catalog call (`target_iceberg.guard`), so a
hand-edited or stale project is held to the same rules as a job file.

- A **tenant id** is ``^[a-z][a-z0-9_]{0,39}$`` with no ``__`` and no trailing ``_``, and not a
  reserved name (``main``, ``master``): ``__`` can then separate a tenant id from anything after it.
- A tenant's **branch** is ``<tenant>`` or ``<tenant>__<suffix>`` with the suffix
  ``[a-z0-9]+(?:_[a-z0-9]+)*``, at most 100 characters, and a name Nessie accepts as a reference
  (`nessie_ref_problem`). ``acme_eu`` is not acme's branch: it is tenant ``acme_eu``'s.
- A tenant's **warehouse prefix** is ``<lake_root>/<tenant>/``; nothing else is its own.

Every check returns None when the value is the tenant's own, else a `Refusal` saying why and what
to write instead. This module never touches the network or the file system.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from plugin_errors import excerpt

RESERVED_TENANTS = frozenset({"main", "master"})
"""Branch names of the catalog itself: a tenant by that name would write them."""
TENANT_ID_PATTERN = r"^(?!(?:main|master)$)(?!.*__)[a-z](?:[a-z0-9_]{0,38}[a-z0-9])?$"
"""The whole tenant-id rule as one regular expression (for JSON Schema and other readers)."""
TENANT_ID = re.compile(TENANT_ID_PATTERN)
_TENANT_SHAPE = (
    "use 1-40 lower-case letters, digits and single '_' (not at the end), starting with a "
    "letter, and not main or master"
)
BRANCH_SEPARATOR = "__"
BRANCH_SUFFIX = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
MAX_BRANCH = 100

# Nessie's reference-name rule (org.projectnessie.model.Validation, REF_NAME_REGEX without the
# lone "-" that names the default branch), and the names it forbids: HEAD and DETACHED in any
# case, and anything that reads as a commit hash.
NESSIE_REF_NAME = re.compile(r"^[A-Za-z](?:(?:(?![.][.])[A-Za-z0-9./_-])*[A-Za-z0-9_-])?$")
NESSIE_HASH = re.compile(r"^[0-9a-fA-F]{8,64}$")
NESSIE_FORBIDDEN = frozenset({"HEAD", "DETACHED"})


@dataclass(frozen=True)
class Refusal:
    """Why a value is not the tenant's own, and what to write instead."""

    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.message}; {self.fix}"


def tenant_id_problem(tenant: str) -> Refusal | None:
    """None if ``tenant`` is a valid tenant id; else why not, look-alikes explained."""
    if TENANT_ID.match(tenant):
        return None
    shown = excerpt(tenant)
    if tenant in RESERVED_TENANTS:
        return Refusal(
            f"{shown} is reserved: it is the catalog's own branch", "choose another tenant id"
        )
    foreign = next((c for c in tenant if not c.isascii()), None)
    if foreign is not None:
        name = unicodedata.name(foreign, "unnamed")
        return Refusal(
            f"{shown} is not a valid tenant id: it holds {foreign!r} (U+{ord(foreign):04X} "
            f"{name}), which is not an ASCII letter",
            _TENANT_SHAPE,
        )
    if tenant != tenant.strip():
        return Refusal(f"{shown} is not a valid tenant id", "remove the spaces around it")
    if tenant.lower() != tenant and TENANT_ID.match(tenant.lower()):
        return Refusal(
            f"{shown} is not a valid tenant id", f"write it in lower case, {tenant.lower()!r}"
        )
    if BRANCH_SEPARATOR in tenant and len(tenant) <= 40:
        fixed = re.sub("_+", "_", tenant).strip("_")
        return Refusal(
            f"{shown} is not a valid tenant id: '__' separates a tenant id from a branch suffix "
            "or a variable name, so a tenant id never holds it",
            f"e.g. {fixed!r}",
        )
    if tenant.endswith("_") and len(tenant) <= 40:
        return Refusal(f"{shown} is not a valid tenant id", "remove the trailing '_'")
    return Refusal(f"{shown} is not a valid tenant id", _TENANT_SHAPE)


def nessie_ref_problem(name: str) -> str | None:
    """None if Nessie accepts ``name`` as a branch or tag name, else why not."""
    if not NESSIE_REF_NAME.match(name):
        return (
            f"{excerpt(name)} is not a Nessie reference name (start with a letter, then letters, "
            "digits or ./_-, not ending in '/' or '.', no '..')"
        )
    if name.upper() in NESSIE_FORBIDDEN or NESSIE_HASH.match(name):
        return f"Nessie refuses {excerpt(name)} as a reference name (HEAD, DETACHED or hash-like)"
    return None


def branch_problem(branch: str, tenant: str) -> Refusal | None:
    """None if ``branch`` is one of ``tenant``'s own branches."""
    if (bad := tenant_id_problem(tenant)) is not None:
        return bad
    fix = (
        f"use {tenant!r} or '{tenant}{BRANCH_SEPARATOR}<suffix>' with a suffix of lower-case "
        "letters and digits in words joined by single '_'"
    )
    if branch in RESERVED_TENANTS:
        return Refusal(f"{excerpt(branch)} is never a tenant's branch", fix)
    if branch != tenant:
        suffix = branch.removeprefix(f"{tenant}{BRANCH_SEPARATOR}")
        if suffix == branch or not BRANCH_SUFFIX.match(suffix):
            return Refusal(f"{excerpt(branch)} is not tenant {tenant!r}'s own branch", fix)
    if len(branch) > MAX_BRANCH:
        return Refusal(f"branch {excerpt(branch)} is longer than {MAX_BRANCH} characters", fix)
    if (nessie := nessie_ref_problem(branch)) is not None:
        return Refusal(nessie, f"{fix}; a branch name must not read as a hash")
    return None


def warehouse_prefix(lake_root: str, tenant: str) -> str:
    """The tenant's warehouse prefix: ``<lake_root>/<tenant>/``."""
    return f"{lake_root.rstrip('/')}/{tenant}/"


def warehouse_problem(warehouse: str, lake_root: str, tenant: str) -> Refusal | None:
    """None if ``warehouse`` is exactly the tenant's prefix (the trailing ``/`` is optional).

    The comparison is on the text, so percent-encoding, ``..``, doubled slashes, other buckets
    and schemes, and prefixes inside or above another tenant's are all refused.
    """
    own = warehouse_prefix(lake_root, tenant)
    if warehouse in (own, own.rstrip("/")):
        return None
    return Refusal(
        f"{excerpt(warehouse)} is not tenant {tenant!r}'s own prefix",
        f"omit it or write {own!r} (the platform's lake root {lake_root!r} plus the tenant id)",
    )
