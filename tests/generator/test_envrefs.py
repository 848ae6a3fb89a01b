"""The environment-reference rule agrees with Meltano's own expansion (meltano.core.utils)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from meltano.core.utils import expand_env_vars

from ingestgen.config.envrefs import EXPANDABLE, secret_problem

MARK = "\x00"


@settings(max_examples=500, derandomize=True, deadline=None, database=None)
@given(st.text(alphabet="${}\\_aZ09 -.", max_size=24))
def test_every_form_meltano_expands_is_caught(text: str) -> None:
    # Meltano replaces what it expands with the variable's value: a mark no text holds here.
    expanded = expand_env_vars(text, defaultdict(lambda: MARK))
    if MARK in expanded:
        assert EXPANDABLE.search(text), text


def test_meltano_leaves_escaped_references_alone() -> None:
    text = "http://x/\\${NOT_A_REF}"
    assert EXPANDABLE.search(text) is None
    assert expand_env_vars(text, defaultdict(lambda: MARK)) == "http://x/${NOT_A_REF}"


@pytest.mark.parametrize(
    ("value", "suggested"),
    [
        ("${GDRIVE_KEY}", "ACME_EU__GDRIVE_KEY"),
        ("${GLOBEX__GDRIVE_KEY}", "ACME_EU__GDRIVE_KEY"),
        ("${ACME_EU___KEY}", "ACME_EU__KEY"),
        ("${acme_eu__key}", "ACME_EU__KEY"),
        ("literal", "ACME_EU__OAUTH_TOKEN"),
    ],
)
def test_a_wrong_secret_names_the_tenants_variable(value: str, suggested: str) -> None:
    problem = secret_problem("oauth_token", value, "acme_eu")
    assert problem is not None
    assert (
        f"e.g. oauth_token: ${{{suggested}}}, and set {suggested} where the job runs"
        in (problem[1])
    )


def test_the_tenants_own_variable_is_accepted() -> None:
    assert secret_problem("oauth_token", "${ACME_EU__OAUTH_TOKEN}", "acme_eu") is None
    assert secret_problem("oauth_token", "${ACME_EU__OAUTH_TOKEN_2}", "acme_eu") is None
