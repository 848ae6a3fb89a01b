"""Parse a rendered ``meltano.yml`` back without re-reading the parts every tenant shares.

Every value a template interpolates is YAML dumped by the safe dumper (`ingestgen.render.jinja`),
memoised by value; a thousand tenants' projects are the same template around mostly the same
values. Parsing each whole project back costs more than rendering it, so a render under
`render_parsed` is parsed in two parts, each checked by the YAML parser itself:

- every distinct interpolated fragment (a one-line scalar, or a block whose every line is indented
  by its ``yaml_block`` indent) is parsed on its own, once per process;
- the *skeleton*, the rendered text with each fragment replaced by a placeholder node of the same
  kind at the same place (``__ingestgen_s3__`` for a scalar, ``__ingestgen_m4__: null`` for a
  mapping block, ``- __ingestgen_l5__`` for a list block), is parsed once per distinct skeleton:
  tenants whose projects have the same shape (the same jobs' sections) share one.

The document is then the skeleton with each placeholder replaced by its fragment's value. That
is what parsing the whole text gives, because a one-line flow scalar, or a block node all of
whose lines are indented deeper than its parent, parses the same alone as in place. Whenever a
fragment is not of that form (a scalar over several lines, a placeholder not found alone where
it was put, a comment fragment with a line break) the whole text is parsed instead, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import yaml

# libyaml's parser when PyYAML has it: the same data, many times faster.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MARK = "\x00"
"""Wraps a fragment's number in the template's raw output (the YAML dumper never emits it)."""
_PLACEHOLDER = re.compile(r"__ingestgen_([sml])(\d+)__")
# Line breaks in YAML 1.1 (PyYAML): a comment fragment holding one would end the comment.
_BREAKS = re.compile("[\r\n\x85\u2028\u2029]")

# The fragments of the render in progress (kind, text, indent); None outside `render_parsed`.
_FRAGMENTS: ContextVar[list[tuple[str, str, int]] | None] = ContextVar("fragments", default=None)


def fragment(kind: str, text: str, indent: int = 0) -> str:
    """What a filter puts in the template's output for ``text``.

    ``kind`` is ``scalar`` (one value on its line), ``block`` (a ``yaml_block`` at ``indent``) or
    ``comment`` (text inside a comment). Outside `render_parsed` that is ``text`` itself.
    """
    fragments = _FRAGMENTS.get()
    if fragments is None:
        return text
    fragments.append((kind, text, indent))
    return f"{_MARK}{len(fragments) - 1}{_MARK}"


def render_parsed(render: Callable[[], str]) -> tuple[str, Any]:
    """The text ``render`` (a template's render) returns and that text parsed as YAML."""
    token = _FRAGMENTS.set([])
    try:
        raw = render()
        fragments = _FRAGMENTS.get() or []
    finally:
        _FRAGMENTS.reset(token)
    parts = raw.split(_MARK)
    if len(parts) != 2 * len(fragments) + 1 or any(
        parts[2 * i + 1] != str(i) for i in range(len(fragments))
    ):
        # A mark that is not ours (in text the filters did not make): render it plainly.
        text = render()
        return text, yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    text = "".join(fragments[int(p)][1] if i % 2 else p for i, p in enumerate(parts))
    data = _assembled(parts, fragments)
    if data is _UNSURE:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    return text, data


_UNSURE = object()


def _assembled(parts: list[str], fragments: list[tuple[str, str, int]]) -> Any:
    # The skeleton's parse with every placeholder replaced, or _UNSURE.
    skeleton = []
    values: dict[int, Any] = {}
    for i, part in enumerate(parts):
        if not i % 2:
            skeleton.append(part)
            continue
        number = int(part)
        kind, text, indent = fragments[number]
        if kind == "comment":
            if _BREAKS.search(text):
                return _UNSURE
            skeleton.append("c")
            continue
        shape, value = _parsed_alone(text, indent if kind == "block" else None)
        if not shape:
            return _UNSURE
        pad = " " * indent if kind == "block" else ""
        skeleton.append(_PLACEHOLDERS[shape].format(pad=pad, n=number))
        values[number] = value
    tree = _skeleton("".join(skeleton))
    if tree is _UNSURE:
        return _UNSURE
    used: list[int] = []
    data = _fill(tree, values, used)
    if data is _UNSURE or len(used) != len(values) or set(used) != set(values):
        return _UNSURE
    return data


# A placeholder node per shape of fragment: a scalar, a mapping block, a list block.
_PLACEHOLDERS = {
    "s": "{pad}__ingestgen_s{n}__",
    "m": "{pad}__ingestgen_m{n}__: null",
    "l": "{pad}- __ingestgen_l{n}__",
}


@lru_cache(maxsize=16384)
def _parsed_alone(text: str, indent: int | None) -> tuple[str, Any]:
    # (shape, value) of a fragment that parses alone as it does in place, else ("", None): a
    # scalar (``indent`` None) on one line; a block whose every line is indented by ``indent``
    # and whose first line starts its node there. Cached by text: documents share the values
    # (they are only read).
    if _BREAKS.search(text.replace("\n", "")):
        return "", None
    lines = text.split("\n")
    if indent is None:
        return ("s", _load(text)) if len(lines) == 1 else ("", None)
    pad = " " * indent
    if lines[0][indent : indent + 1] in ("", " ") or any(not ln.startswith(pad) for ln in lines):
        return "", None
    value = _load(text)
    if value is _UNSURE:
        return "", None
    if isinstance(value, list) and value and lines[0][indent] == "-":
        return "l", value
    if isinstance(value, dict) and value and lines[0][indent] not in "{[":
        return "m", value
    if len(lines) == 1:
        return "s", value
    return "", None


@lru_cache(maxsize=256)
def _skeleton(text: str) -> Any:
    # Parsed once per distinct skeleton; read only.
    return _load(text)


def _load(text: str) -> Any:
    # _UNSURE for text that does not parse: the whole document is then parsed, and fails there.
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return _UNSURE


def _placeholder(node: Any, shape: str) -> int | None:
    found = _PLACEHOLDER.fullmatch(node) if isinstance(node, str) else None
    return int(found.group(2)) if found is not None and found.group(1) == shape else None


def _fill(node: Any, values: dict[int, Any], used: list[int]) -> Any:
    # ``node`` (of the skeleton) with each placeholder replaced by its value; _UNSURE when a
    # placeholder is not alone in the node it stands for.
    if isinstance(node, str):
        if _PLACEHOLDER.fullmatch(node) is None:
            return node
        number = _placeholder(node, "s")
        if number is None or number not in values:
            return _UNSURE
        used.append(number)
        return values[number]
    if isinstance(node, list):
        number = _placeholder(node[0], "l") if len(node) == 1 else None
        if number is not None and number in values:
            used.append(number)
            return values[number]
        items = [_fill(item, values, used) for item in node]
        return _UNSURE if any(item is _UNSURE for item in items) else items
    if isinstance(node, dict):
        if len(node) == 1:
            key, value = next(iter(node.items()))
            number = _placeholder(key, "m")
            if number is not None and number in values and value is None:
                used.append(number)
                return values[number]
        filled = {}
        for key, value in node.items():
            new_key, new_value = _fill(key, values, used), _fill(value, values, used)
            if new_key is _UNSURE or new_value is _UNSURE or not _hashable(new_key):
                return _UNSURE
            filled[new_key] = new_value
        return filled
    return node


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
