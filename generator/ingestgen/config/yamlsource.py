"""Safe, bounded YAML reading that remembers where every key and value came from.

Every YAML file ingestgen reads from users goes through here: job files, asset specs, the
registry and runner.yaml. Only the YAML 1.1 core types are built (no ``!!python/`` or other custom
tags), duplicate keys and ``<<`` merges are errors (PyYAML would silently keep the last key), and
every node's line is kept so validation errors can point at ``file:line``. A file must be one
UTF-8 document without a byte-order mark, and stay within `Limits` (size, values, depth, alias
uses, value length, keys), checked before anything is built. Never evaluates or imports anything
named in a document, and never echoes more than an excerpt of a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from ingestgen.config.yamlcompose import LIMITS, Alias, LimitError, Limits, compose
from ingestgen.errors import ConfigError, Problem, excerpt

Loc = tuple[str | int, ...]
# One constructor serves every scalar; its per-type functions are called directly, which keeps
# no state (construct_object would remember every node it ever built).
_SCALARS = yaml.SafeLoader("")
_CONSTRUCTORS = yaml.SafeLoader.yaml_constructors
_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xef\xbb\xbf", "UTF-8"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)
_SAVE = "save it as UTF-8 text without a byte-order mark"
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
    if len(loc) > 12:
        # Only limit errors go this deep: the head and the tail say where.
        return f"{dotted(loc[:6])}...{dotted(loc[-2:])}"
    out = ""
    for part in loc:
        text = part if isinstance(part, int) or len(part) <= 60 else excerpt(part)
        out += f"[{text}]" if isinstance(part, int) else (f".{text}" if out else str(text))
    return out


def texts(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every text under ``value``, keys included, with its location (depth bounded by Limits)."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*loc, key), key
            yield from texts(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from texts(item, (*loc, index))


def load_located(path: Path, display: str | None = None, limits: Limits = LIMITS) -> Located:
    """Read one YAML file into a `Located` document.

    Args:
        path: the file to read.
        display: how to name the file in messages (a repository-relative path).
        limits: the bounds the file must stay within.

    Raises:
        ConfigError: the file is unreadable, too large, not UTF-8, not one YAML document, past
            a limit, uses unsafe tags or repeats a key.
    """
    name = display or str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.file_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError([Problem(name, 0, "", f"cannot read the file: {reason}")]) from None
    if len(data) > limits.file_bytes:
        raise ConfigError([_too_large(name, limits)])
    return parse_located(_decode(data, name), name, limits)


def _too_large(name: str, limits: Limits) -> Problem:
    return Problem(
        name,
        0,
        "",
        f"the file is larger than {limits.file_bytes // 1024:,} KiB",
        "a job, spec or registry file is a few KB; split it or remove what does not belong",
    )


def _decode(data: bytes, name: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise ConfigError(
                [Problem(name, 1, "", f"the file starts with a {encoding} byte-order mark", _SAVE)]
            )
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ConfigError(
            [Problem(name, line, "", "the file holds a NUL byte (UTF-16 or binary?)", _SAVE)]
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        message = f"the file is not UTF-8 text: byte 0x{byte} cannot be decoded"
        raise ConfigError([Problem(name, line, "", message, _SAVE)]) from None


def parse_located(text: str, name: str, limits: Limits = LIMITS) -> Located:
    """Parse YAML text; see `load_located`."""
    if len(text) > limits.file_bytes:
        raise ConfigError([_too_large(name, limits)])
    if text.startswith("\ufeff") or "\x00" in text:
        raise ConfigError([Problem(name, 1, "", "the text holds a byte-order mark or NUL", _SAVE)])
    try:
        root = compose(text, limits)
    except LimitError as exc:
        raise ConfigError(
            [Problem(name, exc.line, dotted(exc.loc), exc.message, exc.hint)]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError([Problem(name, line, "", f"not valid YAML: {reason}")]) from None
    doc = Located(name, None)
    problems: list[Problem] = []
    doc.data = _build(root, (), doc, problems) if root is not None else None
    if problems:
        raise ConfigError(problems)
    return doc


def _scalar(node: yaml.ScalarNode) -> Any:
    # Values the resolver typed but Python cannot hold (2026-13-45, a date out of range).
    try:
        return _CONSTRUCTORS[node.tag](_SCALARS, node)
    except (ValueError, OverflowError, yaml.constructor.ConstructorError):
        return _INVALID


_INVALID = object()


def _bad_key(node: yaml.Node, key: Any) -> tuple[str, str]:
    if node.tag not in _SAFE_TAGS:
        return f"the tag {excerpt(node.tag)} is not allowed", "remove the tag"
    if not isinstance(node, yaml.ScalarNode):
        what = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
        return f"keys must be text, not {what}", "write the key as plain text"
    shown = excerpt(node.value if key is _INVALID else key)
    return f"keys must be text, not {shown}", "quote the key to keep it as text"


def _key(node: yaml.Node | Alias) -> Any:
    # Keys are built apart from values so that they never overwrite the parent's line.
    if isinstance(node, Alias):
        node = node.node
    if isinstance(node, yaml.ScalarNode) and node.tag in _SAFE_TAGS:
        return _scalar(node)
    return None


def _build(item: yaml.Node | Alias, loc: Loc, doc: Located, problems: list[Problem]) -> Any:
    # Recursion is bounded by Limits.depth, aliases included (checked while composing).
    node = item.node if isinstance(item, Alias) else item
    doc.lines[loc] = item.line if isinstance(item, Alias) else node.start_mark.line + 1
    if node.tag not in _SAFE_TAGS:
        problems.append(
            doc.problem(
                loc,
                f"the tag {excerpt(node.tag)} is not allowed",
                "only plain YAML values are accepted; remove the tag",
            )
        )
        return None
    if isinstance(node, yaml.MappingNode):
        return _mapping(node, loc, doc, problems)
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, (*loc, i), doc, problems) for i, child in enumerate(node.value)]
    value = _scalar(cast(yaml.ScalarNode, node))
    if value is _INVALID:
        kind = node.tag.rsplit(":", 1)[-1]
        problems.append(
            doc.problem(
                loc, f"{excerpt(node.value)} is not a valid {kind}", "quote it to keep it as text"
            )
        )
        return None
    return value


def _mapping(node: yaml.MappingNode, loc: Loc, doc: Located, problems: list[Problem]) -> Any:
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        plain = key_node.node if isinstance(key_node, Alias) else key_node
        if plain.tag == "tag:yaml.org,2002:merge":
            problems.append(
                doc.problem(loc, "merge keys (<<) are not supported", "write the keys out")
            )
            continue
        key = _key(key_node)
        if not isinstance(key, str | int) or isinstance(key, bool):
            problems.append(doc.problem(loc, *_bad_key(plain, key)))
            continue
        if key in out:
            doc.lines[(*loc, key)] = plain.start_mark.line + 1
            problems.append(
                doc.problem(
                    (*loc, key), f"the key {excerpt(key)} appears twice", "keep one of them"
                )
            )
            continue
        out[key] = _build(value_node, (*loc, key), doc, problems)
        doc.lines[(*loc, key)] = plain.start_mark.line + 1
    return out
