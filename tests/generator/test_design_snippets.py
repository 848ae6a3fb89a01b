"""Every example of the design document is a job or config here, as written, and renders.

Users copy examples first. Each snippet below is the design's text, byte for byte; the file
that holds it must contain its lines in order (comments and indentation included), parse to a
superset of it, and add nothing but the keys listed for it (what a runnable job needs besides:
its tenant, the connector's required settings, the asset). The files render: the engines
example as the golden case tests/cases/design_engines, the other two as part of the committed
projects (`ingestgen render --check`), re-checked here.

Where the design document itself is at hand (`$INGESTGEN_DESIGN_DIR`, or the team's shared
folder beside the repository), its fenced YAML blocks must be exactly these snippets, so a
change of the design shows up here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestgen import api

REPO = Path(__file__).resolve().parents[2]

ENGINES = """\
source:
  type: hubspot
  engine:
    type: airbyte   # airbyte | singer | native | jdbc
    options:
      airbyte:
        docker_image: "airbyte/source-hubspot:1.0.15"

target:
  type: iceberg
  engine:
    type: native    # native | spark | meltano
    options:
      native:
        batch_size_rows: 50000
"""

CONSOLIDATED = """\
tenant_id: acme

source:
  type: gdrive_csv
  files:
    - file_id: 1a2B3cGDRIVEID
      object: deals_daily
  incremental:
    strategy: file_modified_time

target:
  type: iceberg
  catalog: nessie
  branch: acme
  warehouse: s3://lake/acme/
  file_format: parquet

logging:
  redaction: true

asset_definition: /app/specs/gdrive_csv/v1.0/deals_daily.yaml
"""

RUNNER = """\
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
      - name: stripe_hourly
        config: /app/configs/examples/stripe.yaml
        cron: "0 * * * *"
    concurrency_per_tenant: 1
"""

# snippet, the file holding it, the dotted keys it may add.
SNIPPETS = {
    "engines": (
        ENGINES,
        "tests/cases/design_engines/configs/acme/contacts.yaml",
        {
            "tenant_id",
            "source.client_id",
            "source.client_secret",
            "source.refresh_token",
            "source.redirect_uri",
            "asset_definition",
        },
    ),
    "consolidated": (
        CONSOLIDATED,
        "configs/examples/gdrive_deals.yaml",
        {"source.service_account_key"},
    ),
    # The example also schedules table upkeep (`ingestgen maintain`), beyond the design.
    "runner": (RUNNER, "configs/examples/runner.yaml", {"runner.maintenance"}),
}


def _added(whole: Any, part: Any, prefix: str = "") -> set[str]:
    """Dotted keys of ``whole`` beyond ``part``; fails where they disagree."""
    if isinstance(part, dict):
        assert isinstance(whole, dict), prefix
        extra = {f"{prefix}{k}" for k in set(whole) - set(part)}
        for key, value in part.items():
            assert key in whole, f"{prefix}{key} is missing"
            extra |= _added(whole[key], value, f"{prefix}{key}.")
        return extra
    assert whole == part, f"{prefix.rstrip('.')}: {whole!r} is not the design's {part!r}"
    return set()


def _in_order(lines: list[str], within: list[str]) -> bool:
    remaining = iter(within)
    return all(line in remaining for line in lines)


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_the_snippet_is_there_as_written(name: str) -> None:
    snippet, where, may_add = SNIPPETS[name]
    text = (REPO / where).read_text()
    wanted = [line for line in snippet.splitlines() if line.strip()]
    assert _in_order(wanted, text.splitlines()), f"{where} lost a line of the design's {name}"
    assert _added(yaml.safe_load(text), yaml.safe_load(snippet)) == may_add


def test_the_examples_render_as_committed() -> None:
    # The consolidated job and the runner config are part of the committed projects.
    resolved = api.validate(REPO, [REPO / "configs" / "examples" / "gdrive_deals.yaml"])
    assert [(r.tenant, r.source_engine, r.target_engine) for r in resolved] == [
        ("acme", "native", "native")
    ]
    report = api.render(REPO, check=True)
    assert report.clean, report


def _design_dirs() -> list[Path]:
    configured = os.environ.get("INGESTGEN_DESIGN_DIR")
    return [Path(configured)] if configured else [REPO.parent / "shared" / "seed"]


def test_the_snippets_are_the_designs_current_text() -> None:
    documents = [p for d in _design_dirs() if d.is_dir() for p in sorted(d.glob("*.txt"))]
    if not documents:
        pytest.skip("the design document is not beside the repository (set INGESTGEN_DESIGN_DIR)")
    blocks = [
        block
        for path in documents
        for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), flags=re.DOTALL)
    ]
    assert blocks == [ENGINES, CONSOLIDATED, RUNNER]
