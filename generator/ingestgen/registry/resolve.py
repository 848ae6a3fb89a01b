"""Resolve a validated job against the registry.

Picks the engines, checks the connector settings, and computes the Meltano plugin config each
engine renders to.

The job's engine override wins, else the registry default. Resolution never reads the network or
the environment: secrets stay ``${ENV_VAR}`` references and paths become project-relative
``${MELTANO_PROJECT_ROOT}`` references, so the rendered project is the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from ingestgen.config.load import JobFile
from ingestgen.errors import ConfigError, Problem, each_or_all_problems
from ingestgen.registry.load import LoadedRegistry
from ingestgen.registry.models import EngineBinding, PluginDef, SourceConnector, TargetConnector
from ingestgen.registry.plugin_settings import settings_schema
from ingestgen.registry.references import fill, lookup, option_names
from ingestgen.registry.settings import check_settings

# Rendered projects live at projects/<tenant>/, two levels below the repository root.
REPO = "${MELTANO_PROJECT_ROOT}/../.."
LAKE = "${MELTANO_PROJECT_ROOT}/.lake"


@dataclass(frozen=True)
class PluginUse:
    """One job's use of a registry plugin: rendered as an inheriting Meltano plugin."""

    name: str
    base: str
    config: dict[str, Any]
    select: list[str] | None = None
    metadata: dict[str, dict[str, str]] | None = None
    annotations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedJob:
    """A job with its engines chosen and its plugins configured."""

    job: JobFile
    source_engine: str
    target_engine: str
    streams: list[str]
    extractor: PluginUse
    loader: PluginUse

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


def resolve_job(job: JobFile, loaded: LoadedRegistry) -> ResolvedJob:
    """Resolve one job; see the module docstring."""
    cfg, doc = job.config, job.doc
    source, target = _connectors(job, loaded)
    source_engine = cfg.source.engine.type if cfg.source.engine else source.default_engine
    target_engine = cfg.target.engine.type if cfg.target.engine else target.default_engine
    problems = [
        doc.problem(
            (side, "engine", "type"),
            f"engine {engine!r} is not supported by {side} {name!r}",
            "supported: " + ", ".join(supported),
        )
        for side, engine, supported, name in (
            ("source", source_engine, source.engines_supported, cfg.source.type),
            ("target", target_engine, target.engines_supported, cfg.target.type),
        )
        if engine not in supported
    ]
    if problems:
        raise ConfigError(problems)

    source_binding = source.engines[source_engine]
    target_binding = target.engines[target_engine]
    source_options = cfg.source.engine.options.get(source_engine, {}) if cfg.source.engine else {}
    target_options = cfg.target.engine.options.get(target_engine, {}) if cfg.target.engine else {}
    problems += check_settings(cfg.source.settings, source, doc)
    problems += _asset_source(job)
    problems += _requirements(job, source)
    problems += _unknown_options(job, "source", source_engine, source_binding, source_options)
    problems += _unknown_options(job, "target", target_engine, target_binding, target_options)
    strategy = _strategy(job, source, problems)
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
        "source": _source_values(cfg.source.settings, source),
        "options": source_options,
    }
    target_ctx = {
        **context,
        "options": target_options,
        "catalog": _catalog(job),
        "target": {"streams": {s: {"table": t, "asset_spec": spec} for s, t in streams.items()}},
    }
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
        config=fill(target_binding.config, target_ctx),
    )
    plugin = loaded.registry.plugins.get(target_binding.plugin)
    if plugin is not None and target_options:
        problems = option_values(job, target_engine, target_binding, loader.config, plugin)
        if problems:
            raise ConfigError(problems)
    return ResolvedJob(job, source_engine, target_engine, list(streams), extractor, loader)


def _connectors(job: JobFile, loaded: LoadedRegistry) -> tuple[SourceConnector, TargetConnector]:
    registry, cfg = loaded.registry, job.config
    source = registry.sources.get(cfg.source.type)
    target = registry.targets.get(cfg.target.type)
    problems = []
    if source is None:
        problems.append(
            job.doc.problem(
                ("source", "type"),
                f"unknown source {cfg.source.type!r}",
                "known sources: " + ", ".join(sorted(registry.sources)),
            )
        )
    if target is None:
        problems.append(
            job.doc.problem(
                ("target", "type"),
                f"unknown target {cfg.target.type!r}",
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
            f"{job.asset_path} is an asset of source {spec_source!r}, not of {source!r}",
            f"use a spec under specs/{source}/",
        )
    ]


def _requirements(job: JobFile, source: SourceConnector) -> list[Problem]:
    data = job.config.model_dump(by_alias=True)["source"] | job.config.source.settings
    problems = []
    for dotted, why in source.requires.items():
        if lookup(data, dotted) is None:
            problems.append(
                job.doc.problem(
                    ("source", *dotted.split(".")),
                    f"{job.config.source.type} needs source.{dotted}",
                    why,
                )
            )
    return problems


def _unknown_options(
    job: JobFile, side: str, engine: str, binding: EngineBinding, options: dict[str, Any]
) -> list[Problem]:
    valid = option_names(binding.config)
    return [
        job.doc.problem(
            (side, "engine", "options", engine, key),
            f"unknown option {key!r} for the {engine} engine",
            "valid options: " + (", ".join(sorted(valid)) or "none"),
        )
        for key in sorted(set(options) - valid)
    ]


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
            f"{error.instance!r} is not valid"
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
                f"{incremental.strategy!r} is not a strategy of {job.config.source.type!r}",
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


def _source_values(settings: dict[str, Any], source: SourceConnector) -> dict[str, Any]:
    values = dict(settings)
    for key in source.paths:
        if isinstance(values.get(key), str) and not values[key].startswith("/"):
            values[key] = f"{REPO}/{values[key].lstrip('./')}"
    return values


def _catalog(job: JobFile) -> dict[str, Any]:
    target, tenant = job.config.target, job.config.tenant_id
    if target.catalog == "nessie":
        branch = target.branch or tenant
        properties: dict[str, Any] = {
            "type": "rest",
            "uri": "${NESSIE_ICEBERG_URI}/" + branch,
            "warehouse": target.warehouse,
            "s3.endpoint": "${S3_ENDPOINT}",
            "s3.region": "${AWS_REGION}",
            "s3.access-key-id": "${AWS_ACCESS_KEY_ID}",
            "s3.secret-access-key": "${AWS_SECRET_ACCESS_KEY}",
            "s3.path-style-access": "true",
        }
        # All tables of a run in one Iceberg REST transactions/commit: one Nessie commit.
        return {
            "name": f"{tenant}_nessie",
            "properties": properties,
            "branch": branch,
            "commit_mode": "multi_table",
        }
    warehouse = target.warehouse or f"file://{LAKE}/warehouse"
    properties = {"type": "sql", "uri": f"sqlite:///{LAKE}/catalog.db", "warehouse": warehouse}
    return {"name": f"{tenant}_embedded", "properties": properties, "branch": None}
