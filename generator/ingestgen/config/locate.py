"""Turn pydantic validation errors into located, readable problems that name the fix."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ingestgen.config.yamlsource import Loc, Located
from ingestgen.errors import Problem, excerpt
from target_iceberg.strict import Hint


def problems_from(
    exc: ValidationError, doc: Located, model: type[BaseModel], base: Loc = ()
) -> list[Problem]:
    """One `Problem` per pydantic error, located in ``doc``.

    Args:
        exc: the validation error.
        doc: the document the validated data came from.
        model: the model that was validated (to list valid keys for unknown ones).
        base: where the validated data sits inside ``doc``.
    """
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = (*base, *_clean(err["loc"]))
        message, hint = _describe(err, model, tuple(_clean(err["loc"])))
        out.append(doc.problem(loc, message, hint))
    return out


def _clean(loc: tuple[int | str, ...]) -> list[int | str]:
    # pydantic adds the tag of a tagged union or the function name of a validator as a loc part.
    return [part for part in loc if not (isinstance(part, str) and part.startswith("function-"))]


def _describe(err: Any, model: type[BaseModel], loc: Loc) -> tuple[str, str]:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        valid = sorted(allowed_keys(model, loc[:-1]))
        close = difflib.get_close_matches(str(key), valid, n=1)
        hint = f"did you mean {excerpt(close[0])}? " if close else ""
        return f"unknown key {excerpt(key)}", hint + "valid keys: " + ", ".join(valid)
    if kind == "missing":
        return "this key is required but missing", "add it"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{excerpt(value)} is not one of {expected}", ""
    if kind in {"value_error", "assertion_error"}:
        text = str(ctx.get("error", err["msg"]))
        return text, ""
    if kind == "string_pattern_mismatch":
        found = _hint(model, loc)
        if found is None:
            return (
                f"{excerpt(value)} is not a valid value",
                f"it must match {ctx.get('pattern', '')}",
            )
        return f"{excerpt(value)} is not a valid {found.label}", found.fix
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"expected {_kind_name(kind)}, got {type(value).__name__} {excerpt(value)}", ""
    return err["msg"][0].lower() + err["msg"][1:], ""


def _kind_name(kind: str) -> str:
    names = {
        "string_type": "text",
        "int_type": "a whole number",
        "int_parsing": "a whole number",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "list_type": "a list",
        "dict_type": "a mapping of keys to values",
        "model_type": "a mapping of keys to values",
        "float_type": "a number",
        "float_parsing": "a number",
    }
    return names.get(kind, kind.replace("_", " "))


def _hint(model: type[BaseModel], loc: Loc) -> Hint | None:
    """The `Hint` the constrained type at ``loc`` carries (see `target_iceberg.strict.Hint`)."""
    found = _walk(model, loc)
    metadata = found[1] if found else []
    return next((m for m in metadata if isinstance(m, Hint)), None)


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys a mapping at ``loc`` (relative to ``model``) may hold, by their YAML names."""
    found = _walk(model, loc)
    current = found[0] if found else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _walk(model: type[BaseModel], loc: Loc) -> tuple[Any, list[Any]] | None:
    """The type at ``loc`` inside ``model`` and its ``Annotated`` metadata, or None."""
    current: tuple[Any, list[Any]] = (model, [])
    for part in loc:
        step = _step(current[0], part)
        if step is None:
            return None
        current = step
    return current


def _step(current: Any, part: str | int) -> tuple[Any, list[Any]] | None:
    if isinstance(part, int):
        args = typing.get_args(current)
        return _unwrap(args[0]) if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        for name, info in current.model_fields.items():
            if part in {name, info.alias}:
                inner, metadata = _unwrap(info.annotation)
                # pydantic moves a field's own Annotated metadata onto the field.
                return inner, [*info.metadata, *metadata]
    return None


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    # Optional[X] / X | None -> X; Annotated[X, ...] -> X, keeping what Annotated carried.
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, metadata = _unwrap(typing.get_args(annotation)[0])
        return inner, [*annotation.__metadata__, *metadata]
    if origin in {typing.Union, types.UnionType}:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else (annotation, [])
    return annotation, []
