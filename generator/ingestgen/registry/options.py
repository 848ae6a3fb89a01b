"""Check a job's engine options (``source.engine.options.<engine>``, ``target.engine...``).

An option's name must be one the engine's rendering references (``{options.<name>}``); where
the registry declares a schema for the engine (``engine_options``), the values must match it
too, e.g. a container image must be a pinned image reference. Nothing here looks at the
machine: whether an image exists locally is checked where the job runs, by the plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from ingestgen.config.load import JobFile
from ingestgen.errors import Problem, excerpt
from ingestgen.registry.models import EngineBinding
from ingestgen.registry.references import option_paths


def check_options(
    job: JobFile,
    side: str,
    engine: str,
    binding: EngineBinding,
    options: dict[str, Any],
    schema: dict[str, Any] | None,
) -> list[Problem]:
    """Located problems with one side's engine options (empty when all is well).

    Args:
        job: The job file.
        side: ``source`` or ``target``.
        engine: The chosen engine.
        binding: The connector's rendering for that engine.
        options: The job's options for that engine.
        schema: The registry's schema of the engine's options, if it declares one.

    Returns:
        The problems, unknown names first.
    """
    valid = {name.split(".", 1)[0] for name in _paths(binding)}
    loc = (side, "engine", "options", engine)
    problems = [
        job.doc.problem(
            (*loc, key),
            f"unknown option {excerpt(key)} for the {engine} engine",
            "valid options: " + (", ".join(sorted(valid)) or "none"),
        )
        for key in sorted(set(options) - valid)
    ]
    problems += _partial_options(job, loc, binding, options, valid)
    if schema is None:
        return problems
    known = {key: value for key, value in options.items() if key in valid}
    # dependentRequired is checked here rather than by jsonschema, whose error names no key
    # to point at.
    dependent: dict[str, list[str]] = schema.get("dependentRequired") or {}
    for key in sorted(known):
        for needed in dependent.get(key, []):
            if needed not in known:
                problems.append(
                    job.doc.problem(
                        (*loc, key),
                        f"option {excerpt(key)} needs option {needed!r}",
                        _description(schema, needed),
                    )
                )
    errors = sorted(_validator(schema).iter_errors(known), key=lambda e: list(e.path))
    for error in errors:
        problems.append(job.doc.problem((*loc, *error.absolute_path), *_describe(error, schema)))
    return problems


def _partial_options(
    job: JobFile,
    loc: tuple[str, ...],
    binding: EngineBinding,
    options: dict[str, Any],
    valid: set[str],
) -> list[Problem]:
    # An option referenced only by some of its keys ({options.a.b}): the job gives those keys,
    # the registry writes the rest (e.g. batch_config's encoding and batch_size are the job's,
    # where the files go is the platform's).
    paths = _paths(binding)
    problems: list[Problem] = []
    for key in sorted(set(options) & valid - paths):
        keys = sorted({p.split(".")[1] for p in paths if p.startswith(f"{key}.")})
        value = options[key]
        extra = sorted(set(value) - set(keys)) if isinstance(value, dict) else [None]
        problems += [
            job.doc.problem(
                (*loc, key) if name is None else (*loc, key, name),
                f"expected a mapping, got {excerpt(value)}"
                if name is None
                else f"{excerpt(name)} is not a setting a job gives in {key}",
                f"give only {', '.join(keys)}; the platform sets the rest",
            )
            for name in extra
        ]
    return problems


# The registry is loaded once per render and a thousand jobs use one binding and one options
# schema: what is derived from them is kept by identity (beside the object itself, so that its
# id is not reused while cached).
_DERIVED: dict[tuple[str, int], tuple[object, Any]] = {}
_DERIVED_MAX = 1024


def _derived(kind: str, source: object, build: Callable[[], Any]) -> Any:
    found = _DERIVED.get((kind, id(source)))
    if found is not None and found[0] is source:
        return found[1]
    if len(_DERIVED) >= _DERIVED_MAX:
        _DERIVED.clear()
    value = build()
    _DERIVED[(kind, id(source))] = (source, value)
    return value


def _paths(binding: EngineBinding) -> frozenset[str]:
    # Every options.<path> the binding references (`option_paths`).
    paths: frozenset[str] = _derived(
        "paths", binding, lambda: frozenset(option_paths(binding.templates()))
    )
    return paths


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    # dependentRequired is left out: check_options reports it itself.
    values = {k: v for k, v in schema.items() if k != "dependentRequired"}
    validator: Draft202012Validator = _derived(
        "validator", schema, lambda: Draft202012Validator(values)
    )
    return validator


def _property(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return dict((schema.get("properties") or {}).get(name) or {})


def _description(schema: dict[str, Any], name: str) -> str:
    return str(_property(schema, name).get("description", ""))


def _describe(error: SchemaError, schema: dict[str, Any]) -> tuple[str, str]:
    name = str(error.absolute_path[0]) if error.absolute_path else ""
    hint = _description(schema, name)
    if error.validator == "pattern":
        return f"{excerpt(error.instance)} is not a valid {name}", hint
    if error.validator == "enum":
        choices = ", ".join(str(choice) for choice in _property(schema, name).get("enum", []))
        return f"{excerpt(error.instance)} is not one of {choices}", hint
    if error.validator == "type":
        got = type(error.instance).__name__
        return f"expected {error.validator_value}, got {got} {excerpt(error.instance)}", hint
    return error.message, hint
