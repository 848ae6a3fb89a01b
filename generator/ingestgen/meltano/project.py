"""A rendered Meltano project (``projects/<tenant>/meltano.yml``), read back as typed objects.

The one reader of rendered projects. Plugins come with their inheritance resolved (a job's
``tap-x--job`` knows its base ``tap-x``, the base's settings and namespace); jobs know their
extractor and loader; schedules, each loader's catalog and ingestgen's own annotation on a job's
extractor (the job's execution settings) are typed. Also here: where Meltano keeps a project's
working state (plugin venvs, the system database).

Read-only: never writes the project, never expands a secret, never runs Meltano. A file that is
not a project as ingestgen renders it is a `UserError` that says to render it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ingestgen.config.job import SourceEngineType
from ingestgen.config.tenant import TenantId
from ingestgen.errors import UserError
from ingestgen.meltano.tool import env_var_name

PROJECTS = "projects"
FILE = "meltano.yml"
PluginKind = Literal["extractors", "loaders", "mappers"]
_RENDER = "run `ingestgen render` and commit the result"


class _View(BaseModel):
    # Meltano's file holds more than ingestgen reads; the view keeps only what it uses.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Setting(_View):
    """A declared plugin setting."""

    name: str
    kind: str | None = None
    sensitive: bool = False


class Execution(_View):
    """A job's execution settings, from the registry's connector template.

    Other keys (rate limits, ...) are kept for the runners that read them.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    timeout_seconds: float | None = Field(default=None, gt=0)
    retries: int = Field(default=0, ge=0)
    retry_backoff_seconds: float | None = Field(default=None, ge=0)


class JobAnnotation(_View):
    """ingestgen's annotation on a job's extractor: ``annotations.ingestgen``."""

    job: str
    tenant: str
    engine: SourceEngineType
    execution: Execution = Field(default_factory=Execution)


class _Annotations(_View):
    ingestgen: JobAnnotation | None = None


class PluginEntry(_View):
    """One plugin as the file writes it (before inheritance)."""

    name: str
    inherit_from: str | None = None
    namespace: str | None = None
    pip_url: str | None = None
    executable: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    settings: list[Setting] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    select: list[str] = Field(default_factory=list)
    annotations: _Annotations = Field(default_factory=_Annotations)


class _Mapping(_View):
    name: str
    config: dict[str, Any] = Field(default_factory=dict)


class MapperEntry(PluginEntry):
    """A mapper plugin: each of its mappings is what a job's task names."""

    mappings: list[_Mapping] = Field(default_factory=list)


class _Plugins(_View):
    extractors: list[PluginEntry] = Field(default_factory=list)
    loaders: list[PluginEntry] = Field(default_factory=list)
    mappers: list[MapperEntry] = Field(default_factory=list)


class _JobEntry(_View):
    name: str
    tasks: list[str | list[str]] | str


class Schedule(_View):
    """A Meltano schedule: a job on a cron interval."""

    name: str
    job: str
    interval: str


class _File(_View):
    default_environment: str = "dev"
    plugins: _Plugins = Field(default_factory=_Plugins)
    jobs: list[_JobEntry] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)


@dataclass(frozen=True)
class Catalog:
    """The Iceberg catalog a loader writes to: pyiceberg's name and properties, as rendered."""

    name: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class Plugin:
    """A plugin with its inheritance resolved: ``chain`` is the plugin, then what it inherits."""

    kind: PluginKind
    chain: tuple[PluginEntry, ...]

    @property
    def name(self) -> str:
        """The plugin's name."""
        return self.chain[0].name

    @property
    def base(self) -> str:
        """The plugin at the root of the chain: the one Meltano installs a venv for."""
        return self.chain[-1].name

    @property
    def config(self) -> dict[str, Any]:
        """The plugin's config: inherited values, overridden setting by setting."""
        merged: dict[str, Any] = {}
        for entry in reversed(self.chain):
            merged.update(entry.config)
        return merged

    @property
    def sensitive(self) -> frozenset[str]:
        """Names of the settings declared sensitive anywhere in the chain."""
        return frozenset(s.name for e in self.chain for s in e.settings if s.sensitive)

    @property
    def annotation(self) -> JobAnnotation | None:
        """The annotation ingestgen writes on the extractor of each job (None elsewhere)."""
        return self.chain[0].annotations.ingestgen

    @property
    def catalog(self) -> Catalog | None:
        """The catalog a loader writes to, or None for plugins without catalog properties."""
        config = self.config
        properties = config.get("catalog_properties")
        if not isinstance(properties, Mapping) or not properties:
            return None
        return Catalog(str(config.get("catalog_name") or "default"), properties)

    def setting_env_vars(self, setting: str) -> set[str]:
        """Every variable Meltano reads ``setting`` from: per plugin name and namespace."""
        prefixes = {e.name for e in self.chain} | {e.namespace for e in self.chain if e.namespace}
        return {env_var_name(prefix, setting) for prefix in prefixes}


@dataclass(frozen=True)
class Job:
    """A Meltano job as ingestgen renders it: one extractor into one loader (maybe a mapper)."""

    name: str
    extractor: Plugin
    loader: Plugin
    mapper: Plugin | None = None
    """The contract mapping between them (the ``meltano`` target engine)."""

    @property
    def contract(self) -> Plugin:
        """The plugin that enforces the contract and writes the run summary."""
        return self.mapper or self.loader

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        """Every plugin the job runs."""
        return (self.extractor, self.loader, *([self.mapper] if self.mapper else []))

    def state_id(self, environment: str) -> str:
        """Meltano's state id for the job's extract-load pair."""
        return f"{environment}:{self.extractor.name}-to-{self.loader.name}"


@dataclass(frozen=True)
class Project:
    """A rendered project, read-only (see the module docstring)."""

    folder: Path
    default_environment: str
    plugins: Mapping[str, Plugin]
    jobs: Mapping[str, Job]
    schedules: tuple[Schedule, ...]

    @classmethod
    def read(cls, folder: Path) -> Project:
        """Read ``folder/meltano.yml``.

        Raises:
            UserError: no such file, or not a project as ingestgen renders it.
        """
        path = folder / FILE
        if not path.is_file():
            raise UserError(f"{path} does not exist; run `ingestgen render` first")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            parsed = _File.model_validate(data)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UserError(f"{path} cannot be read ({exc}); {_RENDER}") from None
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors(include_url=False)[:3]
            )
            raise UserError(
                f"{path} is not a project as ingestgen renders it ({where}); {_RENDER}"
            ) from None
        plugins = _resolve(path, parsed.plugins)
        return cls(
            folder=folder,
            default_environment=parsed.default_environment,
            plugins=plugins,
            jobs={j.name: _job(path, j, plugins) for j in parsed.jobs},
            schedules=tuple(parsed.schedules),
        )

    @property
    def file(self) -> Path:
        """The project file."""
        return self.folder / FILE

    def of_kind(self, kind: PluginKind) -> list[Plugin]:
        """The extractors or the loaders, in file order."""
        return [p for p in self.plugins.values() if p.kind == kind]

    def job(self, name: str) -> Job:
        """The job called ``name``.

        Raises:
            UserError: no such job; lists the project's jobs.
        """
        if name not in self.jobs:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise UserError(f"{self.file} has no job {name!r} (jobs: {known}); {_RENDER}")
        return self.jobs[name]

    def venv(self, plugin: Plugin) -> Path:
        """Where ``meltano install`` puts the plugin's venv (one per base plugin)."""
        return self.folder / ".meltano" / plugin.kind / plugin.base / "venv"

    def installed(self, *plugins: Plugin) -> bool:
        """Whether the venvs of ``plugins`` exist."""
        return all((self.venv(p) / "bin" / "python").exists() for p in plugins)


def project_dir(root: Path, tenant: str) -> Path:
    """``projects/<tenant>`` of the repository at ``root``.

    Raises:
        UserError: ``tenant`` is not a tenant id (so it can never name another folder).
    """
    try:
        _TENANT.validate_python(tenant)
    except ValidationError:
        raise UserError(
            f"{tenant!r} is not a tenant id; give the tenant_id of a job under configs/"
        ) from None
    return root / PROJECTS / tenant


def system_database(folder: Path, environ: Mapping[str, str]) -> Path | None:
    """The SQLite file of a project's Meltano system database, or None for another database.

    ``MELTANO_DATABASE_URI`` when set (``sqlite:///`` paths are relative to the project), else
    ``.meltano/meltano.db``. The file may not exist yet.
    """
    uri = environ.get("MELTANO_DATABASE_URI", "")
    if not uri:
        return folder / ".meltano" / "meltano.db"
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return path if path.is_absolute() else folder / path


_TENANT: TypeAdapter[str] = TypeAdapter(TenantId)


def _resolve(path: Path, plugins: _Plugins) -> dict[str, Plugin]:
    # A mapping is invoked by its name and runs its mapper with the mapping's config.
    mappings = [
        PluginEntry(name=m.name, inherit_from=mapper.name, config=m.config)
        for mapper in plugins.mappers
        for m in mapper.mappings
    ]
    kinds: tuple[tuple[PluginKind, list[PluginEntry]], ...] = (
        ("extractors", plugins.extractors),
        ("loaders", plugins.loaders),
        ("mappers", [*plugins.mappers, *mappings]),
    )
    entries: dict[str, tuple[PluginKind, PluginEntry]] = {}
    for kind, items in kinds:
        for entry in items:
            if entry.name in entries:
                raise UserError(f"{path} defines plugin {entry.name!r} twice; {_RENDER}")
            entries[entry.name] = (kind, entry)
    resolved: dict[str, Plugin] = {}
    for name, (kind, entry) in entries.items():
        chain = [entry]
        while chain[-1].inherit_from is not None:
            parent = entries.get(chain[-1].inherit_from)
            if parent is None or parent[0] != kind or parent[1] in chain:
                raise UserError(
                    f"{path}: plugin {chain[-1].name!r} inherits from "
                    f"{chain[-1].inherit_from!r}, which is not a plugin of the project "
                    f"(or inherits back); {_RENDER}"
                )
            chain.append(parent[1])
        resolved[name] = Plugin(kind, tuple(chain))
    return resolved


def _job(path: Path, entry: _JobEntry, plugins: Mapping[str, Plugin]) -> Job:
    tasks = [entry.tasks] if isinstance(entry.tasks, str) else entry.tasks
    flat = [t for task in tasks for t in ([task] if isinstance(task, str) else task)]
    names = [name for task in flat for name in task.split()]
    used = [plugins.get(n) for n in names]
    extractors = [p for p in used if p is not None and p.kind == "extractors"]
    loaders = [p for p in used if p is not None and p.kind == "loaders"]
    mappers = [p for p in used if p is not None and p.kind == "mappers"]
    if None in used or len(extractors) != 1 or len(loaders) != 1 or len(mappers) > 1:
        raise UserError(
            f"{path}: job {entry.name!r} is not one extractor into one loader of the project "
            f"(tasks: {' '.join(names)}); {_RENDER}"
        )
    return Job(entry.name, extractors[0], loaders[0], mappers[0] if mappers else None)
