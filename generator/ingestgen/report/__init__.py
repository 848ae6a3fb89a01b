"""``ingestgen report``: what the runs did, per tenant and job, over time.

`records` reads the run records ``ingestgen run`` leaves in ``projects/<tenant>/.meltano/runs/``,
`tables` adds what the tables say (each run's snapshot summary, the quarantine's reasons and
sample rows), and `figures` sums them up per job and tenant. Read-only: records, projects and
catalogs are never written (embedded catalogs are opened read-only).
"""

from __future__ import annotations
