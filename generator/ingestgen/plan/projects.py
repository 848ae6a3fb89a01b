"""Which rendered files change, and what changes in them: jobs, plugins, schedules, locations.

Terraform's marks: ``+`` created, ``-`` deleted, ``~`` updated. Project files are compared through
the typed project view; the Dagster workspace by its files (a location module and its data per
shard of tenants).
Whatever the view does not model shows as "other project settings" (``--diff`` has every line).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from ingestgen.meltano.project import Plugin, PluginEntry, Project
from ingestgen.plan.sides import Side
from ingestgen.render.workspace import WORKSPACE_DIR

Action = Literal["create", "update", "delete"]
MARK = {"create": "+", "update": "~", "delete": "-"}


@dataclass(frozen=True)
class FileChange:
    """One rendered file that the change creates, updates or deletes."""

    path: str
    action: Action
    details: tuple[str, ...]
    """What changes inside, one line each, starting with its mark."""


def file_changes(before: Side, after: Side) -> list[FileChange]:
    """Every rendered file that differs between the sides, in path order."""
    changes = []
    for path in sorted(set(before.files) | set(after.files)):
        old, new = before.files.get(path), after.files.get(path)
        if old == new:
            continue
        action: Action = "create" if old is None else "delete" if new is None else "update"
        if path.startswith(f"{WORKSPACE_DIR}/"):
            details = _workspace(path, action)
        else:
            tenant = path.split("/")[1]
            details = _project(before.projects.get(tenant), after.projects.get(tenant), action)
        changes.append(FileChange(path, action, tuple(details)))
    return changes


def unified_diff(before: Side, after: Side) -> str:
    """The unified diff of every changed rendered file (``a/`` the base, ``b/`` the render)."""
    out: list[str] = []
    for path in sorted(set(before.files) | set(after.files)):
        old, new = before.files.get(path), after.files.get(path)
        if old == new:
            continue
        out += difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=f"a/{path}" if old is not None else "/dev/null",
            tofile=f"b/{path}" if new is not None else "/dev/null",
        )
    return "".join(out)


def _workspace(path: str, action: Action) -> list[str]:
    name = path.removeprefix(f"{WORKSPACE_DIR}/")
    if name.endswith(".py"):
        what = {"create": "added", "delete": "removed", "update": "module changed"}[action]
        return [f"{MARK[action]} Dagster code location {name.removesuffix('.py')}: {what}"]
    if name.endswith(".json"):
        what = {"create": "added", "delete": "removed", "update": "changed"}[action]
        shard = name.removesuffix(".json")
        return [f"{MARK[action]} Dagster {shard}: its tenants' jobs and schedules {what}"]
    if name == "workspace.yaml":
        return [f"{MARK[action]} Dagster workspace: the list of code locations"]
    if name == "dagster.yaml":
        return [f"{MARK[action]} Dagster instance settings: run queue, concurrency per tenant"]
    return [f"{MARK[action]} {name}"]


def _project(old: Project | str | None, new: Project | str | None, action: Action) -> list[str]:
    if isinstance(old, str) or isinstance(new, str):
        why = old if isinstance(old, str) else new
        return [f"~ the project cannot be compared job by job ({why}); see --diff"]
    if action != "update" or old is None or new is None:
        project = new or old
        assert project is not None
        mark = MARK[action]
        return [f"{mark} job {name}" for name in sorted(project.jobs)] + [
            f"{mark} schedule {s.name}" for s in project.schedules
        ]
    lines = _jobs(old, new) + _base_plugins(old, new) + _schedules(old, new)
    return lines or ["~ other project settings (see --diff)"]


def _jobs(old: Project, new: Project) -> list[str]:
    lines = []
    for name in sorted(set(old.jobs) | set(new.jobs)):
        before, after = old.jobs.get(name), new.jobs.get(name)
        if before is None and after is not None:
            lines.append(f"+ job {name}: {after.extractor.name} -> {after.loader.name}")
        elif after is None and before is not None:
            lines.append(f"- job {name}: {before.extractor.name} -> {before.loader.name}")
        elif before is not None and after is not None:
            parts = [
                part
                for role, a, b in (
                    ("extractor", before.extractor, after.extractor),
                    ("loader", before.loader, after.loader),
                )
                if (part := _plugin_change(role, a, b))
            ]
            if parts:
                lines.append(f"~ job {name}: " + "; ".join(parts))
    return lines


def _plugin_change(role: str, old: Plugin, new: Plugin) -> str:
    if old.name != new.name:
        return f"{role} {old.name} -> {new.name}"
    keys = _changed_keys(old.config, new.config)
    keys += [k for k in ("select",) if old.chain[0].select != new.chain[0].select]
    if old.annotation != new.annotation:
        keys.append("execution settings")
    return f"{role} {new.name} ({', '.join(keys)})" if keys else ""


def _base_plugins(old: Project, new: Project) -> list[str]:
    def bases(project: Project) -> dict[str, PluginEntry]:
        return {p.name: p.chain[0] for p in project.plugins.values() if len(p.chain) == 1}

    before, after = bases(old), bases(new)
    lines = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None:
            lines.append(f"+ plugin {name}")
        elif b is None:
            lines.append(f"- plugin {name}")
        elif a != b:
            keys = _changed_keys(a.model_dump(), b.model_dump())
            lines.append(f"~ plugin {name} ({', '.join(keys)})")
    return lines


def _schedules(old: Project, new: Project) -> list[str]:
    before = {s.name: s for s in old.schedules}
    after = {s.name: s for s in new.schedules}
    lines = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None and b is not None:
            lines.append(f"+ schedule {name}: job {b.job} at {b.interval!r}")
        elif b is None and a is not None:
            lines.append(f"- schedule {name}: job {a.job} at {a.interval!r}")
        elif a is not None and b is not None and a != b:
            lines.append(
                f"~ schedule {name}: job {a.job} at {a.interval!r} -> job {b.job} at {b.interval!r}"
            )
    return lines


def _changed_keys(old: dict[str, object], new: dict[str, object]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
