"""The registry's small reference language: plugin config written with ``{a.b}`` references.

- A string that is exactly one reference takes the referenced value, of any type; when that value
  is absent the key (or list item) is left out.
- References inside longer strings are replaced by the value's text (absent: empty).
- ``{first_of: [alternative, ...]}`` takes the first alternative that has no whole-value
  references or at least one that resolves, e.g. a container image (with an optional engine)
  when the job names one, else a Python package. Literal values inside an alternative do not
  count as resolving, so an alternative may carry defaults (a nested ``first_of`` ending in a
  literal) and still be skipped when none of its references resolve. With one alternative it
  renders a block only when the job gives one of its values, beside values the platform fixes
  (a storage location).
- ``{options.a.b}`` references one key of an engine option that is a mapping: the job may then
  give only the keys referenced (``a: {b: ...}``), the rest of the block is the platform's.

Nothing here evaluates code or reads anything but the context it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_WHOLE = re.compile(r"^\{([a-z_][a-z0-9_.]*)\}$")
_PART = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
_MISSING = object()


@dataclass
class _Refs:
    """The whole-value references met while filling one value: absent and resolved."""

    missing: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)


def fill(value: Any, ctx: dict[str, Any]) -> Any:
    """``value`` with its references replaced from ``ctx`` (see the module docstring)."""
    filled = _fill(value, ctx, _Refs())
    return {} if filled is _MISSING else filled


def _fill(value: Any, ctx: dict[str, Any], refs: _Refs) -> Any:
    if isinstance(value, dict):
        if set(value) == {"first_of"} and isinstance(value["first_of"], list):
            return _first_of(value["first_of"], ctx, refs)
        out = {}
        for key, item in value.items():
            filled = _fill(item, ctx, refs)
            if filled is not _MISSING:
                out[key] = filled
        return out
    if isinstance(value, list):
        items = (_fill(item, ctx, refs) for item in value)
        return [v for v in items if v is not _MISSING]
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            found = lookup(ctx, whole.group(1))
            if found is None:
                refs.missing.append(whole.group(1))
                return _MISSING
            refs.found.append(whole.group(1))
            return found
        return _PART.sub(lambda m: str(lookup(ctx, m.group(1)) or ""), value)
    return value


def _first_of(alternatives: list[Any], ctx: dict[str, Any], refs: _Refs) -> Any:
    for alternative in alternatives:
        own = _Refs()
        filled = _fill(alternative, ctx, own)
        if not own.missing or own.found:
            refs.found += own.found
            return filled
    refs.missing.append("first_of")
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
