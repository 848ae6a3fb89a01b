"""Put a plan together: render the working tree, read the base, compare.

What "before the change lands" means here: the base is a git revision (``HEAD`` by default; in a
pull request's CI, the target branch or the merge base) and stands for what is deployed: its
committed ``projects/`` and the specs they name. The change is the working tree's job files,
specs, registry, templates and runner config, rendered afresh exactly as ``ingestgen render``
would. Whether the working tree's ``projects/`` were rendered already does not matter (they are
listed as ``unrendered`` when they differ from the fresh render; ``render --check`` is the gate).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingestgen.errors import ExitCode
from ingestgen.plan.projects import FileChange, file_changes, unified_diff
from ingestgen.plan.sides import base_side, working_side
from ingestgen.plan.state import StateChange, incremental_keys, state_changes
from ingestgen.plan.tables import TablePlan, table_plans
from ingestgen.registry.load import load_registry
from ingestgen.render import repository
from ingestgen.render.write import apply


@dataclass(frozen=True)
class Plan:
    """What the change does (see the module docstring)."""

    base: str
    """The revision as given."""
    commit: str
    """The commit it names."""
    files: list[FileChange]
    tables: list[TablePlan]
    state: list[StateChange]
    diff: str
    unrendered: list[str] = field(default_factory=list)
    """Working-tree files under ``projects/`` that differ from the fresh render."""

    @property
    def refused(self) -> bool:
        """True if the next run of some job would fail on a table change."""
        return any(t.verdict == "refused" for t in self.tables)

    @property
    def changed(self) -> bool:
        """True if anything changes at all."""
        return bool(self.files or self.state or any(t.items for t in self.tables))

    @property
    def exit_code(self) -> ExitCode:
        """0 nothing changes, 1 every change is allowed, 2 some change is refused."""
        if self.refused:
            return ExitCode.INVALID
        return ExitCode.PARTIAL if self.changed else ExitCode.OK


def make_plan(
    root: Path,
    selected: list[Path] | None = None,
    *,
    base: str = "HEAD",
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Plan the working tree's change against ``base``.

    Args:
        root: the repository root.
        selected: job files or folders; their tenants only (default: every tenant).
        base: the git revision to compare with.
        environ: where catalog settings' ``${VAR}`` references are read (default ``os.environ``).

    Raises:
        ConfigError: the working tree's configuration is invalid (every problem, located).
        UserError: not a git work tree, or ``base`` names no commit.
    """
    env = os.environ if environ is None else environ
    files = repository.rendered(root, selected)
    tenants = {f.path.split("/")[1] for f in files if f.path.endswith("/meltano.yml")}
    with tempfile.TemporaryDirectory(prefix="ingestgen-plan-") as tmp:
        before, commit = base_side(root, base, Path(tmp) / "base", tenants if selected else None)
        after = working_side(files, root, Path(tmp) / "after")
        incremental = incremental_keys(load_registry(root).registry)
        unrendered = apply(files, root, check=True, tenants_all=not selected).drifted
        return Plan(
            base=base,
            commit=commit,
            files=file_changes(before, after),
            tables=table_plans(before, after, root, env),
            state=state_changes(before, after, incremental),
            diff=unified_diff(before, after),
            unrendered=unrendered,
        )
