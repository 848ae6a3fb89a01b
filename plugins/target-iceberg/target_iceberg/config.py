"""Settings: declared once, as a frozen pydantic model; the JSON Schema for Singer is derived.

`LoaderConfig` holds every setting's name, type, default, choices and description;
`SETTINGS` (singer-sdk's ``config_jsonschema``, printed by ``--about``, from which ingestgen
generates the registry's Meltano ``settings:``) is derived from it, secrets marked
``secret``/``writeOnly``. Every setting is documented in the plugin README. Validation errors
name the setting and the valid values. Never opens the catalog or reads specs.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from target_iceberg.audit.model import AuditSettings
from target_iceberg.errors import ConfigError

UnknownColumns = Literal["reject", "ignore", "evolve"]
MAX_NAME = 120  # data file names add ~70 characters; file systems allow 255
TABLE_NAME = re.compile(rf"[a-z0-9_]{{1,{MAX_NAME}}}")
"""Table names: they become folder names in the warehouse, so nothing else is allowed."""
NAMESPACE_NAME = rf"^[A-Za-z0-9_][A-Za-z0-9_-]{{0,{MAX_NAME - 1}}}$"

SPARK_MASTER = re.compile(
    r"local(\[(\*|[1-9][0-9]*)(,[1-9][0-9]*)?\])?"
    r"|spark://[A-Za-z0-9.\-]+:[0-9]{1,5}(,[A-Za-z0-9.\-]+:[0-9]{1,5})*"
    r"|k8s://(https?://)?[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/\-]*)?"
    r"|sc://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/;[A-Za-z0-9_\-]+=[^;\s]*(;[A-Za-z0-9_\-]+=[^;\s]*)*)?"
)
"""Where a Spark session runs: local threads, a standalone, Kubernetes or Spark Connect master."""
SPARK_CONF_KEY = re.compile(r"spark\.[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
_SPARK_MANAGED = ("spark.master", "spark.remote", "spark.driver.memory", "spark.jars")
"""Spark settings the loader sets itself (from its own options): `conf` may not override them."""


def _secret(description: str) -> dict[str, Any]:
    return {"description": description, "json_schema_extra": {"secret": True, "writeOnly": True}}


class StreamSettings(BaseModel):
    """One entry of `streams`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    table: str | None = Field(
        default=None,
        pattern=TABLE_NAME.pattern.join("^$"),
        description=f"Table name (1-{MAX_NAME} of a-z, 0-9, _); default: the stream name.",
    )
    asset_spec: str | None = Field(default=None, description="Path to the asset spec YAML.")


class NessieSettings(BaseModel):
    """The `nessie` setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    branch: str = Field(min_length=1, description="The branch the run commits to.")
    api_uri: str = Field(min_length=1, description="Nessie's REST API v2 root.")


class SparkSettings(BaseModel):
    """The `spark` engine's session (used only with ``engine: spark``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    master: str = Field(
        default="local[2]",
        # In the JSON Schema too, so the generator checks it at render time.
        json_schema_extra={"pattern": f"^(?:{SPARK_MASTER.pattern})$"},
        description=(
            "Spark master: local[N] (threads in this process's JVM), spark://host:port "
            "(standalone), k8s://https://host:port (Kubernetes) or sc://host:port (Spark Connect)."
        ),
    )
    driver_memory: str = Field(
        default="1g",
        pattern=r"^[1-9][0-9]*[kKmMgGtT]$",
        description="Driver JVM heap, e.g. 1g or 768m (Spark's spark.driver.memory).",
    )
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        json_schema_extra={
            "propertyNames": {
                "pattern": f"^{SPARK_CONF_KEY.pattern}$",
                "not": {"enum": [*_SPARK_MANAGED, "spark.sql.extensions"]},
            }
        },
        description=(
            "Extra Spark settings, e.g. {spark.sql.shuffle.partitions: 8}; keys start with "
            "'spark.'. The master, driver memory, jars and the loader's catalog are set from the "
            "other options and cannot be overridden here."
        ),
    )
    jars_dir: str | None = Field(
        default=None,
        description=(
            "Folder holding the Iceberg Spark runtime, AWS bundle and SQLite JDBC jars. "
            "Default: fetched once with Maven into ~/.cache/ingestgen/spark-jars/."
        ),
    )

    @field_validator("master")
    @classmethod
    def _master(cls, value: str) -> str:
        if not SPARK_MASTER.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Spark master: use local[N], spark://host:port, "
                "k8s://https://host:port or sc://host:port"
            )
        return value

    @field_validator("conf")
    @classmethod
    def _conf(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not SPARK_CONF_KEY.fullmatch(key):
                raise ValueError(f"conf key {key!r} is not a Spark setting (spark.<name>)")
            if key in _SPARK_MANAGED or key == "spark.sql.extensions":
                raise ValueError(
                    f"conf key {key!r} is set by the loader (from the master, driver_memory "
                    "and jars_dir options); it cannot be overridden here"
                )
        return value


class LoaderConfig(BaseModel):
    """The loader's settings: the one declaration of names, types, defaults and choices.

    `SETTINGS` (what singer-sdk validates and ``--about`` prints, and what ingestgen's registry
    is generated from) is derived from this model.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)
    namespace: str = Field(
        pattern=NAMESPACE_NAME,
        description="Iceberg namespace the tables land in; one per tenant (the tenant id).",
    )
    tenant: str | None = Field(
        default=None, description="Tenant id, recorded in snapshots and the run summary."
    )
    job: str | None = Field(
        default=None, description="Job name, recorded in snapshots and the run summary."
    )
    catalog_name: str = Field(
        default="default",
        description=(
            "pyiceberg catalog name (the key in .pyiceberg.yaml and in "
            "PYICEBERG_CATALOG__<NAME>__* variables)."
        ),
    )
    catalog_properties: dict[str, Any] | None = Field(
        default=None,
        **_secret(
            "pyiceberg catalog properties passed to load_catalog(name, **props), e.g. {type: "
            "sql, uri: sqlite:////abs/catalog.db, warehouse: file:///abs/warehouse}. May hold "
            "credentials (s3.secret-access-key, token). Omitted: pyiceberg's own "
            "configuration, else an embedded SQLite catalog under .lake/."
        ),
    )
    catalog_uri: str | None = Field(
        default=None, description="Flat alternative to catalog_properties.uri."
    )
    warehouse: str | None = Field(
        default=None, description="Flat alternative to catalog_properties.warehouse."
    )
    streams: dict[str, StreamSettings] = Field(
        default_factory=dict,
        description=(
            "Per stream: {table, asset_spec}. A stream with an asset spec is validated against "
            "it; otherwise its Singer SCHEMA message is the contract."
        ),
    )
    unknown_columns: UnknownColumns = Field(
        default="reject",
        description=(
            "Fields not in the contract: reject (quarantine the record), ignore (drop the "
            "field) or evolve (add columns the SCHEMA message declares to the table)."
        ),
    )
    max_rejected_rows: int | None = Field(
        default=None,
        ge=0,
        description="Fail the run (commit nothing) if more records than this are rejected.",
    )
    max_rejected_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description=(
            "Fail the run (commit nothing) if rejected/read of a stream exceeds this ratio (0..1)."
        ),
    )
    batch_size_rows: int = Field(
        default=25_000,
        ge=1,
        description=(
            "Records coerced together as one Arrow block (memory grows with it; the Parquet "
            "files do not depend on it)."
        ),
    )
    target_file_size_mb: float = Field(
        default=128,
        gt=0,
        description="Parquet file size on disk at which a new file is started (MB).",
    )
    run_id: str = Field(
        default="",
        validate_default=True,
        description=(
            "Run id recorded in snapshots; a re-run with the same id is detected and not "
            "committed twice. Default: the MELTANO_RUN_ID environment variable, else a new UUID."
        ),
    )
    commit_mode: Literal["per_table", "multi_table"] = Field(
        default="per_table",
        description=(
            "per_table: commit each table at the end of the run, in name order (any catalog). "
            "multi_table: one Iceberg REST transactions/commit for all tables of the run "
            "(Nessie: a single atomic commit)."
        ),
    )
    run_summary_path: str | None = Field(
        default=None,
        description="Write the machine-readable run summary JSON here (default: only logged).",
    )
    require_final_state: bool = Field(
        default=False,
        description=(
            "The tap ends its output with a STATE message (Singer SDK taps do): an input that "
            "ends with records after its last STATE is a tap that stopped mid-stream, and "
            "nothing is committed (exit 75). Off: such an input is committed as it is."
        ),
    )
    batch_root: str | None = Field(
        default=None,
        description=(
            "BATCH messages may name only files inside this folder (symlinks resolved). "
            "Default: any local file the loader can read."
        ),
    )
    catalog_timeout_s: float = Field(
        default=60,
        gt=0,
        description=(
            "Seconds to wait for a REST catalog (Iceberg REST, Nessie) to connect or answer one "
            "request; past it the run gives up, emits no state and exits 75 (transient)."
        ),
    )
    s3_timeout_s: float = Field(
        default=60,
        gt=0,
        description=(
            "Seconds to wait for the S3 server to connect or answer one request (pyiceberg's "
            "s3.connect-timeout and s3.request-timeout, unless catalog_properties sets them); "
            "past it the run gives up, emits no state and exits 75 (transient)."
        ),
    )
    spool_dir: str | None = Field(
        default=None,
        description=(
            "Folder for the run's spooled rows (write_mode merge, engine spark), deleted at the "
            "end of the run; it needs room for the run's rows, compressed. Default: the system's "
            "temporary folder (TMPDIR)."
        ),
    )
    nessie: NessieSettings | None = Field(
        default=None,
        description=(
            "For a Nessie catalog: the branch the run commits to (the catalog uri names it too) "
            "and Nessie's REST API v2 root (http://host:19120/api/v2). The branch is created from "
            "main on first use, before any catalog call; the run summary names its commit."
        ),
    )

    audit: AuditSettings | None = Field(
        default=None,
        description=(
            "Write-audit-publish: {enabled, on_fail}. Each table's snapshot goes to the audit "
            "branch ingestgen-audit-<run_id>, the asset spec's audit checks run on it, and only "
            "if all pass is every table's main moved to it (then the STATE is emitted). A failed "
            "audit leaves main untouched, keeps the branch and exits on_fail (1 or 2)."
        ),
    )

    engine: Literal["native", "spark"] = Field(
        default="native",
        description=(
            "Who writes the tables: native (Parquet files and commits from this process) or "
            "spark (a Spark session appends or MERGEs the run's rows). Contract, quarantine, "
            "thresholds, snapshot properties and the STATE rule are the same."
        ),
    )
    write_mode: Literal["append", "merge"] = Field(
        default="append",
        description=(
            "append: add the run's rows. merge: upsert by the primary key (the spec's "
            "primary_key, else the stream's key_properties), one version per key, in one "
            "snapshot."
        ),
    )
    spark: SparkSettings = Field(
        default_factory=SparkSettings,
        description="The Spark session of engine spark: {master, driver_memory, conf, jars_dir}.",
    )

    @model_validator(mode="after")
    def _engine_fits(self) -> LoaderConfig:
        if self.audit is not None and self.audit.enabled and self.engine == "spark":
            raise ValueError(
                "audit (write-audit-publish) is not available with engine spark yet (Spark "
                "commits to main itself); use engine native or turn audit off"
            )
        if self.engine == "spark" and self.commit_mode == "multi_table":
            raise ValueError(
                "commit_mode multi_table is not available with engine spark (Spark commits each "
                "table itself); use commit_mode per_table"
            )
        prefix = f"spark.sql.catalog.{self.catalog_name}"
        for key in self.spark.conf:
            if key == prefix or key.startswith(prefix + "."):
                raise ValueError(
                    f"spark.conf key {key!r} configures the loader's own catalog "
                    f"{self.catalog_name!r}, which comes from catalog_properties"
                )
        return self

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
        return re.sub(r"[^a-z0-9_]+", "_", stream.lower()).strip("_")[:MAX_NAME] or "stream"

    def spec_path(self, stream: str) -> Path | None:
        """The asset spec of a stream, if it has one."""
        path = self.stream(stream).asset_spec
        return Path(path) if path else None


def _singer_schema(node: Any, defs: dict[str, Any]) -> Any:
    """A pydantic JSON Schema made plain for singer-sdk and Meltano.

    References inlined, ``anyOf [X, null]`` written as X with a nullable type, titles dropped.
    """
    if isinstance(node, list):
        return [_singer_schema(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _singer_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    options = node.get("anyOf")
    if options and {"type": "null"} in options and len(options) == 2:
        (inner,) = (o for o in options if o != {"type": "null"})
        merged = {**_singer_schema(inner, defs), **{k: v for k, v in node.items() if k != "anyOf"}}
        kind = merged.get("type", "object")
        merged["type"] = [*(kind if isinstance(kind, list) else [kind]), "null"]
        return _singer_schema(merged, defs)
    out = {k: _singer_schema(v, defs) for k, v in node.items() if k not in ("title", "$defs")}
    if out.get("default", 0) is None:
        del out["default"]
    return out


def _settings_schema() -> dict[str, Any]:
    schema = LoaderConfig.model_json_schema()
    plain: dict[str, Any] = _singer_schema(schema, schema.get("$defs", {}))
    plain.pop("description", None)  # the class docstring, not a setting
    plain["properties"]["streams"].pop("default", None)  # a factory: {} either way
    plain["properties"]["run_id"].pop("default", None)  # computed at run time
    return plain


SETTINGS: dict[str, Any] = _settings_schema()
"""The settings as JSON Schema: singer-sdk validates with it, ``--about`` prints it."""


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
