"""pytest plugin: session fixtures for S3, Nessie, the Iceberg REST catalog and PostgreSQL.

The fixtures are ``s3_server``, ``tenant_s3``, ``nessie_server``, ``iceberg_rest_server``,
``nessie_openapi``, ``fake_nessie`` and ``postgres_server``. The S3 server checks credentials and
IAM policies: ``s3_server``'s keys are the platform's (allowed everything), ``tenant_s3(tenant)``
makes a tenant's user allowed its own prefix only.

Register it with ``-p ingestgen_services.pytest_plugin`` (``scripts/services`` on ``sys.path``,
e.g. pytest's ``pythonpath`` setting) or through ``tests/services/plugin.py``. Its module name is
unique on purpose: the repository has more than one folder named ``tests``.

When ``INGESTGEN_SERVICES_ENV`` names an env file written by
``scripts/services/start.sh`` (``.ci/run`` does that), the fixtures use those running services and
leave them alone; otherwise they start their own under a temporary folder (Nessie with the
in-memory version store) and stop them when the session ends.

``iceberg_rest_server`` is Apache Iceberg's reference REST catalog (no branches) on the same S3
server; it tests the Iceberg REST protocol paths (multi-table commits) independently of Nessie.

``nessie_openapi`` is Nessie's published OpenAPI document (from the ``nessie-model`` jar, fetched
by Maven into the cache) and ``fake_nessie`` a local server that checks every request against it
(`ingestgen_services.nessie_api`): the Nessie client is tested against Nessie's API even where
the server itself cannot run.

``postgres_server`` is a throw-away PostgreSQL cluster from the system's packages (the env file's
``PG*`` keys when ``start.sh --postgres`` started one).

A missing JDK or moto, or a server that does not come up, fails the test with the exact error,
which names the fix; logs stay on disk and the message gives their path. One case is reported
as a skip instead, loudly: when the package registry does not serve the Nessie runner jar at all
(as on the project's build machines), the ``nessie`` tests cannot run anywhere here, and every
one of them is listed in the summary with Maven's exact answer. Set ``INGESTGEN_REQUIRE_NESSIE=1``
to make that a failure too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestgen_services import RunnerJarUnavailable, ServiceError
from ingestgen_services import stack as services
from ingestgen_services.iceberg_rest import LAUNCHER, IcebergRestService, start_iceberg_rest
from ingestgen_services.jdk import find_java
from ingestgen_services.nessie_api import FakeNessie, OpenApi, fetch_openapi
from ingestgen_services.postgres import PostgresService, start_postgres, stop_postgres
from ingestgen_services.process import http_get_json, terminate
from ingestgen_services.s3 import S3Service, tenant_credentials

REPO = Path(__file__).resolve().parents[3]

ENV_VAR = "INGESTGEN_SERVICES_ENV"
# Tenants the tests use: each gets a Nessie warehouse of its own (besides the projects' tenants).
TEST_TENANTS = ("acme", "globex", "initech")
CACHE_DIR = REPO / ".services" / "cache"


@dataclass(frozen=True)
class S3Server:
    """Where the S3 server listens and the keys it accepts."""

    endpoint: str
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str

    def pyiceberg_properties(self) -> dict[str, str]:
        """Pyiceberg FileIO properties for this server (PyArrow and fsspec alike)."""
        return {
            "s3.endpoint": self.endpoint,
            "s3.access-key-id": self.access_key_id,
            "s3.secret-access-key": self.secret_access_key,
            "s3.region": self.region,
            "s3.path-style-access": "true",
        }

    def boto3_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client("s3", **kwargs)``."""
        return {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
        }


@dataclass(frozen=True)
class TenantS3(S3Server):
    """A tenant's own S3 user: its IAM policy allows ``<bucket>/<tenant>/`` only."""

    tenant: str

    @property
    def prefix(self) -> str:
        """The tenant's warehouse prefix, ``s3://<bucket>/<tenant>/``."""
        return f"s3://{self.bucket}/{self.tenant}/"

    def env(self) -> dict[str, str]:
        """The tenant-scoped variables a runner passes to the tenant's runs."""
        upper = self.tenant.upper()
        return {
            f"{upper}__S3_ACCESS_KEY_ID": self.access_key_id,
            f"{upper}__S3_SECRET_ACCESS_KEY": self.secret_access_key,
        }


@dataclass(frozen=True)
class NessieServer:
    """A running Nessie server with its S3 warehouse."""

    base_url: str
    api_uri: str
    iceberg_uri: str
    management_url: str
    warehouse: str
    warehouse_location: str
    s3: S3Server

    def catalog_properties(self, branch: str) -> dict[str, str]:
        """Pyiceberg ``RestCatalog`` properties for ``branch`` (the branch goes in the URI)."""
        return {"type": "rest", "uri": f"{self.iceberg_uri}/{branch}"} | (
            self.s3.pyiceberg_properties()
        )


@dataclass(frozen=True)
class IcebergRestServer:
    """The reference Iceberg REST catalog (no branches) on ``s3``'s bucket."""

    uri: str
    warehouse: str
    s3: S3Server

    def catalog_properties(self) -> dict[str, str]:
        """Pyiceberg ``RestCatalog`` properties for this catalog."""
        return {"type": "rest", "uri": self.uri} | self.s3.pyiceberg_properties()


def _s3_from_env(env: dict[str, str]) -> S3Server:
    return S3Server(
        endpoint=env["S3_ENDPOINT"],
        bucket=env["S3_BUCKET"],
        region=env["S3_REGION"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _nessie_from_env(env: dict[str, str]) -> NessieServer:
    return NessieServer(
        base_url=env["NESSIE_BASE_URL"],
        api_uri=env["NESSIE_URI"],
        iceberg_uri=env["NESSIE_ICEBERG_URI"],
        management_url=env["NESSIE_MANAGEMENT_URL"],
        warehouse=env["NESSIE_WAREHOUSE"],
        warehouse_location=env["NESSIE_WAREHOUSE_LOCATION"],
        s3=_s3_from_env(env),
    )


class _Services:
    """Starts services lazily for the session (or reads the external env file) and stops them."""

    def __init__(self, state_dir: Path, external: Path | None) -> None:
        self.state_dir = state_dir
        self.external = external
        self.started = False
        self.rest: IcebergRestService | None = None

    def env(self, *, with_nessie: bool) -> dict[str, str]:
        if self.external is not None:
            return self._external_env(with_nessie=with_nessie)
        self.started = True
        stack = services.start(
            self.state_dir,
            CACHE_DIR,
            store="IN_MEMORY",
            with_nessie=with_nessie,
            tenants=sorted({*TEST_TENANTS, *services.repo_tenants()}),
        )
        return stack.env()

    def _external_env(self, *, with_nessie: bool) -> dict[str, str]:
        assert self.external is not None
        if not self.external.is_file():
            raise ServiceError(
                f"{ENV_VAR}={self.external} does not exist. Fix: run scripts/services/start.sh "
                f"first, or unset {ENV_VAR} to let the tests start their own services."
            )
        env = services.read_env_file(self.external)
        if "S3_ENDPOINT" not in env or http_get_json(env["S3_ENDPOINT"])[0] == 0:
            raise ServiceError(
                f"The S3 server recorded in {self.external} does not answer. "
                "Fix: scripts/services/start.sh (it restarts what is down)."
            )
        if with_nessie:
            if "NESSIE_MANAGEMENT_URL" not in env:
                raise ServiceError(
                    f"{self.external} records no Nessie server (started with --s3-only?). "
                    "Fix: scripts/services/start.sh --store memory"
                )
            status, body = http_get_json(f"{env['NESSIE_MANAGEMENT_URL']}/q/health")
            if status != 200:
                raise ServiceError(
                    f"Nessie recorded in {self.external} is not healthy (/q/health answered "
                    f"{status or 'nothing'}: {body}). Fix: scripts/services/start.sh"
                )
        return env

    def iceberg_rest(self, s3: S3Server) -> IcebergRestServer:
        # Always our own process (also when S3 comes from .ci/run): it is cheap and stateless.
        if self.rest is None:
            s3_service = S3Service(
                endpoint=s3.endpoint,
                bucket=s3.bucket,
                region=s3.region,
                access_key=s3.access_key_id,
                secret_key=s3.secret_access_key,
                pid=0,
                log_path=self.state_dir / "logs" / "s3.log",
            )
            self.rest = start_iceberg_rest(
                state_dir=self.state_dir, cache_dir=CACHE_DIR, java=find_java(), s3=s3_service
            )
        return IcebergRestServer(uri=self.rest.uri, warehouse=self.rest.warehouse, s3=s3)

    def close(self) -> None:
        if self.rest is not None:
            terminate(self.rest.pid, LAUNCHER)
        if self.started:
            services.stop(self.state_dir)


@pytest.fixture(scope="session")
def _ingestgen_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Services]:
    external = os.environ.get(ENV_VAR)
    holder = _Services(
        state_dir=tmp_path_factory.mktemp("services"),
        external=Path(external) if external else None,
    )
    try:
        yield holder
    finally:
        holder.close()


@pytest.fixture(scope="session")
def s3_server(_ingestgen_services: _Services) -> S3Server:
    """The S3 server (moto) with the warehouse bucket created."""
    try:
        return _s3_from_env(_ingestgen_services.env(with_nessie=False))
    except ServiceError as exc:
        failure = f"S3 server unavailable: {exc}"
    pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def tenant_s3(s3_server: S3Server) -> Callable[[str], TenantS3]:
    """``tenant_s3("acme")``: tenant acme's own IAM user on the S3 server (made once a session)."""
    made: dict[str, TenantS3] = {}

    def get(tenant: str) -> TenantS3:
        if tenant not in made:
            key, secret = tenant_credentials(
                endpoint=s3_server.endpoint,
                region=s3_server.region,
                platform_key=s3_server.access_key_id,
                platform_secret=s3_server.secret_access_key,
                bucket=s3_server.bucket,
                tenant=tenant,
            )
            made[tenant] = TenantS3(
                s3_server.endpoint, s3_server.bucket, s3_server.region, key, secret, tenant
            )
        return made[tenant]

    return get


@pytest.fixture(scope="session")
def nessie_server(_ingestgen_services: _Services, s3_server: S3Server) -> NessieServer:
    """The Nessie server (in-memory store unless reused from ``.ci/run``) on ``s3_server``."""
    try:
        return _nessie_from_env(_ingestgen_services.env(with_nessie=True))
    except RunnerJarUnavailable as exc:
        if os.environ.get("INGESTGEN_REQUIRE_NESSIE") == "1":
            failure = f"Nessie server unavailable: {exc}"
        else:
            pytest.skip(f"NESSIE SERVER NOT RUN (runner jar not served here): {exc}")
    except ServiceError as exc:
        failure = f"Nessie server unavailable: {exc}"
    # Outside the except block, so the report shows the message alone, not a chained traceback.
    pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def iceberg_rest_server(_ingestgen_services: _Services, s3_server: S3Server) -> IcebergRestServer:
    """Apache Iceberg's reference REST catalog on ``s3_server`` (tests the REST protocol paths)."""
    try:
        return _ingestgen_services.iceberg_rest(s3_server)
    except ServiceError as exc:
        failure = f"reference Iceberg REST catalog unavailable: {exc}"
    pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def nessie_openapi() -> OpenApi:
    """Nessie's REST API v2 OpenAPI document, from the nessie-model jar Maven serves."""
    try:
        return OpenApi(json.loads(fetch_openapi(CACHE_DIR).read_text()))
    except ServiceError as exc:
        failure = f"Nessie's OpenAPI document unavailable: {exc}"
    pytest.fail(failure, pytrace=False)


@pytest.fixture
def fake_nessie(nessie_openapi: OpenApi) -> Iterator[FakeNessie]:
    """A local Nessie API v2 stand-in that checks every request against the OpenAPI document."""
    server = FakeNessie(nessie_openapi)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresService]:
    """A PostgreSQL server on loopback; use ``ingestgen_services.postgres.psql`` to run SQL."""
    external = os.environ.get(ENV_VAR)
    try:
        if external and "PGPORT" in services.read_env_file(Path(external)):
            yield PostgresService.from_env(services.read_env_file(Path(external)))
            return
        server = start_postgres(state_dir=tmp_path_factory.mktemp("postgres"))
    except ServiceError as exc:
        failure = f"PostgreSQL server unavailable: {exc}"
    else:
        try:
            yield server
        finally:
            stop_postgres(server)
        return
    pytest.fail(failure, pytrace=False)
