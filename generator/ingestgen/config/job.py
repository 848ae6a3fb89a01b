"""The tenant job file (``configs/<tenant>/<job>.yaml``): the seed's consolidated job YAML.

Structure only: which connectors and engines exist, and what settings a connector takes, is the
registry's business (`ingestgen.registry`). Models are frozen and forbid unknown keys, so a typo
is an error, never a silently ignored setting.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingestgen.config.tenant import TenantId
from ingestgen.errors import excerpt
from target_iceberg.audit.model import AuditSettings
from target_iceberg.strict import StrictModel as _Strict

SourceEngineType = Literal["airbyte", "singer", "native", "jdbc"]
TargetEngineType = Literal["native", "spark", "meltano"]


def one_of(choices: Any) -> str:
    """A literal type's values in words: ``native, spark or meltano``."""
    *most, last = get_args(choices)
    return f"{', '.join(most)} or {last}" if most else str(last)


class _Engine(_Strict):
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Options keyed by engine type, e.g. {airbyte: {docker_image: ...}}.",
    )

    @model_validator(mode="after")
    def _options_match_type(self) -> _Engine:
        engine = str(getattr(self, "type", ""))
        other = sorted(set(self.options) - {engine})
        if other:
            raise ValueError(
                f"options given for {', '.join(o if len(o) <= 60 else excerpt(o) for o in other)} "
                f"but engine.type is {engine!r}; "
                f"put them under options.{engine} or change the type"
            )
        return self


class SourceEngine(_Engine):
    """Override of the registry's default extraction engine for this job."""

    type: SourceEngineType = Field(description=f"{one_of(SourceEngineType)}.")


class TargetEngine(_Engine):
    """Override of the registry's default loading engine for this job."""

    type: TargetEngineType = Field(description=f"{one_of(TargetEngineType)}.")


class Incremental(_Strict):
    """How the source reads only what changed since the last run."""

    strategy: str = Field(
        description="A strategy the connector supports (the registry lists them), "
        "e.g. file_modified_time, replication_key or full_refresh."
    )
    cursor_field: str | None = Field(
        default=None, description="Replication key, for strategies that need one."
    )
    start_date: str | None = Field(
        default=None, description="ISO date or timestamp to start from on the first run."
    )


class Source(BaseModel):
    """Where the data comes from. Keys besides these are the connector's own settings."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(description="Connector name from registry/connectors.yaml, e.g. gdrive_csv.")
    engine: SourceEngine | None = Field(
        default=None, description="Engine override; omit to use the registry default."
    )
    incremental: Incremental | None = Field(
        default=None, description="Incremental strategy; omit for the connector's default."
    )

    @property
    def settings(self) -> dict[str, Any]:
        """The connector-specific keys (validated against the registry)."""
        return dict(self.model_extra or {})


class Target(_Strict):
    """Where the data lands: an Iceberg table per object in the tenant's namespace."""

    type: str = Field(description="Target connector from the registry, e.g. iceberg.")
    catalog: str = Field(
        default="embedded",
        description="A catalog of the registry's `catalogs:` section: embedded (a SQLite catalog "
        "and local warehouse inside the project, no servers), nessie (the Nessie server's Iceberg "
        "REST catalog, on the tenant's branch) or rest (an Iceberg REST catalog without branches).",
    )
    branch: str | None = Field(
        default=None,
        description="Nessie branch to commit to (catalogs with branches only): the tenant id "
        "(the default) or '<tenant_id>__<suffix>', the suffix lower-case letters and digits in "
        "words joined by single '_'. Never main, never another tenant's.",
    )
    warehouse: str | None = Field(
        default=None,
        description="The tenant's warehouse prefix, '<lake root>/<tenant_id>/' (s3://lake/acme/): "
        "it may be omitted, since nothing else is allowed. Not for the embedded catalog, whose "
        "warehouse is the project's .lake/ folder.",
    )
    file_format: Literal["parquet"] = Field(default="parquet", description="Only parquet.")
    engine: TargetEngine | None = Field(
        default=None, description="Engine override; omit to use the registry default."
    )
    audit: AuditSettings | None = Field(
        default=None,
        description="Write-audit-publish: {enabled, on_fail: 1|2}. Each run lands on an audit "
        "branch of its tables, the asset spec's audit: checks run on it, and main moves only if "
        "every check passes; a failure keeps the branch (see `ingestgen audit`) and exits "
        "on_fail. The asset spec must declare checks.",
    )


class Logging(_Strict):
    """Logging of the run."""

    redaction: bool = Field(default=True, description="Mask secret values in logs and run records.")


class JobConfig(_Strict):
    """One tenant job file."""

    tenant_id: TenantId = Field(description="The tenant this job belongs to.")
    source: Source = Field(description="The source connector and its settings.")
    target: Target = Field(description="The Iceberg target.")
    logging: Logging = Field(default_factory=Logging, description="Logging options.")
    asset_definition: str = Field(
        description="Path of the asset spec: 'specs/<source>/<version>/<asset>.yaml' relative "
        "to the repository, or the same under '/app/' as inside the runner image."
    )
