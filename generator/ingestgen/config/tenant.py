"""The tenant id as a pydantic type for job files; the rule itself is the loader's.

The grammar lives in `target_iceberg.tenancy` (the loader re-checks tenant ids at run time with
it): 1-40 of ``a-z 0-9 _``, starting with a letter, never holding ``__`` (the separator after a
tenant id, in branch names and variable names) nor ending with ``_``, and never a name the catalog
reserves (``main``, ``master``). Look-alikes are refused with a message saying why.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from target_iceberg.tenancy import TENANT_ID_PATTERN, tenant_id_problem


def tenant_problem(value: str) -> str | None:
    """Why ``value`` is not a tenant id, as a message that names the fix; None when it is one."""
    refusal = tenant_id_problem(value)
    return None if refusal is None else f"{refusal.message} ({refusal.fix})"


def _check(value: str) -> str:
    problem = tenant_problem(value)
    if problem:
        raise ValueError(problem)
    return value


TenantId = Annotated[
    str,
    AfterValidator(_check),
    WithJsonSchema({"type": "string", "pattern": TENANT_ID_PATTERN, "maxLength": 40}),
]
"""A tenant id: safe as an Iceberg namespace, a Nessie branch, a folder and a Meltano name."""
