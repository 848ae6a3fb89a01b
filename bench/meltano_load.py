"""The ``meltano`` engine's load for bench/merge.py: mapper-contract piped into target-s3tables.

The stream goes through our contract mapper (plugins/mapper-contract: contract, coercion,
quarantine) into the stock loader target-s3tables (the registry's pip_url, installed once
into a cache venv with uv), which writes through Apache Iceberg's reference REST catalog on
the local S3 server (moto), both started here the way the tests start them
(scripts/services). As for the other engines, the plugins run without Meltano between them.

target-s3tables writes only boolean, long, double, string, date, time and timestamptz (and
nested values of them), so the spec's decimal and int columns become double and long here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "services"))

from ingestgen_services import stack as services  # noqa: E402
from ingestgen_services.iceberg_rest import LAUNCHER, start_iceberg_rest  # noqa: E402
from ingestgen_services.jdk import find_java  # noqa: E402
from ingestgen_services.process import terminate  # noqa: E402

CACHE = REPO / ".services" / "cache"
VENV = Path.home() / ".cache" / "ingestgen" / "bench-target-s3tables"
NAMESPACE = "bench"


def meltano_spec(spec: str) -> str:
    """The bench spec with the types target-s3tables writes exactly (decimal, int widened)."""
    return spec.replace('type: "decimal(12,2)"', "type: double").replace(
        "type: int}", "type: long}"
    )


def loader_executable() -> Path:
    """target-s3tables in its own venv (the registry's pip_url), installed on first use."""
    exe = VENV / "bin" / "target-s3tables"
    if exe.exists():
        return exe
    registry = yaml.safe_load((REPO / "registry" / "connectors.yaml").read_text())
    pip_url = str(registry["plugins"]["target-s3tables"]["pip_url"]).split()
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "venv", "--quiet", "--python", sys.executable, str(VENV)], check=True)
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--python", str(VENV / "bin" / "python"), *pip_url],
        check=True,
    )
    return exe


@contextmanager
def rest_catalog() -> Iterator[dict[str, str]]:
    """S3 (moto) and the reference REST catalog for the duration; yields their settings."""
    state = Path(tempfile.mkdtemp(prefix="bench-services-"))
    stack = services.start(state, CACHE, with_nessie=False, tenants=[NAMESPACE])
    assert stack.s3 is not None
    rest = None
    try:
        rest = start_iceberg_rest(state_dir=state, cache_dir=CACHE, java=find_java(), s3=stack.s3)
        yield {"uri": rest.uri, **stack.env()}
    finally:
        if rest is not None:
            terminate(rest.pid, LAUNCHER)
        services.stop(state)


def _configs(work: Path, spec: Path, env: dict[str, str], batch_rows: int) -> tuple[Path, Path]:
    catalog = {
        "type": "rest",
        "uri": env["uri"],
        "s3.endpoint": env["S3_ENDPOINT"],
        "s3.region": env["S3_REGION"],
        "s3.access-key-id": env["AWS_ACCESS_KEY_ID"],
        "s3.secret-access-key": env["AWS_SECRET_ACCESS_KEY"],
        "s3.path-style-access": "true",
    }
    mapper = work / "mapper.json"
    mapper.write_text(
        json.dumps(
            {
                "namespace": NAMESPACE,
                "catalog_name": "bench",
                "catalog_properties": catalog,
                "streams": {"orders": {"table": "orders", "asset_spec": str(spec)}},
                "run_summary_path": str(work / "mapper-summary.json"),
            }
        )
    )
    loader = work / "loader.json"
    loader.write_text(
        json.dumps(
            {
                "catalog_mode": "glue_rest",
                "glue_uri": env["uri"],
                "glue_warehouse": f"000000000000:s3tablescatalog/{NAMESPACE}",
                "sigv4_enabled": False,
                "region": env["S3_REGION"],
                "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
                "namespace": NAMESPACE,
                "table_name_mapping": {"orders": "orders"},
                "create_tables": False,
                "evolve_schema": False,
                "sanitize_names": False,
                "batch_size_rows": batch_rows,
            }
        )
    )
    return mapper, loader


def run_meltano_load(
    work: Path,
    spec_text: str,
    stream: Path,
    count: int,
    tree_rss_mb: Callable[[int], float],
    batch_rows: int,
) -> tuple[float, float, int]:
    """Load ``stream`` through the meltano engine; return seconds, peak RSS (MB), rows landed.

    The peak RSS is that of the mapper and the loader together (the services are not counted).
    """
    exe = loader_executable()
    spec = work / "orders-meltano.yaml"
    spec.write_text(meltano_spec(spec_text))
    with rest_catalog() as env:
        mapper_cfg, loader_cfg = _configs(work, spec, env, batch_rows)
        loader_env = {
            **os.environ,
            "PYICEBERG_CATALOG__TARGET_S3TABLES__S3__ENDPOINT": env["S3_ENDPOINT"],
            "PYICEBERG_CATALOG__TARGET_S3TABLES__S3__REGION": env["S3_REGION"],
            "PYICEBERG_CATALOG__TARGET_S3TABLES__S3__PATH_STYLE_ACCESS": "true",
        }
        mapper_exe = Path(sys.executable).with_name("mapper-contract")
        peak = 0.0
        with stream.open("rb") as inp, (work / "meltano.log").open("wb") as log:
            start = time.perf_counter()
            mapper = subprocess.Popen(
                [str(mapper_exe), "--config", str(mapper_cfg)],
                stdin=inp,
                stdout=subprocess.PIPE,
                stderr=log,
            )
            loader = subprocess.Popen(
                [str(exe), "--config", str(loader_cfg)],
                stdin=mapper.stdout,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=loader_env,
            )
            assert mapper.stdout is not None
            mapper.stdout.close()  # the loader holds the pipe now
            while loader.poll() is None:
                peak = max(peak, tree_rss_mb(mapper.pid) + tree_rss_mb(loader.pid))
                time.sleep(0.2)
            mapper.wait()
            elapsed = time.perf_counter() - start
        if mapper.returncode or loader.returncode:
            sys.stderr.write((work / "meltano.log").read_text(errors="replace")[-3000:])
            raise SystemExit(f"mapper exited {mapper.returncode}, loader {loader.returncode}")
        rows = _landed(env)
    if rows != count:
        raise SystemExit(f"the meltano engine landed {rows} rows of {count}")
    return elapsed, peak, rows


def _landed(env: dict[str, str]) -> int:
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog(
        "check",
        type="rest",
        uri=env["uri"],
        **{
            "s3.endpoint": env["S3_ENDPOINT"],
            "s3.region": env["S3_REGION"],
            "s3.access-key-id": env["AWS_ACCESS_KEY_ID"],
            "s3.secret-access-key": env["AWS_SECRET_ACCESS_KEY"],
            "s3.path-style-access": "true",
        },
    )
    table = catalog.load_table((NAMESPACE, "orders"))
    return int(table.scan(selected_fields=("id",)).to_arrow().num_rows)
