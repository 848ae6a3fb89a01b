"""Project Nessie for the loader: branches over REST API v2 and one-commit multi-table writes.

`NessieClient` wraps the few REST API v2 calls a run needs: read a reference, create the tenant
branch from ``main`` on first use, merge a run (or write-audit-publish) branch into the tenant
branch in one step with the run's commit metadata, delete a branch, read the commit log and the
table keys of a reference. `commit_transactions` sends the staged changes of several pyiceberg
transactions as ONE Iceberg REST ``transactions/commit`` call, which Nessie records as one commit.

Conflicts (a branch that moved, a table changed by a concurrent run) raise `NessieConflictError`,
which is retryable; the rest of the errors say what to check. This module never writes data
files and never deletes a branch it was not asked to delete.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.table import CommitTableRequest, CreateTableTransaction, Table, TableIdentifier
from pyiceberg.table import Transaction as IcebergTransaction
from pyiceberg.table.update import AssertCreate, AssertTableUUID, TableRequirement

from target_iceberg.errors import LoaderError

# Nessie's reference names are richer, but tenants and run branches only need these, and they
# are safe in URL paths without Nessie's escaping rules.
_REF_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
_HEADER_PROPERTY = re.compile(r"^[A-Za-z0-9_.-]+$")


class NessieError(LoaderError):
    """Nessie refused or failed a request; the message carries Nessie's own reason."""


class NessieNotFoundError(NessieError):
    """The reference (or table) does not exist."""


class NessieConflictError(NessieError):
    """A concurrent change won (branch moved, table changed, name taken); retrying may succeed."""

    terminal = False


class NessieUnavailableError(NessieError):
    """Nessie did not answer or answered 5xx; the outcome of a write is unknown until re-read."""

    terminal = False


@dataclass(frozen=True)
class Reference:
    """A named reference and the commit hash it points at."""

    name: str
    hash: str
    type: str = "BRANCH"

    def as_json(self) -> dict[str, str]:
        """The reference as Nessie's JSON body."""
        return {"type": self.type, "name": self.name, "hash": self.hash}


@dataclass(frozen=True)
class CommitInfo:
    """Commit message, authors and properties for a Nessie commit.

    Sent as ``Nessie-Commit-*`` headers on Iceberg REST calls and as ``commitMeta`` on merges.
    """

    message: str
    authors: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def for_run(cls, *, tenant: str, job: str, run_id: str, action: str = "load") -> CommitInfo:
        """The loader's commit metadata: tenant, job and run id in message, author, properties."""
        return cls(
            message=f"ingestgen {action} {tenant}/{job} run {run_id}",
            authors=(f"ingestgen {tenant}/{job} <{job}@{tenant}.ingestgen>",),
            properties={
                "ingestgen.tenant": tenant,
                "ingestgen.job": job,
                "ingestgen.run-id": run_id,
            },
        )

    def headers(self) -> dict[str, str]:
        """HTTP headers that Nessie folds into the commit of an Iceberg REST call."""
        out = {"Nessie-Commit-Message": self.message}
        if self.authors:
            out["Nessie-Commit-Authors"] = ", ".join(self.authors)
        for key, value in self.properties.items():
            if not _HEADER_PROPERTY.match(key):
                raise ValueError(f"commit property {key!r} must match {_HEADER_PROPERTY.pattern}")
            out[f"Nessie-Commit-Property-{key}"] = value
        return out

    def catalog_properties(self) -> dict[str, str]:
        """The same headers as pyiceberg ``header.*`` catalog properties."""
        return {f"header.{k}": v for k, v in self.headers().items()}

    def as_json(self) -> dict[str, Any]:
        """Nessie's ``CommitMeta`` JSON."""
        return {
            "message": self.message,
            "authors": list(self.authors),
            "properties": dict(self.properties),
        }


@dataclass(frozen=True)
class LogEntry:
    """One commit of a reference's history."""

    hash: str
    message: str
    authors: tuple[str, ...]
    properties: Mapping[str, str]
    parents: tuple[str, ...]


@dataclass(frozen=True)
class MergeResult:
    """Outcome of a merge: the target's new HEAD."""

    target_hash: str
    common_ancestor: str | None


def _check_ref(name: str) -> str:
    if not _REF_NAME.match(name):
        raise ValueError(
            f"Nessie branch name {name!r} is not allowed here: use letters, digits, '_', '.', '-', "
            "starting with a letter (at most 128 characters)"
        )
    return name


class NessieClient:
    """A small client for Nessie's REST API v2."""

    def __init__(
        self,
        uri: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Create a client.

        Args:
            uri: the server root (``http://host:19120``) or its API root (``.../api/v2``).
            session: a requests session to reuse (auth, retries); a new one otherwise.
            timeout: seconds per request.
            headers: extra headers on every request (e.g. ``Authorization``).
        """
        root = uri.rstrip("/")
        for suffix in ("/api/v2", "/api/v1", "/api"):
            root = root.removesuffix(suffix)
        self.root = root
        self.api = f"{root}/api/v2"
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update(dict(headers or {}))

    def iceberg_uri(self, branch: str) -> str:
        """The pyiceberg ``uri`` of the Iceberg REST catalog on ``branch`` (branch in the path)."""
        return f"{self.root}/iceberg/{quote(_check_ref(branch), safe='')}"

    # -- references ---------------------------------------------------------------------------

    def get_reference(self, name: str) -> Reference:
        """The reference ``name`` and its HEAD.

        Raises:
            NessieNotFoundError: no such reference.
        """
        body = self._call("GET", f"trees/{quote(_check_ref(name), safe='')}")
        return _reference(body["reference"])

    def create_branch(
        self, name: str, source: str = "main", source_hash: str | None = None
    ) -> Reference:
        """Create branch ``name`` at ``source`` (at ``source_hash``, default its HEAD).

        Raises:
            NessieConflictError: the name is taken.
            NessieNotFoundError: ``source`` does not exist.
        """
        src = self.get_reference(source) if source_hash is None else Reference(source, source_hash)
        body = self._call(
            "POST",
            "trees",
            params={"name": _check_ref(name), "type": "BRANCH"},
            json_body=src.as_json(),
        )
        return _reference(body["reference"])

    def ensure_branch(self, name: str, source: str = "main") -> Reference:
        """Return branch ``name``, creating it from ``source``'s HEAD on first use (race-safe)."""
        try:
            return self.get_reference(name)
        except NessieNotFoundError:
            pass
        try:
            return self.create_branch(name, source)
        except NessieConflictError:
            # Another run created it between our read and our create: that branch is fine.
            return self.get_reference(name)

    def delete_branch(
        self, name: str, expected_hash: str | None = None, *, missing_ok: bool = False
    ) -> None:
        """Delete branch ``name`` (only if still at ``expected_hash`` when given).

        Raises:
            NessieConflictError: the branch moved past ``expected_hash``.
            NessieNotFoundError: no such branch (unless ``missing_ok``).
        """
        try:
            ref_hash = expected_hash or self.get_reference(name).hash
            self._call("DELETE", f"trees/{quote(_check_ref(name), safe='')}@{ref_hash}")
        except NessieNotFoundError:
            if not missing_ok:
                raise

    def merge(
        self,
        source: str,
        into: str,
        *,
        commit: CommitInfo | None = None,
        source_hash: str | None = None,
        expected_hash: str | None = None,
    ) -> MergeResult:
        """Merge ``source`` into branch ``into`` as one commit on ``into``.

        Args:
            source: the branch whose commits are merged.
            into: the target branch.
            commit: message, authors and properties of the merge commit.
            source_hash: merge up to this commit of ``source`` (default: its HEAD now).
            expected_hash: fail with a conflict unless ``into`` is still there (default: its
                HEAD now; Nessie still rebases onto newer unrelated commits).

        Raises:
            NessieConflictError: the same content changed on both sides, or ``into`` moved.
        """
        src_hash = source_hash or self.get_reference(source).hash
        target_hash = expected_hash or self.get_reference(into).hash
        payload: dict[str, Any] = {"fromRefName": _check_ref(source), "fromHash": src_hash}
        if commit is not None:
            payload["message"] = commit.message
            payload["commitMeta"] = commit.as_json()
        body = self._call(
            "POST",
            f"trees/{quote(_check_ref(into), safe='')}@{target_hash}/history/merge",
            json_body=payload,
        )
        if body.get("wasSuccessful") is False:
            raise NessieConflictError(f"merge of {source} into {into} did not apply: {body}")
        return MergeResult(
            target_hash=str(body.get("resultantTargetHash") or ""),
            common_ancestor=body.get("commonAncestor"),
        )

    def log(self, ref: str, *, max_records: int | None = None) -> list[LogEntry]:
        """The commits of ``ref``, newest first (all of them unless ``max_records``)."""
        entries: list[LogEntry] = []
        token: str | None = None
        while max_records is None or len(entries) < max_records:
            params: dict[str, str] = {}
            if token:
                params["page-token"] = token
            if max_records is not None:
                params["max-records"] = str(max_records - len(entries))
            body = self._call(
                "GET", f"trees/{quote(_check_ref(ref), safe='')}/history", params=params
            )
            for item in body.get("logEntries", []):
                meta = item.get("commitMeta", {})
                entries.append(
                    LogEntry(
                        hash=str(meta.get("hash", "")),
                        message=str(meta.get("message", "")),
                        authors=tuple(meta.get("authors") or ()),
                        properties=_properties(meta),
                        parents=tuple(meta.get("parentCommitHashes") or ()),
                    )
                )
            token = body.get("token")
            if not body.get("hasMore") or not token:
                break
        return entries if max_records is None else entries[:max_records]

    def table_keys(self, ref: str) -> list[str]:
        """Dotted keys (``namespace.table``) of the Iceberg tables on ``ref``."""
        keys: list[str] = []
        token: str | None = None
        while True:
            params = {"page-token": token} if token else None
            body = self._call(
                "GET", f"trees/{quote(_check_ref(ref), safe='')}/entries", params=params
            )
            for entry in body.get("entries", []):
                if entry.get("type") == "ICEBERG_TABLE":
                    keys.append(".".join(entry.get("name", {}).get("elements", [])))
            token = body.get("token")
            if not body.get("hasMore") or not token:
                return sorted(keys)

    # -- transport ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> dict[str, Any]:
        url = f"{self.api}/{path}"
        try:
            resp = self.session.request(
                method, url, params=params, json=json_body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise NessieUnavailableError(
                f"Nessie at {self.root} did not answer {method} {path}: {exc}. Check that the "
                "server runs (scripts/services/start.sh) and the catalog uri setting"
            ) from exc
        if resp.status_code >= 400:
            raise _error(resp, f"{method} {path}")
        if not resp.content:
            return {}
        result: dict[str, Any] = resp.json()
        return result


def _properties(meta: Mapping[str, Any]) -> dict[str, str]:
    # API v2 returns "allProperties" (values are lists); v1 returned "properties" (strings).
    if all_props := meta.get("allProperties"):
        return {k: str(v[0]) for k, v in all_props.items() if v}
    return {k: str(v) for k, v in (meta.get("properties") or {}).items()}


def _reference(raw: Mapping[str, Any]) -> Reference:
    return Reference(name=str(raw["name"]), hash=str(raw.get("hash") or ""), type=str(raw["type"]))


def _error(resp: requests.Response, what: str) -> NessieError:
    try:
        body = resp.json()
    except ValueError:
        body = {"message": resp.text[:500]}
    # Nessie API errors: {"message", "errorCode", ...}; Iceberg REST: {"error": {"message", ...}}.
    detail = body.get("error", body) if isinstance(body, dict) else {"message": str(body)}
    reason = detail.get("message") or detail.get("reason") or resp.reason
    code = detail.get("errorCode") or detail.get("type") or ""
    text = f"Nessie refused {what} ({resp.status_code} {code}): {reason}"
    if resp.status_code == 404:
        return NessieNotFoundError(text)
    if resp.status_code == 409:
        return NessieConflictError(text)
    if resp.status_code >= 500:
        return NessieUnavailableError(text)
    return NessieError(text)


# -- multi-table commit through Iceberg REST --------------------------------------------------


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


def commit_transactions(
    catalog: RestCatalog,
    transactions: Sequence[IcebergTransaction],
    *,
    commit: CommitInfo | None = None,
    retries: int = 4,
    backoff: float = 0.2,
) -> list[Table]:
    """Commit the staged changes of ``transactions`` atomically, as one Nessie commit.

    On a conflict (another run appended to one of the tables meanwhile) each table is refreshed
    and its appends are re-staged on the new snapshot, then the whole commit is retried; schema
    changes that no longer apply still fail. Do not call ``commit_transaction`` on them after.

    Returns:
        The tables as loaded after the commit.

    Raises:
        NessieConflictError: still conflicting after ``retries`` attempts; nothing is committed.
        NessieError: Nessie refused the commit (the message says why); nothing is committed.
    """
    if not transactions:
        return []
    # pyiceberg 0.12 has no multi-table call: reuse the catalog's URL prefix and its session
    # (auth, header.* properties), and re-stage appends with its own retry helpers on conflict.
    url = catalog.url("transactions/commit", prefixed=True)
    headers = dict(catalog._session.headers)
    headers.update(commit.headers() if commit is not None else {})
    for attempt in range(retries + 1):
        changes = [table_change(tx) for tx in transactions]
        body = '{"table-changes":[' + ",".join(c.model_dump_json() for c in changes) + "]}"
        try:
            resp = catalog._session.post(url, data=body.encode(), headers=headers)
        except requests.RequestException as exc:
            raise NessieUnavailableError(
                f"the multi-table commit to {url} got no answer ({exc}); whether it landed is "
                "unknown: read the tables before retrying"
            ) from exc
        if resp.status_code < 300:
            break
        error = _error(resp, f"POST transactions/commit of {len(changes)} table(s)")
        retryable = isinstance(error, NessieConflictError) and not any(
            isinstance(tx, CreateTableTransaction) for tx in transactions
        )
        if not retryable or attempt == retries:
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


def catalog_properties(
    iceberg_uri: str,
    *,
    s3_endpoint: str | None = None,
    s3_access_key_id: str | None = None,
    s3_secret_access_key: str | None = None,
    s3_region: str | None = None,
    commit: CommitInfo | None = None,
) -> dict[str, str]:
    """The pyiceberg ``RestCatalog`` properties for a Nessie branch URI and an S3 store.

    ``iceberg_uri`` is ``<nessie>/iceberg/<branch>`` (`NessieClient.iceberg_uri`); no ``prefix``.
    """
    props = {"type": "rest", "uri": iceberg_uri}
    s3 = {
        "s3.endpoint": s3_endpoint,
        "s3.access-key-id": s3_access_key_id,
        "s3.secret-access-key": s3_secret_access_key,
        "s3.region": s3_region,
    }
    props |= {k: v for k, v in s3.items() if v}
    if s3_endpoint:
        props["s3.path-style-access"] = "true"
    if commit is not None:
        props |= commit.catalog_properties()
    return props
