"""Run launchers: Dagster's own, with each run's environment narrowed to its tenant.

``DockerRunLauncher`` (dagster-docker) gives every run the same ``env_vars``, pulled from the
daemon's environment by name. `TenantDockerRunLauncher` adds, for a run tagged ``tenant=<id>``,
the names of the daemon's variables of that tenant only (``<TENANT>__*``, the names job files
may reference), so a container sees the platform variables the runner config lists, its own
tenant's secrets, and nothing else of the daemon's environment. Everything else (image,
container creation, monitoring, termination) is dagster-docker's.

K8sRunLauncher needs no subclass: each tenant's jobs carry a ``dagster-k8s/config`` tag naming
that tenant's Secret (rendered by `ingestgen.render.workspace`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ingestgen.config.envrefs import variable_prefix
from ingestgen.errors import UserError
from ingestgen.orchestrate import TENANT_TAG

try:
    from dagster import Field, Permissive
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster_docker import DockerRunLauncher
    from dagster_docker.container_context import (
        DockerContainerContext,
    )
    from dagster_docker.utils import DOCKER_CONFIG_SCHEMA
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise UserError(
        f"launcher type docker needs dagster-docker ({exc}); install it with: "
        "pip install 'ingestgen[containers]'"
    ) from None


def tenant_variables(tenant: str, environ: dict[str, str] | None = None) -> list[str]:
    """Names of the variables of ``tenant`` in ``environ`` (the process environment by default)."""
    prefix = variable_prefix(tenant)
    return sorted(
        name for name in (os.environ if environ is None else environ) if name.startswith(prefix)
    )


class TenantDockerRunLauncher(DockerRunLauncher):
    """dagster-docker's launcher, with each run's own tenant's variables and limits.

    A run gets its tenant's variables by name, and its tenant's container limits when the runner
    config gives that tenant its own. The limits live in the instance settings
    (``tenant_container_kwargs``), not in run tags: whoever launches a run can set its tags, only
    the platform sets the instance.
    """

    def __init__(
        self,
        tenant_container_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        **config: Any,
    ) -> None:
        """The launcher of ``config`` (DockerRunLauncher's), plus limits by tenant id."""
        self.tenant_container_kwargs = dict(tenant_container_kwargs or {})
        super().__init__(**config)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        """DockerRunLauncher's settings and ``tenant_container_kwargs``."""
        return {
            **DOCKER_CONFIG_SCHEMA,
            "tenant_container_kwargs": Field(
                Permissive(),  # type: ignore[no-untyped-call]
                is_required=False,
                description="By tenant id: container_kwargs (nano_cpus, mem_limit) of its runs, "
                "in place of the common ones.",
            ),
        }

    def get_container_context(self, dagster_run: DagsterRun) -> DockerContainerContext:
        """The launcher's context plus the run's tenant's variables (names) and limits."""
        context = super().get_container_context(dagster_run)
        tenant = dagster_run.tags.get(TENANT_TAG)
        if not tenant:
            return context
        own = DockerContainerContext(
            env_vars=tenant_variables(tenant),
            container_kwargs=dict(self.tenant_container_kwargs.get(tenant) or {}),
        )
        merged: DockerContainerContext = context.merge(own)
        return merged
