"""Whether a run sends OpenLineage events: read from the environment alone.

Kept apart from `ingestgen.record.openlineage` so that a run without OpenLineage never imports
the ``openlineage-python`` client (about a third of ingestgen's start-up; README, *Per-run cost*).
"""

from __future__ import annotations

from collections.abc import Mapping


def configured(environ: Mapping[str, str]) -> bool:
    """Whether the environment configures an OpenLineage transport.

    ``OPENLINEAGE_URL``, ``OPENLINEAGE_CONFIG`` or any ``OPENLINEAGE__TRANSPORT*`` variable turns
    sending on; ``OPENLINEAGE_DISABLED=true`` turns it off.
    """
    if environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        environ.get("OPENLINEAGE_URL")
        or environ.get("OPENLINEAGE_CONFIG")
        or any(k.startswith("OPENLINEAGE__TRANSPORT") for k in environ)
    )
