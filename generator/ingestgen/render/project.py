"""Build one Meltano project per tenant from its resolved jobs.

Output is byte-for-byte deterministic: jobs, plugins and keys are emitted in a fixed order and the
project id is derived from the tenant id. The rendered text is parsed back (`structure`: the parts
tenants share are parsed once) and validated against Meltano's schema before anyone can write it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestgen.registry.load import LoadedRegistry
from ingestgen.registry.resolve import ResolvedJob
from ingestgen.render.jinja import environment
from ingestgen.render.meltano_schema import validate_meltano_yml
from ingestgen.render.parallel import map_slices
from ingestgen.render.structure import render_parsed

TEMPLATE = "meltano.yml.j2"
# Fixed so a tenant's project id never changes between renders or machines.
_PROJECT_NS = uuid.UUID("6f1f8a2e-6a43-4f0c-9a55-0c5b1f3f4e21")


@dataclass(frozen=True)
class RenderedFile:
    """A file of a rendered project: repository-relative path and text."""

    path: str
    text: str


def render_projects(
    resolved: list[ResolvedJob],
    loaded: LoadedRegistry,
    root: Path,
    schedules: Mapping[str, list[dict[str, str]]] | None = None,
) -> list[RenderedFile]:
    """Render ``projects/<tenant>/meltano.yml`` for every tenant among ``resolved``.

    ``schedules`` holds Meltano ``schedules:`` entries per tenant (from the runner config).
    """
    tenants: dict[str, list[ResolvedJob]] = {}
    for job in resolved:
        tenants.setdefault(job.tenant, []).append(job)
    template = environment(root / "templates").get_template(TEMPLATE)

    def render_slice(names: Sequence[str]) -> list[RenderedFile]:
        files = []
        for tenant in names:
            jobs = sorted(tenants[tenant], key=lambda j: j.name)
            name = f"projects/{tenant}/meltano.yml"
            context = _context(tenant, jobs, loaded)
            context["schedules"] = (schedules or {}).get(tenant, [])
            text, data = render_parsed(lambda: template.render(**context))  # noqa: B023
            validate_meltano_yml(data, name)
            files.append(RenderedFile(name, text))
        return files

    # Tenants are independent: rendered on every core, in tenant order.
    return [f for files in map_slices(render_slice, sorted(tenants)) for f in files]


def _context(tenant: str, jobs: list[ResolvedJob], loaded: LoadedRegistry) -> dict[str, Any]:
    plugins = loaded.registry.plugins
    bases = sorted(
        {j.extractor.base for j in jobs}
        | {j.loader.base for j in jobs}
        | {j.mapper.base for j in jobs if j.mapper}
    )
    base_defs = [{"name": n, **plugins[n].model_dump(exclude_none=True)} for n in bases]
    for plugin in base_defs:
        plugin["settings"] = [
            {k: v for k, v in s.items() if v is not None} for s in plugin["settings"]
        ]
    return {
        "tenant": tenant,
        "project_id": str(uuid.uuid5(_PROJECT_NS, tenant)),
        "sources": [j.job.display for j in jobs],
        "extractors": [p for p in base_defs if p["type"] == "extractor"],
        "loaders": [p for p in base_defs if p["type"] == "loader"],
        "mappers": [p for p in base_defs if p["type"] == "mapper"],
        "project_env": dict(sorted({k: v for j in jobs for k, v in j.loader.env.items()}.items())),
        "jobs": jobs,
    }
