"""Settings: declared for Singer/Meltano with `singer_sdk.typing`, read into a frozen model.

Every setting is documented in the plugin README. Validation errors name the setting and the
valid values. Never opens the catalog or reads specs (the target does, once).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from singer_sdk import typing as th

from target_iceberg.errors import ConfigError

UnknownColumns = Literal["reject", "ignore", "evolve"]

SETTINGS = th.PropertiesList(
    th.Property(
        "namespace",
        th.StringType,
        required=True,
        description="Iceberg namespace the tables land in; one per tenant (the tenant id).",
    ),
    th.Property(
        "tenant", th.StringType, description="Tenant id, recorded in snapshots and the run summary."
    ),
    th.Property(
        "job", th.StringType, description="Job name, recorded in snapshots and the run summary."
    ),
    th.Property(
        "catalog_name",
        th.StringType,
        default="default",
        description=(
            "pyiceberg catalog name (the key in .pyiceberg.yaml and in "
            "PYICEBERG_CATALOG__<NAME>__* variables)."
        ),
    ),
    th.Property(
        "catalog_properties",
        th.ObjectType(additional_properties=True),
        secret=True,
        description=(
            "pyiceberg catalog properties passed to load_catalog(name, **props), e.g. {type: sql, "
            "uri: sqlite:////abs/catalog.db, warehouse: file:///abs/warehouse}. May hold "
            "credentials (s3.secret-access-key, token). Omitted: pyiceberg's own configuration, "
            "else an embedded SQLite catalog under .lake/."
        ),
    ),
    th.Property(
        "catalog_uri", th.StringType, description="Flat alternative to catalog_properties.uri."
    ),
    th.Property(
        "warehouse", th.StringType, description="Flat alternative to catalog_properties.warehouse."
    ),
    th.Property(
        "streams",
        th.ObjectType(
            additional_properties=th.ObjectType(
                th.Property(
                    "table", th.StringType, description="Table name; default: the stream name."
                ),
                th.Property(
                    "asset_spec", th.StringType, description="Path to the asset spec YAML."
                ),
            )
        ),
        description=(
            "Per stream: {table, asset_spec}. A stream with an asset spec is validated against it; "
            "otherwise its Singer SCHEMA message is the contract."
        ),
    ),
    th.Property(
        "unknown_columns",
        th.StringType,
        default="reject",
        allowed_values=["reject", "ignore", "evolve"],
        description=(
            "Fields not in the contract: reject (quarantine the record), ignore (drop the "
            "field) or evolve (add columns the SCHEMA message declares to the table)."
        ),
    ),
    th.Property(
        "max_rejected_rows",
        th.IntegerType,
        description="Fail the run (commit nothing) if more records than this are rejected.",
    ),
    th.Property(
        "max_rejected_ratio",
        th.NumberType,
        description=(
            "Fail the run (commit nothing) if rejected/read of a stream exceeds this ratio (0..1)."
        ),
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=25000,
        description=(
            "Records coerced together as one Arrow block (memory grows with it; the Parquet "
            "files do not depend on it)."
        ),
    ),
    th.Property(
        "target_file_size_mb",
        th.NumberType,
        default=128,
        description="Parquet file size on disk at which a new file is started (MB).",
    ),
    th.Property(
        "run_id",
        th.StringType,
        description=(
            "Run id recorded in snapshots; a re-run with the same id is detected and not committed "
            "twice. Default: $MELTANO_RUN_ID, else a new UUID."
        ),
    ),
    th.Property(
        "commit_mode",
        th.StringType,
        default="per_table",
        allowed_values=["per_table", "multi_table"],
        description=(
            "per_table: commit each table at the end of the run, in name order (any catalog). "
            "multi_table: one Iceberg REST transactions/commit for all tables of the run "
            "(Nessie: a single atomic commit)."
        ),
    ),
    th.Property(
        "nessie",
        th.ObjectType(
            th.Property("branch", th.StringType, required=True, description="The branch."),
            th.Property(
                "api_uri", th.StringType, required=True, description="Nessie's REST API v2 root."
            ),
        ),
        description=(
            "For a Nessie catalog: the branch the run commits to (the catalog uri names it too) "
            "and Nessie's REST API v2 root (http://host:19120/api/v2). The branch is created from "
            "main on first use, before any catalog call; the run summary names its commit."
        ),
    ),
    th.Property(
        "run_summary_path",
        th.StringType,
        description="Write the machine-readable run summary JSON here (default: only logged).",
    ),
).to_dict()


class StreamSettings(BaseModel):
    """One entry of `streams`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    table: str | None = Field(default=None, description="Table name; default: the stream name.")
    asset_spec: str | None = Field(default=None, description="Path to the asset spec YAML.")


class NessieSettings(BaseModel):
    """The `nessie` setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    branch: str = Field(min_length=1, description="The branch the run commits to.")
    api_uri: str = Field(min_length=1, description="Nessie's REST API v2 root.")


class LoaderConfig(BaseModel):
    """The settings the loader uses, validated."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    namespace: str = Field(min_length=1, description="Iceberg namespace (tenant id).")
    tenant: str | None = Field(default=None, description="Tenant id.")
    job: str | None = Field(default=None, description="Job name.")
    catalog_name: str = Field(default="default", description="pyiceberg catalog name.")
    catalog_properties: dict[str, Any] | None = Field(
        default=None, description="Catalog properties."
    )
    catalog_uri: str | None = Field(default=None, description="Catalog URI.")
    warehouse: str | None = Field(default=None, description="Warehouse location.")
    streams: dict[str, StreamSettings] = Field(default_factory=dict, description="Per stream.")
    unknown_columns: UnknownColumns = Field(default="reject", description="Unknown field policy.")
    max_rejected_rows: int | None = Field(default=None, ge=0, description="Reject limit.")
    max_rejected_ratio: float | None = Field(default=None, ge=0, le=1, description="Reject ratio.")
    target_file_size_mb: float = Field(default=128, gt=0, description="File size on disk, MB.")
    batch_size_rows: int = Field(default=25_000, ge=1, description="Records per Arrow block.")
    run_id: str = Field(default="", validate_default=True, description="Run id.")
    run_summary_path: str | None = Field(default=None, description="Summary JSON path.")
    commit_mode: Literal["per_table", "multi_table"] = Field(
        default="per_table", description="How the run's tables are committed."
    )
    nessie: NessieSettings | None = Field(default=None, description="Nessie branch and API.")

    @field_validator("run_id", mode="after")
    @classmethod
    def _default_run_id(cls, value: str) -> str:
        return value or os.environ.get("MELTANO_RUN_ID") or str(uuid.uuid4())

    def stream(self, name: str) -> StreamSettings:
        """Settings of stream ``name`` (defaults when not configured)."""
        return self.streams.get(name) or StreamSettings()

    def table_name(self, stream: str) -> str:
        """The table a stream lands in: the configured name, else the stream name made safe."""
        configured = self.stream(stream).table
        if configured:
            return configured
        return re.sub(r"[^a-z0-9_]+", "_", stream.lower()).strip("_") or "stream"

    def spec_path(self, stream: str) -> Path | None:
        """The asset spec of a stream, if it has one."""
        path = self.stream(stream).asset_spec
        return Path(path) if path else None


def load_config(raw: Mapping[str, Any]) -> LoaderConfig:
    """Validate the target's config.

    Raises:
        ConfigError: listing every invalid setting with what is expected.
    """
    try:
        return LoaderConfig.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid target-iceberg settings: {problems}") from None
