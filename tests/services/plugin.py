"""Registers the service fixtures (``s3_server``, ``nessie_server``, ``iceberg_rest_server``).

The fixtures live in ``scripts/services/ingestgen_services/pytest_plugin.py``, next to the code
that starts the services; this module puts that folder on ``sys.path`` and loads them, for
setups that register ``tests.services.plugin``. Registering ``ingestgen_services.pytest_plugin``
directly is equivalent; register only one of the two.
"""

from __future__ import annotations

import sys
from pathlib import Path

_SERVICES_LIB = str(Path(__file__).resolve().parents[2] / "scripts" / "services")
if _SERVICES_LIB not in sys.path:
    sys.path.insert(0, _SERVICES_LIB)

pytest_plugins = ["ingestgen_services.pytest_plugin"]
