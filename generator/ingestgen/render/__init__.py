"""Stage 3: render resolved jobs into one Meltano project per tenant, and check for drift.

`repository` validates and renders a whole repository (what ``validate`` and ``render`` do),
`project` renders the tenants' ``meltano.yml``, `workspace` the runner config's Dagster workspace,
`write` writes or compares the result; `jinja` and `meltano_schema` are their tools.
"""
