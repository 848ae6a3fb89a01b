"""The tap's settings: the JSON-schema the SDK validates, and the typed view the code reads.

``CONFIG_SCHEMA`` is what ``--about`` prints and Meltano shows; :func:`load_settings` turns the
validated dict into frozen dataclasses and checks what JSON-schema cannot express (object
names, duplicates, which auth goes with which mode). Secrets are held here but never logged.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th

from tap_gdrive_csv.exceptions import ConfigError

DEFAULT_API_BASE_URL = "https://www.googleapis.com"
STRATEGIES = ("file_modified_time", "full_refresh")
_OBJECT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "files",
        th.ArrayType(
            th.ObjectType(
                th.Property(
                    "file_id",
                    th.StringType,
                    required=True,
                    description=(
                        "Google Drive file id (the part after /d/ in the file's URL), or in "
                        "local-folder mode a file name inside `local_folder`."
                    ),
                ),
                th.Property(
                    "object",
                    th.StringType,
                    required=True,
                    description=(
                        "Name of the object (Singer stream) the file feeds. Several files may "
                        "feed one object if they share the same header."
                    ),
                ),
                additional_properties=False,
            )
        ),
        required=True,
        description="The CSV files to read and the object each one feeds (job YAML source.files).",
    ),
    th.Property(
        "local_folder",
        th.StringType,
        description=(
            "Read files from this local folder instead of Google Drive: `file_id` is then a "
            "file name in the folder, its modified time is the file's mtime and its checksum "
            "the MD5 of its content. Used by the demo and the tests."
        ),
    ),
    th.Property(
        "local_root",
        th.StringType,
        description=(
            "With local_folder: the folder it must lie inside, symbolic links followed (the "
            "tap refuses to read otherwise). ingestgen sets it to the tenant's own folder."
        ),
    ),
    th.Property(
        "api_base_url",
        th.StringType,
        default=DEFAULT_API_BASE_URL,
        description="Base URL of the Google Drive API v3 (tests point it at a local server).",
    ),
    th.Property(
        "oauth_token",
        th.StringType,
        secret=True,
        description=(
            "An OAuth 2.0 access token with a Drive read scope. Give it through the "
            "environment (TAP_GDRIVE_CSV_OAUTH_TOKEN), never in the project file."
        ),
    ),
    th.Property(
        "service_account_key",
        th.StringType,
        secret=True,
        description=(
            "The JSON key of a Google service account (the file's content, not its path). The "
            "tap signs a JWT with it and exchanges it at the key's `token_uri` for an access "
            "token. Give it through the environment (TAP_GDRIVE_CSV_SERVICE_ACCOUNT_KEY)."
        ),
    ),
    th.Property(
        "service_account_subject",
        th.StringType,
        description=(
            "With a service account key: the user to impersonate through domain-wide "
            "delegation (the JWT `sub` claim). Leave unset to act as the service account."
        ),
    ),
    th.Property(
        "incremental_strategy",
        th.StringType,
        default="file_modified_time",
        allowed_values=list(STRATEGIES),
        description=(
            "`file_modified_time`: skip files whose modified time (or content MD5) is the one "
            "in the bookmark, re-read changed files whole. `full_refresh`: read every file on "
            "every run."
        ),
    ),
    th.Property(
        "headers_from_files",
        th.BooleanType,
        default=False,
        description=(
            "With an input catalog: read every file's header at the start of the sync, as "
            "discovery does, and use it; the catalog then gives only the selection. A header "
            "that changed since the catalog was made reaches the loader in the SCHEMA message "
            "(a column absent from the catalog is selected) instead of stopping the sync. For "
            "runners that cache the discovered catalog (ingestgen's projects). Off: a file whose "
            "header differs from the catalog stops the sync."
        ),
    ),
    th.Property(
        "delimiter",
        th.StringType,
        default=",",
        description="One-character field delimiter.",
    ),
    th.Property(
        "quote_char",
        th.StringType,
        default='"',
        description="One-character quote character.",
    ),
    th.Property(
        "encoding",
        th.StringType,
        default="utf-8",
        description="Text encoding of the files (a Python codec name, e.g. utf-8, latin-1).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=300,
        description="Seconds to wait for each Drive API response before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=5,
        description="Attempts for a Drive request that fails with 429, 5xx or a rate-limit 403.",
    ),
).to_dict()
DEFAULTS: dict[str, Any] = {
    name: prop["default"] for name, prop in CONFIG_SCHEMA["properties"].items() if "default" in prop
}
"""Each setting's default, as declared once above (the SDK fills them in; tests may not)."""


def _setting(config: Mapping[str, Any], name: str) -> Any:
    value = config.get(name)
    return DEFAULTS.get(name) if value is None else value


@dataclass(frozen=True)
class FileRef:
    """One configured file and the object it feeds."""

    file_id: str
    object: str


@dataclass(frozen=True)
class CsvOptions:
    """How the CSV text is split into cells."""

    delimiter: str = DEFAULTS["delimiter"]
    quote_char: str = DEFAULTS["quote_char"]
    encoding: str = DEFAULTS["encoding"]


@dataclass(frozen=True)
class Settings:
    """The validated settings the tap runs with."""

    files: tuple[FileRef, ...]
    local_folder: str | None
    local_root: str | None
    api_base_url: str
    oauth_token: str | None = field(repr=False)
    service_account_key: dict[str, Any] | None = field(repr=False)
    service_account_subject: str | None
    incremental_strategy: str
    headers_from_files: bool
    csv: CsvOptions
    request_timeout: float
    max_retries: int

    @property
    def objects(self) -> dict[str, tuple[str, ...]]:
        """File ids per object, in configuration order."""
        result: dict[str, list[str]] = {}
        for ref in self.files:
            result.setdefault(ref.object, []).append(ref.file_id)
        return {name: tuple(ids) for name, ids in result.items()}


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Check the tap config beyond JSON-schema and return it typed.

    Args:
        config: The tap config as the SDK validated it (defaults filled in).

    Returns:
        The settings.

    Raises:
        ConfigError: Listing every problem found, each with its fix.
    """
    problems: list[str] = []
    files = _files(config.get("files"), problems)
    csv_options = _csv_options(config, problems)
    strategy = config.get("incremental_strategy") or DEFAULTS["incremental_strategy"]
    if strategy not in STRATEGIES:
        problems.append(
            f"incremental_strategy: {strategy!r} is not one of {', '.join(STRATEGIES)}"
        )
    local_folder = config.get("local_folder") or None
    token = config.get("oauth_token") or None
    key = _service_account_key(config.get("service_account_key"), problems)
    if local_folder is None and token is None and key is None and not problems:
        problems.append(
            "no credentials for Google Drive: set TAP_GDRIVE_CSV_OAUTH_TOKEN (an access token) "
            "or TAP_GDRIVE_CSV_SERVICE_ACCOUNT_KEY (a service account's JSON key), or set "
            "local_folder to read local files"
        )
    if token is not None and key is not None:
        problems.append(
            "both oauth_token and service_account_key are set: keep only one of them"
        )
    if config.get("emit_activate_version_messages") and strategy != "full_refresh":
        problems.append(
            "emit_activate_version_messages needs incremental_strategy: full_refresh (with "
            "file_modified_time unchanged files are skipped, so a version would drop their rows)"
        )
    timeout = float(_setting(config, "request_timeout"))
    retries = int(_setting(config, "max_retries"))
    if timeout <= 0:
        problems.append(f"request_timeout: {timeout} must be a positive number of seconds")
    if retries < 1:
        problems.append(f"max_retries: {retries} must be at least 1")
    if problems:
        raise ConfigError("invalid tap-gdrive-csv settings:\n  " + "\n  ".join(problems))
    return Settings(
        files=tuple(files),
        local_folder=local_folder,
        local_root=config.get("local_root") or None,
        api_base_url=str(config.get("api_base_url") or DEFAULTS["api_base_url"]).rstrip("/"),
        oauth_token=token,
        service_account_key=key,
        service_account_subject=config.get("service_account_subject") or None,
        incremental_strategy=strategy,
        headers_from_files=bool(_setting(config, "headers_from_files")),
        csv=csv_options,
        request_timeout=timeout,
        max_retries=retries,
    )


def _files(raw: Any, problems: list[str]) -> list[FileRef]:
    if not isinstance(raw, list) or not raw:
        problems.append(
            "files: give at least one {file_id, object} entry (job YAML source.files)"
        )
        return []
    refs: list[FileRef] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(raw):
        where = f"files[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected a mapping with file_id and object")
            continue
        file_id = str(item.get("file_id") or "").strip()
        obj = str(item.get("object") or "").strip()
        if not file_id:
            problems.append(f"{where}.file_id: missing or empty")
        if not _OBJECT_NAME.match(obj):
            problems.append(
                f"{where}.object: {obj!r} is not a valid object name (letters, digits and "
                "underscores, not starting with a digit)"
            )
        if (file_id, obj) in seen:
            problems.append(f"{where}: file {file_id!r} is listed twice for object {obj!r}")
        seen.add((file_id, obj))
        refs.append(FileRef(file_id=file_id, object=obj))
    return refs


def _csv_options(config: Mapping[str, Any], problems: list[str]) -> CsvOptions:
    delimiter = _setting(config, "delimiter")
    quote_char = _setting(config, "quote_char")
    encoding = _setting(config, "encoding")
    for name, value in (("delimiter", delimiter), ("quote_char", quote_char)):
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
            problems.append(f"{name}: {value!r} must be exactly one character, not a newline")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        problems.append(f"encoding: {encoding!r} is not a known codec (e.g. utf-8, latin-1)")
    return CsvOptions(delimiter=delimiter, quote_char=quote_char, encoding=encoding)


_KEY_FIELDS = ("client_email", "private_key", "token_uri")


def _service_account_key(raw: Any, problems: list[str]) -> dict[str, Any] | None:
    if raw in (None, ""):
        return None
    key: Any = raw
    if isinstance(raw, str):
        try:
            key = json.loads(raw)
        except json.JSONDecodeError:
            # Never echo the value: it is a secret.
            problems.append(
                "service_account_key: not valid JSON; give the content of the key file "
                "downloaded from the Google Cloud console, not its path"
            )
            return None
    if not isinstance(key, dict):
        problems.append("service_account_key: expected a JSON object (a service account key)")
        return None
    missing = [name for name in _KEY_FIELDS if not key.get(name)]
    if missing:
        problems.append(
            f"service_account_key: missing {', '.join(missing)}; is this a service account "
            "key (type: service_account)?"
        )
        return None
    return key
