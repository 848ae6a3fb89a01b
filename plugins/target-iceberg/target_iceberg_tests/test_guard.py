"""The loader's run-time isolation check (`target_iceberg.guard`) on hand-edited projects.

Each case starts from the configuration the generator renders for tenant acme (read from the
golden projects, its ``${VAR}``s expanded as Meltano would) and edits one thing, as a stale or
hand-edited ``meltano.yml`` would. The check must refuse it before any catalog call, with a
message naming the fix; the CLI case shows exit 2, one line on stderr and no request made.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from target_iceberg.errors import ConfigError
from target_iceberg.guard import check_isolation

# pytest's record_property fixture: one row of the trust report per case.
RecordProperty = Callable[[str, object], None]

CASES = Path(__file__).resolve().parents[3] / "tests" / "cases"
NESSIE = "http://127.0.0.1:19120"
SECRET = "acme-secret-0123456789"


def _rendered(case: str, tenant: str) -> dict[str, Any]:
    project = yaml.safe_load(
        (CASES / case / "expected/projects" / tenant / "meltano.yml").read_text()
    )
    loaders = project["plugins"]["loaders"]
    config: dict[str, Any] = next(p for p in loaders if "inherit_from" in p)["config"]
    return config


def _expand(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, env) for k, v in value.items()}
    if isinstance(value, str):
        return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), value)
    return value


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "projects" / "acme"
    root.mkdir(parents=True)
    return {
        "MELTANO_PROJECT_ROOT": str(root),
        "NESSIE_ICEBERG_URI": f"{NESSIE}/iceberg",
        "NESSIE_URI": f"{NESSIE}/api/v2",
        "ICEBERG_REST_URI": "http://127.0.0.1:8181",
        "S3_ENDPOINT": "http://127.0.0.1:9000",
        "AWS_REGION": "us-east-1",
        "ACME__S3_ACCESS_KEY_ID": "AKIAACME",
        "ACME__S3_SECRET_ACCESS_KEY": SECRET,
        "GLOBEX__S3_ACCESS_KEY_ID": "AKIAGLOBEX",
        "GLOBEX__S3_SECRET_ACCESS_KEY": "globex-secret-0123456789",
    }


def _check(config: dict[str, Any], env: dict[str, str]) -> None:
    check_isolation(
        tenant=config.get("tenant"),
        namespace=config["namespace"],
        properties=config["catalog_properties"],
        nessie=config.get("nessie"),
        environ=env,
    )


def _nessie(env: dict[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = _expand(_rendered("nessie_branch", "acme"), env)
    assert config["nessie"]["branch"] == "acme__sales"
    return config


@pytest.mark.parametrize(("case", "tenant"), [("nessie_branch", "acme"), ("two_tenants", "acme")])
def test_what_the_generator_renders_passes(case: str, tenant: str, env: dict[str, str]) -> None:
    _check(_expand(_rendered(case, tenant), env), env)


def test_a_rendered_rest_catalog_passes(env: dict[str, str]) -> None:
    config = _expand(_rendered("nessie_branch", "acme"), env)
    props = dict(config["catalog_properties"])
    props["uri"] = env["ICEBERG_REST_URI"]
    _check({**config, "catalog_properties": props, "nessie": None}, env)


def _props(**changes: str | None) -> dict[str, Any]:
    return {"props": changes}


EDITS: list[tuple[str, dict[str, Any], str]] = [
    ("namespace of another tenant", {"namespace": "globex"}, "namespace 'globex'"),
    ("tenant of another project", {"tenant": "globex", "namespace": "globex"}, "projects/acme"),
    ("branch main", {"nessie.branch": "main", "uri": f"{NESSIE}/iceberg/main"}, "'main'"),
    ("URI on main, branch setting kept", {"uri": f"{NESSIE}/iceberg/main"}, "branch on the"),
    ("URI on another tenant's branch", {"uri": f"{NESSIE}/iceberg/globex"}, "branch on the"),
    ("percent-encoded URI", {"uri": f"{NESSIE}/iceberg/acme%2F..%2Fmain"}, "plain http(s)"),
    ("'..' in the URI", {"uri": f"{NESSIE}/iceberg/acme__sales/../main"}, "plain http(s)"),
    ("'|' in the URI", {"uri": f"{NESSIE}/iceberg/acme__sales|main"}, "plain http(s)"),
    ("'@' hash in the URI", {"uri": f"{NESSIE}/iceberg/acme__sales@0011aabb"}, "plain http(s)"),
    ("query in the URI", {"uri": f"{NESSIE}/iceberg/acme__sales?ref=main"}, "plain http(s)"),
    (
        "user info in the URI",
        {"uri": "http://u:hunter22@127.0.0.1:19120/iceberg/acme__sales"},
        "***@",
    ),
    ("another host", {"uri": "http://127.0.0.2:19120/iceberg/acme__sales"}, "platform's Nessie"),
    ("prefix property", {"prefix": "main|acme"}, "'prefix' is not allowed"),
    ("client credentials", {"client.access-key-id": "AKIAGLOBEX"}, "'client.access-key-id'"),
    ("role to assume", {"s3.role-arn": "arn:aws:iam::1:role/platform"}, "'s3.role-arn'"),
    ("another tenant's warehouse", {"warehouse": "globex"}, "warehouse 'globex'"),
    ("a warehouse location", {"warehouse": "s3://lake/"}, "warehouse 's3://lake/'"),
    ("no warehouse (Nessie's default)", {"warehouse": None}, "default warehouse"),
    ("another tenant's S3 key", {"s3.access-key-id": "AKIAGLOBEX"}, "s3.access-key-id is not"),
    ("no S3 keys (platform default)", {"s3.access-key-id": None}, "s3.access-key-id is not"),
    ("another S3 endpoint", {"s3.endpoint": "http://10.0.0.1:9000"}, "s3.endpoint"),
    ("API of another server", {"nessie.api_uri": "http://127.0.0.2:19120/api/v2"}, "api_uri"),
    ("not a REST or SQL catalog", {"type": "glue"}, "catalog type 'glue'"),
]


def _edit(config: dict[str, Any], edit: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(config))
    for key, value in edit.items():
        if key in ("namespace", "tenant"):
            out[key] = value
        elif key.startswith("nessie."):
            out["nessie"][key.removeprefix("nessie.")] = value
        elif value is None:
            out["catalog_properties"].pop(key, None)
        else:
            out["catalog_properties"][key] = value
    return out


@pytest.mark.hostile
@pytest.mark.parametrize(("what", "edit", "says"), EDITS, ids=[e[0] for e in EDITS])
def test_hand_edited_nessie_configs_are_refused(
    what: str,
    edit: dict[str, Any],
    says: str,
    env: dict[str, str],
    record_property: RecordProperty,
) -> None:
    record_property("category", "loader: run-time isolation check")
    record_property("case", f"rendered meltano.yml of acme (nessie) edited: {what}")
    with pytest.raises(ConfigError) as err:
        _check(_edit(_nessie(env), edit), env)
    text = str(err.value)
    assert says in text, text
    assert "ingestgen render" in text
    for secret in (SECRET, "globex-secret-0123456789", "hunter22"):
        assert secret not in text
    record_property("outcome", "refused (ConfigError: exit 2) before any catalog call, fix named")


@pytest.mark.hostile
@pytest.mark.parametrize(
    "missing",
    ["NESSIE_ICEBERG_URI", "NESSIE_URI", "ACME__S3_ACCESS_KEY_ID", "ACME__S3_SECRET_ACCESS_KEY"],
)
def test_a_run_without_the_platforms_variables_is_refused(
    missing: str, env: dict[str, str], record_property: RecordProperty
) -> None:
    record_property("category", "loader: run-time isolation check")
    record_property("case", f"nessie run without {missing} in the environment")
    config = _nessie(env)
    del env[missing]
    with pytest.raises(ConfigError, match=missing.replace("_", "_")):
        _check(config, env)
    record_property("outcome", "refused, the variable named")


EMBEDDED_EDITS = [
    ("uri", "sqlite:///{root}/../globex/.lake/catalog.db", "uri"),
    ("uri", "sqlite:////tmp/catalog.db", "uri"),
    ("uri", "sqlite:///{root}/.lake/../catalog.db", "uri"),
    ("warehouse", "file:///tmp/acme", "warehouse"),
    ("warehouse", "file://{root}/../globex/.lake/warehouse", "warehouse"),
    ("warehouse", "s3://lake/globex/", "warehouse"),
]


@pytest.mark.hostile
@pytest.mark.parametrize(("key", "value", "says"), EMBEDDED_EDITS)
def test_the_embedded_catalog_stays_in_the_projects_lake(
    key: str, value: str, says: str, env: dict[str, str], record_property: RecordProperty
) -> None:
    record_property("category", "loader: run-time isolation check")
    record_property("case", f"embedded catalog {key} edited to {value}")
    config = _expand(_rendered("two_tenants", "acme"), env)
    config["catalog_properties"][key] = value.format(root=env["MELTANO_PROJECT_ROOT"])
    with pytest.raises(ConfigError, match=f"embedded catalog's {says}"):
        _check(config, env)
    record_property("outcome", "refused: outside projects/acme/.lake/")


def test_a_symlinked_lake_that_leaves_the_project_is_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    root = Path(env["MELTANO_PROJECT_ROOT"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "data").symlink_to(elsewhere)
    config = _expand(_rendered("two_tenants", "acme"), env)
    config["catalog_properties"]["warehouse"] = f"file://{root}/.lake/warehouse/../../data"
    with pytest.raises(ConfigError, match="warehouse"):
        _check(config, env)


def test_the_tenant_setting_is_required_inside_a_project(env: dict[str, str]) -> None:
    config = _expand(_rendered("two_tenants", "acme"), env)
    config.pop("tenant")
    with pytest.raises(ConfigError, match="tenant setting is missing"):
        _check(config, env)


def test_a_generic_rest_catalog_must_be_the_platforms(env: dict[str, str]) -> None:
    config = _nessie(env)
    config["nessie"] = None
    config["catalog_properties"]["uri"] = "http://127.0.0.2:8181"
    with pytest.raises(ConfigError, match="ICEBERG_REST_URI must be set and be the uri"):
        _check(config, env)


def test_a_stand_alone_run_is_not_checked() -> None:
    # No tenant, no Meltano project: the loader used as a plain Singer target.
    check_isolation(
        tenant=None, namespace="x", properties={"type": "glue"}, nessie=None, environ={}
    )


class _Recorder(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.requests.append(self.path)
        self.send_response(500)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.hostile
def test_the_cli_exits_2_in_one_line_before_any_request(
    tmp_path: Path, env: dict[str, str], recorder: str, record_property: RecordProperty
) -> None:
    record_property("category", "loader: run-time isolation check")
    record_property("case", "target-iceberg CLI, meltano.yml edited to commit to main")
    env |= {"NESSIE_ICEBERG_URI": f"{recorder}/iceberg", "NESSIE_URI": f"{recorder}/api/v2"}
    config = _nessie(env)
    config["catalog_properties"]["uri"] = f"{recorder}/iceberg/main"
    config["streams"] = {}
    (tmp_path / "config.json").write_text(json.dumps(config))
    schema = {"type": "SCHEMA", "stream": "s", "schema": {"properties": {}}, "key_properties": []}
    done = subprocess.run(
        [sys.executable, "-m", "target_iceberg.target", "--config", str(tmp_path / "config.json")],
        input=json.dumps(schema) + "\n",
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    expected = "target-iceberg: error: refusing to run: the catalog is not tenant 'acme'"
    assert last.startswith(expected)
    assert "Traceback" not in done.stderr
    assert _Recorder.requests == []
    assert SECRET not in done.stderr
    record_property("outcome", "exit 2, one line naming the fix, no request reached the catalog")
