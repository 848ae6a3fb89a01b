"""Compose YAML events into nodes within limits no honest file reaches, before building anything.

PyYAML's composer is recursive (thousands of ``[`` end in a `RecursionError`) and shares aliased
nodes, which every later reader of the data expands again (a few hundred bytes of nested
aliases become billions of values). This composer walks the parser's events with an explicit
stack and counts, as it goes, what the document would be once every alias is expanded: nodes,
depth, alias uses, scalar length and keys per mapping. Past a limit it stops at once with the
line where the limit was crossed, so the cost of a hostile file is bounded by the limits, not
by the file. It never builds Python values; `ingestgen.config.yamlsource` does, from its nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import yaml

from ingestgen.errors import excerpt

# The C parser (libyaml) when PyYAML has it: the same events, scanned in C.
_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The implicit types of YAML 1.1 (bool, int, float, null, timestamp, merge), as SafeLoader's.
_resolve = cast(Callable[[type, Any, Any], str], yaml.resolver.Resolver().resolve)
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_VALUE = "tag:yaml.org,2002:value"
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Limits:
    """Bounds on one YAML file, each far above what a job, spec, registry or runner file needs.

    The largest honest files are the registry (tens of KB) and asset specs of wide tables
    (about 60 bytes and 7 nodes per column: 5,000 columns are 300 KB and 35,000 nodes).
    """

    file_bytes: int = 1 << 20
    """Size of the file: 1 MiB."""
    nodes: int = 100_000
    """Nodes (values, keys, lists, mappings) once every alias is expanded."""
    aliases: int = 1_000
    """Uses of ``*alias``."""
    depth: int = 64
    """Nesting of lists and mappings, aliases expanded (a job needs about 8)."""
    scalar_chars: int = 65_536
    """Characters in one value or key."""
    number_chars: int = 100
    """Characters in one number (a longer one costs quadratic time to convert)."""
    keys: int = 10_000
    """Keys in one mapping."""


LIMITS = Limits()


class LimitError(Exception):
    """The document crossed a limit or is malformed in a way the parser lets through."""

    def __init__(self, line: int, loc: tuple[str | int, ...], message: str, hint: str) -> None:
        super().__init__(message)
        self.line, self.loc, self.message, self.hint = line, loc, message, hint


@dataclass(frozen=True)
class Alias:
    """A use of an anchored node, kept apart so that its own line is known."""

    node: yaml.Node
    line: int


@dataclass
class _Frame:
    node: yaml.SequenceNode | yaml.MappingNode
    anchor: str | None
    size: int = 1
    height: int = 1
    key: Any = None
    """The pending key node of a mapping, until its value arrives."""


@dataclass
class _Composer:
    limits: Limits
    anchors: dict[str, tuple[yaml.Node, int, int] | None] = field(default_factory=dict)
    """Anchor -> (node, expanded size, height); None while the node is being composed."""
    stack: list[_Frame] = field(default_factory=list)
    total: int = 0
    aliases: int = 0
    root: Any = None

    def loc(self) -> tuple[str | int, ...]:
        out: list[str | int] = []
        for frame in self.stack:
            if isinstance(frame.node, yaml.SequenceNode):
                out.append(len(frame.node.value))
            elif frame.key is not None:
                key = frame.key.node if isinstance(frame.key, Alias) else frame.key
                out.append(key.value if isinstance(key, yaml.ScalarNode) else "?")
        return tuple(out)

    def fail(self, mark: Any, message: str, hint: str) -> LimitError:
        return LimitError(mark.line + 1, self.loc(), message, hint)

    def count(self, mark: Any, size: int, height: int) -> None:
        self.total += size
        if self.total > self.limits.nodes:
            raise self.fail(
                mark,
                f"the document holds more than {self.limits.nodes:,} values once its aliases "
                "are expanded",
                "split the file, or write values out instead of repeating aliases",
            )
        if len(self.stack) + height > self.limits.depth:
            raise self.fail(
                mark,
                f"values are nested more than {self.limits.depth} levels deep",
                "flatten the structure; no job, spec or registry needs this depth",
            )

    def add(self, item: yaml.Node | Alias, size: int, height: int) -> None:
        if not self.stack:
            self.root = item
            return
        frame = self.stack[-1]
        frame.size += size
        frame.height = max(frame.height, height + 1)
        if isinstance(frame.node, yaml.SequenceNode):
            frame.node.value.append(item)
        elif frame.key is None:
            frame.key = item
        else:
            frame.node.value.append((frame.key, item))
            frame.key = None
            if len(frame.node.value) > self.limits.keys:
                raise self.fail(
                    frame.node.start_mark,
                    f"a mapping holds more than {self.limits.keys:,} keys",
                    "split it; no job, spec or registry needs this many",
                )

    def anchor(self, name: str | None, mark: Any) -> None:
        if name is None:
            return
        if name in self.anchors:
            raise self.fail(
                mark,
                f"the anchor &{excerpt(name)} is defined twice",
                "give each anchor its own name",
            )
        self.anchors[name] = None

    # Events are typed Any: PyYAML's C and Python parsers give marks of different classes.
    def scalar(self, event: Any) -> None:
        value: str = event.value
        if len(value) > self.limits.scalar_chars:
            raise self.fail(
                event.start_mark,
                f"a value of {len(value):,} characters (more than {self.limits.scalar_chars:,})",
                "keep large content in a file the job names, not in the YAML",
            )
        tag = event.tag
        if tag is None or tag == "!":
            tag = _resolve(yaml.ScalarNode, value, event.implicit)
            # A lone '=' resolves to YAML 1.1's `value` type, which nothing constructs: text.
            tag = _STR if tag == _VALUE else tag
        if tag in {_INT, _FLOAT} and len(value) > self.limits.number_chars:
            raise self.fail(
                event.start_mark,
                f"a number of {len(value):,} digits",
                "quote it if it is text; no setting takes a number this long",
            )
        self.anchor(event.anchor, event.start_mark)
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        self.count(event.start_mark, 1, 0)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, 1, 0)
        self.add(node, 1, 0)

    def start(self, event: Any, kind: type[yaml.SequenceNode] | type[yaml.MappingNode]) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _resolve(kind, None, event.implicit)
        self.anchor(event.anchor, event.start_mark)
        self.count(event.start_mark, 1, 1)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        self.stack.append(_Frame(node, event.anchor))

    def end(self, event: Any) -> None:
        frame = self.stack.pop()
        frame.node.end_mark = event.end_mark
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (frame.node, frame.size, frame.height)
        self.add(frame.node, frame.size, frame.height)

    def alias(self, event: Any) -> None:
        name = event.anchor
        if name not in self.anchors:
            raise self.fail(
                event.start_mark,
                f"the alias *{excerpt(name)} has no anchor before it",
                f"define &{excerpt(name)} earlier in the file, or write the value out",
            )
        found = self.anchors[name]
        if found is None:
            raise self.fail(
                event.start_mark,
                f"the alias *{excerpt(name)} is used inside its own anchor (a value that "
                "contains itself)",
                "write the value out",
            )
        self.aliases += 1
        if self.aliases > self.limits.aliases:
            raise self.fail(
                event.start_mark,
                f"more than {self.limits.aliases:,} alias uses",
                "write the values out; aliases are for a few repeated blocks",
            )
        node, size, height = found
        self.count(event.start_mark, size, height)
        self.add(Alias(node, event.start_mark.line + 1), size, height)


def compose(text: str, limits: Limits = LIMITS) -> yaml.Node | Alias | None:
    """The one document in ``text`` as nodes, or None for an empty stream.

    Raises:
        LimitError: a limit was crossed, an alias is undefined or recursive, an anchor is
            repeated, or the stream holds more than one document.
        yaml.YAMLError: the text is not YAML.
    """
    loader = _Loader(text)
    composer = _Composer(limits)
    documents = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise composer.fail(
                        event.start_mark,
                        "a second YAML document starts here; a file holds one document",
                        "remove the '---' line and what follows it, or move it to its own file",
                    )
            elif isinstance(event, yaml.ScalarEvent):
                composer.scalar(event)
            elif isinstance(event, yaml.SequenceStartEvent):
                composer.start(event, yaml.SequenceNode)
            elif isinstance(event, yaml.MappingStartEvent):
                composer.start(event, yaml.MappingNode)
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                composer.end(event)
            elif isinstance(event, yaml.AliasEvent):
                composer.alias(event)
    finally:
        loader.dispose()
    root: yaml.Node | Alias | None = composer.root
    return root
