"""A small client for the Dagster webserver's GraphQL API (loopback, stdlib only).

Used to wait for code locations to load and, in tests, to launch runs and read them back. Sends
only what the caller asks; never retries a mutation.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ingestgen.errors import IngestgenError

LOCATIONS = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation { repositories { name } }
        }
      }
    }
  }
}
"""


class DagsterApiError(IngestgenError):
    """The webserver answered with an error, or not at all."""


def query(
    url: str, text: str, variables: dict[str, Any] | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """POST one GraphQL document to ``<url>/graphql`` and return its ``data``.

    Raises:
        DagsterApiError: the request failed or the answer holds GraphQL errors.
    """
    body = json.dumps({"query": text, "variables": variables or {}}).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is ours, http on loopback
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        # A bad query is answered 400 with the GraphQL errors in the body.
        raise DagsterApiError(
            f"Dagster GraphQL answered {exc.code}: {exc.read()[:2000]!r}"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DagsterApiError(f"Dagster GraphQL at {url} did not answer: {exc}") from exc
    if answer.get("errors"):
        raise DagsterApiError(f"Dagster GraphQL errors: {answer['errors']}")
    data: dict[str, Any] = answer["data"]
    return data


def location_status(url: str) -> dict[str, str]:
    """Each code location's state: ``LOADING``, ``LOADED`` or the load error's message."""
    data = query(url, LOCATIONS)["workspaceOrError"]
    if data["__typename"] != "Workspace":
        raise DagsterApiError(f"Dagster could not read the workspace: {data}")
    out: dict[str, str] = {}
    for entry in data["locationEntries"]:
        found = entry.get("locationOrLoadError") or {}
        if found.get("__typename") == "PythonError":
            out[entry["name"]] = f"error: {found['message'].strip()}"
        else:
            out[entry["name"]] = str(entry["loadStatus"])
    return out
