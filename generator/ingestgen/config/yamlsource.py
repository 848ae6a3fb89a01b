"""Safe YAML reading that remembers where every key and value came from.

Only the YAML 1.1 core types are built (no ``!!python/`` or other custom tags), duplicate keys are
errors (PyYAML would silently keep the last one), and every node's line is kept so validation
errors can point at ``file:line``. Never evaluates or imports anything named in a document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingestgen.errors import ConfigError, Problem

Loc = tuple[str | int, ...]
# One constructor serves every scalar: it holds no document state between calls.
_SCALARS = yaml.SafeLoader("")
_SAFE_TAGS = {
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


@dataclass
class Located:
    """A parsed YAML document and the line of each value, keyed by its path."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """The line of the deepest existing node on ``loc`` (a missing key points at its parent)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return 1

    def problem(self, loc: Loc, message: str, hint: str = "") -> Problem:
        """A problem located at ``loc`` in this document."""
        return Problem(self.file, self.line_of(loc), dotted(loc), message, hint)


def dotted(loc: Loc) -> str:
    """``("source", "files", 0, "object")`` -> ``source.files[0].object``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_located(path: Path, display: str | None = None) -> Located:
    """Read one YAML file into a `Located` document.

    Args:
        path: the file to read.
        display: how to name the file in messages (a repository-relative path).

    Raises:
        ConfigError: the file is unreadable, not YAML, uses unsafe tags or repeats a key.
    """
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, 0, "", f"cannot read the file: {exc}")]) from None
    return parse_located(text, name)


def parse_located(text: str, name: str) -> Located:
    """Parse YAML text; see `load_located`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(name, line, "", f"not valid YAML: {reason}")]) from None
    doc = Located(name, None)
    problems: list[Problem] = []
    doc.data = _build(root, (), doc, problems) if root is not None else None
    if problems:
        raise ConfigError(problems)
    return doc


def _key(node: yaml.Node) -> Any:
    # Keys are built apart from values so that they never overwrite the parent's line.
    if isinstance(node, yaml.ScalarNode) and node.tag in _SAFE_TAGS:
        return _SCALARS.construct_object(node, deep=True)
    return None


def _build(node: yaml.Node, loc: Loc, doc: Located, problems: list[Problem]) -> Any:
    doc.lines[loc] = node.start_mark.line + 1
    if node.tag not in _SAFE_TAGS:
        problems.append(
            doc.problem(
                loc,
                f"the tag {node.tag!r} is not allowed",
                "only plain YAML values are accepted; remove the tag",
            )
        )
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(
                    doc.problem(loc, "merge keys (<<) are not supported", "write the keys out")
                )
                continue
            key = _key(key_node)
            if not isinstance(key, str | int):
                problems.append(doc.problem(loc, f"keys must be text, not {key!r}"))
                continue
            if key in out:
                doc.lines[(*loc, key)] = key_node.start_mark.line + 1
                problems.append(
                    doc.problem((*loc, key), f"the key {key!r} appears twice", "keep one of them")
                )
                continue
            out[key] = _build(value_node, (*loc, key), doc, problems)
            doc.lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), doc, problems) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node, deep=True)
