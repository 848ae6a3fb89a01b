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


# Plugin entries already found valid, by plugin type and content. Meltano's schema checks each
# entry of a plugin list on its own (no uniqueItems, minItems or contains), so an entry met again
# (the same base plugin definition in a thousand tenants' projects) need not be checked again.
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
    # The document with the plugin entries checked before left out, and every entry's key.
    plugins = data.get("plugins") if isinstance(data, dict) else None
    if not isinstance(plugins, dict):
        return data, set()
    kept: dict[str, Any] = {}
    entries: set[tuple[str, str]] = set()
    for kind, items in plugins.items():
        if not isinstance(items, list):
            kept[kind] = items
            continue
        keys = [(kind, json.dumps(item, sort_keys=True, default=repr)) for item in items]
        entries.update(keys)
        kept[kind] = [i for i, k in zip(items, keys, strict=True) if k not in _VALID_ENTRIES]
    return {**data, "plugins": kept}, entries
