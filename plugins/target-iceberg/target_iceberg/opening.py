"""Opening a run on its first SCHEMA message: catalog, namespace, engine backend, first table.

The loader opens the catalog, the namespace and each stream's table on the SCHEMA message, a
no-op run too, so that a run without records still reports an unreachable catalog (exit 75), a
namespace it may not write or a contract the table cannot take, and still creates a missing
table. Before any catalog call the catalog is checked to be the tenant's own
(`target_iceberg.guard`), and a Nessie branch is created from main on first use.

The first stream's opening runs on its own thread (`RunContext.open_in_background`) while the
main thread reads on and the parse worker parses the first blocks: importing pyiceberg's
catalog, SQLAlchemy and the writer takes as long as parsing a few hundred thousand records,
and Arrow's parsing does not hold the GIL. What the run reports does not change: a failed
opening fails the run as the first error (`RunOpening.first_failure`), before any block is
written. Never writes data files.
"""

from __future__ import annotations

import logging
import os
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from target_iceberg.catalog import (
    ensure_namespace,
    open_catalog,
    resolve_properties,
    with_s3_timeouts,
)
from target_iceberg.contract.model import Contract
from target_iceberg.errors import ConfigError, ContractError
from target_iceberg.guard import check_isolation
from target_iceberg.pipeline import RunContext
from target_iceberg.spec import AssetSpec

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from pyiceberg.catalog import Catalog
    from pyiceberg.catalog.rest import RestCatalog

    from target_iceberg.commit import Committer
    from target_iceberg.config import LoaderConfig
    from target_iceberg.nessie import BranchRun
    from target_iceberg.outputs import Backend
    from target_iceberg.summary import RunSummary

logger = logging.getLogger("target-iceberg")


def unopened_context(cfg: LoaderConfig) -> RunContext:
    """The run's context before it is open: its workers and settings, no catalog yet."""
    return RunContext(
        catalog=None,
        namespace=cfg.namespace,
        run_id=cfg.run_id,
        unknown=cfg.unknown_columns,
        settings=None,
        block_records=cfg.batch_size_rows,
        max_rejected_rows=cfg.max_rejected_rows,
        batch_root=Path(cfg.batch_root) if cfg.batch_root else None,
        spool_dir=Path(cfg.spool_dir) if cfg.spool_dir else None,
    )


@dataclass
class OpenedRun:
    """What opening the run gave the target besides the context."""

    committer: Committer
    nessie: BranchRun | None


def open_run(
    ctx: RunContext,
    cfg: LoaderConfig,
    summary: RunSummary,
    backend_of: Callable[[Catalog], Backend],
) -> OpenedRun:
    """Open the catalog and the namespace; complete ``ctx`` with them and the engine's backend.

    Raises:
        ConfigError: the catalog is not the tenant's, or pyiceberg cannot load it.
        CatalogUnavailableError: the catalog (or Nessie) did not answer (transient).
    """
    from target_iceberg.writer import MB, WriterSettings

    props, origin = resolve_properties(
        cfg.catalog_name, cfg.catalog_properties, cfg.catalog_uri, cfg.warehouse
    )
    nessie_settings = cfg.nessie.model_dump() if cfg.nessie else None
    check_isolation(
        tenant=cfg.tenant,
        namespace=cfg.namespace,
        properties=props,
        nessie=nessie_settings,
        environ=os.environ,
    )
    nessie: BranchRun | None = None
    audit = cfg.audit is not None and cfg.audit.enabled
    if cfg.nessie is not None:
        from target_iceberg.nessie import BranchRun  # REST client: Nessie runs only

        nessie = BranchRun(cfg.nessie.api_uri, cfg.nessie.branch, timeout=cfg.catalog_timeout_s)
        summary.nessie = nessie.open()
        if audit:
            props = nessie.open_audit(cfg.run_id, props)
    ctx.properties = props = with_s3_timeouts(props, cfg.s3_timeout_s)
    catalog = open_catalog(cfg.catalog_name, props, origin, timeout=cfg.catalog_timeout_s)
    ensure_namespace(catalog, cfg.namespace)
    if audit:
        from target_iceberg.audit.publish import branch_name

        ctx.audit_branch = branch_name(cfg.run_id)
    target_bytes = int(cfg.target_file_size_mb * MB)
    ctx.settings = WriterSettings(
        target_file_bytes=target_bytes, row_group_bytes=min(32 * MB, max(target_bytes, MB))
    )
    ctx.catalog = catalog
    ctx.backend = backend = backend_of(catalog)
    # Nessie takes new tables in the run's one multi-table commit; other REST servers take
    # existing tables only, so missing ones are created (empty) first there.
    ctx.create_tables_first = cfg.commit_mode == "multi_table" and not _takes_new_tables(catalog)
    committer = backend.committer(catalog, cfg)
    logger.info("run %s into namespace %s", cfg.run_id, cfg.namespace)
    return OpenedRun(committer=committer, nessie=nessie)


def is_rest(catalog: Catalog) -> bool:
    """True for pyiceberg's REST catalog (whose client a SQL run never imports)."""
    rest = sys.modules.get("pyiceberg.catalog.rest")
    return rest is not None and isinstance(catalog, rest.RestCatalog)


def _takes_new_tables(catalog: Catalog) -> bool:
    if not is_rest(catalog):
        return False
    from target_iceberg.rest import takes_new_tables

    return takes_new_tables(t.cast("RestCatalog", catalog))


class _SpecLoader(yaml.SafeLoader):
    """Safe YAML without aliases (a spec never needs one; a few can expand into gigabytes)."""

    def compose_node(self, parent: t.Any, index: t.Any) -> t.Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not allowed in an asset spec")
        return super().compose_node(parent, index)


_MAX_SPEC_BYTES = 1024 * 1024


def load_spec(path: Path) -> Contract:
    """The contract of a stream's asset spec (read on the stream's first SCHEMA message).

    Raises:
        ConfigError: the file cannot be read as YAML (or is too big).
        ContractError: the spec is invalid.
    """
    try:
        if path.stat().st_size > _MAX_SPEC_BYTES:
            raise ValueError(f"larger than {_MAX_SPEC_BYTES // 1024} KB; no spec is that big")
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SpecLoader)  # noqa: S506
    except (OSError, ValueError, yaml.YAMLError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ConfigError(
            f"cannot read asset spec {path}: {reason[:300]}; check `streams.*.asset_spec`"
        ) from None
    try:
        spec = AssetSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ContractError(f"asset spec {path} is invalid: {problems}") from None
    return Contract.from_spec(spec, origin=str(path))
