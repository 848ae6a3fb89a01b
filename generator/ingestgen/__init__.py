"""ingestgen: tenant job YAML -> validated config -> registry resolution -> Meltano project.

The stages, in data-flow order: ``config`` (read and validate user YAML), ``registry`` (resolve
connectors and engines to Meltano plugin definitions), ``render`` (write and check the committed
Meltano projects), ``cli`` (thin commands over the above).
"""

from __future__ import annotations

__version__ = "0.1.0"
