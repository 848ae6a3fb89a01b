"""The runner config's launcher: validated and located, rendered into the Dagster instance for
Dagster's own DockerRunLauncher and K8sRunLauncher (checked by their config schemas), the
Kubernetes objects checked offline against the Kubernetes schema, and each run's environment
narrowed to its own tenant. Nothing here starts a container (no engine or cluster is used)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ingestgen import api
from ingestgen.errors import ConfigError
from tests.orchestrate.test_render import RUNNER

pytestmark = pytest.mark.scale

DOCKER = """\
    shards: 1
    launcher:
      type: docker
      image: localhost/ingestgen-runner:dev
      env: [AWS_REGION]
      resources: {cpu: 0.5, memory: 512Mi}
      network: host
      volumes: [/srv/lake:/app/lake, /srv/specs:/specs:ro]
      tenant_resources: {initech: {memory: 1Gi}}
"""
K8S = """\
    launcher:
      type: k8s
      image: registry.example/ingestgen-runner:1.0
      namespace: lake
      resources: {cpu: 2, memory: 2Gi}
      tenant_resources: {acme: {memory: 4Gi}}
"""


def _render(repo: Path, extra: str) -> Path:
    (repo / "configs" / "runner.yaml").write_text(RUNNER + extra)
    api.render(repo)
    return repo / "projects" / "_dagster"


def test_docker_launcher_renders_dagsters_docker_run_launcher(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config_schema
    from dagster._core.storage.dagster_run import DagsterRun

    from ingestgen.orchestrate.launchers import TenantDockerRunLauncher

    folder = _render(repo, DOCKER)
    instance = yaml.safe_load((folder / "dagster.yaml").read_text())
    for name in ("HOST", "PORT", "USER", "PASSWORD", "DB"):
        monkeypatch.setenv(f"DAGSTER_PG_{name}", "5432" if name == "PORT" else "x")
    environ = {"AWS_REGION": "eu", "ACME__TOKEN": "a", "INITECH__TOKEN": "i", "AWS_SECRET": "x"}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    # The whole instance file passes Dagster's own schema; storage is shared PostgreSQL.
    assert process_config(dagster_instance_config_schema(), instance).success
    assert set(instance["storage"]["postgres"]["postgres_db"]) == {
        "hostname",
        "port",
        "username",
        "password",
        "db_name",
    }
    # A run whose container dies unreported is failed by the daemon's run monitoring.
    assert instance["run_monitoring"]["enabled"] is True
    block = instance["run_launcher"]
    assert (block["module"], block["class"]) == (
        "ingestgen.orchestrate.launchers",
        "TenantDockerRunLauncher",
    )
    checked = process_config(TenantDockerRunLauncher.config_type(), block["config"])
    assert checked.success, checked.errors
    assert block["config"]["container_kwargs"] == {
        "nano_cpus": 500_000_000,
        "mem_limit": "512m",
        "volumes": ["/srv/lake:/app/lake", "/srv/specs:/specs:ro"],
    }
    assert block["config"]["network"] == "host"
    launcher = TenantDockerRunLauncher(**checked.value)
    # initech's own memory limit; its CPU limit and every other tenant's limits are the common ones.
    memory = {"acme": "512m", "initech": "1g"}
    for tenant, own in (("acme", "ACME__TOKEN"), ("initech", "INITECH__TOKEN")):
        run = DagsterRun(job_name="deals_daily", tags={"tenant": tenant})
        context = launcher.get_container_context(run)
        assert context.networks == ["host"]
        assert context.container_kwargs["mem_limit"] == memory[tenant]
        assert context.container_kwargs["nano_cpus"] == 500_000_000
        assert context.container_kwargs["volumes"] == block["config"]["container_kwargs"]["volumes"]
        # The listed platform variables, the storage's, the tenant's own; nothing else.
        assert context.env_vars == [
            "AWS_REGION",
            "DAGSTER_PG_HOST",
            "DAGSTER_PG_PORT",
            "DAGSTER_PG_USER",
            "DAGSTER_PG_PASSWORD",
            "DAGSTER_PG_DB",
            own,
        ]
    data = json.loads((folder / "shard_0.json").read_text())
    assert sorted(data["tenants"]) == ["acme", "initech"]
    assert data["tenants"]["acme"]["tags"] == {}


def test_k8s_launcher_renders_the_run_launcher_and_valid_kubernetes_objects(repo: Path) -> None:
    import kubernetes_validate
    from dagster._config import process_config
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.job import get_user_defined_k8s_config

    folder = _render(repo, K8S)
    instance = yaml.safe_load((folder / "dagster.yaml").read_text())
    block = instance["run_launcher"]
    assert (block["module"], block["class"]) == ("dagster_k8s", "K8sRunLauncher")
    checked = process_config(K8sRunLauncher.config_type(), block["config"])
    assert checked.success, checked.errors
    assert block["config"]["resources"]["limits"] == {"cpu": "2000m", "memory": "2Gi"}
    assert block["config"]["job_namespace"] == "lake"
    docs = list(yaml.safe_load_all((folder / "k8s.yaml").read_text()))
    assert [d["kind"] for d in docs] == ["ServiceAccount", "Role", "RoleBinding", "ConfigMap"]
    version = kubernetes_validate.latest_version()
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    # The ConfigMap carries the same instance settings the daemon uses.
    assert docs[-1]["data"]["dagster.yaml"] == (folder / "dagster.yaml").read_text()
    # Each tenant's runs read that tenant's Secret, and only it.
    for shard in folder.glob("shard_*.json"):
        for tenant, spec in json.loads(shard.read_text())["tenants"].items():
            config = get_user_defined_k8s_config(spec["tags"])
            assert config.container_config["env_from"] == [
                {"secret_ref": {"name": f"ingestgen-tenant-{tenant}", "optional": True}}
            ]
            # acme's own memory limit (and the common CPU one); initech runs with the common ones.
            if tenant == "acme":
                own = {"cpu": "2000m", "memory": "4Gi"}
                assert config.container_config["resources"] == {"limits": own, "requests": own}
            else:
                assert "resources" not in config.container_config


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        (
            "    launcher: {type: docker}\n",
            "runner.orchestrator.launcher",
            "launcher type docker needs the image runs start in",
        ),
        (
            "    launcher: {type: local, image: x}\n",
            "runner.orchestrator.launcher.image",
            "only used with launcher type docker or k8s",
        ),
        (
            "    launcher: {type: docker, image: x, env: [ACME__TOKEN]}\n",
            "runner.orchestrator.launcher.env",
            "'ACME__TOKEN' looks like a tenant's variable",
        ),
        (
            "    launcher: {type: docker, image: x, volumes: [lake:/app/lake]}\n",
            "runner.orchestrator.launcher.volumes",
            "'lake' in 'lake:/app/lake' is not an absolute folder",
        ),
        (
            "    launcher: {type: docker, image: x, volumes: [/srv/lake]}\n",
            "runner.orchestrator.launcher.volumes",
            "is not '<host folder>:<container folder>[:ro|rw]'",
        ),
        (
            "    launcher: {type: k8s, image: x, network: host}\n",
            "runner.orchestrator.launcher.network",
            "only used with launcher type docker (here: k8s)",
        ),
        (
            "    launcher: {type: docker, image: x, tenant_resources: {globex: {cpu: 1}}}\n",
            "runner.orchestrator.launcher.tenant_resources.globex",
            "no tenant 'globex'",
        ),
        (
            "    launcher: {type: k8s, image: x, resources: {memory: 2GB}}\n",
            "runner.orchestrator.launcher.resources.memory",
            "'2GB' is not a valid value",
        ),
    ],
)
def test_bad_launcher_is_located(repo: Path, extra: str, path: str, message: str) -> None:
    (repo / "configs" / "runner.yaml").write_text(RUNNER + extra)
    with pytest.raises(ConfigError) as info:
        api.render(repo)
    found = [(p.file, p.line, p.path) for p in info.value.problems if message in p.message]
    # Line 16: the launcher line, after RUNNER's fifteen.
    assert found == [("configs/runner.yaml", 16, path)], info.value.problems
