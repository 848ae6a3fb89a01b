"""The redactor: known values in every encoding, secret shapes, project settings, logging."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ingestgen.meltano.project import Project
from ingestgen.redact import (
    MASK,
    RedactingFilter,
    Redactor,
    environment_secret_values,
    for_project,
    project_secret_values,
)

PROJECT = """
plugins:
  extractors:
  - name: tap-gdrive-csv
    namespace: tap_gdrive_csv
    settings:
    - {name: oauth_token, sensitive: true}
    - {name: service_account_key, sensitive: true}
    - {name: api_base_url}
  - name: tap-gdrive-csv--deals
    inherit_from: tap-gdrive-csv
    config:
      service_account_key: ${GDRIVE_KEY_JSON}
      api_base_url: ${DRIVE_URL}
"""


def test_known_value_is_masked_raw_json_escaped_and_url_encoded() -> None:
    secret = 'pa/ss"wo rd&1'
    r = Redactor()
    r.add([secret])
    text = f"raw {secret} json {json.dumps(secret)} url {'pa%2Fss%22wo%20rd%261'}"
    out = r.redact(text)
    assert "pa/ss" not in out and "pa%2Fss" not in out
    assert out.count(MASK) == 3


def test_short_values_are_not_matched_alone_but_shapes_still_are() -> None:
    r = Redactor()
    r.add(["true", "abc"])
    assert r.redact("flag true abc") == "flag true abc"
    assert r.redact("http://u:abc@h/x") == f"http://u:{MASK}@h/x"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("could not reach https://ingest:hunter2-PW@127.0.0.1:9/drive", "hunter2-PW"),
        ("postgresql+psycopg://app:s3cr%40t@db:5432/x", "s3cr%40t"),
        ("Authorization: Bearer ya29.a0AfH6SMBxyz", "ya29.a0AfH6SMBxyz"),
        ("GET /files?alt=media&access_token=tok-123456&x=1", "tok-123456"),
        ('{"client_secret": "cs-abcdef", "n": 1}', "cs-abcdef"),
        ("s3.secret-access-key: AKIAwJalrXUtnFEMI", "AKIAwJalrXUtnFEMI"),
        ("password=opensesame ok", "opensesame"),
    ],
)
def test_secret_shapes_are_masked_without_knowing_the_value(text: str, leaked: str) -> None:
    out = Redactor().redact(text)
    assert leaked not in out
    assert MASK in out


def test_shapes_leave_ordinary_text_and_env_references_alone() -> None:
    text = (
        "Read 25 rows of deals_daily from https://www.googleapis.com/drive/v3/files; "
        "oauth_token: ${GDRIVE_TOKEN}; record_count=50; token_count 3"
    )
    assert Redactor().redact(text) == text


def test_json_secret_leaves_and_pem_lines_are_known_values() -> None:
    key = {
        "type": "service_account",
        "private_key_id": "0123456789abcdef",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END",
        "client_email": "svc@example.iam",
    }
    r = Redactor()
    r.add([json.dumps(key)])
    assert "0123456789abcdef" not in r.redact("loaded key 0123456789abcdef")
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in r.redact("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    assert r.redact("svc@example.iam") == "svc@example.iam"  # an e-mail is not a secret


def test_disabled_redactor_passes_text_through() -> None:
    r = Redactor(enabled=False)
    r.add(["sekret-XYZ"])
    assert r.redact("sekret-XYZ http://u:pw123456@h") == "sekret-XYZ http://u:pw123456@h"


def test_redact_obj_walks_keys_values_and_lists() -> None:
    r = Redactor()
    r.add(["sekret-XYZ"])
    out = r.redact_obj({"a": ["x sekret-XYZ", 3, None], "sekret-XYZ": {"b": "sekret-XYZ"}})
    assert "sekret-XYZ" not in json.dumps(out)
    assert out["a"][1:] == [3, None]


def test_project_secrets_come_from_sensitive_settings_of_base_and_inheritors(
    tmp_path: Path,
) -> None:
    yml = tmp_path / "meltano.yml"
    yml.write_text(PROJECT)
    env = {
        "TAP_GDRIVE_CSV_OAUTH_TOKEN": "from-namespace",
        "TAP_GDRIVE_CSV__DEALS_OAUTH_TOKEN": "from-inheritor",
        "GDRIVE_KEY_JSON": "from-reference",
        "DRIVE_URL": "https://not-secret.example",  # api_base_url is not sensitive
        "TAP_GDRIVE_CSV_API_BASE_URL": "https://also-not-secret",
    }
    found = project_secret_values(Project.read(tmp_path), env)
    assert found == {"from-namespace", "from-inheritor", "from-reference"}


def test_environment_secrets_by_name_and_url_password() -> None:
    env = {
        "OPENMETADATA_TOKEN": "om-token-1",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "NESSIE_URI": "http://svc:nessie-pw@127.0.0.1:19120",
        "HOME": "/root",
        "PATH": "/usr/bin",
    }
    assert environment_secret_values(env) == {"om-token-1", "aws-secret", "nessie-pw"}


def test_for_project_combines_both(tmp_path: Path) -> None:
    (tmp_path / "meltano.yml").write_text(PROJECT)
    env = {"GDRIVE_KEY_JSON": "key-json-value", "MY_PASSWORD": "pw-value-9"}
    r = for_project(Project.read(tmp_path), env)
    assert r.redact("key-json-value pw-value-9") == f"{MASK} {MASK}"


def test_logging_filter_redacts_message_args_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = Redactor()
    r.add(["sekret-XYZ"])
    logger = logging.getLogger("ingestgen.test.redact")
    caplog.handler.addFilter(RedactingFilter(r))
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("token %s used", "sekret-XYZ")
            try:
                raise ValueError("bad sekret-XYZ")
            except ValueError:
                logger.exception("failed")
    finally:
        caplog.handler.filters.clear()
    assert "sekret-XYZ" not in caplog.text
    assert "token *** used" in caplog.text and "ValueError: bad ***" in caplog.text


def test_secrets_nested_in_a_sensitive_object_setting_are_found(tmp_path: Path) -> None:
    # catalog_properties is sensitive in target-iceberg (generated from the plugin's settings).
    yml = tmp_path / "meltano.yml"
    yml.write_text(
        "plugins:\n  loaders:\n  - name: target-iceberg\n    namespace: target_iceberg\n"
        "    settings:\n    - {name: catalog_properties, kind: object, sensitive: true}\n"
        "    config:\n      catalog_properties:\n        uri: ${NESSIE_URI}\n"
        '        creds: ["${LAKE_KEY_MATERIAL}"]\n'
    )
    env = {"LAKE_KEY_MATERIAL": "nested-sekret", "NESSIE_URI": "http://nessie:19120"}
    # Under a secret-looking key the value is a secret; an address (uri) stays readable.
    assert project_secret_values(Project.read(yml.parent), env) == {"nested-sekret"}
