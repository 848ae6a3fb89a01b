"""The connector registry's shape: ``registry/connectors.yaml`` and ``registry/templates/*.yaml``.

The registry is data; these models only make sure it is well-formed. A registry entry says which
engines a connector supports, which is the default, what settings a job may give, and which
Meltano plugin each engine renders to.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ingestgen.config.job import SourceEngineType, TargetEngineType
from target_iceberg.strict import StrictModel as _Strict

PluginType = Literal["extractor", "loader", "mapper"]


class SettingOption(_Strict):
    """One choice of an ``options`` setting."""

    label: str | None = Field(default=None, description="Shown name.")
    value: Any = Field(description="The value.")


class PluginSetting(_Strict):
    """A Meltano plugin setting, as Meltano's ``settings:`` list declares it."""

    name: str = Field(description="Setting name.")
    kind: str | None = Field(default=None, description="Meltano setting kind (string, object…).")
    label: str | None = Field(default=None, description="Human-readable name.")
    description: str | None = Field(default=None, description="What the setting does.")
    sensitive: bool | None = Field(default=None, description="Secret: Meltano masks it.")
    value: Any = Field(default=None, description="Default value.")
    options: list[SettingOption] | None = Field(
        default=None, description="The choices of an `options` setting."
    )


class PluginDef(_Strict):
    """A Meltano plugin definition complete enough that Meltano never asks its Hub."""

    type: PluginType = Field(
        description="extractor, loader, or mapper (runs between them in the same `meltano run`)."
    )
    namespace: str = Field(description="Meltano namespace (settings env prefix).")
    pip_url: str = Field(description="What `meltano install` installs.")
    executable: str = Field(description="The console script to run.")
    capabilities: list[str] = Field(default_factory=list, description="Singer capabilities.")
    settings: list[PluginSetting] = Field(default_factory=list, description="Declared settings.")


class MapperBinding(_Strict):
    """A mapper plugin the engine puts between the tap and the loader, and its config."""

    plugin: str = Field(description="Name of the mapper in the registry's `plugins`.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Mapper config, with references like the loader's."
    )


class EngineBinding(_Strict):
    """How one engine of a connector renders."""

    plugin: str = Field(description="Name of the plugin in the registry's `plugins`.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Plugin config; strings may reference job values as {source.key}, "
        "{options.key}, {incremental.strategy}, {tenant_id}, {job}, {streams}, {asset.name}.",
    )
    select: bool = Field(default=True, description="Render a stream selection for the job.")
    requires: dict[str, str] = Field(
        default_factory=dict,
        description="Like the connector's `requires`, for this engine only (e.g. a Singer tap "
        "that needs incremental.start_date where the Airbyte connector does not).",
    )
    mapper: MapperBinding | None = Field(
        default=None,
        description="Targets: a mapper between tap and loader (`meltano run tap mapper loader`).",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Variables the job's plugin needs, with references; rendered into the "
        "environment's `env:` (the one Meltano expands with the runner's variables).",
    )
    loader_config: dict[str, Any] = Field(
        default_factory=dict,
        description="Sources: loader settings this engine's tap calls for, set on the job's "
        "loader (e.g. require_final_state: true for a tap whose output always ends with a "
        "STATE). Each must be a setting the loader declares.",
    )
    catalogs: list[str] | None = Field(
        default=None,
        description="Targets: the catalogs this engine can write to (default: every catalog).",
    )
    contract_types: list[str] | None = Field(
        default=None,
        description="Targets: the column types this engine writes exactly (primitive type "
        "names; lists, maps and structs of them are fine). A spec with another type is "
        "refused (default: every type).",
    )

    def templates(self) -> dict[str, Any]:
        """Everything of the binding that may reference job values (for option look-ups)."""
        return {
            "config": self.config,
            "mapper": self.mapper.config if self.mapper else {},
            "env": self.env,
        }


class SourceConnector(_Strict):
    """A source connector."""

    description: str = Field(description="What the connector reads.")
    default_engine: SourceEngineType
    engines_supported: list[SourceEngineType]
    incremental_strategies: list[str] = Field(
        description="Strategies a job may name in source.incremental.strategy."
    )
    default_incremental: str = Field(description="Strategy used when the job names none.")
    streams_from: Literal["files", "asset"] = Field(
        description="files: one stream per distinct files[].object; asset: one stream named "
        "after the asset."
    )
    stream_name: str = Field(
        default="{asset.name}",
        description="With streams_from: asset, the tap's stream name, e.g. "
        "'{source.schema}-{asset.name}'; the table is always named after the asset.",
    )
    requires: dict[str, str] = Field(
        default_factory=dict,
        description="Job values under source: that this connector needs beyond its settings "
        "(e.g. incremental.start_date), with the reason shown when one is missing.",
    )
    config_schema: dict[str, Any] = Field(
        description="JSON Schema of the connector keys a job may give under `source:`."
    )
    secrets: list[str] = Field(
        default_factory=list, description="Keys that must be given as ${ENV_VAR} references."
    )
    paths: list[str] = Field(
        default_factory=list,
        description="Keys holding repository-relative paths (rendered relative to the project).",
    )
    engines: dict[str, EngineBinding] = Field(description="Rendering per supported engine.")


class TargetConnector(_Strict):
    """A target connector."""

    description: str
    default_engine: TargetEngineType
    engines_supported: list[TargetEngineType]
    engines: dict[str, EngineBinding]


class Lake(_Strict):
    """The platform's object store: every tenant's warehouse prefix is ``<root>/<tenant>/``."""

    root: str = Field(
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/[a-z0-9][a-z0-9_.-]*)*$",
        description="Lake root, e.g. s3://lake: a bucket and an optional path, no trailing '/'.",
    )


class CatalogDef(_Strict):
    """A catalog a job's ``target.catalog`` may name, and how the loader is configured for it."""

    description: str = Field(description="What the catalog is.")
    properties: dict[str, str] = Field(
        description="pyiceberg catalog properties the loader gets; values may reference "
        "{tenant_id}, {tenant_env} (the tenant id upper-cased, for its scoped variables) and "
        "{branch}, and the platform's ${ENV_VAR}s."
    )
    commit_mode: Literal["per_table", "multi_table"] = Field(
        description="The loader's commit_mode for this catalog."
    )
    branches: bool = Field(
        default=False, description="The catalog has Nessie branches: target.branch applies."
    )
    warehouse: Literal["lake", "project"] = Field(
        description="lake: the tenant's prefix under lake.root (target.warehouse may repeat it); "
        "project: the project's own .lake/ folder (target.warehouse is not allowed)."
    )
    nessie: dict[str, str] | None = Field(
        default=None,
        description="The loader's `nessie` setting (branch and API URI) for Nessie catalogs.",
    )


class EngineOptions(_Strict):
    """JSON Schemas of engine options (a job's ``engine.options.<engine>``), per side and engine.

    An engine without a schema accepts the option names its bindings reference, with any value.
    """

    sources: dict[SourceEngineType, dict[str, Any]] = Field(
        default_factory=dict, description="Per source engine, the schema of its options."
    )
    targets: dict[TargetEngineType, dict[str, Any]] = Field(
        default_factory=dict, description="Per target engine, the schema of its options."
    )


class Registry(_Strict):
    """``registry/connectors.yaml`` (or ``connectors.json``)."""

    sources: dict[str, SourceConnector]
    targets: dict[str, TargetConnector]
    plugins: dict[str, PluginDef]
    lake: Lake = Field(description="The platform's lake root.")
    catalogs: dict[str, CatalogDef] = Field(description="Catalogs a job may name.")
    engine_options: EngineOptions = Field(
        default_factory=EngineOptions,
        description="The schema of each engine's options, shared by every connector using it.",
    )


class ConnectorTemplate(_Strict):
    """``registry/templates/<connector>.yaml``: execution metadata and endpoint hints."""

    connector: str = Field(description="The connector this template belongs to.")
    execution: dict[str, Any] = Field(
        default_factory=dict,
        description="Execution metadata (timeouts, retries, concurrency) for runners; "
        "rendered as plugin annotations.",
    )
    config: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per engine, plugin config defaults (endpoints, pagination) that the job's "
        "own settings override.",
    )
