"""``ingestgen plan``: what a change to job files, specs, the registry or the runner config does.

The working tree is rendered afresh and compared with a git revision (the base, ``HEAD`` by
default): `sides` holds both, `projects` says which rendered files, jobs, plugins, schedules and
Dagster locations change, `tables` the schema change each changed spec implies for its live table
(decided by target-iceberg's own evolution planner), `state` which jobs lose their incremental
state, and `build` puts the plan together. Read-only: nothing is written to the repository, its
projects, their state or any catalog.
"""

from __future__ import annotations
