"""Mask secret values in text before ingestgen prints, logs or records it.

Two nets, both always applied when redaction is on:

* **Known values**: the values of settings marked secret (``sensitive: true`` in the project's
  plugin definitions, fed by Meltano's ``<PLUGIN>_<SETTING>`` variables or by ``${VAR}``
  references in the config), of environment variables whose names say they hold a secret
  (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*_KEY``, ...), and of passwords inside URLs
  found in the environment. Each value is also matched in its JSON-escaped and URL-encoded forms.
* **Shapes**: whatever the values, a password in a URL (``scheme://user:PASSWORD@host``), a
  ``Bearer`` token, a ``token=``/``key=``/``password=`` query parameter and a
  ``"secret-ish key": value`` pair are masked.

This module never writes anything and never decides what a run does; it only rewrites text.
Values shorter than `MIN_SECRET_LENGTH` are not matched on their own (masking every ``true``
or ``1`` would garble logs); the shape rules still cover them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ingestgen.meltano.project import Project
from ingestgen.meltano.tool import references

MASK = "***"
MIN_SECRET_LENGTH = 6

# Names of environment variables that hold secrets by convention. AWS_ACCESS_KEY_ID is included:
# it is half a credential, and FinOps records have no use for it.
SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|API_KEY|"
    r"APIKEY|_KEY$|_KEY_ID$|AUTH$)",
    re.IGNORECASE,
)
# Keys inside JSON secrets (service-account keys) whose values are themselves secret.
_SECRET_LEAF = re.compile(r"(key|secret|token|password)", re.IGNORECASE)
# Keys inside a sensitive object setting (catalog_properties) under which a value is a secret;
# its other keys (uri, warehouse, s3.endpoint) are addresses, which logs must keep readable.
_SECRET_PART = re.compile(
    r"(key|secret|token|password|passwd|credential|creds|auth|private|signature)", re.IGNORECASE
)

_SHAPES: list[tuple[re.Pattern[str], str]] = [
    # scheme://user:password@host  (keep the user: it says which account, not how to use it)
    (
        re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@?#'\"]*:)[^\s@/?#'\"]+(?=@)"),
        rf"\g<head>{MASK}",
    ),
    # Authorization: Bearer <token> / Basic <blob>, in headers, reprs and curl lines
    (
        re.compile(r"(?P<head>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE),
        rf"\g<head>{MASK}",
    ),
    # ?access_token=...&api_key=...
    (
        re.compile(
            r"(?P<head>[?&;](?:[a-z0-9_.-]*(?:token|secret|password|passwd|api[_-]?key|apikey|"
            r"signature|sig|key))=)[^&#\s'\"]+",
            re.IGNORECASE,
        ),
        rf"\g<head>{MASK}",
    ),
    # "client_secret": "value", password=value, s3.secret-access-key: value
    (
        re.compile(
            r"(?P<head>[\"']?\b[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|apikey|"
            r"private[_-]?key|access[_-]?key)[A-Za-z0-9_.-]*[\"']?\s*[:=]\s*[\"']?)"
            r"(?![\"'\s,}]|\*\*\*|\$\{)[^\"'\s,}&]+",
            re.IGNORECASE,
        ),
        rf"\g<head>{MASK}",
    ),
]


@dataclass
class Redactor:
    """Masks secrets in strings and JSON-like objects. ``enabled=False`` passes text through."""

    values: set[str] = field(default_factory=set)
    enabled: bool = True

    def __post_init__(self) -> None:
        self._literal: re.Pattern[str] | None = None
        self._compile()

    def add(self, values: Iterable[str | None]) -> None:
        """Remember more secret values (and their encoded forms)."""
        for value in values:
            self.values.update(_variants(value))
        self._compile()

    def redact(self, text: str) -> str:
        """``text`` with every known secret and secret-shaped value replaced by `MASK`."""
        if not self.enabled or not text:
            return text
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        for pattern, replacement in _SHAPES:
            text = pattern.sub(replacement, text)
        return text

    def redact_obj(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys too) redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact(str(k)): self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_obj(v) for v in value]
        return value

    def _compile(self) -> None:
        usable = sorted(
            (v for v in self.values if len(v) >= MIN_SECRET_LENGTH), key=lambda v: (-len(v), v)
        )
        self._literal = re.compile("|".join(map(re.escape, usable))) if usable else None


def _variants(value: str | None) -> set[str]:
    if not value or len(value) < MIN_SECRET_LENGTH:
        return set()
    found = {value, json.dumps(value)[1:-1], quote(value, safe=""), quote(value)}
    if "\n" in value:
        # A multi-line secret (a PEM key, a JSON key file) is logged line by line.
        found.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 12)
    if value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            for key, leaf in parsed.items():
                if isinstance(leaf, str) and _SECRET_LEAF.search(str(key)):
                    found |= _variants(leaf)
    password = _url_password(value)
    if password:
        found |= _variants(password)
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH}


def _url_password(value: str) -> str | None:
    if "://" not in value or "@" not in value:
        return None
    try:
        password = urlsplit(value.strip()).password
    except ValueError:
        return None
    return unquote(password) if password else None


def project_secret_values(project: Project, environ: Mapping[str, str]) -> set[str]:
    """Secret values a Meltano project's plugins may receive from ``environ``.

    For every setting marked ``sensitive`` (on a plugin or the plugin it inherits from): the
    values of Meltano's variables for it under every plugin name and namespace, and of the
    ``${VAR}`` references in its configured value: all of a plain value's, and inside an object
    setting those under secret-looking keys (``s3.secret-access-key``, ``token``, ``creds``).
    """
    found: set[str] = set()
    for plugin in project.plugins.values():
        config = plugin.config
        for setting in plugin.sensitive:
            found.update(environ.get(var, "") for var in plugin.setting_env_vars(setting))
            found.update(environ.get(var, "") for var in _secret_references(config.get(setting)))
    return {v for v in found if v}


def _secret_references(value: object, secret: bool = True) -> set[str]:
    # ``secret``: the value sits under a secret-looking key (a plain sensitive setting is one).
    if isinstance(value, Mapping):
        return set().union(
            set(),
            *(_secret_references(v, bool(_SECRET_PART.search(str(k)))) for k, v in value.items()),
        )
    if isinstance(value, list | tuple):
        return set().union(set(), *(_secret_references(v, secret) for v in value))
    return references(value) if secret else set()


def environment_secret_values(environ: Mapping[str, str]) -> set[str]:
    """Values of variables named like secrets, and passwords inside URL-valued variables."""
    found = {value for name, value in environ.items() if SECRET_NAME.search(name) and value}
    for value in environ.values():
        password = _url_password(value)
        if password:
            found.add(password)
    return found


def for_project(
    project: Project | None, environ: Mapping[str, str], *, enabled: bool = True
) -> Redactor:
    """The redactor for a run of a project in ``environ`` (see the module docstring)."""
    redactor = Redactor(enabled=enabled)
    values = environment_secret_values(environ)
    if project is not None:
        values |= project_secret_values(project, environ)
    redactor.add(values)
    return redactor


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's final message (install it on handlers)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message in place; never drop a record."""
        message = record.getMessage()
        redacted = self.redactor.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        return True
