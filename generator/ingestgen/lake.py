"""Read back what a tenant's jobs landed: tables, row counts, snapshots and first rows.

Reads the catalog settings from the rendered project (the same ones the loader uses), so what it
shows is what the jobs wrote. Read-only: never creates, alters or commits anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ingestgen.errors import UserError
from ingestgen.meltano.project import Plugin, Project
from ingestgen.meltano.tool import expand, references

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


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
    from pyiceberg.catalog import load_catalog
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    found: list[TablePreview] = []
    errors: list[str] = []
    for name, props in sorted(catalogs(project).items()):
        if isinstance(props, str):
            errors.append(props)
            continue
        try:
            catalog = load_catalog(name, **props)
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


def open_catalog(name: str, properties: Mapping[str, str]) -> Catalog | None:
    """Load a catalog for reading; None for an embedded catalog whose file does not exist yet.

    An embedded (SQLite) catalog is opened read-only, so reading never creates or changes its
    file. Other catalogs are loaded as given (loading a REST catalog asks the server).

    Raises:
        Exception: whatever pyiceberg raises when the catalog cannot be reached.
    """
    from pyiceberg.catalog import load_catalog

    props = dict(properties)
    uri = props.get("uri", "")
    if props.get("type") == "sql" and uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            return None
        props["uri"] = f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"
    return load_catalog(name, **props)
