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

from ingestgen.config.runner import Launcher, Resources, RunnerConfig
from ingestgen.errors import IngestgenError
from ingestgen.registry.resolve import ResolvedJob
from ingestgen.render.jinja import environment
from ingestgen.render.project import RenderedFile

WORKSPACE_DIR = "projects/_dagster"
TEMPLATES = "dagster"
SHARD_PREFIX = "shard_"
PG_VARIABLES = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
)
K8S_CONFIG_TAG = "dagster-k8s/config"
K8S_SERVICE_ACCOUNT = "ingestgen-runs"
K8S_INSTANCE_MAP = "ingestgen-dagster-instance"
DAGSTER_HOME_IN_IMAGE = "/opt/dagster/home"


def tenant_secret(tenant: str) -> str:
    """The Kubernetes Secret holding a tenant's variables (``<TENANT>__*``) for its runs."""
    return f"ingestgen-tenant-{tenant.replace('_', '-')}"


def run_launcher(launcher: Launcher) -> dict[str, Any]:
    """The ``run_launcher`` block of the Dagster instance for a docker or k8s launcher."""
    env = [*launcher.env, *PG_VARIABLES]
    limits = launcher.resources
    if launcher.type == "docker":
        kwargs = docker_limits(limits)
        if launcher.volumes:
            kwargs["volumes"] = list(launcher.volumes)
        config: dict[str, Any] = {"image": launcher.image, "env_vars": env}
        if launcher.network:
            config["network"] = launcher.network
        if kwargs:
            config["container_kwargs"] = kwargs
        if launcher.tenant_resources:
            config["tenant_container_kwargs"] = {
                tenant: docker_limits(launcher.limits(tenant))
                for tenant in sorted(launcher.tenant_resources)
            }
        return {
            "module": "ingestgen.orchestrate.launchers",
            "class": "TenantDockerRunLauncher",
            "config": config,
        }
    config = {
        "job_image": launcher.image,
        "job_namespace": launcher.namespace,
        "service_account_name": K8S_SERVICE_ACCOUNT,
        "instance_config_map": K8S_INSTANCE_MAP,
        "dagster_home": DAGSTER_HOME_IN_IMAGE,
        "load_incluster_config": True,
        "image_pull_policy": "IfNotPresent",
        "env_vars": env,
    }
    if limits and (limits.cpu or limits.memory):
        values = {
            k: v for k, v in (("cpu", _cpu(limits.cpu)), ("memory", limits.memory)) if v is not None
        }
        config["resources"] = {"limits": values, "requests": values}
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def docker_limits(limits: Resources | None) -> dict[str, Any]:
    """docker-py's ``containers.create`` arguments for ``limits``: ``nano_cpus``, ``mem_limit``."""
    kwargs: dict[str, Any] = {}
    if limits and limits.cpu:
        kwargs["nano_cpus"] = int(limits.cpu * 1_000_000_000)
    if limits and limits.memory:
        kwargs["mem_limit"] = limits.memory.replace("Mi", "m").replace("Gi", "g")
    return kwargs


def _cpu(cpu: float | None) -> str | None:
    return None if cpu is None else f"{round(cpu * 1000)}m"


def tenant_tags(tenant: str, launcher: Launcher) -> dict[str, str]:
    """Tags of a tenant's jobs for its launcher: k8s runs read the tenant's own Secret."""
    if launcher.type != "k8s":
        return {}
    container: dict[str, Any] = {
        "env_from": [{"secret_ref": {"name": tenant_secret(tenant), "optional": True}}]
    }
    own = launcher.limits(tenant) if tenant in launcher.tenant_resources else None
    if own is not None:
        values = {k: v for k, v in (("cpu", _cpu(own.cpu)), ("memory", own.memory)) if v}
        container["resources"] = {"limits": values, "requests": values}
    config = {"container_config": container}
    return {K8S_CONFIG_TAG: json.dumps(config, sort_keys=True)}


def k8s_objects(runner: RunnerConfig, instance: str) -> list[dict[str, Any]]:
    """What a user applies for the k8s launcher: the runs' account, its rights, the instance.

    The instance settings go in a ConfigMap; tenants' Secrets hold secrets and are never rendered.
    """
    ns = runner.launcher.namespace
    meta = {"namespace": ns, "labels": {"app.kubernetes.io/managed-by": "ingestgen"}}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": K8S_SERVICE_ACCOUNT, **meta},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": K8S_SERVICE_ACCOUNT, **meta},
            "rules": [
                {
                    "apiGroups": ["batch"],
                    "resources": ["jobs", "jobs/status"],
                    "verbs": ["create", "delete", "get", "list", "watch"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["pods", "pods/log", "pods/status"],
                    "verbs": ["get", "list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": K8S_SERVICE_ACCOUNT, **meta},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": K8S_SERVICE_ACCOUNT,
            },
            "subjects": [{"kind": "ServiceAccount", "name": K8S_SERVICE_ACCOUNT, "namespace": ns}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": K8S_INSTANCE_MAP, **meta},
            "data": {"dagster.yaml": instance},
        },
    ]


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
    for tenant in runner.tenants:
        shards.setdefault(shard_of(tenant, runner.shards), {})[tenant] = {
            "jobs": dict(sorted(jobs.get(tenant, {}).items())),
            "schedules": [
                {"name": s.name, "job": s.job, "cron": s.cron} for s in runner.for_tenant(tenant)
            ],
            "maintenance_cron": runner.maintenance_cron(tenant),
            "tags": tenant_tags(tenant, runner.launcher),
        }
    names = {index: shard_name(index) for index in sorted(shards)}
    files = [
        RenderedFile(
            f"{WORKSPACE_DIR}/workspace.yaml",
            env.get_template(f"{TEMPLATES}/workspace.yaml.j2").render(
                **common, shards=list(names.values()), count=runner.shards
            ),
        ),
    ]
    launcher = runner.launcher
    instance = env.get_template(f"{TEMPLATES}/dagster.yaml.j2").render(
        **common,
        concurrency_per_tenant=runner.concurrency_per_tenant,
        launcher=launcher,
        run_launcher=run_launcher(launcher) if launcher.type != "local" else {},
    )
    files.append(RenderedFile(f"{WORKSPACE_DIR}/dagster.yaml", instance))
    if launcher.type == "k8s":
        head = (
            f"# Generated by ingestgen from {runner.display}.\n"
            "# Do not edit: change the runner config and run `ingestgen render`. Apply with\n"
            "# kubectl apply -f; each tenant's variables go in its own Secret (never rendered):\n"
            "# kubectl -n <namespace> create secret generic ingestgen-tenant-<tenant> \\\n"
            "#   --from-env-file=<that tenant's <TENANT>__* variables>\n"
        )
        body = yaml.safe_dump_all(k8s_objects(runner, instance), sort_keys=False, width=100)
        files.append(RenderedFile(f"{WORKSPACE_DIR}/k8s.yaml", head + body))
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
            docs = list(yaml.safe_load_all(item.text))
            if not docs or not all(isinstance(d, dict) for d in docs):
                raise ValueError("not a mapping")
    except (SyntaxError, ValueError, yaml.YAMLError) as exc:
        raise IngestgenError(f"{item.path} does not parse back (a template bug): {exc}") from None
