"""Read back what a tenant's jobs landed: tables, row counts, snapshots and first rows.

Reads the catalog settings from the rendered project (the same ones the loader uses), so what it
shows is what the jobs wrote. Read-only: never creates, alters or commits anything.

Every catalog ingestgen opens itself (``show``, ``plan``, ``report``, ``maintain``) has the
loader's kind of timeouts: a REST catalog request and an S3 request give up after
``INGESTGEN_CATALOG_TIMEOUT_S`` / ``INGESTGEN_S3_TIMEOUT_S`` seconds, else the loader's own
``catalog_timeout_s`` / ``s3_timeout_s``, else 60. A server that accepts the connection and
never answers cannot hold a command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ingestgen.errors import UserError, excerpt
from ingestgen.meltano.project import Plugin, Project
from ingestgen.meltano.tool import expand, references

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

CATALOG_TIMEOUT_ENV = "INGESTGEN_CATALOG_TIMEOUT_S"
S3_TIMEOUT_ENV = "INGESTGEN_S3_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 60.0


class CatalogUnreachableError(UserError):
    """A catalog ingestgen reads did not answer in time, or not at all; says where and the fix."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds one of ingestgen's own catalog or S3 requests may take."""

    catalog_s: float = DEFAULT_TIMEOUT_S
    s3_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def of(cls, loader: Plugin | None, environ: Mapping[str, str]) -> Timeouts:
        """The environment's override, else ``loader``'s own settings, else 60 s.

        Raises:
            UserError: an override is not a positive number.
        """
        config = loader.config if loader is not None else {}
        return cls(
            _seconds(environ, CATALOG_TIMEOUT_ENV, config.get("catalog_timeout_s")),
            _seconds(environ, S3_TIMEOUT_ENV, config.get("s3_timeout_s")),
        )


def _seconds(environ: Mapping[str, str], var: str, setting: object) -> float:
    raw = environ.get(var)
    if raw is None:
        try:
            value = float(setting) if setting is not None else DEFAULT_TIMEOUT_S  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = DEFAULT_TIMEOUT_S  # the loader rejects it at its next run
        return value if value > 0 else DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise UserError(f"{var}={excerpt(raw)} is not a number of seconds above 0; e.g. {var}=30")
    return value


@dataclass(frozen=True)
class TablePreview:
    """A table's size, its latest snapshot and its first rows."""

    name: str
    rows: int
    snapshot_id: int | None
    summary: dict[str, str]
    head: list[dict[str, Any]]


def catalogs(project: Path) -> dict[str, dict[str, str] | str]:
    """Catalog properties per catalog the project's loaders write to, ``${VAR}`` expanded.

    A catalog whose settings need an unset variable maps to a message saying which one.

    Raises:
        UserError: no rendered project there.
    """
    out: dict[str, dict[str, str] | str] = {}
    for loader in Project.read(project).of_kind("loaders"):
        if loader.catalog is not None:
            out[loader.catalog.name] = catalog_properties(loader, project, os.environ)
    return out


def catalog_properties(
    loader: Plugin, project: Path, environ: Mapping[str, str]
) -> dict[str, str] | str:
    """The properties of ``loader``'s catalog as the loader sees them in ``project``.

    ``${VAR}`` references are expanded from ``environ`` (``MELTANO_PROJECT_ROOT`` is the
    project); when one is unset, a message saying which instead. Empty for a loader without a
    catalog.
    """
    if loader.catalog is None:
        return {}
    properties = dict(loader.catalog.properties)
    env = {**environ, "MELTANO_PROJECT_ROOT": str(project.resolve())}
    missing = sorted(references(properties) - set(env))
    if missing:
        return f"{loader.name} needs the environment variable(s) {', '.join(missing)}; set them"
    return {k: expand(str(v), env) for k, v in properties.items()}


def preview(project: Path, namespace: str, table: str | None, limit: int) -> list[TablePreview]:
    """Preview ``table`` (or every table of ``namespace``) in each catalog the project writes to.

    Catalogs that cannot be reached (e.g. a Nessie server that is not running) are skipped only
    if another catalog answered; otherwise the error says which one failed.
    """
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    timeouts = Timeouts.of(None, os.environ)
    found: list[TablePreview] = []
    errors: list[str] = []
    for name, props in sorted(catalogs(project).items()):
        if isinstance(props, str):
            errors.append(props)
            continue
        try:
            catalog = open_catalog(
                name, props, timeouts=timeouts, where=f"catalog {name}", read_only=False
            )
            if catalog is None:
                errors.append(f"{name}: no catalog file yet (no job has run)")
                continue
            names = [table] if table else [t[-1] for t in catalog.list_tables(namespace)]
            for item in sorted(names):
                tbl = catalog.load_table((namespace, item))
                snap = tbl.current_snapshot()
                summary = dict(snap.summary.additional_properties) if snap and snap.summary else {}
                # The count comes from the snapshot summary and only `limit` rows are read: a
                # preview must not scan a whole table.
                head = tbl.scan(limit=limit).to_arrow().to_pylist() if snap else []
                found.append(
                    TablePreview(
                        name=f"{namespace}.{item}",
                        rows=int(summary.get("total-records", 0)),
                        snapshot_id=snap.snapshot_id if snap else None,
                        summary=summary,
                        head=head,
                    )
                )
        except (NoSuchNamespaceError, NoSuchTableError) as exc:
            errors.append(f"{name}: {exc}")
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    if not found and errors:
        raise UserError("nothing to show; " + "; ".join(errors))
    return found


def open_catalog(
    name: str,
    properties: Mapping[str, str],
    *,
    timeouts: Timeouts | None = None,
    where: str = "",
    read_only: bool = True,
) -> Catalog | None:
    """Load a catalog; None for an embedded catalog whose file does not exist yet.

    An embedded (SQLite) catalog is opened read-only unless ``read_only`` is False, so reading
    never creates or changes its file. A REST catalog's requests (the first one is made here)
    and every S3 request give up after ``timeouts``; a REST request that gets no answer raises
    `CatalogUnreachableError` naming ``where`` (e.g. the project and loader), the address and
    the timeout to raise.

    Raises:
        CatalogUnreachableError: a REST catalog did not answer (also from later requests).
        Exception: whatever else pyiceberg raises when the catalog cannot be loaded.
    """
    from pyiceberg.catalog import load_catalog
    from pyiceberg.io import S3_CONNECT_TIMEOUT, S3_REQUEST_TIMEOUT

    limits = timeouts or Timeouts()
    props = dict(properties)
    uri = props.get("uri", "")
    if props.get("type") == "sql" and uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            return None
        if read_only:
            props["uri"] = f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"
    # Without them an S3 server that accepts connections and never answers holds the command.
    s3 = {S3_CONNECT_TIMEOUT: f"{limits.s3_s:g}", S3_REQUEST_TIMEOUT: f"{limits.s3_s:g}"}
    props = {**s3, **props}
    rest = props.get("type") == "rest" or (
        "type" not in props and uri.startswith(("http://", "https://"))
    )
    if rest and "py-catalog-impl" not in props:
        return _timed_rest(name, props, limits.catalog_s, where)
    return load_catalog(name, **props)


def _timed_rest(name: str, props: dict[str, str], seconds: float, where: str) -> Catalog:
    """The loader's timed REST catalog, its transport errors located and naming our knob."""
    import requests

    from target_iceberg.errors import CatalogUnavailableError
    from target_iceberg.rest import TimedRestCatalog

    def located(exc: Exception) -> CatalogUnreachableError:
        return CatalogUnreachableError(
            f"{where + ': ' if where else ''}{exc}. For ingestgen's own reads, the timeout is "
            f"{seconds:g} s: set {CATALOG_TIMEOUT_ENV} to change it"
        )

    class _Located(TimedRestCatalog):
        def _create_session(self) -> requests.Session:
            session = super()._create_session()
            send = session.request

            def request(method: str, url: str | bytes, **kwargs: Any) -> requests.Response:
                try:
                    return send(method, url, **kwargs)
                except CatalogUnavailableError as exc:
                    raise located(exc) from None

            session.request = request  # type: ignore[method-assign,assignment]
            return session

    try:
        return _Located(name, timeout=seconds, **props)
    except CatalogUnreachableError:
        raise
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise located(exc) from None
