"""Check a job's connector settings against the registry's JSON Schema for that connector."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from ingestgen.config.envrefs import reference_problems, secret_problem
from ingestgen.config.yamlsource import Located
from ingestgen.errors import Problem, excerpt
from ingestgen.paths import connector_path
from ingestgen.registry.models import SourceConnector


def check_settings(
    settings: dict[str, Any], source: SourceConnector, doc: Located, tenant: str, root: Path
) -> list[Problem]:
    """Located problems with the connector keys under ``source:`` (empty when all is well).

    Secret settings must be one reference to a variable of ``tenant``
    (`ingestgen.config.envrefs`); no other setting may reference the environment at all. Path
    settings follow `ingestgen.paths.connector_path`, on ``root``'s disk.
    """
    problems = []
    errors = _validator(source.config_schema).iter_errors(settings)
    for error in sorted(errors, key=lambda e: e.path):
        loc: tuple[str | int, ...] = ("source", *error.absolute_path)
        message, hint = _describe(error)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # Point at the unknown key itself rather than at its parent mapping.
            extra = sorted(set(error.instance) - set(error.schema.get("properties") or {}))
            loc = (*loc, extra[0]) if extra else loc
        problems.append(doc.problem(loc, message, hint))
    for key, value in settings.items():
        if key in source.paths and isinstance(value, str):
            where = connector_path(value, tenant, root)
            if isinstance(where, str):
                problems.append(doc.problem(("source", key), f"{excerpt(value)}: {where}"))
            continue
        if key not in source.secrets:
            problems += reference_problems(value, ("source", key), doc, source.secrets)
            continue
        wrong = secret_problem(key, value, tenant) if value is not None else None
        if wrong:
            problems.append(doc.problem(("source", key), *wrong))
    return problems


# One validator per connector schema (the registry is loaded once per render, a thousand jobs
# name one connector). Keyed by identity, the schema kept alive beside it so that its id is not
# reused while cached.
_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}
_VALIDATORS_MAX = 256


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    found = _VALIDATORS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    if len(_VALIDATORS) >= _VALIDATORS_MAX:
        _VALIDATORS.clear()
    validator = Draft202012Validator(schema)
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def _describe(error: SchemaError) -> tuple[str, str]:
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    properties: dict[str, Any] = schema.get("properties") or {}
    if error.validator == "additionalProperties":
        allowed = sorted(properties)
        extra = (
            sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        )
        key = extra[0] if extra else "?"
        close = difflib.get_close_matches(key, allowed, n=1)
        # At the top level the job's own source keys are valid too.
        valid = allowed if error.absolute_path else ["type", "engine", "incremental", *allowed]
        hint = (
            (f"did you mean {excerpt(close[0])}? " if close else "")
            + "valid keys: "
            + ", ".join(valid)
        )
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        return f"unknown key {excerpt(key)}{more}", hint
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        what = missing[0] if missing else error.message
        desc = (properties.get(what) or {}).get("description", "")
        return f"missing required key {excerpt(what)}", desc
    if error.validator == "enum":
        choices: list[Any] = list(schema.get("enum") or [])
        return f"{excerpt(error.instance)} is not one of " + ", ".join(str(v) for v in choices), ""
    if error.validator == "type":
        return (
            f"expected {error.validator_value}, "
            f"got {type(error.instance).__name__} {excerpt(error.instance)}",
            "",
        )
    # jsonschema's own messages start with the value's repr, which may be huge.
    return error.message.replace(repr(error.instance), excerpt(error.instance)), ""
