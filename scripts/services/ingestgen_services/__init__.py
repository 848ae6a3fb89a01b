"""Local services for ingestgen's production catalog path: an S3 server and Project Nessie.

The stage starts real servers on loopback (moto's S3 server, the Nessie runner jar on a JDK >= 21),
waits on their health, records how to reach them in an env file and tears them down again. It is
used by developers (``scripts/services/start.sh``), by ``.ci/run`` and by the pytest plugin in
``tests/services/plugin.py``.

It must never bind anything but 127.0.0.1, never download anything except through the package
clients (Maven for the runner jar), and never skip silently: every failure is a ``ServiceError``
whose message names the fix.
"""

from __future__ import annotations


class ServiceError(RuntimeError):
    """A service could not be provided; the message says what was tried and how to fix it."""


class RunnerJarUnavailable(ServiceError):
    """The Nessie runner jar cannot be had from the package registry this machine reaches."""


__all__ = ["RunnerJarUnavailable", "ServiceError"]
