"""Jobs whose incremental state a change invalidates.

Meltano keeps a job's state under ``<environment>:<extractor>-to-<loader>``, the extractor and
loader being the job's own plugins (``tap-x--<job>``), and inside it one bookmark per stream. So a
renamed job starts from an empty state (the old one stays unused), a changed extractor plugin
cannot read the old bookmarks, a renamed stream has no bookmark, a stream moved to another table
keeps its bookmark (the new table only gets newer records), and changed incremental settings
meet a bookmark written under the old ones. Each finding names the Meltano command that fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestgen.meltano.project import Job, Project
from ingestgen.plan.sides import Side, loader_tables
from ingestgen.registry.models import Registry


@dataclass(frozen=True)
class StateChange:
    """One job whose state no longer fits."""

    tenant: str
    job: str
    state_id: str
    """The state id the job uses after the change."""
    kind: str
    """renamed_job, removed_job, new_extractor, renamed_stream, new_stream, removed_stream,
    moved_stream or incremental."""
    text: str


def incremental_keys(registry: Registry) -> dict[str, set[str]]:
    """Per registry plugin, the config keys that the registry fills from ``incremental.*``."""
    keys: dict[str, set[str]] = {}
    for source in registry.sources.values():
        for binding in source.engines.values():
            for key, value in binding.config.items():
                if "{incremental." in str(value):
                    keys.setdefault(binding.plugin, set()).add(key)
    return keys


def state_changes(before: Side, after: Side, incremental: dict[str, set[str]]) -> list[StateChange]:
    """What the change does to every job's state, tenant by tenant."""
    changes: list[StateChange] = []
    for tenant in sorted(set(before.projects) | set(after.projects)):
        old, new = before.projects.get(tenant), after.projects.get(tenant)
        old_jobs = old.jobs if isinstance(old, Project) else {}
        new_jobs = new.jobs if isinstance(new, Project) else {}
        env = new.default_environment if isinstance(new, Project) else "dev"
        old_env = old.default_environment if isinstance(old, Project) else env
        gone = {n: j for n, j in old_jobs.items() if n not in new_jobs}
        for name, job in sorted(new_jobs.items()):
            state_id = job.state_id(env)
            if name in old_jobs:
                changes += _same_job(tenant, old_jobs[name], job, old_env, env, incremental)
                continue
            twin = next((o for o in gone.values() if _tables(o) == _tables(job)), None)
            if twin is not None:
                del gone[twin.name]
                old_id = twin.state_id(old_env)
                changes.append(
                    StateChange(
                        tenant,
                        name,
                        state_id,
                        "renamed_job",
                        f"job {twin.name} renamed to {name}: its state {old_id} is not "
                        f"{state_id}, so the first run reads everything again; to resume "
                        f"instead: `meltano state move {old_id} {state_id}` in projects/{tenant}",
                    )
                )
        for name, job in sorted(gone.items()):
            old_id = job.state_id(old_env)
            changes.append(
                StateChange(
                    tenant,
                    name,
                    old_id,
                    "removed_job",
                    f"job {name} removed: its state {old_id} is no longer used "
                    f"(`meltano state clear {old_id}` in projects/{tenant} removes it)",
                )
            )
    return changes


def _tables(job: Job) -> set[tuple[str, str]]:
    return {(r.catalog, r.table) for r in loader_tables("", job.name, job.contract.config)}


def _streams(job: Job) -> dict[str, str]:
    return {r.stream: r.table for r in loader_tables("", job.name, job.contract.config)}


def _same_job(
    tenant: str,
    old: Job,
    new: Job,
    old_env: str,
    env: str,
    incremental: dict[str, set[str]],
) -> list[StateChange]:
    state_id, old_id = new.state_id(env), old.state_id(old_env)

    def change(kind: str, text: str) -> StateChange:
        return StateChange(tenant, new.name, state_id, kind, text)

    if old.extractor.base != new.extractor.base:
        return [
            change(
                "new_extractor",
                f"job {new.name} now extracts with {new.extractor.base} (was "
                f"{old.extractor.base}): the state {state_id} starts empty and the first run "
                f"reads everything again ({old_id}'s bookmarks do not fit the new plugin)",
            )
        ]
    out = []
    if old_id != state_id:
        out.append(
            change(
                "renamed_job",
                f"job {new.name}'s state id changes from {old_id} to {state_id}: to resume "
                f"`meltano state move {old_id} {state_id}` in projects/{tenant}",
            )
        )
    before, after = _streams(old), _streams(new)
    removed = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    if len(removed) == 1 and len(added) == 1:
        out.append(
            change(
                "renamed_stream",
                f"stream {removed[0]} of job {new.name} renamed to {added[0]}: {added[0]} has "
                f"no bookmark in {state_id}, so its first run reads all of it",
            )
        )
    else:
        out += [
            change("new_stream", f"stream {s} is new in job {new.name}: its first run reads it all")
            for s in added
        ]
        out += [
            change(
                "removed_stream",
                f"stream {s} left job {new.name}: its bookmark stays unused in {state_id}",
            )
            for s in removed
        ]
    for stream in sorted(set(before) & set(after)):
        if before[stream] != after[stream]:
            out.append(
                change(
                    "moved_stream",
                    f"stream {stream} of job {new.name} now lands in {after[stream]} (was "
                    f"{before[stream]}) but keeps its bookmark: {after[stream]} only gets newer "
                    f"records; for a full load `meltano state clear {state_id}` in "
                    f"projects/{tenant} first",
                )
            )
    keys = sorted(
        k
        for k in incremental.get(new.extractor.base, set())
        if old.extractor.config.get(k) != new.extractor.config.get(k)
    )
    if keys:
        shown = ", ".join(
            f"{k}: {old.extractor.config.get(k)!r} -> {new.extractor.config.get(k)!r}" for k in keys
        )
        out.append(
            change(
                "incremental",
                f"job {new.name}'s incremental settings change ({shown}) but {state_id} keeps "
                f"the bookmarks written under the old ones; for a full reload `meltano state "
                f"clear {state_id}` in projects/{tenant}",
            )
        )
    return out
