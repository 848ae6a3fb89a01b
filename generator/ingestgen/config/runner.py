"""The runner config (``runner.yaml``): the seed's orchestration block, validated like a job file.

Where it lives: at most one file named ``runner.yaml`` anywhere under ``configs/`` (the seed's
example is ``configs/examples/runner.yaml``). Two would disagree on the run queue, so a second one
is an error. Each schedule names a job file by path, repository-relative (``configs/...``) or the
same under ``/app/`` as inside the runner image; it must stay inside ``configs/``.

This stage only says which job runs when and how many runs a tenant may have at once. It never
starts anything, and it never reads the job's secrets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from ingestgen.config.cron import cron_problem
from ingestgen.config.load import JobFile, is_runner_data, load_job
from ingestgen.config.locate import problems_from
from ingestgen.config.tenant import TenantId
from ingestgen.config.yamlcompose import LIMITS
from ingestgen.config.yamlsource import Located, load_located
from ingestgen.errors import ConfigError, Problem, excerpt
from ingestgen.maintain.policy import Maintenance
from ingestgen.paths import (
    RUNNER_FILE,
    display,
    inside_configs,
    job_files,
    repo_relpath,
    resolved,
)
from target_iceberg.spec import Identifier
from target_iceberg.strict import StrictModel as _Strict
from target_iceberg.tenancy import tenant_id_problem

ScheduleName = Identifier
"""A schedule name: an identifier like a table's, safe as Meltano and Dagster schedule names."""

_RUNNER_KEY = re.compile(rb"(?m)^runner[ \t]*:")


class Schedule(_Strict):
    """One job run on a cron schedule."""

    name: ScheduleName = Field(description="Unique schedule name, e.g. stripe_hourly.")
    config: str = Field(
        description="The job file: 'configs/<tenant>/<job>.yaml' relative to the repository, or "
        "the same under '/app/' as inside the runner image."
    )
    cron: str = Field(
        description="Five-field cron expression, evaluated in UTC, e.g. '0 * * * *' (hourly)."
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem:
            raise ValueError(problem)
        return value


_ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"
_IMAGE = r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$"
_MEMORY = r"^[1-9][0-9]{0,5}(?:Mi|Gi)$"
_NETWORK = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Resources(_Strict):
    """Limits of one run's container."""

    cpu: float | None = Field(
        default=None, gt=0, le=64, description="CPUs per run, e.g. 0.5 or 2 (a limit)."
    )
    memory: str | None = Field(
        default=None,
        pattern=_MEMORY,
        description="Memory per run: a whole number of Mi or Gi, e.g. 512Mi or 2Gi (a limit).",
    )


class Launcher(_Strict):
    """Where a run runs: in the daemon's machine, or in a container of the runner image."""

    type: Literal["local", "docker", "k8s"] = Field(
        default="local",
        description="local: a process beside the daemon; docker: Dagster's DockerRunLauncher; "
        "k8s: Dagster's K8sRunLauncher (one Kubernetes Job per run).",
    )
    image: str | None = Field(
        default=None,
        pattern=_IMAGE,
        description="The runner image (our Dockerfile) runs start in; docker and k8s need it.",
    )
    env: list[str] = Field(
        default_factory=list,
        description="Platform variables every run gets, by name (values from the daemon's "
        "environment), e.g. AWS_REGION. Each tenant's runs also get its own <TENANT>__* variables, "
        "and nothing else of the daemon's environment.",
    )
    resources: Resources | None = Field(default=None, description="Limits of each run.")
    network: str | None = Field(
        default=None,
        pattern=_NETWORK,
        description="docker: the network each run's container joins, e.g. host (runs reach "
        "services on the daemon's loopback, such as the Dagster PostgreSQL) or a network's name.",
    )
    volumes: list[str] = Field(
        default_factory=list,
        description="docker: folders mounted into each run's container, as "
        "'<host folder>:<container folder>[:ro|rw]' (absolute paths), e.g. a shared lake.",
    )
    tenant_resources: dict[TenantId, Resources] = Field(
        default_factory=dict,
        description="Limits of one tenant's runs, by tenant id, in place of resources for that "
        "tenant's runs (a limit left out here is the resources one).",
    )
    namespace: str = Field(
        default="ingestgen",
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        description="k8s: the namespace of the run Jobs and of the objects rendered for them.",
    )

    @field_validator("env")
    @classmethod
    def _env(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(_ENV_NAME, name):
                raise ValueError(f"{excerpt(name)} is not a variable name (A-Z, 0-9, _)")
            if "__" in name:
                raise ValueError(
                    f"{excerpt(name)} looks like a tenant's variable (<TENANT>__NAME); those go "
                    "to their own tenant's runs only, never to every run"
                )
        return value

    def limits(self, tenant: str | None = None) -> Resources | None:
        """The limits of ``tenant``'s runs (of every run without a tenant): its own, else common."""
        own = self.tenant_resources.get(tenant) if tenant else None
        if own is None:
            return self.resources
        common = self.resources or Resources()
        return Resources(cpu=own.cpu or common.cpu, memory=own.memory or common.memory)

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, value: list[str]) -> list[str]:
        for volume in value:
            problem = volume_problem(volume)
            if problem:
                raise ValueError(problem)
        return value


def volume_problem(volume: str) -> str | None:
    """Why ``volume`` is not ``<host folder>:<container folder>[:ro|rw]``, or None."""
    parts = volume.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        return (
            f"{excerpt(volume)} is not '<host folder>:<container folder>[:ro|rw]', "
            "e.g. /srv/lake:/app/projects/acme/.lake"
        )
    for folder in parts[:2]:
        path = PurePosixPath(folder)
        if not path.is_absolute() or ".." in path.parts or "," in folder:
            return f"{excerpt(folder)} in {excerpt(volume)} is not an absolute folder without '..'"
    return None


DEFAULT_SHARDS = 4
"""Code locations by default: each one is a process of ~150 MB whatever its tenant count."""
MAX_SHARDS = 64


class Orchestrator(_Strict):
    """The bundled orchestrator and what it runs."""

    type: Literal["dagster"] = Field(description="Only dagster.")
    schedules: list[Schedule] = Field(
        default_factory=list, description="Jobs to run on a schedule."
    )
    concurrency_per_tenant: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Runs of one tenant allowed at once (Dagster's run queue holds the rest); "
        "other tenants are never blocked by it.",
    )
    launcher: Launcher = Field(
        default_factory=Launcher, description="Where runs run (local by default)."
    )
    shards: int = Field(
        default=DEFAULT_SHARDS,
        ge=1,
        le=MAX_SHARDS,
        description="Dagster code locations the tenants are spread over (by a hash of the tenant "
        "id, so adding a tenant never moves another); each is one process loading many tenants.",
    )


class Runner(_Strict):
    """How the runner runs jobs."""

    mode: Literal["oneshot", "orchestrated"] = Field(
        description="oneshot: run a job once and exit; orchestrated: Dagster runs the schedules."
    )
    orchestrator: Orchestrator | None = Field(
        default=None, description="Required with mode: orchestrated, refused with oneshot."
    )
    maintenance: Maintenance | None = Field(
        default=None,
        description="Table upkeep (`ingestgen maintain`): retention, orphan files, compaction, "
        "per tenant and per table, and per-tenant schedules.",
    )


class RunnerFile(_Strict):
    """A runner.yaml file."""

    runner: Runner = Field(description="The runner block.")


@dataclass(frozen=True)
class ScheduledJob:
    """A schedule with its job file resolved to a tenant and a Meltano job."""

    name: str
    cron: str
    tenant: str
    job: str
    """Job name: the job file's name without ``.yaml``, as in the tenant's meltano.yml."""
    config: str
    """Repository-relative path of the job file."""


@dataclass(frozen=True)
class RunnerConfig:
    """A validated runner.yaml."""

    display: str
    mode: str
    concurrency_per_tenant: int
    schedules: tuple[ScheduledJob, ...]
    maintenance: Maintenance | None = None
    shards: int = DEFAULT_SHARDS
    launcher: Launcher = field(default_factory=Launcher)

    @property
    def orchestrated(self) -> bool:
        """Dagster runs the schedules."""
        return self.mode == "orchestrated"

    @property
    def tenants(self) -> list[str]:
        """Tenants with at least one schedule (a job's or a maintenance one), sorted."""
        upkeep = self.maintenance.tenants.items() if self.maintenance else ()
        return sorted({s.tenant for s in self.schedules} | {t for t, m in upkeep if m.cron})

    def maintenance_cron(self, tenant: str) -> str | None:
        """When ``ingestgen maintain <tenant>`` runs (orchestrated mode), if ever."""
        own = self.maintenance.tenants.get(tenant) if self.maintenance else None
        return own.cron if own is not None and self.orchestrated else None

    def for_tenant(self, tenant: str) -> list[ScheduledJob]:
        """The tenant's schedules, by name."""
        return list(self._grouped.get(tenant, ()))

    def by_tenant(self) -> dict[str, list[ScheduledJob]]:
        """Every scheduled tenant's schedules, by name (tenants sorted)."""
        return {tenant: list(schedules) for tenant, schedules in self._grouped.items()}

    @cached_property
    def _grouped(self) -> dict[str, tuple[ScheduledJob, ...]]:
        # Grouped once: asking for each of a thousand tenants must not sort every schedule again.
        out: dict[str, list[ScheduledJob]] = {}
        for schedule in sorted(self.schedules, key=lambda s: (s.tenant, s.name)):
            out.setdefault(schedule.tenant, []).append(schedule)
        return {tenant: tuple(schedules) for tenant, schedules in out.items()}


def runner_files(root: Path) -> list[Path]:
    """Every ``runner.yaml`` under ``configs/``."""
    configs = root / "configs"
    return inside_configs(set(configs.rglob(RUNNER_FILE)), root) if configs.is_dir() else []


def is_runner_file(path: Path) -> bool:
    """Whether ``path`` is a runner config: by its name, ``runner.yaml``, or by its content."""
    if path.name == RUNNER_FILE:
        return True
    # A cheap look first, so that a job file is not parsed twice; a runner config this misses
    # (flow style) is read as a job, and load_job says what it is.
    try:
        with path.open("rb") as handle:
            head = handle.read(LIMITS.file_bytes)
    except OSError:
        return False
    if not _RUNNER_KEY.search(head):
        return False
    try:
        return is_runner_data(load_located(path).data)
    except ConfigError:
        return False  # read as a job, whose validation reports the problem


def find_runner(root: Path, loaded: Mapping[Path, JobFile] | None = None) -> RunnerConfig | None:
    """Load the repository's runner config, or None when there is none.

    ``loaded`` holds job files the caller already validated, by resolved path; others are read.

    Raises:
        ConfigError: more than one runner.yaml, or every problem of the one there is.
    """
    found = runner_files(root)
    if len(found) > 1:
        names = [display(p, root) for p in found]
        raise ConfigError(
            [
                Problem(
                    name,
                    0,
                    "",
                    f"one runner config per repository, found {len(names)}: " + ", ".join(names),
                    "merge their schedules into one runner.yaml",
                )
                for name in names[1:]
            ]
        )
    return load_runner(found[0], root, loaded) if found else None


def load_runner(
    path: Path, root: Path, loaded: Mapping[Path, JobFile] | None = None
) -> RunnerConfig:
    """Validate one runner file and resolve its schedules to tenant jobs.

    Raises:
        ConfigError: every problem found, located.
    """
    name = display(path, root)
    doc = load_located(path, name)
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [
                doc.problem(
                    (),
                    "a runner config must be a mapping of keys",
                    "start from configs/examples/runner.yaml",
                )
            ]
        )
    problems: list[Problem] = []
    parsed: Runner | None = None
    try:
        parsed = RunnerFile.model_validate(doc.data).runner
    except ValidationError as exc:
        problems += problems_from(exc, doc, RunnerFile)
    # Schedules are checked one by one, so a typo elsewhere never hides a missing job file.
    schedules = _schedules(_valid_schedules(doc.data), doc, root, problems, loaded or {})
    orchestrator = parsed.orchestrator if parsed else None
    if parsed is not None and parsed.mode == "orchestrated" and orchestrator is None:
        problems.append(
            doc.problem(
                ("runner", "orchestrator"),
                "required with mode: orchestrated",
                "add orchestrator: {type: dagster, schedules: [...]}",
            )
        )
    if parsed is not None and parsed.mode == "oneshot" and orchestrator is not None:
        problems.append(
            doc.problem(
                ("runner", "orchestrator"),
                "only used with mode: orchestrated",
                "set mode: orchestrated or remove the orchestrator block",
            )
        )
    problems += _maintenance_problems(doc, root)
    launcher = orchestrator.launcher if orchestrator else None
    if launcher is not None and launcher.type != "local" and launcher.image is None:
        problems.append(
            doc.problem(
                ("runner", "orchestrator", "launcher"),
                f"launcher type {launcher.type} needs the image runs start in",
                "add image: <the runner image built from our Dockerfile>",
            )
        )
    if launcher is not None and launcher.type == "local" and launcher.image is not None:
        problems.append(
            doc.problem(
                ("runner", "orchestrator", "launcher", "image"),
                "only used with launcher type docker or k8s (local runs use this environment)",
                "set type: docker or k8s, or remove image",
            )
        )
    if launcher is not None:
        problems += _launcher_problems(doc, launcher, root)
    if problems or parsed is None:
        raise ConfigError(problems)
    return RunnerConfig(
        display=name,
        mode=parsed.mode,
        concurrency_per_tenant=orchestrator.concurrency_per_tenant if orchestrator else 1,
        schedules=tuple(schedules),
        maintenance=parsed.maintenance,
        shards=orchestrator.shards if orchestrator else DEFAULT_SHARDS,
        launcher=orchestrator.launcher if orchestrator else Launcher(),
    )


def _launcher_problems(doc: Located, launcher: Launcher, root: Path) -> list[Problem]:
    """Settings of another launcher type, and tenant limits for tenants that have no job."""
    loc = ("runner", "orchestrator", "launcher")
    problems = [
        doc.problem(
            (*loc, key),
            f"only used with launcher type docker (here: {launcher.type})",
            f"set type: docker, or remove {key}",
        )
        for key, value in (("network", launcher.network), ("volumes", launcher.volumes))
        if value and launcher.type != "docker"
    ]
    if launcher.tenant_resources and launcher.type == "local":
        problems.append(
            doc.problem(
                (*loc, "tenant_resources"),
                "only used with launcher type docker or k8s (local runs have no limits)",
                "set type: docker or k8s, or remove tenant_resources",
            )
        )
    known = _job_tenants(root) if launcher.tenant_resources else set()
    for tenant in sorted(set(launcher.tenant_resources) - known):
        problems.append(
            doc.problem(
                (*loc, "tenant_resources", tenant),
                f"no tenant {tenant!r}: no job file under configs/ has tenant_id: {tenant}",
                "use the tenant_id of a job; known: " + (", ".join(sorted(known)) or "none"),
            )
        )
    return problems


def _maintenance_problems(doc: Located, root: Path) -> list[Problem]:
    """Tenants that have no job under configs/, and schedules without an orchestrator.

    Read from the document itself, so that they are found next to the model's own problems.
    """
    runner = doc.data.get("runner") if isinstance(doc.data, dict) else None
    runner = runner if isinstance(runner, dict) else {}
    block = runner.get("maintenance")
    tenants = block.get("tenants") if isinstance(block, dict) else None
    problems = []
    known = _job_tenants(root) if isinstance(tenants, dict) and tenants else set()
    for tenant, settings in (tenants if isinstance(tenants, dict) else {}).items():
        loc = ("runner", "maintenance", "tenants", str(tenant))
        if tenant_id_problem(str(tenant)) is not None:
            continue  # the model says why
        if tenant not in known:
            problems.append(
                doc.problem(
                    loc,
                    f"no tenant {tenant!r}: no job file under configs/ has tenant_id: {tenant}",
                    "use the tenant_id of a job; known: " + (", ".join(sorted(known)) or "none"),
                )
            )
        cron = settings.get("cron") if isinstance(settings, dict) else None
        # Only against a valid mode: an invalid one has its own problem.
        if cron is not None and runner.get("mode") == "oneshot":
            problems.append(
                doc.problem(
                    (*loc, "cron"),
                    "maintenance schedules need mode: orchestrated",
                    "set mode: orchestrated, or run `ingestgen maintain` yourself",
                )
            )
    return problems


def _job_tenants(root: Path) -> set[str]:
    # The tenant ids the job files name; each file is validated on its own elsewhere.
    found = set()
    for path in job_files(root):
        try:
            data = load_located(path).data
        except ConfigError:
            continue
        tenant = data.get("tenant_id") if isinstance(data, dict) else None
        if isinstance(tenant, str):
            found.add(tenant)
    return found


def config_relpath(config: str) -> PurePosixPath | str:
    """The repository-relative path of a scheduled job file, or an error message saying why not."""
    path = repo_relpath(config, "configs", "acme/deals_daily.yaml")
    if isinstance(path, PurePosixPath) and (path.suffix != ".yaml" or path.name == RUNNER_FILE):
        return "a schedule runs a job file: a .yaml file other than runner.yaml"
    return path


def _valid_schedules(data: object) -> list[tuple[int, Schedule]]:
    # The schedules that validate on their own; the others' problems come from the whole model.
    found = data
    for key in ("runner", "orchestrator", "schedules"):
        found = found.get(key) if isinstance(found, dict) else None
    out = []
    for index, item in enumerate(found if isinstance(found, list) else []):
        try:
            out.append((index, Schedule.model_validate(item)))
        except ValidationError:
            continue
    return out


def _schedules(
    valid: list[tuple[int, Schedule]],
    doc: Located,
    root: Path,
    problems: list[Problem],
    loaded: Mapping[Path, JobFile],
) -> list[ScheduledJob]:
    out: list[ScheduledJob] = []
    seen: dict[str, int] = {}
    configs = root.resolve() / "configs"
    for index, schedule in valid:
        loc = ("runner", "orchestrator", "schedules", index)
        if schedule.name in seen:
            problems.append(
                doc.problem(
                    (*loc, "name"),
                    f"the schedule {excerpt(schedule.name)} is "
                    f"already defined at schedules[{seen[schedule.name]}]",
                    "give every schedule its own name",
                )
            )
        seen.setdefault(schedule.name, index)
        rel = config_relpath(schedule.config)
        if isinstance(rel, str):
            problems.append(doc.problem((*loc, "config"), f"{excerpt(schedule.config)}: {rel}"))
            continue
        path = root / rel
        if not path.is_file():
            problems.append(
                doc.problem(
                    (*loc, "config"), f"{rel} does not exist", "create the job file or fix the path"
                )
            )
            continue
        real = resolved(path)
        if real is None or not real.is_relative_to(configs):
            problems.append(
                doc.problem(
                    (*loc, "config"),
                    f"{rel} is a symbolic link (or lies in a linked folder) leaving configs/",
                    "put the job file itself in configs/<tenant>/",
                )
            )
            continue
        try:
            job = loaded.get(real) or load_job(path, root)
        except ConfigError as exc:
            problems.append(
                doc.problem(
                    (*loc, "config"),
                    f"{rel} is not a valid job file",
                    f"run `ingestgen validate {rel}`",
                )
            )
            problems += exc.problems
            continue
        out.append(
            ScheduledJob(
                schedule.name, schedule.cron, job.config.tenant_id, job.name, rel.as_posix()
            )
        )
    return out


def maintenance_table_problems(
    runner: RunnerConfig, tables: dict[str, set[str]], root: Path
) -> list[Problem]:
    """Tables under ``maintenance.tenants.<t>.tables`` that none of ``t``'s jobs writes.

    Args:
        runner: the validated runner config.
        tables: per tenant, the tables its jobs write (quarantine tables included).
        root: the repository root (the runner config is read again for line numbers).
    """
    if runner.maintenance is None:
        return []
    doc: Located | None = None
    problems = []
    for tenant, settings in runner.maintenance.tenants.items():
        known = tables.get(tenant, set())
        for table in sorted(set(settings.tables) - known):
            doc = doc or load_located(root / runner.display, runner.display)
            problems.append(
                doc.problem(
                    ("runner", "maintenance", "tenants", tenant, "tables", table),
                    f"no job of tenant {tenant!r} writes a table {table!r}",
                    "tables of its jobs: " + (", ".join(sorted(known)) or "none"),
                )
            )
    return problems
