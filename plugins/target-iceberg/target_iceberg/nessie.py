"""Project Nessie for the loader: the tenant's branch, and the commit metadata of a run.

`NessieClient` makes the few Nessie REST API v2 calls a run needs: read a reference, create the
tenant's branch from ``main`` on first use (before any catalog call: Nessie's Iceberg REST
endpoint answers a missing branch with HTTP 400 ``NoSuchReferenceException``), read a
branch's commit log to find the commit that carries the run's id, and, for write-audit-publish,
list, merge and delete the per-run audit branches (`audit_branch`). `CommitInfo` is the run's
commit message, author and properties, sent as ``Nessie-Commit-*`` headers with the run's one
multi-table commit (`target_iceberg.rest.commit_transactions`), written the way Nessie reads
them back: lower-case property keys, no empty values, no commas inside an author.

Every reference name is checked with Nessie's own rule first (`target_iceberg.tenancy`), so no
name ever needs escaping in a URL path. It merges only into the tenant's branch and deletes
only the run's audit branch, each with the hash it expects the reference to be at.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from target_iceberg.errors import (
    CatalogRequestError,
    CatalogUnavailableError,
    CommitError,
    ConfigError,
)
from target_iceberg.rest import CatalogConflictError, CatalogNotFoundError, response_error
from target_iceberg.summary import NessieCommit
from target_iceberg.tenancy import BRANCH_SEPARATOR, MAX_BRANCH, nessie_ref_problem

logger = logging.getLogger(__name__)

DEFAULT_BRANCH = "main"
RUN_ID_PROPERTY = "ingestgen.run-id"
# Nessie lower-cases the keys of `Nessie-Commit-Property-<key>` headers and trims and drops empty
# values; header values are ASCII text on one line.
_PROPERTY_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_HEADER_TEXT = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")
AUDIT_WORD = "audit"


def audit_prefix(tenant_branch: str) -> str:
    """The start of every audit branch cut from ``tenant_branch``: still the tenant's own name.

    ``acme`` gives ``acme__audit_``, ``acme__sales`` gives ``acme__sales_audit_`` (the tenancy
    rule: ``<tenant>__<suffix>``, the suffix in words joined by single ``_``).
    """
    separator = "_" if BRANCH_SEPARATOR in tenant_branch else BRANCH_SEPARATOR
    return f"{tenant_branch}{separator}{AUDIT_WORD}_"


def audit_branch(tenant_branch: str, run_id: str) -> str:
    """The Nessie branch of one write-audit-publish run, cut from ``tenant_branch``.

    Raises:
        ValueError: the name would break Nessie's rule or be longer than the tenancy allows.
    """
    token = "_".join(re.findall(r"[a-z0-9]+", run_id.lower())) or "run"
    name = audit_prefix(tenant_branch) + token
    if len(name) > MAX_BRANCH:
        raise ValueError(
            f"the audit branch of run {run_id!r} on {tenant_branch!r} would be longer than "
            f"{MAX_BRANCH} characters; use a shorter run id (a UUID fits)"
        )
    return check_ref(name)


@dataclass(frozen=True)
class Reference:
    """A named reference and the commit hash it points at."""

    name: str
    hash: str
    type: str = "BRANCH"

    def as_json(self) -> dict[str, str]:
        """The reference as Nessie's ``Reference`` JSON."""
        return {"type": self.type, "name": self.name, "hash": self.hash}


@dataclass(frozen=True)
class CommitInfo:
    """Message, authors and properties of a Nessie commit."""

    message: str
    authors: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse what Nessie would change or drop on the way in.

        Raises:
            ValueError: naming the property, author or message and the rule it breaks.
        """
        if not _HEADER_TEXT.match(self.message):
            raise ValueError(f"commit message {self.message!r} must be one line of ASCII text")
        for author in self.authors:
            if "," in author or not _HEADER_TEXT.match(author):
                raise ValueError(f"commit author {author!r}: one line of ASCII text, no ','")
        for key, value in self.properties.items():
            if not _PROPERTY_KEY.match(key):
                raise ValueError(f"commit property key {key!r} must match {_PROPERTY_KEY.pattern}")
            if not _HEADER_TEXT.match(value):
                raise ValueError(f"commit property {key}={value!r}: non-empty ASCII text")

    @classmethod
    def for_run(cls, *, tenant: str, job: str | None, run_id: str) -> CommitInfo:
        """The loader's commit metadata: tenant, job and run id (absent values left out)."""
        what = f"{tenant}/{job}" if job else tenant
        properties = {"ingestgen.tenant": tenant, "ingestgen.job": job, RUN_ID_PROPERTY: run_id}
        return cls(
            message=f"ingestgen load {what} run {run_id}",
            authors=(f"ingestgen {what} <{job or 'loader'}@{tenant}.ingestgen>",),
            properties={k: v for k, v in properties.items() if v},
        )

    def commit_meta(self) -> dict[str, Any]:
        """The same metadata as Nessie's API v2 ``CommitMeta`` JSON (in a merge's body).

        Every field the schema requires is given; the ones the server sets (committer, commit
        time, hash) are left out and the parent hashes are empty, as Nessie demands.
        """
        return {
            "message": self.message,
            "authors": list(self.authors),
            "allSignedOffBy": [],
            "properties": dict(self.properties),
            "allProperties": {k: [v] for k, v in self.properties.items()},
            "parentCommitHashes": [],
        }

    def headers(self) -> dict[str, str]:
        """HTTP headers that Nessie folds into the commit of an Iceberg REST call."""
        out = {"Nessie-Commit-Message": self.message}
        if self.authors:
            out["Nessie-Commit-Authors"] = ",".join(self.authors)
        out |= {f"Nessie-Commit-Property-{k}": v for k, v in self.properties.items()}
        return out


@dataclass(frozen=True)
class LogEntry:
    """One commit of a reference's history."""

    hash: str
    message: str
    authors: tuple[str, ...]
    properties: Mapping[str, str]


def check_ref(name: str) -> str:
    """``name`` if Nessie accepts it as a reference name.

    Raises:
        ValueError: with Nessie's rule.
    """
    if (problem := nessie_ref_problem(name)) is not None:
        raise ValueError(problem)
    return name


class NessieClient:
    """A small client for Nessie's REST API v2 (``<server>/api/v2``)."""

    def __init__(
        self,
        api_uri: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Create a client.

        Args:
            api_uri: the API root, ``http://host:19120/api/v2``.
            session: a requests session to reuse (auth, retries); a new one otherwise.
            timeout: seconds per request.
            headers: extra headers on every request (e.g. ``Authorization``).
        """
        self.api = api_uri.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update(dict(headers or {}))

    def get_reference(self, name: str) -> Reference:
        """The reference ``name`` and its HEAD.

        Raises:
            CatalogNotFoundError: no such reference.
        """
        body = self._call("GET", f"trees/{check_ref(name)}")
        return _reference(body["reference"])

    def create_branch(self, name: str, source: str = DEFAULT_BRANCH) -> Reference:
        """Create branch ``name`` at the HEAD of ``source``.

        Raises:
            CatalogConflictError: the name is taken (or ``source`` moved meanwhile).
            CatalogNotFoundError: ``source`` does not exist.
        """
        src = self.get_reference(source)
        body = self._call(
            "POST",
            "trees",
            params={"name": check_ref(name), "type": "BRANCH"},
            json_body=src.as_json(),
        )
        return _reference(body["reference"])

    def ensure_branch(self, name: str, source: str = DEFAULT_BRANCH) -> tuple[Reference, bool]:
        """Branch ``name``, created from ``source``'s HEAD on first use (race-safe).

        Returns:
            The reference and whether this call created it.
        """
        try:
            return self.get_reference(name), False
        except CatalogNotFoundError:
            pass
        try:
            return self.create_branch(name, source), True
        except CatalogConflictError:
            # Another run created it between our read and our create: that branch is fine.
            return self.get_reference(name), False

    def branches(self, prefix: str) -> list[Reference]:
        """Every branch whose name starts with ``prefix`` (all pages, filtered here)."""
        found: list[Reference] = []
        token: str | None = None
        while True:
            params = {"max-records": "100"} | ({"page-token": token} if token else {})
            body = self._call("GET", "trees", params=params)
            for raw in body.get("references", []):
                ref = _reference(raw)
                if ref.type == "BRANCH" and ref.name.startswith(prefix):
                    found.append(ref)
            token = body.get("token")
            if not body.get("hasMore") or not token:
                return sorted(found, key=lambda r: r.name)

    def merge(self, target: Reference, source: Reference, info: CommitInfo) -> str:
        """Merge ``source`` (up to its hash) into branch ``target``, expected at its hash.

        Returns:
            The target's new HEAD (``resultantTargetHash``).

        Raises:
            CatalogConflictError: the target moved in a way that conflicts with the merged
                changes (nothing was merged).
        """
        body = self._call(
            "POST",
            f"trees/{check_ref(target.name)}@{target.hash}/history/merge",
            json_body={
                "fromRefName": check_ref(source.name),
                "fromHash": source.hash,
                "commitMeta": info.commit_meta(),
            },
        )
        return str(body.get("resultantTargetHash") or "")

    def delete_branch(self, ref: Reference) -> None:
        """Delete branch ``ref``, expected at its hash.

        Raises:
            CatalogConflictError: it moved meanwhile (it is kept).
        """
        self._call("DELETE", f"trees/{check_ref(ref.name)}@{ref.hash}", params={"type": "BRANCH"})

    def log(self, ref: str, *, max_records: int = 100) -> list[LogEntry]:
        """Up to ``max_records`` commits of ``ref``, newest first."""
        entries: list[LogEntry] = []
        token: str | None = None
        while len(entries) < max_records:
            params = {"max-records": str(max_records - len(entries))}
            if token:
                params["page-token"] = token
            body = self._call("GET", f"trees/{check_ref(ref)}/history", params=params)
            for item in body.get("logEntries", []):
                meta = item.get("commitMeta", {})
                entries.append(
                    LogEntry(
                        hash=str(meta.get("hash", "")),
                        message=str(meta.get("message", "")),
                        authors=tuple(meta.get("authors") or ()),
                        properties=_properties(meta),
                    )
                )
            token = body.get("token")
            if not body.get("hasMore") or not token:
                break
        return entries[:max_records]

    def commit_of(self, ref: str, key: str, value: str, *, within: int = 100) -> str | None:
        """The hash of the newest commit on ``ref`` whose property ``key`` is ``value``."""
        for entry in self.log(ref, max_records=within):
            if entry.properties.get(key) == value:
                return entry.hash
        return None

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
            late = (
                f" within {self.timeout:g} s (the catalog_timeout_s setting)"
                if isinstance(exc, requests.Timeout)
                else ""
            )
            raise CatalogUnavailableError(
                f"Nessie at {self.api} did not answer {method} {path}{late}: {exc}. Check that "
                "the server runs (scripts/services/start.sh) and the loader's nessie.api_uri"
            ) from exc
        if resp.status_code >= 400:
            raise response_error(resp, f"{method} {path}", f"Nessie at {self.api}")
        if not resp.content:
            return {}
        result: dict[str, Any] = resp.json()
        return result


class BranchRun:
    """A run's branch: created from main on first use, then the run's commit looked up.

    With write-audit-publish the run works on its own branch (`open_audit`), cut from the
    tenant's, and `publish_audit` merges it into the tenant's branch in one step.
    """

    def __init__(self, api_uri: str, branch: str, *, timeout: float = 30.0) -> None:
        self.client = NessieClient(api_uri, timeout=timeout)
        self.branch = branch
        self.audit: str | None = None
        """The run's audit branch, once opened."""
        self.base: Reference | None = None
        """The tenant branch as the audit branch was cut from it (the merge's expected hash)."""

    def open_audit(self, run_id: str, properties: Mapping[str, str]) -> dict[str, str]:
        """Cut the run's audit branch from the tenant's (or find it: a retry of the run).

        Returns:
            The catalog properties with the Iceberg endpoint of the audit branch: the
            tenant's URI (checked by the guard: ``<NESSIE_ICEBERG_URI>/<branch>``) with the
            audit branch as its last path element.
        """
        try:
            self.audit = audit_branch(self.branch, run_id)
            moved = branch_properties(properties, self.branch, self.audit)
        except ValueError as exc:
            raise ConfigError(f"write-audit-publish on Nessie: {exc}") from None
        self.base = self.client.get_reference(self.branch)
        reference, created = self.client.ensure_branch(self.audit, self.branch)
        if created:
            self.base = Reference(self.branch, reference.hash)
        how = f"cut from {self.branch}" if created else "found (a retry of the run)"
        logger.info("Nessie audit branch %s %s at %s", self.audit, how, reference.hash)
        return moved

    def publish_audit(self, *, tenant: str, job: str | None, run_id: str) -> str:
        """Merge the audit branch into the tenant's, expected at `base`, then delete it.

        Returns:
            The tenant branch's new HEAD.

        Raises:
            CommitError: the tenant branch changed the run's tables meanwhile (Nessie's merge
                conflict); nothing was merged and the audit branch is kept.
        """
        assert self.audit is not None
        assert self.base is not None
        info = CommitInfo.for_run(tenant=tenant, job=job, run_id=run_id)
        try:
            return merge_audit(self.client, self.base, self.audit, info)
        except CatalogConflictError as exc:
            raise CommitError(
                f"the audit passed, but Nessie refused to merge {self.audit} into {self.branch} "
                f"({exc}): another writer changed the run's tables there since "
                f"{self.base.hash[:12]}. {self.branch} is unchanged and the run is kept on "
                f"{self.audit}: publish it with `ingestgen audit {tenant} --publish {run_id}` "
                "or re-run"
            ) from exc

    def open(self) -> NessieCommit:
        """Make sure the branch exists; the run summary's ``nessie`` block so far."""
        reference, created = self.client.ensure_branch(self.branch)
        how = f"created from {DEFAULT_BRANCH}" if created else "found"
        logger.info("Nessie branch %s %s at %s", self.branch, how, reference.hash)
        return NessieCommit(branch=self.branch)

    def record_commit(self, run_id: str) -> NessieCommit:
        """The summary's ``nessie`` block with the hash of the run's commit (after it landed).

        The run's commit is the newest one carrying its run id: others may have come after it.
        Not found or not readable, the hash stays null (the data is committed either way).
        """
        try:
            found = self.client.commit_of(self.branch, RUN_ID_PROPERTY, run_id)
        except CatalogRequestError as exc:
            logger.warning("committed, but the Nessie commit hash could not be read: %s", exc)
            found = None
        return NessieCommit(branch=self.branch, commit_hash=found)


def merge_audit(client: NessieClient, base: Reference, audit: str, info: CommitInfo) -> str:
    """Merge branch ``audit`` at its HEAD into ``base`` (expected at its hash); delete it.

    Returns:
        The target's new HEAD.
    """
    head = client.get_reference(audit)
    merged = client.merge(base, head, info)
    logger.info("merged %s into %s: %s", audit, base.name, merged)
    try:
        client.delete_branch(head)
    except CatalogRequestError as exc:  # merged: the leftover branch is only clutter
        logger.warning("merged, but the audit branch %s could not be deleted: %s", audit, exc)
    return merged


def branch_properties(properties: Mapping[str, str], branch: str, other: str) -> dict[str, str]:
    """Catalog ``properties`` of Nessie branch ``branch`` moved to branch ``other``.

    Raises:
        ValueError: the URI does not end with ``/<branch>`` (not a Nessie branch's endpoint).
    """
    uri = str(properties.get("uri", "")).rstrip("/")
    if not uri.endswith(f"/{branch}"):
        raise ValueError(f"catalog uri {uri!r} does not end with the branch /{branch}")
    return {**properties, "uri": uri[: -len(branch)] + check_ref(other)}


def _properties(meta: Mapping[str, Any]) -> dict[str, str]:
    # API v2 returns "allProperties" (values are lists) next to "properties" (first values).
    if all_props := meta.get("allProperties"):
        return {k: str(v[0]) for k, v in all_props.items() if v}
    return {k: str(v) for k, v in (meta.get("properties") or {}).items()}


def _reference(raw: Mapping[str, Any]) -> Reference:
    return Reference(name=str(raw["name"]), hash=str(raw.get("hash") or ""), type=str(raw["type"]))
