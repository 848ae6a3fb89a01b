"""Singer tap that runs an Airbyte source connector and speaks Singer on stdout.

The connector is launched as a Python executable or a container image; its Airbyte protocol
output (CATALOG, RECORD, STATE, TRACE, LOG) is translated line by line into Singer messages.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
