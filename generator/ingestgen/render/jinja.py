"""The sandboxed, strict Jinja2 environment that renders ``templates/``.

Templates never see raw strings unescaped: every interpolated value goes through the ``yaml``
filter (a flow scalar/collection) or ``yaml_block`` (an indented block), both produced by
PyYAML's safe dumper, so no value can change the structure of the rendered YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment


def to_yaml(value: Any) -> str:
    """One value as inline YAML (quoted and escaped as needed)."""
    text = yaml.safe_dump(
        value, default_flow_style=True, sort_keys=False, width=10**9, allow_unicode=True
    )
    return text.removesuffix("\n...\n").rstrip("\n")


def to_yaml_block(value: Any, indent: int) -> str:
    """A mapping or list as a YAML block, every line indented by ``indent`` spaces."""
    text = yaml.safe_dump(
        value, default_flow_style=False, sort_keys=False, width=10**9, allow_unicode=True, indent=2
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
    )
    env.filters["yaml"] = to_yaml
    env.filters["yaml_block"] = to_yaml_block
    return env
