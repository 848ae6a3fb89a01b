"""Render the runner config: Meltano ``schedules:`` per tenant and the Dagster workspace.

The workspace lives in ``projects/_dagster/`` (``_`` cannot start a tenant id): ``workspace.yaml``
with one code location per scheduled tenant, one ``<tenant>.py`` module per location, and the
instance settings ``dagster.yaml`` (the run queue's per-tenant limit). Nothing is rendered for a
repository without a runner config or with ``mode: oneshot``.

Returns files for `ingestgen.render.write` to write or check; never writes, never imports Dagster.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ingestgen.config.runner import RunnerConfig
from ingestgen.errors import IngestgenError
from ingestgen.render.jinja import environment
from ingestgen.render.project import RenderedFile

WORKSPACE_DIR = "projects/_dagster"
TEMPLATES = "dagster"


def meltano_schedules(runner: RunnerConfig | None) -> dict[str, list[dict[str, str]]]:
    """Meltano ``schedules:`` entries per tenant: ``{name, job, interval}``."""
    if runner is None or not runner.orchestrated:
        return {}
    return {
        tenant: [
            {"name": s.name, "job": s.job, "interval": s.cron} for s in runner.for_tenant(tenant)
        ]
        for tenant in sorted({s.tenant for s in runner.schedules})
    }


def render_workspace(runner: RunnerConfig | None, root: Path) -> list[RenderedFile]:
    """``projects/_dagster/``: workspace, instance settings and one location module per tenant."""
    if runner is None or not runner.orchestrated:
        return []
    env = environment(root / "templates")
    common = {"source": runner.display}
    files = [
        RenderedFile(
            f"{WORKSPACE_DIR}/workspace.yaml",
            env.get_template(f"{TEMPLATES}/workspace.yaml.j2").render(
                **common, tenants=runner.tenants
            ),
        ),
        RenderedFile(
            f"{WORKSPACE_DIR}/dagster.yaml",
            env.get_template(f"{TEMPLATES}/dagster.yaml.j2").render(
                **common, concurrency_per_tenant=runner.concurrency_per_tenant
            ),
        ),
    ]
    files += [
        RenderedFile(
            f"{WORKSPACE_DIR}/{tenant}.py",
            env.get_template(f"{TEMPLATES}/location.py.j2").render(
                **common, tenant=tenant, maintenance_cron=runner.maintenance_cron(tenant)
            ),
        )
        for tenant in runner.tenants
    ]
    for item in files:
        _parse_back(item)
    return files


def _parse_back(item: RenderedFile) -> None:
    # A template bug must never reach disk: every file is parsed back before anyone writes it.
    try:
        if item.path.endswith(".py"):
            compile(item.text, item.path, "exec")
        else:
            data = yaml.safe_load(item.text)
            if not isinstance(data, dict):
                raise ValueError("not a mapping")
    except (SyntaxError, ValueError, yaml.YAMLError) as exc:
        raise IngestgenError(f"{item.path} does not parse back (a template bug): {exc}") from None
