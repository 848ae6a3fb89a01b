"""Write-audit-publish: a run's snapshots land on an audit branch, are checked, then published.

`model` declares the checks (the asset spec's ``audit:`` block) and the loader's ``audit``
setting, `checks` evaluates them with Arrow on the audit branch's data, `publish` moves each
table's ``main`` to its audited snapshot (or discards the branch). Nothing here writes data.
"""
