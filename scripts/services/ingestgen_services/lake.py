"""The platform's lake, as the registry declares it: the bucket the services create, the tenants.

The lake root (``lake.root`` in ``registry/connectors.yaml``, e.g. ``s3://lake``) is the one place
a tenant's warehouse prefix ``<root>/<tenant>/`` comes from, for the generator, for Nessie's
warehouses and for the S3 server's bucket. Reads files only.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def lake_root(repo: Path = REPO) -> str:
    """The platform's lake root, from the registry (``lake.root`` in registry/connectors.yaml)."""
    import yaml

    data = yaml.safe_load((repo / "registry" / "connectors.yaml").read_text())
    return str(data["lake"]["root"])


def lake_bucket(root: str) -> str:
    """The bucket of a lake root ``s3://<bucket>[/<path>]``."""
    return root.removeprefix("s3://").split("/", 1)[0]


def repo_tenants(repo: Path = REPO) -> list[str]:
    """The tenants that have a rendered project (``projects/<tenant>/``)."""
    return sorted(p.name for p in (repo / "projects").glob("[a-z]*") if p.is_dir())
