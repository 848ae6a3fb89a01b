"""Validate a rendered ``meltano.yml`` against the JSON schema shipped inside ``meltano``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator

from ingestgen.errors import IngestgenError, UserError


@cache
def _validator() -> Draft7Validator:
    try:
        text = resources.files("meltano.schemas").joinpath("meltano.schema.json").read_text()
    except ModuleNotFoundError:
        raise UserError(
            "meltano is not installed, so rendered projects cannot be validated; "
            "install it with: pip install 'meltano==4.4.*'"
        ) from None
    return Draft7Validator(json.loads(text))


# List entries already found valid, by list (plugins.<type>, jobs, ...) and content. Meltano's
# schema checks each entry of those lists on its own (no uniqueItems, minItems or contains), so an
# entry met again (the same base plugin definition in a thousand tenants' projects) need not be
# checked again.
# The content is the entry with what the schema leaves free emptied (`_free_parts`): a job's
# `config:` is any mapping to Meltano's schema, so the jobs of a thousand tenants, which differ
# there, are checked once.
_VALID_ENTRIES: set[tuple[str, str]] = set()
_VALID_ENTRIES_MAX = 4096


def validate_meltano_yml(data: Any, name: str) -> None:
    """Raise if ``data`` (a parsed meltano.yml) breaks Meltano's schema.

    A failure here is a bug in ingestgen's templates or registry, not in the user's job.
    """
    reduced, entries = _without_known_entries(data)
    if next(iter(_validator().iter_errors(reduced)), None) is None:
        if len(_VALID_ENTRIES) + len(entries) > _VALID_ENTRIES_MAX:
            _VALID_ENTRIES.clear()
        _VALID_ENTRIES.update(entries)
        return
    # Located on the whole document, so that paths name the entries as rendered.
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    lines = "\n".join(
        f"  {'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in errors[:20]
    )
    raise IngestgenError(
        f"{name} does not validate against Meltano's schema (a registry or template bug):\n" + lines
    )


def _without_known_entries(data: Any) -> tuple[Any, set[tuple[str, str]]]:
    # The document with the list entries checked before left out (plugins.<kind>, and top-level
    # lists such as jobs:), and every entry's key.
    if not isinstance(data, dict):
        return data, set()
    entries: set[tuple[str, str]] = set()
    reduced = {key: _unknown(key, value, entries) for key, value in data.items()}
    plugins = data.get("plugins")
    if isinstance(plugins, dict):
        reduced["plugins"] = {
            kind: _unknown(f"plugins.{kind}", items, entries) for kind, items in plugins.items()
        }
    return reduced, entries


def _unknown(path: str, items: Any, entries: set[tuple[str, str]]) -> Any:
    # ``items`` without the entries checked before, when ``path`` is a list whose entries the
    # schema checks one by one.
    schemas = _item_schemas(path)
    if schemas is None or not isinstance(items, list):
        return items
    keys = [
        (path, json.dumps(_free_parts(item, schemas), sort_keys=True, default=repr))
        for item in items
    ]
    entries.update(keys)
    return [i for i, k in zip(items, keys, strict=True) if k not in _VALID_ENTRIES]


# Keywords a schema may hold for `_free_parts` to see every schema that applies below it; any
# other (patternProperties, anyOf, if, dependencies, ...) and the value is kept whole.
_KNOWN = frozenset(
    {
        "type",
        "description",
        "title",
        "default",
        "examples",
        "properties",
        "additionalProperties",
        "propertyNames",
        "required",
        "allOf",
        "$ref",
        "unevaluatedProperties",  # not a Draft 7 keyword: Draft7Validator ignores it
    }
)
_NOTES = frozenset({"type", "description", "title", "default", "examples"})
_ARRAY = _NOTES | {"items"}


@cache
def _root() -> dict[str, Any]:
    schema = _validator().schema
    return dict(schema) if isinstance(schema, dict) else {}


@cache
def _item_schemas(path: str) -> tuple[dict[str, Any], ...] | None:
    # Every schema an entry of the list at ``path`` (``jobs``, ``plugins.extractors``) meets,
    # $ref and allOf expanded; None unless the list's schema checks each entry on its own (no
    # uniqueItems, minItems, contains, ...).
    root = _root()
    node: Any = root
    for part in path.split("."):
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or node.get("type") != "array" or not set(node) <= _ARRAY:
        return None
    items = node.get("items")
    return _expanded([items], root) if isinstance(items, dict) else None


def _expanded(schemas: list[Any], root: dict[str, Any]) -> tuple[dict[str, Any], ...] | None:
    out: list[dict[str, Any]] = []
    todo = list(schemas)
    while todo:
        schema = todo.pop()
        if not isinstance(schema, dict) or not set(schema) <= _KNOWN or len(out) > 64:
            return None
        if "$ref" in schema:
            target = _pointer(root, schema["$ref"])
            if target is None:
                return None
            todo.append(target)
        todo += schema.get("allOf") or []
        out.append(schema)
    return tuple(out)


def _pointer(root: dict[str, Any], ref: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        node = (
            node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        )
    return node


def _free_parts(value: Any, schemas: tuple[dict[str, Any], ...] | None) -> Any:
    """``value`` with each mapping that every applying schema lets be any mapping emptied.

    Valid against ``schemas`` exactly when ``value`` is: an emptied mapping met only schemas
    saying "an object" (``type: object`` and notes), and every schema that applies anywhere
    else is seen (``_KNOWN``), so nothing else changes.
    """
    if schemas is None or not isinstance(value, dict):
        return value
    if schemas and all(set(s) <= _NOTES and s.get("type") == "object" for s in schemas):
        return {}
    root = _root()
    out = {}
    for key, item in value.items():
        below: list[Any] = []
        for schema in schemas:
            properties = schema.get("properties") or {}
            if key in properties:
                below.append(properties[key])
            elif schema.get("additionalProperties") not in (None, True):
                below.append(schema["additionalProperties"])
        out[key] = _free_parts(item, _expanded(below, root)) if below else item
    return out
