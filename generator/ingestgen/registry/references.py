"""The registry's small reference language: plugin config written with ``{a.b}`` references.

- A string that is exactly one reference takes the referenced value, of any type; when that value
  is absent the key (or list item) is left out.
- References inside longer strings are replaced by the value's text (absent: empty).
- ``{first_of: [alternative, ...]}`` takes the first alternative that has no whole-value
  references or at least one that resolves, e.g. a container image (with an optional engine)
  when the job names one, else a Python package. With one alternative it renders a block only
  when the job gives one of its values, beside values the platform fixes (a storage location).
- ``{options.a.b}`` references one key of an engine option that is a mapping: the job may then
  give only the keys referenced (``a: {b: ...}``), the rest of the block is the platform's.

Nothing here evaluates code or reads anything but the context it is given.
"""

from __future__ import annotations

import re
from typing import Any

_WHOLE = re.compile(r"^\{([a-z_][a-z0-9_.]*)\}$")
_PART = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
_MISSING = object()


def fill(value: Any, ctx: dict[str, Any]) -> Any:
    """``value`` with its references replaced from ``ctx`` (see the module docstring)."""
    filled = _fill(value, ctx, [], [])
    return {} if filled is _MISSING else filled


def _fill(value: Any, ctx: dict[str, Any], missing: list[str], found: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"first_of"} and isinstance(value["first_of"], list):
            return _first_of(value["first_of"], ctx, missing, found)
        out = {}
        for key, item in value.items():
            filled = _fill(item, ctx, missing, found)
            if filled is not _MISSING:
                out[key] = filled
        return out
    if isinstance(value, list):
        items = (_fill(item, ctx, missing, found) for item in value)
        return [v for v in items if v is not _MISSING]
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            result = lookup(ctx, whole.group(1))
            (missing if result is None else found).append(whole.group(1))
            return _MISSING if result is None else result
        return _PART.sub(lambda m: str(lookup(ctx, m.group(1)) or ""), value)
    return value


def _first_of(
    alternatives: list[Any], ctx: dict[str, Any], missing: list[str], found: list[str]
) -> Any:
    for alternative in alternatives:
        absent: list[str] = []
        resolved: list[str] = []
        filled = _fill(alternative, ctx, absent, resolved)
        if resolved or not absent:
            found += resolved
            return filled
    missing.append("first_of")
    return _MISSING


def lookup(ctx: dict[str, Any], dotted: str) -> Any:
    """The value at ``a.b.c`` in nested mappings, or None."""
    current: Any = ctx
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def option_names(config: Any) -> set[str]:
    """Every engine option ``config`` references: ``{options.a}`` and ``{options.a.b}`` give a."""
    return {name.split(".", 1)[0] for name in option_paths(config)}


def option_paths(config: Any) -> set[str]:
    """Every ``options.<path>`` referenced anywhere in ``config``, e.g. ``a`` or ``a.b``."""
    if isinstance(config, str):
        return {
            m.removeprefix("options.") for m in _PART.findall(config) if m.startswith("options.")
        }
    if isinstance(config, dict):
        return set().union(*(option_paths(v) for v in config.values())) if config else set()
    if isinstance(config, list):
        return set().union(*(option_paths(v) for v in config)) if config else set()
    return set()
