"""Load tenant job files and the asset definitions they name, collecting every problem at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from ingestgen.config.envrefs import reference_problems
from ingestgen.config.job import JobConfig
from ingestgen.config.locate import problems_from
from ingestgen.config.yamlcompose import LIMITS
from ingestgen.config.yamlsource import Located, load_located, texts
from ingestgen.errors import ConfigError, Problem, each_or_all_problems, excerpt
from ingestgen.paths import RUNNER_FILE, display, spec_relpath
from target_iceberg.spec import AssetSpec
from target_iceberg.tenancy import branch_problem, tenant_id_problem

JOB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class JobFile:
    """A validated job file and its asset definition."""

    name: str
    """Job name: the file name without ``.yaml``."""
    display: str
    """Repository-relative path, as messages show it."""
    config: JobConfig
    doc: Located
    asset: AssetSpec
    asset_path: PurePosixPath
    """Repository-relative path of the asset definition."""
    root: Path
    """The repository the job was read from (connector paths are checked on its disk)."""


def load_jobs(files: list[Path], root: Path) -> list[JobFile]:
    """Validate every file; raise one `ConfigError` listing all problems of all files."""
    return each_or_all_problems(files, lambda path: load_job(path, root))


def is_runner_data(data: object) -> bool:
    """Whether a parsed file is a runner config (a ``runner:`` block, no ``tenant_id``)."""
    return isinstance(data, dict) and "runner" in data and "tenant_id" not in data


def load_job(path: Path, root: Path) -> JobFile:
    """Validate one job file and load its asset definition."""
    name = display(path, root)
    doc = load_located(path, name)
    if is_runner_data(doc.data):
        raise ConfigError(
            [
                doc.problem(
                    ("runner",),
                    "this is a runner config (a runner: block), not a job file",
                    f"rename it to {RUNNER_FILE}: the one runner config of the repository, under "
                    "configs/, has that name",
                )
            ]
        )
    problems: list[Problem] = []
    if not JOB_NAME.match(path.stem):
        problems.append(
            Problem(
                name,
                0,
                "",
                f"job name {excerpt(path.stem)} (the file name) is not a safe identifier",
                "rename the file to lower-case letters, digits and '_', starting with a letter",
            )
        )
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [
                *problems,
                doc.problem(
                    (),
                    "a job file must be a mapping of keys",
                    "start from configs/acme/deals_daily.yaml",
                ),
            ]
        )
    problems += _references(doc.data, doc)
    try:
        config = JobConfig.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(problems + problems_from(exc, doc, JobConfig)) from None
    problems += _isolation(config, doc)
    problems += _folder(config, doc)
    asset, asset_path = _load_asset(config, doc, root, problems)
    if problems or asset is None or asset_path is None:
        raise ConfigError(problems)
    return JobFile(path.stem, name, config, doc, asset, asset_path, root)


# Control characters (C0 but tab and line breaks, DEL, C1) and the bidirectional overrides that
# make a reviewed diff read differently from what runs: never part of an honest job value.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _references(data: dict[object, object], doc: Located) -> list[Problem]:
    # Control characters anywhere; environment references anywhere but the connector's own
    # settings under source:, which the registry's secrets decide (registry.settings).
    problems: list[Problem] = []
    for at, text in texts(data):
        found = _CONTROL.search(text)
        if found:
            problems.append(
                doc.problem(
                    at,
                    f"{excerpt(text)} holds the control character U+{ord(found.group()):04X}",
                    "remove it; job values are plain text",
                )
            )
    for key, value in data.items():
        if key == "source" and isinstance(value, dict):
            for own in ("type", "engine", "incremental"):
                problems += reference_problems(value.get(own), ("source", own), doc, [])
        else:
            problems += reference_problems(value, (str(key),), doc, [])
    return problems


EXAMPLES = "examples"
"""configs/examples/ holds the design's own examples, which name several tenants."""


def _folder(config: JobConfig, doc: Located) -> list[Problem]:
    # configs/<tenant>/ holds only that tenant's jobs: a file there naming another tenant would
    # render into, and run as, the other tenant's project.
    parts = PurePosixPath(doc.file).parts
    if len(parts) < 3 or parts[0] != "configs" or parts[1] == EXAMPLES:
        return []
    if parts[1] == config.tenant_id:
        return []
    folder = parts[1] if len(parts[1]) <= 40 else excerpt(parts[1])
    return [
        doc.problem(
            ("tenant_id",),
            f"a job under configs/{folder}/ belongs to tenant {folder!r}, not {config.tenant_id!r}",
            f"move the file to configs/{config.tenant_id}/ or fix tenant_id (only "
            f"configs/{EXAMPLES}/ may hold several tenants' jobs)",
        )
    ]


def _isolation(config: JobConfig, doc: Located) -> list[Problem]:
    # The warehouse prefix and whether the catalog has branches are the registry's business
    # (`ingestgen.registry.resolve`); the branch grammar holds whatever the catalog.
    tenant, branch = config.tenant_id, config.target.branch
    if branch is None or tenant_id_problem(tenant) is not None:
        return []
    refusal = branch_problem(branch, tenant)
    if refusal is None:
        return []
    return [doc.problem(("target", "branch"), refusal.message, refusal.fix)]


def _load_asset(
    config: JobConfig, doc: Located, root: Path, problems: list[Problem]
) -> tuple[AssetSpec | None, PurePosixPath | None]:
    loc = ("asset_definition",)
    rel = spec_relpath(config.asset_definition)
    if isinstance(rel, str):
        problems.append(doc.problem(loc, f"{excerpt(config.asset_definition)}: {rel}"))
        return None, None
    path = root / rel
    if not path.is_file():
        problems.append(
            doc.problem(loc, f"{rel} does not exist", "create the asset definition or fix the path")
        )
        return None, None
    real = path.resolve()
    # The boundary is where specs/ itself really is: the platform may mount it (the runner image
    # links /app/specs to a read-only /specs, as the design asks). Nothing inside it may leave it.
    if not real.is_relative_to((root / "specs").resolve()):  # resolves_inside, resolved once
        # Never read: a link out of specs/ would make its target's content a "spec" and
        # print it in the validation errors.
        problems.append(
            doc.problem(
                loc,
                f"{rel} is a symbolic link (or lies in a linked folder) leaving specs/; it was "
                "not read",
                "put the asset definition itself under specs/<source>/v<version>/",
            )
        )
        return None, None
    spec_doc, asset, spec_problems = _read_asset(real, rel.as_posix())
    if asset is None:
        problems += spec_problems
        return None, None
    layout = _layout_problem(rel, asset)
    if layout:
        problems.append(spec_doc.problem((), layout[0], layout[1]))
    audit = config.target.audit
    if audit is not None and audit.enabled and (asset.audit is None or not asset.audit.count()):
        problems.append(
            doc.problem(
                ("target", "audit"),
                f"audit is enabled but the asset spec {rel} declares no audit checks",
                f"add an audit: block (row_count, not_null, unique_key, ...) to {rel}, or "
                "remove target.audit",
            )
        )
    return asset, rel


# Many jobs name one asset definition (a thousand tenants, one spec): it is parsed and validated
# once per content. Keyed by the bytes read, so an edited file is read afresh (the models are
# frozen).
_ASSETS: dict[tuple[str, str, bytes], tuple[Located, AssetSpec | None, list[Problem]]] = {}
_ASSETS_MAX = 256


def _read_asset(real: Path, name: str) -> tuple[Located, AssetSpec | None, list[Problem]]:
    try:
        with real.open("rb") as handle:  # bounded like every read; load_located says if too big
            content = handle.read(LIMITS.file_bytes + 1)
    except OSError:
        content = b""
    key = (str(real), name, content)
    found = _ASSETS.get(key)
    if found is not None:
        return found
    spec_doc = load_located(real, name)
    try:
        result: tuple[Located, AssetSpec | None, list[Problem]] = (
            spec_doc,
            AssetSpec.model_validate(spec_doc.data),
            [],
        )
    except ValidationError as exc:
        result = (spec_doc, None, problems_from(exc, spec_doc, AssetSpec))
    if len(_ASSETS) >= _ASSETS_MAX:
        _ASSETS.clear()
    _ASSETS[key] = result
    return result


def _layout_problem(rel: PurePosixPath, asset: AssetSpec) -> tuple[str, str] | None:
    # specs/<source>/v<version>/<asset>.yaml keeps the folder tree honest about what it holds.
    parts = rel.parts
    # The source folder is checked by the resolver, once the source is known to exist.
    expected = ("specs", parts[1], f"v{asset.version}", f"{asset.asset}.yaml")
    if parts != expected:
        return (
            f"the asset '{asset.asset}' version {asset.version} is filed at {rel}",
            "move it to " + "/".join(expected) + " or fix asset/version in the file",
        )
    return None
