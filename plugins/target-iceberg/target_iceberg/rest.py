"""Iceberg REST: one multi-table commit for a run, and the HTTP errors of REST catalogs.

`commit_transactions` sends the staged changes of several pyiceberg transactions as ONE Iceberg
REST ``POST /v1/{prefix}/transactions/commit``: the server applies every table change or none.
Project Nessie records the call as one commit; it also takes new tables in it (a change whose
requirement is ``assert-create``), so a Nessie run creates its tables in the same commit as
its data. Apache Iceberg's reference server loads every table of the call first, so it takes
existing tables only (the loader creates missing tables beforehand there, see `commit`).

Error answers become `CatalogRequestError` subclasses by the server's own error code, not by
the HTTP status alone (Nessie answers a missing branch with 400 ``NoSuchReferenceException``).
This module never writes data files.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.table import CommitTableRequest, CreateTableTransaction, Table, TableIdentifier
from pyiceberg.table import Transaction as IcebergTransaction
from pyiceberg.table.update import AssertCreate, AssertTableUUID, TableRequirement

from target_iceberg.errors import CatalogRequestError, CatalogUnavailableError

# Nessie's error codes (API v2 `errorCode`) and Iceberg REST error types, by what they mean.
_NOT_FOUND = {
    "REFERENCE_NOT_FOUND",
    "CONTENT_NOT_FOUND",
    "NAMESPACE_NOT_FOUND",
    "NoSuchReferenceException",
    "NoSuchTableException",
    "NoSuchNamespaceException",
}
_CONFLICT = {
    "REFERENCE_ALREADY_EXISTS",
    "REFERENCE_CONFLICT",
    "NAMESPACE_ALREADY_EXISTS",
    "CommitFailedException",
    "AlreadyExistsException",
}
_UNAVAILABLE = {"SERVICE_UNAVAILABLE", "TOO_MANY_REQUESTS", "ServiceUnavailableException"}
_FORBIDDEN = {"FORBIDDEN", "ForbiddenException", "NotAuthorizedException"}


class CatalogNotFoundError(CatalogRequestError):
    """The reference, namespace or table does not exist."""


class CatalogConflictError(CatalogRequestError):
    """A concurrent change won (branch moved, table changed, name taken); a retry may succeed."""

    terminal = False


class TimedRestCatalog(RestCatalog):
    """pyiceberg's REST catalog whose every request gives up after ``timeout`` seconds.

    pyiceberg sets no timeout, so a catalog that accepts the connection and never answers
    would hold the run (and the CI gate behind it) forever. A request that fails in transport
    becomes `CatalogUnavailableError` (exit 75) naming the address and the setting to change.
    """

    def __init__(self, name: str, *, timeout: float, **properties: str) -> None:
        self.timeout = timeout
        super().__init__(name, **properties)

    def _create_session(self) -> requests.Session:
        session = super()._create_session()
        send = session.request
        uri = self.properties.get("uri", getattr(self, "uri", "(no uri)"))

        def request(method: str, url: str | bytes, **kwargs: Any) -> requests.Response:
            kwargs["timeout"] = kwargs.get("timeout") or self.timeout
            try:
                return send(method, url, **kwargs)
            except requests.RequestException as exc:
                what = f"{method} {urlsplit(str(url)).path}"
                raise transport_error(exc, what, str(uri), self.timeout) from None

        session.request = request  # type: ignore[method-assign,assignment]
        return session


def transport_error(
    exc: requests.RequestException, what: str, uri: str, timeout: float
) -> CatalogUnavailableError:
    """The error for a catalog request that got no answer: where, why, and what to change."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(
        reason, (NewConnectionError, ConnectTimeoutError)
    )
    writes = not what.startswith(("GET", "HEAD"))
    outcome = (
        "whether it took effect is unknown; running again is safe (a run is never committed twice)"
        if writes and not never_sent
        else "nothing was committed"
    )
    if isinstance(exc, requests.Timeout):
        return CatalogUnavailableError(
            f"the Iceberg catalog at {uri} did not answer {what} within {timeout:g} s (the "
            f"catalog_timeout_s setting); {outcome}. Check that the catalog server is running "
            "and not overloaded, or raise catalog_timeout_s, then run again"
        )
    return CatalogUnavailableError(
        f"the Iceberg catalog at {uri} did not answer {what} ({type(exc).__name__}: "
        f"{str(exc)[:300]}); {outcome}. Check that the catalog server is running and reachable "
        "at that address (the `catalog_properties.uri` setting), then run again"
    )


def response_error(resp: requests.Response, what: str, server: str) -> CatalogRequestError:
    """The error for an HTTP error answer of a REST catalog (Nessie API v2 or Iceberg REST)."""
    try:
        body: Any = resp.json()
    except ValueError:
        body = {"message": resp.text[:500]}
    # Nessie API v2: {"status", "reason", "message", "errorCode"}; Iceberg REST:
    # {"error": {"message", "type", "code"}}.
    detail = body.get("error", body) if isinstance(body, dict) else {"message": str(body)}
    detail = detail if isinstance(detail, dict) else {"message": str(detail)}
    reason = str(detail.get("message") or detail.get("reason") or resp.reason)[:500]
    code = str(detail.get("errorCode") or detail.get("type") or "")
    text = f"{server} refused {what} ({resp.status_code} {code}): {reason}"
    if code in _NOT_FOUND or (not code and resp.status_code == 404):
        return CatalogNotFoundError(text)
    if code in _CONFLICT or resp.status_code == 409:
        return CatalogConflictError(text)
    if code in _UNAVAILABLE or resp.status_code in (429, 503) or resp.status_code >= 500:
        return CatalogUnavailableError(text)
    if code in _FORBIDDEN or resp.status_code in (401, 403):
        return CatalogRequestError(f"{text}. Check the credentials the catalog gets")
    return CatalogRequestError(text)


def table_change(transaction: IcebergTransaction) -> CommitTableRequest:
    """One ``table-changes`` entry from a pyiceberg transaction's staged requirements and updates.

    Mirrors what ``Transaction.commit_transaction`` sends for a single table: a create commits
    with ``assert-create`` only; other changes add ``assert-table-uuid``.
    """
    # pyiceberg 0.12 keeps staged state on private attributes and has no public multi-table API.
    table: Table = transaction._table
    ident = table.name()
    requirements: tuple[TableRequirement, ...]
    if isinstance(transaction, CreateTableTransaction):
        requirements = (AssertCreate(),)
    else:
        uuid_check = AssertTableUUID(uuid=transaction.table_metadata.table_uuid)
        requirements = (*transaction._requirements, uuid_check)
    return CommitTableRequest(
        identifier=TableIdentifier(namespace=list(ident[:-1]), name=ident[-1]),
        requirements=requirements,
        updates=transaction._updates,
    )


def takes_new_tables(catalog: RestCatalog) -> bool:
    """Whether the server takes new tables in a multi-table commit (Project Nessie does).

    Nessie says it is Nessie in every config answer (``nessie.is-nessie-catalog``).
    """
    return str(catalog.properties.get("nessie.is-nessie-catalog", "")).lower() == "true"


def commit_transactions(
    catalog: RestCatalog,
    transactions: Sequence[IcebergTransaction],
    *,
    headers: dict[str, str] | None = None,
    retries: int = 4,
    backoff: float = 0.2,
) -> list[Table]:
    """Commit the staged changes of ``transactions`` atomically (one Nessie commit on Nessie).

    On a conflict (another run appended to one of the tables meanwhile) each table is refreshed
    and its appends are re-staged on the new snapshot, then the whole commit is retried; schema
    changes that no longer apply still fail, and so does a conflict on a new table (someone else
    created it). Do not call ``commit_transaction`` on them after.

    Args:
        catalog: the REST catalog the transactions belong to.
        transactions: table and create-table transactions.
        headers: extra HTTP headers (Nessie's ``Nessie-Commit-*`` metadata).
        retries: commit attempts after the first one, on conflicts.
        backoff: base of the exponential back-off between attempts, seconds.

    Returns:
        The tables as loaded after the commit.

    Raises:
        CatalogConflictError: still conflicting after ``retries`` attempts; nothing committed.
        CatalogRequestError: the server refused the commit (the message says why).
    """
    if not transactions:
        return []
    # pyiceberg 0.12 has no multi-table call: reuse the catalog's URL prefix and its session
    # (auth, header.* properties), and re-stage appends with its own retry helpers on conflict.
    url = catalog.url("transactions/commit", prefixed=True)
    all_headers = {**catalog._session.headers, **(headers or {})}
    creates = any(isinstance(tx, CreateTableTransaction) for tx in transactions)
    for attempt in range(retries + 1):
        changes = [table_change(tx) for tx in transactions]
        body = '{"table-changes":[' + ",".join(c.model_dump_json() for c in changes) + "]}"
        try:
            resp = catalog._session.post(url, data=body.encode(), headers=all_headers)
        except requests.RequestException as exc:
            raise CatalogUnavailableError(
                f"the multi-table commit to {url} got no answer ({exc}); whether it landed is "
                "unknown: read the tables before retrying"
            ) from exc
        if resp.status_code < 300:
            break
        what = f"POST transactions/commit of {len(changes)} table(s)"
        error = response_error(resp, what, f"the catalog at {catalog.uri}")
        restage = any(tx._snapshot_producers for tx in transactions)
        if not isinstance(error, CatalogConflictError) or creates or not restage:
            raise error  # (nothing to re-stage: the same requirements would conflict again)
        if attempt == retries:
            raise error
        time.sleep(backoff * (2**attempt) * (1 + random.random()))  # noqa: S311 (jitter)
        for tx in transactions:
            tx._table.refresh()
            if tx._snapshot_producers:
                tx._rebuild_snapshot_updates()
    tables = []
    for tx in transactions:
        tx._cleanup_uncommitted_manifests()
        tx._updates, tx._requirements, tx._snapshot_producers = (), (), []
        tables.append(catalog.load_table(tx._table.name()))
    return tables
