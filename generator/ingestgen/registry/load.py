"""Read and cross-check the registry folder: ``connectors.yaml`` (canonical) or ``connectors.json``.

Never accepts a registry whose entries point at engines or plugins that are not defined: such a
registry would only fail later, at render time, in a tenant's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from ingestgen.config.locate import problems_from
from ingestgen.config.yamlsource import Located, load_located
from ingestgen.errors import ConfigError, Problem, excerpt
from ingestgen.registry.models import ConnectorTemplate, EngineBinding, Registry
from ingestgen.registry.references import option_names


@dataclass(frozen=True)
class LoadedRegistry:
    """The registry and the connector templates, keyed by connector name."""

    registry: Registry
    templates: dict[str, ConnectorTemplate]


def load_registry(root: Path) -> LoadedRegistry:
    """Load ``<root>/registry``.

    Raises:
        ConfigError: the registry is missing, ambiguous or inconsistent; every problem listed.
    """
    folder = root / "registry"
    yaml_file, json_file = folder / "connectors.yaml", folder / "connectors.json"
    if yaml_file.exists() and json_file.exists():
        raise ConfigError(
            [
                Problem(
                    "registry/connectors.json",
                    0,
                    "",
                    "both connectors.yaml and connectors.json exist",
                    "keep one; connectors.yaml is the canonical form",
                )
            ]
        )
    source = yaml_file if yaml_file.exists() else json_file
    if not source.exists():
        raise ConfigError(
            [
                Problem(
                    "registry/connectors.yaml",
                    0,
                    "",
                    "the connector registry is missing",
                    f"create it or pass --root pointing at the repository (looked in {folder})",
                )
            ]
        )
    # JSON is a subset of YAML, so one located reader serves both spellings.
    doc = load_located(source, f"registry/{source.name}")
    try:
        registry = Registry.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, doc, Registry)) from None
    problems = _cross_check(registry, doc)
    templates: dict[str, ConnectorTemplate] = {}
    for path in sorted((folder / "templates").glob("*.yaml")):
        tdoc = load_located(path, f"registry/templates/{path.name}")
        try:
            template = ConnectorTemplate.model_validate(tdoc.data)
        except ValidationError as exc:
            problems += problems_from(exc, tdoc, ConnectorTemplate)
            continue
        known = set(registry.sources) | set(registry.targets)
        if template.connector != path.stem or template.connector not in known:
            problems.append(
                tdoc.problem(
                    ("connector",),
                    f"template for {excerpt(template.connector)} in file {excerpt(path.name)}",
                    f"name the file after a registry connector: {', '.join(sorted(known))}",
                )
            )
        templates[template.connector] = template
    if problems:
        raise ConfigError(problems)
    return LoadedRegistry(registry, templates)


def _cross_check(registry: Registry, doc: Located) -> list[Problem]:
    problems: list[Problem] = []
    entries = [("sources", n, c) for n, c in registry.sources.items()] + [
        ("targets", n, c) for n, c in registry.targets.items()
    ]
    for section, name, entry in entries:
        loc = (section, name)
        supported = [str(e) for e in entry.engines_supported]
        if entry.default_engine not in supported:
            problems.append(
                doc.problem(
                    (*loc, "default_engine"),
                    f"{excerpt(entry.default_engine)} is not in engines_supported",
                    "add it to engines_supported or pick a supported default",
                )
            )
        for engine in supported:
            if engine not in entry.engines:
                problems.append(
                    doc.problem(
                        (*loc, "engines"),
                        f"engine {excerpt(engine)} is supported but has no rendering",
                        f"add engines.{engine}.plugin",
                    )
                )
        for engine, binding in entry.engines.items():
            if binding.plugin not in registry.plugins:
                problems.append(
                    doc.problem(
                        (*loc, "engines", engine, "plugin"),
                        f"unknown plugin {excerpt(binding.plugin)}",
                        "define it under plugins:",
                    )
                )
            problems += _binding_refs(registry, doc, (*loc, "engines", engine), binding)
    problems += _option_schemas(registry, doc)
    problems += _shared_packages(registry, doc)
    for name, source in registry.sources.items():
        if source.default_incremental not in source.incremental_strategies:
            problems.append(
                doc.problem(
                    ("sources", name, "default_incremental"),
                    f"{excerpt(source.default_incremental)} is not listed in "
                    "incremental_strategies",
                )
            )
    return problems


def _binding_refs(
    registry: Registry, doc: Located, loc: tuple[str, ...], binding: EngineBinding
) -> list[Problem]:
    """A binding's mapper is a mapper plugin of the registry; its catalogs exist."""
    problems = []
    mapper = binding.mapper
    if mapper is not None:
        plugin = registry.plugins.get(mapper.plugin)
        if plugin is None or plugin.type != "mapper":
            problems.append(
                doc.problem(
                    (*loc, "mapper", "plugin"),
                    f"{excerpt(mapper.plugin)} is not a mapper plugin of the registry",
                    "define it under plugins: with type: mapper",
                )
            )
    for name in binding.catalogs or ():
        if name not in registry.catalogs:
            problems.append(
                doc.problem(
                    (*loc, "catalogs"),
                    f"unknown catalog {excerpt(name)}",
                    "known catalogs: " + ", ".join(sorted(registry.catalogs)),
                )
            )
    return problems


def _option_schemas(registry: Registry, doc: Located) -> list[Problem]:
    """Each engine options schema is valid and declares every option its bindings reference."""
    problems: list[Problem] = []
    options = registry.engine_options
    sides: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("sources", {str(k): v for k, v in options.sources.items()}, dict(registry.sources)),
        ("targets", {str(k): v for k, v in options.targets.items()}, dict(registry.targets)),
    ]
    for side, schemas, connectors in sides:
        for engine, schema in schemas.items():
            loc = ("engine_options", side, engine)
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                problems.append(doc.problem(loc, f"not a valid JSON Schema: {exc.message}"))
                continue
            declared = set(schema.get("properties") or {})
            for name, connector in connectors.items():
                binding = connector.engines.get(engine)
                used = option_names(binding.templates()) if binding else set()
                for option in sorted(used - declared):
                    problems.append(
                        doc.problem(
                            (side, name, "engines", engine, "config"),
                            f"option {option!r} is not declared for the {engine} engine",
                            f"add it to engine_options.{side}.{engine}.properties",
                        )
                    )
    return problems


# Our plugins depend on the shared error convention, which is not on the package index: a
# pip_url installing one of them from the repository must install it from there too, or
# `meltano install` fails to resolve (seen when a plugin entry was added without it).
_OURS = (
    "plugins/target-iceberg",
    "plugins/tap-gdrive-csv",
    "plugins/tap-airbyte-bridge",
    "plugins/mapper-contract",
)
_SHARED = "plugins/plugin-errors"


def _shared_packages(registry: Registry, doc: Located) -> list[Problem]:
    problems = []
    for name, plugin in registry.plugins.items():
        if any(ours in plugin.pip_url for ours in _OURS) and _SHARED not in plugin.pip_url:
            problems.append(
                doc.problem(
                    ("plugins", name, "pip_url"),
                    f"installs one of our plugins from the repository but not {_SHARED}, "
                    "which they depend on and which no package index serves",
                    f"start it with -e ${{MELTANO_PROJECT_ROOT}}/../../{_SHARED}",
                )
            )
    return problems
