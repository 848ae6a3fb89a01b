"""Table upkeep (``ingestgen maintain``): expire snapshots, remove orphan files, compact.

`policy` holds the settings (``runner.yaml``'s ``maintenance:``) and their resolution per
table; `expire`, `orphans` and `compact` each do one thing to one table; `tenants` opens each
tenant's catalog the way its rendered project says and runs them. Nothing here ever touches a
table outside the tenant's namespace or a file outside its warehouse.
"""
