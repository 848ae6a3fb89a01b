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


def validate_meltano_yml(data: Any, name: str) -> None:
    """Raise if ``data`` (a parsed meltano.yml) breaks Meltano's schema.

    A failure here is a bug in ingestgen's templates or registry, not in the user's job.
    """
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "\n".join(
            f"  {'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in errors[:20]
        )
        raise IngestgenError(
            f"{name} does not validate against Meltano's schema (a registry or template bug):\n"
            + lines
        )
