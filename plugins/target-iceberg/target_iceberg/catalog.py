"""Catalog loading, following pyiceberg's conventions.

Order: ``catalog_properties`` from the settings (passed to `pyiceberg.catalog.load_catalog`),
else the flat ``catalog_uri`` / ``warehouse`` settings, else whatever pyiceberg finds for
``catalog_name`` in ``.pyiceberg.yaml`` or ``PYICEBERG_CATALOG__<NAME>__*`` variables, else an
embedded SQLite catalog with a local warehouse under ``.lake/`` in the working directory.
Never creates tables; creates the namespace if it is missing.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from target_iceberg.errors import (
    ConfigError,
    LoaderError,
    StorageFullError,
    StorageUnavailableError,
)

if TYPE_CHECKING:
    # pyiceberg's catalogs (SQLAlchemy, pyiceberg.table) are imported by the functions that
    # open one: the run opens in the background while the first blocks are parsed.
    from pyiceberg.catalog import Catalog

logger = logging.getLogger(__name__)

DEFAULT_LAKE = ".lake"
DEFAULT_TIMEOUT_S = 60.0
"""Seconds a catalog or S3 request may take (the settings catalog_timeout_s, s3_timeout_s)."""


def embedded_properties(root: Path) -> dict[str, str]:
    """Properties of the embedded default: SQLite catalog + file warehouse under ``root``."""
    root = root.resolve()
    (root / "warehouse").mkdir(parents=True, exist_ok=True)
    return {
        "type": "sql",
        "uri": f"sqlite:///{root / 'catalog.db'}",
        "warehouse": (root / "warehouse").as_uri(),
    }


def flat_properties(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The flat properties pyiceberg takes (``{"s3.endpoint": ...}``) from what Meltano gives.

    Meltano reads dots in the keys of an object setting as nesting, so ``s3.endpoint`` arrives
    as ``{"s3": {"endpoint": ...}}``; pyiceberg's properties are flat strings.
    """
    out: dict[str, str] = {}
    for key, value in properties.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flat_properties(value, f"{name}.")
        else:
            out[name] = str(value)
    return out


def resolve_properties(
    name: str, properties: dict[str, Any] | None, uri: str | None, warehouse: str | None
) -> tuple[dict[str, str], str]:
    """The catalog properties to use and where they came from (for the log)."""
    if properties:
        return flat_properties(properties), "setting catalog_properties"
    if uri or warehouse:
        props = {"uri": uri or "", "warehouse": warehouse or ""}
        if uri and uri.startswith("sqlite"):
            props["type"] = "sql"
        return {k: v for k, v in props.items() if v}, "settings catalog_uri/warehouse"
    from pyiceberg.utils.config import Config

    # Read pyiceberg's configuration now (pyiceberg caches the environment at import time).
    if configured := Config().get_catalog_config(name):
        return {str(k): str(v) for k, v in configured.items()}, (
            f"pyiceberg configuration for catalog {name!r}"
        )
    return embedded_properties(Path(DEFAULT_LAKE)), f"embedded default ({DEFAULT_LAKE}/)"


def with_s3_timeouts(props: dict[str, str], seconds: float) -> dict[str, str]:
    """``props`` with pyiceberg's S3 connect and request timeouts, unless they are set already.

    Without them an S3 server that accepts connections but never answers holds the run.
    """
    from pyiceberg.io import S3_CONNECT_TIMEOUT, S3_REQUEST_TIMEOUT

    timeouts = {S3_CONNECT_TIMEOUT: f"{seconds:g}", S3_REQUEST_TIMEOUT: f"{seconds:g}"}
    return {**timeouts, **props}


def open_catalog(
    name: str, props: dict[str, str], origin: str, *, timeout: float = DEFAULT_TIMEOUT_S
) -> Catalog:
    """Load the catalog with the properties `resolve_properties` found (from ``origin``).

    A REST catalog's requests give up after ``timeout`` seconds (`rest.TimedRestCatalog`).

    Raises:
        CatalogUnavailableError: a REST catalog did not answer (transient).
        ConfigError: pyiceberg could not load it; the message says which settings to check.
    """
    import requests
    from pyiceberg.catalog import load_catalog

    from target_iceberg.errors import CatalogUnavailableError

    if props.get("type") == "sql" and props.get("uri", "").startswith("sqlite:///"):
        Path(props["uri"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        rest = props.get("type") == "rest" or (
            "type" not in props and props.get("uri", "").startswith(("http://", "https://"))
        )
        if rest and "py-catalog-impl" not in props:
            from target_iceberg.rest import TimedRestCatalog  # REST catalogs only

            catalog: Catalog = TimedRestCatalog(name, timeout=timeout, **props)
        else:
            catalog = load_catalog(name, **props)
    except CatalogUnavailableError:
        raise
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise CatalogUnavailableError(
            f"the Iceberg catalog at {props.get('uri', '(no uri)')} did not answer ({exc}); "
            "nothing was written. Check that the catalog server is running and reachable at "
            "that address (the `catalog_properties.uri` setting), then run again"
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"could not load Iceberg catalog {name!r} from the {origin}: {exc}. Check the "
            "`catalog_properties` setting (e.g. {type: sql, uri: sqlite:///..., warehouse: "
            "file:///...}) or pyiceberg's .pyiceberg.yaml / PYICEBERG_CATALOG__* variables"
        ) from exc
    logger.info("using Iceberg catalog %r from the %s", name, origin)
    return catalog


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    """Create ``namespace`` if it does not exist yet."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    # A concurrent run may create it between the check and the create.
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace_if_not_exists(namespace)


def storage_error(exc: BaseException, props: dict[str, str], timeout: float) -> LoaderError | None:
    """The error for a failed write to storage, naming where and the fix; None for others.

    pyarrow raises a bare ``OSError`` for an S3 request that failed in transport (no errno,
    quoting the AWS SDK: "AWS Error NETWORK_CONNECTION ... curlCode: 7"), and one with errno
    28 (or only its text) for a full local disk.
    """
    if not isinstance(exc, OSError) or isinstance(exc, LoaderError):
        return None
    text = str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text:
        where = props.get("warehouse", "")
        place = f"the warehouse {where}" if where.startswith("file:") else "a local folder"
        return StorageFullError(
            f"no space left on the disk holding {place} ({text[:300]}). Free space there or "
            "move the warehouse (catalog_properties.warehouse), then run again: the run "
            "summary says what landed, and a re-run lands the rest"
        )
    endpoint = props.get("s3.endpoint")
    if not endpoint or exc.errno is not None or "AWS Error" not in text:
        return None
    return StorageUnavailableError(
        f"the S3 server at {endpoint} failed a request ({text[:300]}). Check that the S3 "
        "server is running and reachable at that address (catalog_properties s3.endpoint); "
        f"one request gives up after {timeout:g} s (the s3_timeout_s setting). Then run again: "
        "the run summary says what landed, and a re-run lands the rest"
    )
