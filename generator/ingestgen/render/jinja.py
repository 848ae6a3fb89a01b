"""The sandboxed, strict Jinja2 environment that renders ``templates/``.

Templates never see raw strings unescaped: every interpolated value goes through the ``yaml``
filter (a flow scalar/collection) or ``yaml_block`` (an indented block), both produced by
PyYAML's safe dumper (libyaml's when PyYAML has it: the same output, many times faster), so no
value can change the structure of the rendered YAML. Blocks and scalars are memoised by value: a
thousand tenants share the same plugin definitions and names, dumped once. ``comment`` puts text
inside a comment. What the filters return is opaque to templates (`ingestgen.render.structure`
records each value it rendered while a project renders): print it, never compute with it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from ingestgen.render.structure import fragment

_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def to_yaml(value: Any) -> str:
    """One value as inline YAML (quoted and escaped as needed)."""
    if type(value) in (str, int, bool):
        # Names and flags recur in every tenant's project: dumped once (by type: 1 and True
        # are equal keys, but dump differently).
        return fragment("scalar", _cached_scalar(type(value).__name__, value))
    return fragment("scalar", _scalar(value))


def to_comment(value: Any) -> str:
    """Text inside a YAML comment, as it is (`ingestgen.render.structure` checks its lines)."""
    return fragment("comment", str(value))


@lru_cache(maxsize=16384)
def _cached_scalar(kind: str, value: Any) -> str:
    return _scalar(value)


def _scalar(value: Any) -> str:
    text = yaml.dump(
        value,
        Dumper=_DUMPER,
        default_flow_style=True,
        sort_keys=False,
        width=10**9,
        allow_unicode=True,
    )
    return text.removesuffix("\n...\n").rstrip("\n")


def to_yaml_block(value: Any, indent: int) -> str:
    """A mapping or list as a YAML block, every line indented by ``indent`` spaces."""
    try:
        # JSON keeps order and tells 1, 1.0 and true apart: equal keys dump to equal YAML.
        key = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        return fragment("block", _block(value, indent), indent)
    return fragment("block", _cached_block(key, indent), indent)


@lru_cache(maxsize=4096)
def _cached_block(key: str, indent: int) -> str:
    return _block(json.loads(key), indent)


def _block(value: Any, indent: int) -> str:
    text = yaml.dump(
        value,
        Dumper=_DUMPER,
        default_flow_style=False,
        sort_keys=False,
        width=10**9,
        allow_unicode=True,
        indent=2,
    )
    pad = " " * indent
    return "\n".join(pad + line for line in text.rstrip("\n").splitlines())


def environment(templates: Path) -> SandboxedEnvironment:
    """The environment for the repository's ``templates/`` folder (includes stay inside it)."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(templates)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        # Loaded once per environment (one per render): otherwise every {% include %} of every
        # tenant's project stats the template file again.
        auto_reload=False,
    )
    env.filters["yaml"] = to_yaml
    env.filters["yaml_block"] = to_yaml_block
    env.filters["comment"] = to_comment
    return env
