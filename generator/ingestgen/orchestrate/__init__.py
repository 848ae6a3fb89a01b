"""Orchestrated mode: the runner config run by Dagster through dagster-meltano.

The runner config is rendered into Meltano schedules and a Dagster workspace by
`ingestgen.render.workspace`; here `definitions` builds one tenant's Dagster definitions, `process`
starts the Dagster webserver and daemon, `serve` runs them (``ingestgen orchestrate``) and
`graphql` talks to the webserver. Dagster and dagster-meltano are optional
(``pip install 'ingestgen[orchestrate]'``); rendering never imports them.
"""

from __future__ import annotations

TENANT_TAG = "tenant"
"""The run tag naming a run's tenant; the run queue's per-tenant limit keys on it."""
