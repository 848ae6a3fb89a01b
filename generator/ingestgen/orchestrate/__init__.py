"""Orchestrated mode: the runner config run by Dagster through dagster-meltano.

`render` turns the runner config into Meltano schedules and a Dagster workspace, `definitions`
builds one tenant's Dagster definitions, `process` starts the Dagster webserver and daemon.
Dagster and dagster-meltano are optional (``pip install 'ingestgen[orchestrate]'``); rendering
never imports them.
"""
