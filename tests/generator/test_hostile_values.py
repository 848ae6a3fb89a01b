"""Hostile values in job files (issue 9, classes 4, 5 and the tenant grammar), and injection.

Look-alike and malformed tenant ids, environment references outside a tenant's own secrets,
paths and symbolic links leaving specs/, configs/ or the tenant's folders (the linked content is
never printed), YAML and Jinja injected into values (rendered verbatim, nothing else changes),
and runner configs where a job is expected. Each runs through `validate` and `render` by the
`hostile` harness (tests/generator/conftest.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hostile_harness import GOOD, Case

from ingestgen import api

pytestmark = pytest.mark.hostile

TENANTS = "config: look-alike and malformed tenant ids"
REFS = "config: environment references"
PATHS = "config: paths and symbolic links"
INJECT = "config: YAML and Jinja injection into values"
RUNNER = "config: runner configs"
JOB = "configs/acme/job.yaml"
SECRET = "hunter2-FOREIGN-CONTENT"
JSONL = """\
tenant_id: acme
source:
  type: jsonl
  path: {path}
target:
  type: iceberg
asset_definition: specs/jsonl/v1.0/events.yaml
"""


def tenant(value: str) -> str:
    return GOOD.replace("tenant_id: acme", f"tenant_id: {value}")


def source(line: str) -> str:
    """The good job with one more line in source: (line 4)."""
    return GOOD.replace("  type: gdrive_csv\n", f"  type: gdrive_csv\n{line}\n")


def folder(value: str) -> str:
    return GOOD.replace("local_folder: configs/acme/data", f"local_folder: {value}")


def outside(root: Path) -> Path:
    """A folder beside the repository holding a file that is no spec and no job."""
    place = root.parent / "outside"
    (place / "v1.0").mkdir(parents=True, exist_ok=True)
    for name in ("secret.yaml", "v1.0/deals_daily.yaml", "x.jsonl"):
        (place / name).write_text(f"asset: {SECRET}\nversion: '1.0'\n")
    return place


def link(at: str, to: Callable[[Path], Path], job: str = GOOD) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / JOB).write_text(job)
        path = root / at
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(to(root))

    return setup


def mounted_specs(inner_link: bool) -> Callable[[Path], None]:
    """specs/ as the runner image has it: a link to a folder mounted from elsewhere."""

    def setup(root: Path) -> None:
        mount = root.parent / "mounted-specs"
        shutil.move(root / "specs", mount)
        (root / "specs").symlink_to(mount)
        job = GOOD
        if inner_link:
            (mount / "gdrive_csv" / "v1.0" / "linked.yaml").symlink_to(
                outside(root) / "secret.yaml"
            )
            job = GOOD.replace("deals_daily.yaml", "linked.yaml")
        (root / JOB).write_text(job)

    return setup


def spec_link(target: Callable[[Path], Path]) -> Callable[[Path], None]:
    job = GOOD.replace("deals_daily.yaml", "linked.yaml")
    return link("specs/gdrive_csv/v1.0/linked.yaml", target, job)


CASES = [
    Case(
        TENANTS,
        "upper case ACME",
        tenant("ACME"),
        (f"{JOB}:1 tenant_id: 'ACME' is not a valid tenant id (write it in lower case, 'acme')",),
    ),
    Case(
        TENANTS,
        "a trailing space ('acme ')",
        tenant("'acme '"),
        (f"{JOB}:1 tenant_id: 'acme ' is not a valid tenant id (remove the spaces around it)",),
    ),
    Case(
        TENANTS,
        "a trailing tab",
        tenant('"acme\\t"'),
        ("'acme\\t' is not a valid tenant id (remove the spaces around it)",),
    ),
    Case(
        TENANTS,
        "'__' inside (acme__x)",
        tenant("acme__x"),
        (
            "'acme__x' is not a valid tenant id: '__' separates a tenant id from a branch suffix "
            "or a variable name",
        ),
    ),
    Case(
        TENANTS,
        "a trailing '_' (acme_)",
        tenant("acme_"),
        ("'acme_' is not a valid tenant id (remove the trailing '_')",),
    ),
    Case(
        TENANTS,
        "reserved: main",
        tenant("main"),
        (f"{JOB}:1 tenant_id: 'main' is reserved: it is the catalog's own branch",),
    ),
    Case(TENANTS, "reserved: master", tenant("master"), ("'master' is reserved",)),
    Case(
        TENANTS,
        "Cyrillic \u0430 (U+0430) for a",
        tenant("\u0430cme"),
        ("holds '\u0430' (U+0430 CYRILLIC SMALL LETTER A), which is not an ASCII letter",),
    ),
    Case(
        TENANTS,
        "Cyrillic \u0435 (U+0435) for e",
        tenant("acm\u0435"),
        ("holds '\u0435' (U+0435 CYRILLIC SMALL LETTER IE)",),
    ),
    Case(
        TENANTS,
        "fullwidth \uff41\uff43\uff4d\uff45",
        tenant("\uff41\uff43\uff4d\uff45"),
        ("(U+FF41 FULLWIDTH LATIN SMALL LETTER A)",),
    ),
    Case(
        TENANTS,
        "a zero-width space inside",
        tenant('"ac\\u200bme"'),
        ("(U+200B ZERO WIDTH SPACE)",),
    ),
    Case(
        TENANTS,
        "41 characters",
        tenant("a" * 41),
        ("is not a valid tenant id (use 1-40 lower-case letters",),
    ),
    Case(
        TENANTS,
        "starts with a digit",
        tenant("9lives"),
        ("'9lives' is not a valid tenant id (use 1-40",),
    ),
    Case(
        TENANTS,
        "a hyphen (acme-corp)",
        tenant("acme-corp"),
        ("'acme-corp' is not a valid tenant id",),
    ),
    Case(
        TENANTS,
        "path syntax (acme/../globex)",
        tenant("acme/../globex"),
        ("'acme/../globex' is not a valid tenant id",),
    ),
    Case(TENANTS, "empty", tenant("''"), ("tenant_id: '' is not a valid tenant id",)),
    Case(
        TENANTS,
        "another tenant's id in configs/acme/ (would render into globex's project)",
        tenant("globex").replace("configs/acme/data", "configs/globex/data"),
        (f"{JOB}:1 tenant_id: a job under configs/acme/ belongs to tenant 'acme', not 'globex'",),
    ),
    Case(TENANTS, "a number", tenant("123"), (f"{JOB}:1 tenant_id: expected text, got int 123",)),
    Case(TENANTS, "a list", tenant("[acme]"), ("tenant_id: expected text, got list ['acme']",)),
    Case(
        REFS,
        "the platform's S3 secret in a plain setting",
        source("  api_base_url: ${AWS_SECRET_ACCESS_KEY}"),
        (
            f"{JOB}:4 source.api_base_url: '${{AWS_SECRET_ACCESS_KEY}}' holds "
            f"'${{AWS_SECRET_ACCESS_KEY}}', "
            "an environment reference that Meltano would expand",
            "only the secret settings of this connector (oauth_token, service_account_key) may "
            "reference a variable",
        ),
    ),
    Case(
        REFS,
        "bare $VAR form",
        source("  api_base_url: http://x/$AWS_SECRET_ACCESS_KEY"),
        ("source.api_base_url: 'http://x/$AWS_SECRET_ACCESS_KEY' holds '$AWS_SECRET_ACCESS_KEY'",),
    ),
    Case(
        REFS,
        "nested: a file id",
        GOOD.replace("file_id: a.csv", "file_id: ${HOME}.csv"),
        (f"{JOB}:6 source.files[0].file_id: '${{HOME}}.csv' holds '${{HOME}}'",),
    ),
    Case(
        REFS,
        "a path setting ($HOME)",
        folder("$HOME/data"),
        (f"{JOB}:4 source.local_folder: '$HOME/data': '$' and '~' are not expanded",),
    ),
    Case(
        REFS,
        "the target's warehouse",
        GOOD.replace(
            "  catalog: embedded", "  catalog: embedded\n  warehouse: s3://lake/${NESSIE_TENANT}/"
        ),
        (f"{JOB}:13 target.warehouse: 's3://lake/${{NESSIE_TENANT}}/' holds '${{NESSIE_TENANT}}'",),
    ),
    Case(
        REFS,
        "an engine option",
        GOOD.replace(
            "  catalog: embedded",
            "  catalog: embedded\n  engine:\n    type: native\n    options:\n      native: "
            "{batch_size_rows: '${ROWS}'}",
        ),
        ("target.engine.options.native.batch_size_rows: '${ROWS}' holds '${ROWS}'",),
    ),
    Case(
        REFS,
        "a key",
        GOOD.replace("  redaction: true", "  redaction: true\n  ${KEY}: 1"),
        (f"{JOB}:15 logging.${{KEY}}: '${{KEY}}' holds '${{KEY}}'",),
    ),
    Case(
        REFS,
        "the asset definition path",
        GOOD.replace("deals_daily.yaml", "${SPEC}.yaml"),
        (
            f"{JOB}:15 asset_definition: '/app/specs/gdrive_csv/v1.0/${{SPEC}}.yaml' holds "
            f"'${{SPEC}}'",
        ),
    ),
    Case(
        REFS,
        "the start date",
        GOOD.replace(
            "    strategy: file_modified_time",
            "    strategy: file_modified_time\n    start_date: '${START}'",
        ),
        ("source.incremental.start_date: '${START}' holds '${START}'",),
    ),
    Case(
        REFS,
        "a GitHub-style expression ${{ secrets.X }}",
        GOOD.replace("file_id: a.csv", "file_id: '${{ secrets.X }}'"),
        ("source.files[0].file_id: '${{ secrets.X }}' holds '${{ secrets.X }'",),
    ),
    Case(
        REFS,
        "a secret not scoped to the tenant",
        source("  service_account_key: ${GDRIVE_SERVICE_ACCOUNT_KEY}"),
        (
            f"{JOB}:4 source.service_account_key: '${{GDRIVE_SERVICE_ACCOUNT_KEY}}' is not a "
            "variable "
            "of tenant 'acme' (give it as an environment reference, e.g. service_account_key: "
            f"${{ACME__GDRIVE_SERVICE_ACCOUNT_KEY}}, and set ACME__GDRIVE_SERVICE_ACCOUNT_KEY "
            "where the job runs",
        ),
    ),
    Case(
        REFS,
        "another tenant's secret",
        source("  oauth_token: ${GLOBEX__OAUTH_TOKEN}"),
        (
            "source.oauth_token: '${GLOBEX__OAUTH_TOKEN}' is not a variable of tenant 'acme' "
            "(give it as an environment reference, e.g. oauth_token: ${ACME__OAUTH_TOKEN}",
        ),
    ),
    Case(
        REFS,
        "a secret reference inside more text",
        source("  oauth_token: Bearer ${ACME__TOKEN}"),
        (
            "source.oauth_token: 'Bearer ${ACME__TOKEN}' must be exactly one reference, "
            "${ACME__<NAME>}",
        ),
    ),
    Case(
        REFS,
        "a lower-case secret reference",
        source("  oauth_token: ${acme__token}"),
        (
            "'${acme__token}' is not a variable of tenant 'acme' (give it as an environment "
            "reference, "
            "e.g. oauth_token: ${ACME__TOKEN}",
        ),
    ),
    Case(
        REFS,
        "a secret reference with an empty name",
        source("  oauth_token: ${ACME__}"),
        ("'${ACME__}' is not a variable of tenant 'acme'",),
    ),
    Case(
        REFS,
        "a literal secret",
        source("  oauth_token: ya29.a0AfH6SMB-literal"),
        (
            f"{JOB}:4 source.oauth_token: a secret must not be written in the job file (give it "
            f"as an environment reference, e.g. oauth_token: ${{ACME__OAUTH_TOKEN}}",
        ),
        absent=("ya29.a0AfH6SMB-literal",),
    ),
    Case(
        REFS,
        "an escaped \\$ stays literal (accepted)",
        source("  api_base_url: 'http://x/\\${NOT_A_REF}'"),
        code=0,
    ),
    Case(
        REFS,
        "the tenant's own secret (accepted)",
        source("  oauth_token: ${ACME__OAUTH_TOKEN}"),
        code=0,
    ),
    Case(
        PATHS,
        "local folder: an absolute path",
        folder("/etc"),
        (f"{JOB}:4 source.local_folder: '/etc': absolute paths are refused",),
    ),
    Case(
        PATHS,
        "local folder: '..' out of the repository",
        folder("configs/acme/../../../etc"),
        ("source.local_folder: 'configs/acme/../../../etc': '..' is refused",),
    ),
    Case(
        PATHS,
        "local folder: ~",
        folder("~/data"),
        ("source.local_folder: '~/data': '$' and '~' are not expanded",),
    ),
    Case(
        PATHS,
        "local folder: a hidden folder (.git)",
        folder("configs/acme/.git"),
        ("a path never names a hidden file or folder",),
    ),
    Case(
        PATHS,
        "local folder: another tenant's project state",
        folder("projects/globex/.meltano"),
        ("a path never names a hidden file or folder",),
    ),
    Case(
        PATHS,
        "local folder: another tenant's data",
        folder("data/globex"),
        (
            f"{JOB}:4 source.local_folder: 'data/globex': a path of tenant 'acme' lies in "
            "configs/acme/ "
            "or data/acme/",
        ),
    ),
    Case(
        PATHS,
        "local folder: the registry",
        folder("registry"),
        ("a path of tenant 'acme' lies in configs/acme/ or data/acme/",),
    ),
    Case(
        PATHS,
        "local folder: a newline inside",
        folder('"data/acme\\nx"'),
        ("the path is empty or holds a control character",),
    ),
    Case(
        PATHS,
        "local folder linked out of the repository",
        link("configs/acme/data", outside, folder("configs/acme/data")),
        (
            "source.local_folder: 'configs/acme/data': a symbolic link takes the path out of "
            "configs/acme/ or data/acme/",
        ),
        absent=(SECRET,),
    ),
    Case(
        PATHS,
        "a link under the local folder leaving it",
        link("data/acme/deals.csv", lambda r: outside(r) / "secret.yaml", folder("data/acme")),
        ("a symbolic link takes the path out of",),
        absent=(SECRET,),
    ),
    Case(
        PATHS,
        "jsonl glob: another tenant's files",
        JSONL.format(path="data/*/events/*.jsonl"),
        ("source.path: 'data/*/events/*.jsonl': a path of tenant 'acme' lies in",),
    ),
    Case(
        PATHS,
        "jsonl glob: '..' after a wildcard",
        JSONL.format(path="data/acme/*/../../globex/x.jsonl"),
        ("'..' is refused",),
    ),
    Case(
        PATHS,
        "jsonl glob matching a link out",
        link(
            "data/acme/events/x.jsonl",
            lambda r: outside(r) / "x.jsonl",
            JSONL.format(path="data/acme/events/*.jsonl"),
        ),
        ("source.path: 'data/acme/events/*.jsonl': a symbolic link takes the path out of",),
        absent=(SECRET,),
    ),
    Case(
        PATHS,
        "asset spec: a file linked outside the repository",
        spec_link(lambda r: outside(r) / "secret.yaml"),
        (
            f"{JOB}:15 asset_definition: specs/gdrive_csv/v1.0/linked.yaml is a symbolic link "
            "(or lies in a linked folder) leaving specs/; it was not read",
        ),
        absent=(SECRET,),
    ),
    Case(
        PATHS,
        "asset spec: a file linked to the registry",
        spec_link(lambda r: r / "registry" / "connectors.yaml"),
        ("linked.yaml is a symbolic link (or lies in a linked folder) leaving specs/",),
        absent=("tap_gdrive_csv",),
    ),
    Case(
        PATHS,
        "asset spec: a source folder linked outside",
        link("specs/evil", outside, GOOD.replace("gdrive_csv/v1.0", "evil/v1.0")),
        (
            "asset_definition: specs/evil/v1.0/deals_daily.yaml is a symbolic link (or lies in "
            "a linked folder) leaving specs/",
        ),
        absent=(SECRET,),
    ),
    Case(
        PATHS,
        "asset spec: specs/ itself mounted from elsewhere (the runner image's /specs)",
        mounted_specs(inner_link=False),
        code=0,
    ),
    Case(
        PATHS,
        "asset spec: a link leaving a mounted specs/",
        mounted_specs(inner_link=True),
        ("linked.yaml is a symbolic link (or lies in a linked folder) leaving specs/",),
        absent=(SECRET,),
    ),
    Case(
        PATHS,
        "asset spec: a link loop",
        link(
            "specs/gdrive_csv/v1.0/loop.yaml",
            lambda r: r / "specs/gdrive_csv/v1.0/loop.yaml",
            GOOD.replace("deals_daily.yaml", "loop.yaml"),
        ),
        ("asset_definition: specs/gdrive_csv/v1.0/loop.yaml does not exist",),
    ),
    Case(
        PATHS,
        "asset spec: a NUL in the path",
        GOOD.replace(
            "/app/specs/gdrive_csv/v1.0/deals_daily.yaml",
            '"/app/specs/gdrive_csv/v1.0/deals\\0.yaml"',
        ),
        ("holds the control character U+0000",),
    ),
    Case(
        PATHS,
        "job file linked outside configs/",
        lambda r: (r / JOB).symlink_to(outside(r) / "secret.yaml"),
        (
            f"{JOB}: the file lies outside configs/ (it is, or is reached through, a symbolic "
            "link leaving it); it was not read",
        ),
        absent=(SECRET,),
    ),
    Case(
        PATHS,
        "runner config linked outside configs/",
        lambda r: (r / "configs/runner.yaml").symlink_to(outside(r) / "secret.yaml"),
        ("configs/runner.yaml: the file lies outside configs/",),
        absent=(SECRET,),
        job_path="configs/runner.yaml",
    ),
    Case(
        PATHS,
        "batch files written elsewhere (batch_config.storage.root)",
        GOOD.replace(
            "  incremental:",
            "  engine:\n    type: native\n    options:\n      native:\n        batch_config:\n"
            "          encoding: {format: parquet}\n          storage: {root: 'file:///tmp/x'}\n"
            "  incremental:",
        ),
        (
            f"{JOB}:14 source.engine.options.native.batch_config.storage: 'storage' is not a "
            "setting a job gives in batch_config (give only batch_size, encoding; the platform "
            "sets the rest)",
        ),
    ),
    Case(
        RUNNER,
        "a runner config named otherwise, among jobs",
        (Path(__file__).parents[2] / "configs/examples/runner.yaml")
        .read_text()
        .replace("/app/configs/examples/stripe.yaml", "configs/acme/other.yaml"),
        (
            f"{JOB}:3 runner: this is a runner config (a runner: block), not a job file (rename "
            "it to runner.yaml",
        ),
    ),
]

INJECTIONS = [
    "{{ 7 * 7 }}",
    "{% raw %}x{% endraw %}",
    "{tenant_id}",
    "{source.oauth_token}",
    "a.csv\nplugins: {extractors: [{name: evil}]}",
    "x: y",
    "---",
    "...",
    "'; \" # not a comment",
    "&anchor *alias !tag",
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.case)
def test_hostile_values(case: Case, hostile: Callable[[Case], Path]) -> None:
    hostile(case)


@pytest.mark.parametrize("value", INJECTIONS)
def test_injected_value_renders_verbatim(
    value: str, hostile: Callable[[Case], Path], tmp_path: Path
) -> None:
    # A JSON string is a YAML double-quoted scalar: the value arrives exactly as written.
    text = GOOD.replace("file_id: a.csv", f"file_id: {json.dumps(value)}")
    root = hostile(Case(INJECT, f"a file id of {value!r}", text, code=0))
    got = yaml.safe_load((root / "projects" / "acme" / "meltano.yml").read_text())
    extractors = {p["name"]: p for p in got["plugins"]["extractors"]}
    files = extractors["tap-gdrive-csv--job"]["config"]["files"]
    assert files == [{"file_id": value, "object": "deals_daily"}]
    # Nothing else differs from the project of the same job with an ordinary file id.
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, symlinks=True, ignore=shutil.ignore_patterns("projects"))
    (clean / JOB).write_text(GOOD)
    (clean / "projects").mkdir()
    assert api.render(clean).clean
    expected = yaml.safe_load((clean / "projects" / "acme" / "meltano.yml").read_text())
    files[0]["file_id"] = "a.csv"
    assert got == expected
