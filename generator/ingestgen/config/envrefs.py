r"""Environment references in job files: only a tenant's own secrets, only in secret settings.

Meltano expands ``${NAME}`` (any word) and ``$NAME`` (upper-case start) in every config value it
passes to a plugin, nested ones included, from the environment of the run. Written in a job, such
a reference would read whatever the runner holds: the platform's own S3 keys into a field the
tenant can see. So a job value may hold one only where the registry declares a secret, and then
exactly one reference named ``<TENANT>__<NAME>`` (``${ACME__GDRIVE_SERVICE_ACCOUNT_KEY}``): the
variables a runner passes to that tenant's runs and to no other. Everywhere else (paths, nested
values, keys, engine options, the target) a ``$`` that Meltano could expand is an error; ``\$``
writes a literal dollar sign. References the registry itself writes are the platform's and are
not checked here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ingestgen.config.yamlsource import Loc, Located, texts
from ingestgen.errors import Problem, excerpt

# Every form Meltano expands (its ENV_VAR_PATTERN: ``${word}`` and ``$UPPER``) and more: any
# ``${`` and any ``$`` before a letter or '_', unless escaped with a backslash as Meltano allows.
EXPANDABLE = re.compile(r"(?<!\\)\$(?:\{|[A-Za-z_])")
_SHOWN = re.compile(r"(?<!\\)\$(?:\{[^}]{0,60}\}?|[A-Za-z_][A-Za-z0-9_]{0,60})")
_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_]+)\}$")
_REST = re.compile(r"^[A-Z0-9]+(?:_[A-Z0-9]+)*$")
_LITERAL = "write a literal '$' as '\\$'"


def variable_prefix(tenant: str) -> str:
    """The prefix of every variable a tenant's job may reference: ``acme`` -> ``ACME__``."""
    return f"{tenant.upper()}__"


def find_references(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """Every text (value or key) under ``value`` that Meltano could expand, with its location."""
    return ((at, text) for at, text in texts(value, loc) if EXPANDABLE.search(text))


def reference_problems(value: Any, loc: Loc, doc: Located, secrets: list[str]) -> list[Problem]:
    """A located problem for each expandable ``$`` under ``value``, a place for no secret."""
    where = (
        f"only the secret settings of this connector ({', '.join(secrets)})"
        if secrets
        else "only a connector's secret settings"
    )
    return [
        doc.problem(
            at,
            f"{excerpt(text)} holds {excerpt(_first(text))}, an environment reference that "
            "Meltano would expand from the runner's environment",
            f"{where} may reference a variable; write the value itself, or {_LITERAL}",
        )
        for at, text in find_references(value, loc)
    ]


def _first(text: str) -> str:
    match = _SHOWN.search(text)
    return match.group(0) if match else "$"


def secret_problem(key: str, value: Any, tenant: str) -> tuple[str, str] | None:
    """Why ``value`` is not a reference to one of ``tenant``'s variables, with the fix; or None."""
    prefix = variable_prefix(tenant)
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    name = match.group(1) if match else ""
    rest = name[len(prefix) :] if name.startswith(prefix) else ""
    if match and _REST.match(rest):
        return None
    if not match:
        if isinstance(value, str) and EXPANDABLE.search(value):
            message = f"{excerpt(value)} must be exactly one reference, ${{{prefix}<NAME>}}"
        else:
            message = "a secret must not be written in the job file"
        suggested = prefix + _clean(key)
    else:
        message = f"{excerpt(value)} is not a variable of tenant {tenant!r}"
        suggested = prefix + _clean(name.split("__", 1)[-1])
    return message, (
        f"give it as an environment reference, e.g. {key}: ${{{suggested}}}, and set "
        f"{suggested} where the job runs (a run of tenant {tenant!r} receives only {prefix}* "
        "variables)"
    )


def _clean(name: str) -> str:
    # A REST part for a suggestion: upper case, single '_' between letters and digits.
    words = re.findall(r"[A-Za-z0-9]+", name.upper())
    return "_".join(words) or "SECRET"
