"""Render the runner config: Meltano ``schedules:`` per tenant and the Dagster workspace.

The workspace lives in ``projects/_dagster/`` (``_`` cannot start a tenant id): ``workspace.yaml``
with a bounded number of code locations (``shards``, the scheduled tenants spread over them by a
hash of the tenant id), per location a module ``shard_<k>.py`` and the tenants it builds
``shard_<k>.json`` (each tenant's jobs, their Meltano tasks and retry settings, and schedules), and
the instance settings ``dagster.yaml`` (the run queue's per-tenant limit). Nothing is rendered for
a repository without a runner config or with ``mode: oneshot``.

Returns files for `ingestgen.render.write` to write or check; never writes, never imports Dagster.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ingestgen.config.runner import RunnerConfig
from ingestgen.errors import IngestgenError
from ingestgen.registry.resolve import ResolvedJob
from ingestgen.render.jinja import environment
from ingestgen.render.project import RenderedFile

WORKSPACE_DIR = "projects/_dagster"
TEMPLATES = "dagster"
SHARD_PREFIX = "shard_"


def shard_of(tenant: str, shards: int) -> int:
    """The code location of a tenant: stable across renders, machines and other tenants."""
    return zlib.crc32(tenant.encode()) % shards


def shard_name(index: int) -> str:
    """A shard's code location name (and module name)."""
    return f"{SHARD_PREFIX}{index}"


def meltano_schedules(runner: RunnerConfig | None) -> dict[str, list[dict[str, str]]]:
    """Meltano ``schedules:`` entries per tenant: ``{name, job, interval}``."""
    if runner is None or not runner.orchestrated:
        return {}
    return {
        tenant: [{"name": s.name, "job": s.job, "interval": s.cron} for s in schedules]
        for tenant, schedules in runner.by_tenant().items()
    }


def tenant_jobs(resolved: Iterable[ResolvedJob]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each tenant's Meltano jobs as its project has them: tasks and execution settings."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for job in resolved:
        execution = (job.extractor.annotations or {}).get("ingestgen", {}).get("execution") or {}
        out.setdefault(job.tenant, {})[job.name] = {
            # One `meltano run` task per job, as in the project's jobs: section.
            "tasks": [f"{job.extractor.name} {job.loader.name}"],
            "retries": int(execution.get("retries") or 0),
            "retry_backoff_seconds": execution.get("retry_backoff_seconds"),
        }
    return out


def render_workspace(
    runner: RunnerConfig | None, root: Path, resolved: Iterable[ResolvedJob] = ()
) -> list[RenderedFile]:
    """``projects/_dagster/``: workspace, instance settings and the shards' modules and data."""
    if runner is None or not runner.orchestrated:
        return []
    env = environment(root / "templates")
    common = {"source": runner.display}
    jobs = tenant_jobs(resolved)
    shards: dict[int, dict[str, Any]] = {}
    for tenant, schedules in runner.by_tenant().items():
        shards.setdefault(shard_of(tenant, runner.shards), {})[tenant] = {
            "jobs": dict(sorted(jobs.get(tenant, {}).items())),
            "schedules": [{"name": s.name, "job": s.job, "cron": s.cron} for s in schedules],
        }
    names = {index: shard_name(index) for index in sorted(shards)}
    files = [
        RenderedFile(
            f"{WORKSPACE_DIR}/workspace.yaml",
            env.get_template(f"{TEMPLATES}/workspace.yaml.j2").render(
                **common, shards=list(names.values()), count=runner.shards
            ),
        ),
        RenderedFile(
            f"{WORKSPACE_DIR}/dagster.yaml",
            env.get_template(f"{TEMPLATES}/dagster.yaml.j2").render(
                **common, concurrency_per_tenant=runner.concurrency_per_tenant
            ),
        ),
    ]
    location = env.get_template(f"{TEMPLATES}/location.py.j2")
    for index, name in names.items():
        tenants = dict(sorted(shards[index].items()))
        files.append(
            RenderedFile(
                f"{WORKSPACE_DIR}/{name}.py",
                location.render(**common, shard=name),
            )
        )
        data = {"source": runner.display, "shard": name, "tenants": tenants}
        files.append(
            RenderedFile(f"{WORKSPACE_DIR}/{name}.json", json.dumps(data, indent=1) + "\n")
        )
    for item in files:
        _parse_back(item)
    return files


def _parse_back(item: RenderedFile) -> None:
    # A template bug must never reach disk: every file is parsed back before anyone writes it.
    try:
        if item.path.endswith(".py"):
            compile(item.text, item.path, "exec")
        elif item.path.endswith(".json"):
            json.loads(item.text)
        else:
            data = yaml.safe_load(item.text)
            if not isinstance(data, dict):
                raise ValueError("not a mapping")
    except (SyntaxError, ValueError, yaml.YAMLError) as exc:
        raise IngestgenError(f"{item.path} does not parse back (a template bug): {exc}") from None
