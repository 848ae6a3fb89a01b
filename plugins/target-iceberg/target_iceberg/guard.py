"""The run-time isolation check: the catalog the loader is about to open is the tenant's own.

It runs before any catalog call, on the catalog properties exactly as the loader will use them,
so a hand-edited or stale ``meltano.yml`` is held to the rules the generator applied to the job
file (`target_iceberg.tenancy`). It applies when the run is a tenant's: the ``tenant`` setting
is given, or the loader runs inside a Meltano project (``MELTANO_PROJECT_ROOT``), where the
setting is then required.

What the loader can know, besides its own settings (the thing being checked):

- the platform's environment: ``NESSIE_ICEBERG_URI`` and ``NESSIE_URI`` (the Nessie server),
  ``ICEBERG_REST_URI`` (a REST catalog without branches), ``S3_ENDPOINT``, and the tenant's
  scoped S3 keys ``<TENANT>__S3_ACCESS_KEY_ID`` / ``<TENANT>__S3_SECRET_ACCESS_KEY``, which a
  runner passes to that tenant's runs only;
- the project Meltano runs, ``projects/<tenant>/`` (``MELTANO_PROJECT_ROOT``).

So it refuses: a namespace or project folder of another tenant; a branch outside the tenant's
(`tenancy.branch_problem`), also when hidden in the catalog URI (percent-encoding, ``..``,
``@``, ``|``, a query, another last path segment) or in a ``prefix`` property; a catalog URI on
another host or path than the platform's; a Nessie warehouse other than the tenant's; S3 keys
that are not the tenant's own (or none, which would fall back to the platform's); identity
switches (``client.*``, role and signer properties); and an embedded catalog whose SQLite file
or warehouse lies outside the project's ``.lake/`` folder.

A project edited to be consistently another tenant's, plugin environment included, gets past
any check inside the loader; the runner's drift gate refuses such a project, and the S3 server
refuses keys used outside their tenant's prefix (tests/isolation). Never prints secrets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from target_iceberg.errors import ConfigError
from target_iceberg.tenancy import Refusal, branch_problem, tenant_id_problem

RERENDER = "re-render the project with `ingestgen render` (projects/ is never edited by hand)"
# Properties that would route the catalog elsewhere or change whose credentials are used.
_IDENTITY_KEYS = re.compile(
    r"^(prefix|client\..*|s3\.role-.*|s3\.session-token|s3\.signer.*|s3\.remote-signing-enabled|"
    r"rest\.sigv4-enabled|rest\.signing-.*)$"
)
_URI_TEXT = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~-]+)*/?$")


def check_isolation(
    *,
    tenant: str | None,
    namespace: str,
    properties: Mapping[str, str],
    nessie: Mapping[str, str] | None,
    environ: Mapping[str, str],
) -> None:
    """Refuse a catalog that is not the tenant's own; see the module docstring.

    Args:
        tenant: the ``tenant`` setting.
        namespace: the ``namespace`` setting.
        properties: the catalog properties the loader is about to open the catalog with.
        nessie: the ``nessie`` setting (``branch``, ``api_uri``), for Nessie catalogs.
        environ: the process environment.

    Raises:
        ConfigError: every problem found, each with its fix, in one message.
    """
    root = environ.get("MELTANO_PROJECT_ROOT")
    if tenant is None and not root:
        return  # a stand-alone run of the loader, not a tenant's
    problems: list[Refusal] = []
    if tenant is None:
        raise ConfigError(
            "the tenant setting is missing in a Meltano project: the loader cannot tell whose "
            f"catalog this is; {RERENDER}"
        )
    if (bad := tenant_id_problem(tenant)) is not None:
        raise ConfigError(f"setting tenant: {bad}; {RERENDER}")
    if namespace != tenant:
        problems.append(
            Refusal(
                f"namespace {namespace!r} is not tenant {tenant!r}'s", f"set namespace {tenant}"
            )
        )
    if root:
        project = Path(root)
        if project.parent.name == "projects" and project.name != tenant:
            problems.append(
                Refusal(
                    f"the project projects/{project.name} is not tenant {tenant!r}'s",
                    f"run tenant {tenant}'s jobs from projects/{tenant}",
                )
            )
    kind = properties.get("type", "")
    if kind == "sql":
        problems += _embedded(properties, Path(root) if root else None)
    elif kind == "rest":
        problems += _rest(tenant, properties, nessie, environ)
    else:
        problems.append(
            Refusal(
                f"catalog type {kind or '(none)'!r} is none the platform renders for tenants",
                "use the registry's catalogs (sql for embedded, rest for nessie and rest)",
            )
        )
    if problems:
        listed = "; ".join(str(p) for p in problems)
        raise ConfigError(
            f"refusing to run: the catalog is not tenant {tenant!r}'s own: {listed}. Or {RERENDER}"
        )


def _embedded(properties: Mapping[str, str], root: Path | None) -> list[Refusal]:
    if root is None:
        return []  # outside a Meltano project there is no .lake/ to hold it to
    lake = (root / ".lake").resolve()
    wanted = {
        "uri": ("sqlite:///", lake / "catalog.db"),
        "warehouse": ("file://", lake / "warehouse"),
    }
    problems = []
    for key, (scheme, path) in wanted.items():
        value = str(properties.get(key, ""))
        given = Path(value.removeprefix(scheme)).resolve() if value.startswith(scheme) else None
        inside = given is not None and (
            given == path or (key == "warehouse" and given.is_relative_to(path))
        )
        if not inside:
            problems.append(
                Refusal(
                    f"the embedded catalog's {key} {_shown(value)} is outside the project's .lake/",
                    f"set catalog_properties.{key} to {scheme}{path}",
                )
            )
    return problems


def _rest(
    tenant: str,
    properties: Mapping[str, str],
    nessie: Mapping[str, str] | None,
    environ: Mapping[str, str],
) -> list[Refusal]:
    problems = [
        Refusal(f"catalog property {key!r} is not allowed", "remove it")
        for key in sorted(properties)
        if _IDENTITY_KEYS.match(key)
    ]
    uri = str(properties.get("uri", ""))
    if not _URI_TEXT.match(uri) or any(part in (".", "..") for part in uri.split("/")[3:]):
        problems.append(
            Refusal(
                f"catalog uri {_shown(uri)} is not a plain http(s) URL",
                "no percent-encoding, '..', '@', '|', query or fragment",
            )
        )
    if nessie is not None:
        problems += _nessie(tenant, uri, nessie, environ)
        expected_base, base_var = None, None
    else:
        expected_base, base_var = environ.get("ICEBERG_REST_URI"), "ICEBERG_REST_URI"
    if base_var is not None and (not expected_base or uri.rstrip("/") != expected_base.rstrip("/")):
        problems.append(
            Refusal(
                f"catalog uri {_shown(uri)} is not the platform's REST catalog",
                f"{base_var} must be set and be the uri",
            )
        )
    warehouse = properties.get("warehouse")
    if warehouse is not None and warehouse != tenant:
        problems.append(
            Refusal(
                f"catalog warehouse {_shown(str(warehouse))} is not tenant {tenant!r}'s",
                f"set catalog_properties.warehouse to {tenant} (the tenant's warehouse by name)",
            )
        )
    elif warehouse is None and nessie is not None:
        problems.append(
            Refusal(
                "no catalog warehouse: Nessie would use its default warehouse",
                f"set catalog_properties.warehouse to {tenant}",
            )
        )
    return problems + _s3(tenant, properties, environ)


def _nessie(
    tenant: str, uri: str, nessie: Mapping[str, str], environ: Mapping[str, str]
) -> list[Refusal]:
    problems = []
    branch = str(nessie.get("branch", ""))
    if (bad := branch_problem(branch, tenant)) is not None:
        problems.append(Refusal(f"nessie.branch: {bad.message}", bad.fix))
    base = environ.get("NESSIE_ICEBERG_URI", "").rstrip("/")
    if not base:
        problems.append(
            Refusal("NESSIE_ICEBERG_URI is not set", "the runner must export the Nessie endpoint")
        )
    elif uri != f"{base}/{branch}":
        problems.append(
            Refusal(
                f"catalog uri {_shown(uri)} is not tenant {tenant!r}'s branch on the platform's "
                "Nessie",
                f"it must be $NESSIE_ICEBERG_URI/{branch if bad is None else tenant}",
            )
        )
    api = str(nessie.get("api_uri", "")).rstrip("/")
    expected_api = environ.get("NESSIE_URI", "").rstrip("/")
    if not expected_api or api != expected_api:
        problems.append(
            Refusal(
                f"nessie.api_uri {_shown(api)} is not the platform's Nessie API",
                "NESSIE_URI must be set and be the api_uri",
            )
        )
    return problems


def _s3(tenant: str, properties: Mapping[str, str], environ: Mapping[str, str]) -> list[Refusal]:
    problems = []
    endpoint = environ.get("S3_ENDPOINT")
    if endpoint and properties.get("s3.endpoint") != endpoint:
        problems.append(
            Refusal(
                f"s3.endpoint {_shown(str(properties.get('s3.endpoint')))} is not the platform's",
                "set it to ${S3_ENDPOINT}",
            )
        )
    for key, suffix in (
        ("s3.access-key-id", "ACCESS_KEY_ID"),
        ("s3.secret-access-key", "SECRET_ACCESS_KEY"),
    ):
        variable = f"{tenant.upper()}__S3_{suffix}"
        own = environ.get(variable)
        given = properties.get(key)
        if not own:
            problems.append(
                Refusal(
                    f"{variable} is not set",
                    f"the runner must pass tenant {tenant}'s own S3 credentials",
                )
            )
        elif given != own:
            # Never shown: it is a credential, possibly another tenant's.
            problems.append(
                Refusal(
                    f"catalog property {key} is not tenant {tenant!r}'s",
                    f"set it to ${{{variable}}}",
                )
            )
    return problems


def _shown(value: str) -> str:
    # A URI may carry a password in its user part: never echo that, and keep it short.
    value = re.sub(r"//[^/@]*@", "//***@", value)
    return repr(value if len(value) <= 80 else value[:77] + "...")
