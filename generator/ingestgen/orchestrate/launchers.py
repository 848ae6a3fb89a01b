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

from ingestgen.config.envrefs import variable_prefix
from ingestgen.errors import UserError

try:
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster_docker import DockerRunLauncher
    from dagster_docker.container_context import (
        DockerContainerContext,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise UserError(
        f"launcher type docker needs dagster-docker ({exc}); install it with: "
        "pip install 'ingestgen[containers]'"
    ) from None

TENANT_TAG = "tenant"


def tenant_variables(tenant: str, environ: dict[str, str] | None = None) -> list[str]:
    """Names of the variables of ``tenant`` in ``environ`` (the process environment by default)."""
    prefix = variable_prefix(tenant)
    return sorted(
        name for name in (os.environ if environ is None else environ) if name.startswith(prefix)
    )


class TenantDockerRunLauncher(DockerRunLauncher):
    """dagster-docker's launcher; a run also gets its own tenant's variables, by name."""

    def get_container_context(self, dagster_run: DagsterRun) -> DockerContainerContext:
        """The launcher's context plus the names of the run's tenant's variables."""
        context = super().get_container_context(dagster_run)
        tenant = dagster_run.tags.get(TENANT_TAG)
        if not tenant:
            return context
        merged: DockerContainerContext = context.merge(
            DockerContainerContext(env_vars=tenant_variables(tenant))
        )
        return merged
