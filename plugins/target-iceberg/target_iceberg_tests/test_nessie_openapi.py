"""The loader's Nessie calls, checked against Nessie's published REST API v2 (no server needed).

``fake_nessie`` (scripts/services) answers the calls and checks each request against the OpenAPI
document of the ``nessie-model`` jar: the operation, path and query parameters, the body's
schema; its answers are checked against the response schemas. Error answers are Nessie's own
shapes (API v2 ``NessieError`` codes; the Iceberg REST endpoint's 400 for a missing branch).
"""

from __future__ import annotations

import io
import json
import socket
from contextlib import redirect_stdout
from typing import TYPE_CHECKING, Any

import pytest
import requests
from ingestgen_services.nessie_api import iceberg_rest_error, nessie_error

from target_iceberg.errors import LoaderError
from target_iceberg.nessie import BranchRun, CommitInfo, NessieClient
from target_iceberg.rest import (
    CatalogConflictError,
    CatalogNotFoundError,
    CatalogRequestError,
    CatalogUnavailableError,
    response_error,
)
from target_iceberg.summary import NessieCommit
from target_iceberg.target import TargetIceberg

if TYPE_CHECKING:
    from ingestgen_services.nessie_api import FakeNessie


def test_the_tenant_branch_is_created_from_main_once(fake_nessie: FakeNessie) -> None:
    client = NessieClient(fake_nessie.api_uri)
    main = client.get_reference("main")
    ref, created = client.ensure_branch("acme")
    assert created and ref.name == "acme" and ref.hash == main.hash
    assert fake_nessie.requests[-3:] == [
        ("GET", "/api/v2/trees/acme"),
        ("GET", "/api/v2/trees/main"),
        ("POST", "/api/v2/trees"),
    ]
    again, created_again = client.ensure_branch("acme")
    assert (again, created_again) == (ref, False)
    assert fake_nessie.problems == []


def test_a_branch_created_meanwhile_by_another_run_is_used(fake_nessie: FakeNessie) -> None:
    fake_nessie.fail_next["POST /v2/trees"] = (409, _v2(409, "REFERENCE_ALREADY_EXISTS"))
    fake_nessie.branches["acme"] = list(fake_nessie.branches["main"])  # the other run's branch
    client = NessieClient(fake_nessie.api_uri)
    fake_nessie.fail_next["GET /v2/trees/acme"] = (404, _v2(404, "REFERENCE_NOT_FOUND"))
    ref, created = client.ensure_branch("acme")
    assert (ref.name, created) == ("acme", False)
    assert fake_nessie.problems == []


def test_the_runs_commit_is_found_by_its_run_id(fake_nessie: FakeNessie) -> None:
    run = BranchRun(fake_nessie.api_uri, "acme__sales")
    assert run.open() == NessieCommit(branch="acme__sales", commit_hash=None)
    mine = fake_nessie.commit("acme__sales", "load", {"ingestgen.run-id": "r-1"})
    fake_nessie.commit("acme__sales", "a later commit by someone else", {"ingestgen.run-id": "r-2"})
    assert run.record_commit("r-1") == NessieCommit(branch="acme__sales", commit_hash=mine)
    assert run.record_commit("r-404") == NessieCommit(branch="acme__sales", commit_hash=None)
    assert fake_nessie.problems == []


@pytest.mark.hostile
@pytest.mark.parametrize(
    "name", ["acme/../main", "acme%2Fmain", "acme.", "a..b", "HEAD", "abcdef12"]
)
def test_names_nessie_would_refuse_are_never_sent(
    fake_nessie: FakeNessie, name: str, record_property: Any
) -> None:
    record_property("category", "loader: Nessie reference names")
    record_property("case", f"branch {name!r} given to the Nessie client")
    before = len(fake_nessie.requests)
    with pytest.raises(ValueError, match="reference name"):
        NessieClient(fake_nessie.api_uri).ensure_branch(name)
    assert len(fake_nessie.requests) == before
    record_property("outcome", "refused by Nessie's reference-name rule, no request sent")


def _answer(status: int, body: Any) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode()
    resp.reason = "x"
    return resp


def _v2(status: int, code: str) -> dict[str, Any]:
    return nessie_error(status, "x", code, "x")


def _rest(status: int, kind: str, message: str = "x") -> dict[str, Any]:
    return iceberg_rest_error(status, kind, message)


NOT_FOUND, CONFLICT, UNAVAILABLE = (
    CatalogNotFoundError,
    CatalogConflictError,
    CatalogUnavailableError,
)
ERRORS = [
    # Nessie's Iceberg REST endpoint: a missing branch is HTTP 400 (IcebergErrorMapper).
    (400, _rest(400, "NoSuchReferenceException"), NOT_FOUND, True),
    (404, _v2(404, "REFERENCE_NOT_FOUND"), NOT_FOUND, True),
    (404, _rest(404, "NoSuchTableException"), NOT_FOUND, True),
    (409, _v2(409, "REFERENCE_CONFLICT"), CONFLICT, False),
    (409, _v2(409, "REFERENCE_ALREADY_EXISTS"), CONFLICT, False),
    (409, _rest(409, "CommitFailedException"), CONFLICT, False),
    (429, _v2(429, "TOO_MANY_REQUESTS"), UNAVAILABLE, False),
    (503, _v2(503, "SERVICE_UNAVAILABLE"), UNAVAILABLE, False),
    (500, _rest(500, "IllegalStateException", "Warehouse 'x' is not known"), UNAVAILABLE, False),
    (403, _v2(403, "FORBIDDEN"), CatalogRequestError, True),
    (400, _v2(400, "BAD_REQUEST"), CatalogRequestError, True),
]


@pytest.mark.parametrize(("status", "body", "kind", "terminal"), ERRORS)
def test_error_answers_map_by_nessies_codes(
    status: int, body: dict[str, Any], kind: type[CatalogRequestError], terminal: bool
) -> None:
    error = response_error(_answer(status, body), "GET trees/acme", "Nessie at x")
    assert type(error) is kind
    assert error.terminal is terminal
    assert str(status) in str(error)


def test_a_missing_branch_on_the_iceberg_endpoint_is_not_found(fake_nessie: FakeNessie) -> None:
    missing = _rest(400, "NoSuchReferenceException", "Named reference 'acme' not found")
    fake_nessie.fail_next["GET /v2/trees/acme"] = (400, missing)
    with pytest.raises(CatalogNotFoundError, match="NoSuchReferenceException"):
        NessieClient(fake_nessie.api_uri).get_reference("acme")


def test_commit_metadata_is_written_as_nessie_reads_it() -> None:
    info = CommitInfo.for_run(tenant="acme", job=None, run_id="r-1")
    headers = info.headers()
    assert headers == {
        "Nessie-Commit-Message": "ingestgen load acme run r-1",
        "Nessie-Commit-Authors": "ingestgen acme <loader@acme.ingestgen>",
        "Nessie-Commit-Property-ingestgen.tenant": "acme",
        "Nessie-Commit-Property-ingestgen.run-id": "r-1",
    }
    assert "," not in headers["Nessie-Commit-Authors"]
    assert (
        "Nessie-Commit-Property-ingestgen.job"
        in CommitInfo.for_run(tenant="acme", job="deals", run_id="r").headers()
    )


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"message": "m", "properties": {"Ingestgen.Job": "x"}}, "key"),
        ({"message": "m", "properties": {"ingestgen.job": ""}}, "non-empty"),
        ({"message": "m", "properties": {"ingestgen.job": " x"}}, "non-empty"),
        ({"message": "m", "authors": ("Doe, Jane <j@x>",)}, "no ','"),
        ({"message": "run\r\nX-Injected: 1"}, "one line"),
        ({"message": ""}, "one line"),
    ],
)
def test_commit_metadata_nessie_would_change_is_refused(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        CommitInfo(**kwargs)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_loader_creates_the_branch_before_any_catalog_call(
    fake_nessie: FakeNessie, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The catalog is unreachable: the branch must exist already when the loader first calls it.
    port = _closed_port()
    env = {
        "NESSIE_ICEBERG_URI": f"http://127.0.0.1:{port}/iceberg",
        "NESSIE_URI": fake_nessie.api_uri,
        "S3_ENDPOINT": f"http://127.0.0.1:{port}",
        "ACME__S3_ACCESS_KEY_ID": "k",
        "ACME__S3_SECRET_ACCESS_KEY": "s",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MELTANO_PROJECT_ROOT", raising=False)
    props = {
        "type": "rest",
        "uri": f"http://127.0.0.1:{port}/iceberg/acme",
        "warehouse": "acme",
        "s3.endpoint": env["S3_ENDPOINT"],
        "s3.access-key-id": "k",
        "s3.secret-access-key": "s",
    }
    target = TargetIceberg(
        config={
            "namespace": "acme",
            "tenant": "acme",
            "catalog_properties": props,
            "nessie": {"branch": "acme", "api_uri": fake_nessie.api_uri},
            "commit_mode": "multi_table",
        }
    )
    schema = {
        "type": "SCHEMA",
        "stream": "s",
        "schema": {"properties": {"id": {"type": "integer"}}},
    }
    with (
        pytest.raises(LoaderError, match="did not answer"),
        redirect_stdout(io.StringIO()),
    ):
        # The whole input: the run opens in the background on the SCHEMA message, and its
        # failure is the run's error by the end of the input at the latest.
        target.listen(io.StringIO(json.dumps(schema) + "\n"))
    assert "acme" in fake_nessie.branches
    assert target.summary.nessie == NessieCommit(branch="acme", commit_hash=None)
    assert fake_nessie.problems == []
