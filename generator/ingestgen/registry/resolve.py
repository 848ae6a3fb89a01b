"""Resolve a validated job against the registry.

Picks the engines, checks the connector settings, and computes the Meltano plugin config each
engine renders to.

The job's engine override wins, else the registry default. Resolution never reads the network or
the environment: secrets stay ``${ENV_VAR}`` references and paths become project-relative
``${MELTANO_PROJECT_ROOT}`` references, so the rendered project is the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator

from ingestgen.config.load import JobFile
from ingestgen.errors import ConfigError, Problem, each_or_all_problems, excerpt
from ingestgen.registry.load import LoadedRegistry
from ingestgen.registry.models import EngineBinding, PluginDef, SourceConnector, TargetConnector
from ingestgen.registry.options import check_options
from ingestgen.registry.plugin_settings import settings_schema
from ingestgen.registry.references import fill, lookup, option_names
from ingestgen.registry.settings import check_settings
from target_iceberg.tenancy import branch_problem, warehouse_problem
from target_iceberg.types import DecimalType, ListType, MapType, StructType

# Rendered projects live at projects/<tenant>/, two levels below the repository root.
REPO = "${MELTANO_PROJECT_ROOT}/../.."


@dataclass(frozen=True)
class PluginUse:
    """One job's use of a registry plugin: rendered as an inheriting Meltano plugin."""

    name: str
    base: str
    config: dict[str, Any]
    select: list[str] | None = None
    metadata: dict[str, dict[str, str]] | None = None
    annotations: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedJob:
    """A job with its engines chosen and its plugins configured."""

    job: JobFile
    source_engine: str
    target_engine: str
    streams: list[str]
    extractor: PluginUse
    loader: PluginUse
    mapper: PluginUse | None = None
    """The contract mapper between tap and loader (a Meltano mapping), for a stock loader."""

    @property
    def contract(self) -> PluginUse:
        """The plugin that enforces the contract: the mapper when there is one, else the loader."""
        return self.mapper or self.loader

    @property
    def tenant(self) -> str:
        """The job's tenant."""
        return self.job.config.tenant_id

    @property
    def name(self) -> str:
        """The job's name."""
        return self.job.name


def resolve_jobs(jobs: list[JobFile], loaded: LoadedRegistry) -> list[ResolvedJob]:
    """Resolve every job; raise one `ConfigError` listing all problems."""
    return each_or_all_problems(jobs, lambda job: resolve_job(job, loaded))


def _target_context(
    context: dict[str, Any],
    job: JobFile,
    streams: dict[str, str],
    spec: str,
    options: dict[str, Any],
    catalog: Any,
) -> dict[str, Any]:
    """The values the target binding's templates see."""
    cfg = job.config
    return {
        **context,
        "tenant_env": cfg.tenant_id.upper(),
        "options": options,
        "catalog": catalog,
        "target": {
            "streams": {s: {"table": t, "asset_spec": spec} for s, t in streams.items()},
            "audit": cfg.target.audit.model_dump() if cfg.target.audit else None,
            "tables": dict(streams),
        },
    }


def resolve_job(job: JobFile, loaded: LoadedRegistry) -> ResolvedJob:
    """Resolve one job; see the module docstring."""
    cfg, doc = job.config, job.doc
    source, target = _connectors(job, loaded)
    source_engine = cfg.source.engine.type if cfg.source.engine else source.default_engine
    target_engine = cfg.target.engine.type if cfg.target.engine else target.default_engine
    problems = [
        doc.problem(
            (side, "engine", "type"),
            f"engine {excerpt(engine)} is not supported by {side} {excerpt(name)}",
            "supported: " + ", ".join(supported),
        )
        for side, engine, supported, name in (
            ("source", source_engine, source.engines_supported, cfg.source.type),
            ("target", target_engine, target.engines_supported, cfg.target.type),
        )
        if engine not in supported
    ]
    problems += _audit_engine(job, target_engine)
    if problems:
        raise ConfigError(problems)

    source_binding = source.engines[source_engine]
    target_binding = target.engines[target_engine]
    source_options = cfg.source.engine.options.get(source_engine, {}) if cfg.source.engine else {}
    target_options = cfg.target.engine.options.get(target_engine, {}) if cfg.target.engine else {}
    problems += check_settings(cfg.source.settings, source, doc, cfg.tenant_id, job.root)
    problems += _asset_source(job)
    problems += _requirements(job, {**source.requires, **source_binding.requires})
    schemas = loaded.registry.engine_options
    problems += check_options(
        job,
        "source",
        source_engine,
        source_binding,
        source_options,
        schemas.sources.get(source_engine),
    )
    problems += check_options(
        job,
        "target",
        target_engine,
        target_binding,
        target_options,
        schemas.targets.get(target_engine),
    )
    strategy = _strategy(job, source, problems)
    try:
        catalog = _catalog(job, loaded)
    except ConfigError as exc:
        problems += exc.problems
    problems += _engine_limits(job, target_engine, target_binding)
    if problems:
        raise ConfigError(problems)

    streams = _streams(job, source)
    spec = f"{REPO}/{job.asset_path.as_posix()}"
    incremental = cfg.source.incremental
    context: dict[str, Any] = {
        "tenant_id": cfg.tenant_id,
        "job": job.name,
        "streams": list(streams),
        "asset": {"name": job.asset.asset, "spec": spec},
        "incremental": {
            "strategy": strategy,
            "start_date": incremental.start_date if incremental else None,
            "cursor_field": incremental.cursor_field if incremental else None,
        },
    }
    source_ctx = {
        **context,
        **_source_values(cfg.source.settings, source, cfg.tenant_id),
        "options": source_options,
    }
    target_ctx = _target_context(context, job, streams, spec, target_options, catalog)
    template = loaded.templates.get(cfg.source.type)
    execution = template.execution if template else {}
    extractor = PluginUse(
        name=f"{source_binding.plugin}--{job.name}",
        base=source_binding.plugin,
        config={
            **(template.config.get(source_engine, {}) if template else {}),
            **fill(source_binding.config, source_ctx),
        },
        select=[f"{s}.*" for s in streams] if source_binding.select else None,
        metadata=_replication(streams, strategy, incremental.cursor_field if incremental else None),
        annotations={
            "ingestgen": {
                "job": job.name,
                "tenant": cfg.tenant_id,
                "engine": source_engine,
                "execution": execution,
            }
        },
    )
    loader = PluginUse(
        name=f"{target_binding.plugin}--{job.name}",
        base=target_binding.plugin,
        config={
            **fill(target_binding.config, target_ctx),
            **_loader_config(
                job, source_binding, loaded.registry.plugins.get(target_binding.plugin)
            ),
        },
        env=fill(target_binding.env, target_ctx),
    )
    mapper = None
    uses = [(target_binding, loader)]
    if target_binding.mapper is not None:
        mapping = target_binding.mapper
        mapper = PluginUse(
            name=f"{mapping.plugin}--{job.name}",
            base=mapping.plugin,
            config=fill(mapping.config, target_ctx),
        )
        uses.append((EngineBinding(plugin=mapping.plugin, config=mapping.config), mapper))
    problems = []
    for binding, use in uses:
        plugin = loaded.registry.plugins.get(binding.plugin)
        if plugin is not None and target_options:
            problems += option_values(job, target_engine, binding, use.config, plugin)
    if problems:
        raise ConfigError(problems)
    return ResolvedJob(job, source_engine, target_engine, list(streams), extractor, loader, mapper)


def _loader_config(job: JobFile, source: EngineBinding, loader: PluginDef | None) -> dict[str, Any]:
    """The loader settings the source's engine calls for (its ``loader_config``).

    Raises:
        ConfigError: the loader does not declare one of them (a registry mistake).
    """
    if not source.loader_config or loader is None:
        return dict(source.loader_config)
    declared = {s.name for s in loader.settings}
    unknown = sorted(set(source.loader_config) - declared)
    if unknown:
        raise ConfigError(
            [
                job.doc.problem(
                    ("source", "type"),
                    f"the registry's source {excerpt(job.config.source.type)} sets loader "
                    f"setting(s) {', '.join(unknown)} that the job's loader does not declare",
                    f"declared: {', '.join(sorted(declared))}; fix registry/connectors.yaml",
                )
            ]
        )
    return dict(source.loader_config)


def _audit_engine(job: JobFile, engine: str) -> list[Problem]:
    """Write-audit-publish needs the native engine (its table branches and checks)."""
    audit = job.config.target.audit
    if audit is None or not audit.enabled or engine == "native":
        return []
    return [
        job.doc.problem(
            ("target", "audit"),
            f"audit (write-audit-publish) is not available with target engine {engine!r}",
            "use target engine native, or remove target.audit",
        )
    ]


def _engine_limits(job: JobFile, engine: str, binding: EngineBinding) -> list[Problem]:
    """The catalogs and column types a target engine can write (e.g. a stock loader's)."""
    problems = []
    catalog = job.config.target.catalog
    plugin = binding.plugin
    if binding.catalogs is not None and catalog not in binding.catalogs:
        problems.append(
            job.doc.problem(
                ("target", "catalog"),
                f"the {engine} engine ({plugin}) cannot write to the {catalog} catalog",
                "use catalog: " + " or ".join(binding.catalogs) + ", or another engine",
            )
        )
    if binding.contract_types is not None:
        allowed = set(binding.contract_types)
        for column in job.asset.table_schema.columns:
            bad = sorted(_primitives(column.parsed_type) - allowed)
            if bad:
                problems.append(
                    job.doc.problem(
                        ("asset_definition",),
                        f"column {column.name} of {job.asset_path} is {column.type}: the "
                        f"{engine} engine ({plugin}) would not write {', '.join(bad)} exactly",
                        "it writes " + ", ".join(binding.contract_types) + " (and lists, maps, "
                        "structs of them); use engine native or spark for this asset",
                    )
                )
    return problems


def _primitives(node: Any) -> set[str]:
    """The primitive type names in a type tree (``decimal`` for any decimal)."""
    if isinstance(node, ListType):
        return _primitives(node.element)
    if isinstance(node, MapType):
        return _primitives(node.key) | _primitives(node.value)
    if isinstance(node, StructType):
        return set().union(*(_primitives(t) for _, t in node.fields)) if node.fields else set()
    if isinstance(node, DecimalType):
        return {"decimal"}
    return {str(node.name)}


def _connectors(job: JobFile, loaded: LoadedRegistry) -> tuple[SourceConnector, TargetConnector]:
    registry, cfg = loaded.registry, job.config
    source = registry.sources.get(cfg.source.type)
    target = registry.targets.get(cfg.target.type)
    problems = []
    if source is None:
        problems.append(
            job.doc.problem(
                ("source", "type"),
                f"unknown source {excerpt(cfg.source.type)}",
                "known sources: " + ", ".join(sorted(registry.sources)),
            )
        )
    if target is None:
        problems.append(
            job.doc.problem(
                ("target", "type"),
                f"unknown target {excerpt(cfg.target.type)}",
                "known targets: " + ", ".join(sorted(registry.targets)),
            )
        )
    if source is None or target is None:
        raise ConfigError(problems)
    return source, target


def _asset_source(job: JobFile) -> list[Problem]:
    spec_source, source = job.asset_path.parts[1], job.config.source.type
    if spec_source == source:
        return []
    return [
        job.doc.problem(
            ("asset_definition",),
            f"{job.asset_path} is an asset of source {excerpt(spec_source)}, "
            f"not of {excerpt(source)}",
            f"use a spec under specs/{source}/",
        )
    ]


def _requirements(job: JobFile, requires: dict[str, str]) -> list[Problem]:
    data = job.config.model_dump(by_alias=True)["source"] | job.config.source.settings
    problems = []
    for dotted, why in requires.items():
        if lookup(data, dotted) is None:
            problems.append(
                job.doc.problem(
                    ("source", *dotted.split(".")),
                    f"{job.config.source.type} needs source.{dotted}",
                    why,
                )
            )
    return problems


def option_values(
    job: JobFile, engine: str, binding: EngineBinding, config: dict[str, Any], plugin: PluginDef
) -> list[Problem]:
    """Target engine options checked against the settings schema our plugin declares.

    The plugin's own ``--about`` schema (types, ranges, patterns, choices) is the one rule
    book, so an option fails here exactly as the loader would refuse it at run time.
    """
    schema = settings_schema(plugin.pip_url, plugin.executable)
    if schema is None:
        return []
    relevant = {"type": "object", "properties": schema.get("properties", {})}
    problems = []
    for error in Draft202012Validator(relevant).iter_errors(config):
        source: Any = binding.config
        path = list(error.absolute_path)
        depth = 0
        while depth < len(path) and isinstance(source, dict):
            source = source.get(path[depth])
            depth += 1
        names = option_names(source) if source is not None else set()
        if not names:
            continue  # a value the registry writes, not the job's
        option = sorted(names)[0]
        where = path[depth:]  # inside the option's value (a key of a mapping, say)
        message = (
            f"{excerpt(error.instance)} is not valid"
            if error.validator == "pattern"
            else error.message[:300]
        )
        problems.append(
            job.doc.problem(
                ("target", "engine", "options", engine, option, *where),
                message,
                _described(schema, path),
            )
        )
    return problems


def _described(schema: dict[str, Any], path: list[Any]) -> str:
    node: Any = schema
    for part in path:
        node = (node.get("properties") or {}).get(part, {}) if isinstance(node, dict) else {}
    return str(node.get("description", "")) if isinstance(node, dict) else ""


def _replication(
    streams: dict[str, str], strategy: str, cursor: str | None
) -> dict[str, dict[str, str]] | None:
    # Meltano's `metadata:` extra sets the Singer catalog's replication method per stream.
    if strategy == "full_refresh":
        return {s: {"replication-method": "FULL_TABLE"} for s in streams}
    if strategy == "replication_key" and cursor:
        return {
            s: {"replication-method": "INCREMENTAL", "replication-key": cursor} for s in streams
        }
    return None


def _strategy(job: JobFile, source: SourceConnector, problems: list[Problem]) -> str:
    incremental = job.config.source.incremental
    if incremental is None:
        return source.default_incremental
    if incremental.strategy not in source.incremental_strategies:
        problems.append(
            job.doc.problem(
                ("source", "incremental", "strategy"),
                f"{excerpt(incremental.strategy)} is not a strategy of "
                f"{excerpt(job.config.source.type)}",
                "use one of " + ", ".join(source.incremental_strategies),
            )
        )
    return incremental.strategy


def _streams(job: JobFile, source: SourceConnector) -> dict[str, str]:
    """Stream name -> table name, in a stable order."""
    if source.streams_from == "files":
        files = job.config.source.settings.get("files") or []
        objects = sorted({f["object"] for f in files if isinstance(f, dict) and "object" in f})
        return {o: o for o in objects}
    ctx = {"asset": {"name": job.asset.asset}, "source": job.config.source.settings}
    return {str(fill(source.stream_name, ctx)): job.asset.asset}


def _source_values(
    settings: dict[str, Any], source: SourceConnector, tenant: str
) -> dict[str, dict[str, Any]]:
    # Path settings (checked by check_settings) become project-relative, and each gets its
    # tenant folder as {roots.<key>}: the folder a tap re-checks the path against at run time.
    values = dict(settings)
    roots = {}
    for key in source.paths:
        if isinstance(values.get(key), str):
            path = PurePosixPath(values[key])
            values[key] = f"{REPO}/{path.as_posix()}"
            roots[key] = f"{REPO}/{path.parts[0]}/{tenant}"
    return {"source": values, "roots": roots}


def _catalog(job: JobFile, loaded: LoadedRegistry) -> dict[str, Any]:
    """The job's catalog from the registry's `catalogs:` data, held to the tenant's own."""
    registry, target, tenant = loaded.registry, job.config.target, job.config.tenant_id
    catalog = registry.catalogs.get(target.catalog)
    if catalog is None:
        raise ConfigError(
            [
                job.doc.problem(
                    ("target", "catalog"),
                    f"unknown catalog {target.catalog!r}",
                    "known catalogs: " + ", ".join(sorted(registry.catalogs)),
                )
            ]
        )
    problems = []
    if target.branch is not None and not catalog.branches:
        problems.append(
            job.doc.problem(
                ("target", "branch"),
                f"the {target.catalog} catalog has no branches",
                "remove target.branch, or use a catalog with branches (nessie)",
            )
        )
    if target.warehouse is not None and catalog.warehouse == "project":
        problems.append(
            job.doc.problem(
                ("target", "warehouse"),
                f"the {target.catalog} catalog keeps its warehouse in the project's .lake/ folder",
                "remove target.warehouse, or use a catalog on the lake (nessie, rest)",
            )
        )
    elif target.warehouse is not None:
        refusal = warehouse_problem(target.warehouse, registry.lake.root, tenant)
        if refusal is not None:
            problems.append(job.doc.problem(("target", "warehouse"), refusal.message, refusal.fix))
    branch = (target.branch or tenant) if catalog.branches else None
    # An explicit target.branch is checked with the job file (config.load); the default one,
    # the tenant id itself, must be a branch name too (Nessie refuses hash-like names).
    if branch is not None and target.branch is None:
        refusal = branch_problem(branch, tenant)
        if refusal is not None:
            problems.append(job.doc.problem(("tenant_id",), refusal.message, refusal.fix))
    if problems:
        raise ConfigError(problems)
    ctx = {"tenant_id": tenant, "tenant_env": tenant.upper(), "branch": branch}
    return {
        "name": f"{tenant}_{target.catalog}",
        "properties": fill(catalog.properties, ctx),
        "commit_mode": catalog.commit_mode,
        "nessie": fill(catalog.nessie, ctx) if catalog.nessie else None,
        "branch": branch,
    }
