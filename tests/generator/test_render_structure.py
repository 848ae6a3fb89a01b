"""A rendered project parsed back in parts (`ingestgen.render.structure`) is what YAML parses.

Each case renders a template with the repository's filters and compares the data
``render_parsed`` gives with PyYAML's parse of the whole rendered text: the templates that
assemble cleanly (the real project template) and those where a fragment is not alone where the
template put it (which must fall back to the whole parse, never give other data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import DictLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from ingestgen.config.runner import find_runner
from ingestgen.registry.load import load_registry
from ingestgen.render import project, structure
from ingestgen.render.jinja import environment, to_comment, to_yaml, to_yaml_block
from ingestgen.render.repository import validate
from ingestgen.render.workspace import meltano_schedules

REPO = Path(__file__).resolve().parents[2]


def _env(source: str) -> Any:
    env = SandboxedEnvironment(
        loader=DictLoader({"t": source}),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(yaml=to_yaml, yaml_block=to_yaml_block, comment=to_comment)
    return env.get_template("t")


def _parsed(source: str, **context: Any) -> tuple[str, Any, Any]:
    template = _env(source)
    text, data = structure.render_parsed(lambda: template.render(**context))
    assert text == template.render(**context), "the text is the plain render's"
    return text, data, yaml.safe_load(text)


def test_the_repository_projects_parse_back_as_yaml_does() -> None:
    loaded = load_registry(REPO)
    resolved = validate(REPO)
    runner = find_runner(REPO)
    schedules = meltano_schedules(runner)
    template = environment(REPO / "templates").get_template(project.TEMPLATE)
    tenants = sorted({job.tenant for job in resolved})
    assert len(tenants) > 1
    structure._skeleton.cache_clear()
    for tenant in tenants:
        jobs = sorted((j for j in resolved if j.tenant == tenant), key=lambda j: j.name)
        context = {**project._context(tenant, jobs, loaded), "schedules": schedules.get(tenant, [])}
        text, data = structure.render_parsed(lambda: template.render(**context))  # noqa: B023
        assert text == (REPO / "projects" / tenant / "meltano.yml").read_text()
        assert data == yaml.safe_load(text), tenant
    # Parsed through skeletons, not whole (one per shape of project, at most one per tenant).
    assert 1 <= structure._skeleton.cache_info().misses <= len(tenants)


@pytest.mark.parametrize(
    ("source", "context"),
    [
        # A mapping block, a list block at its key's indent, scalars, a comment.
        (
            "# from {{ s | comment }}\nname: {{ n | yaml }}\nconfig:\n{{ c | yaml_block(2) }}\n"
            "select:\n{{ l | yaml_block(0) }}\nflow: {{ c | yaml }}\n",
            {
                "s": "a.yaml, b.yaml",
                "n": "x: y",
                "c": {"a": [1, {"b": None}], "t": True},
                "l": ["a.*"],
            },
        ),
        # Values the dumper quotes: they load back as themselves.
        (
            "a: {{ v | yaml }}\nb:\n{{ d | yaml_block(4) }}\n",
            {"v": "- 1 # no", "d": {"k": "yes", "n": "007", "e": "", "u": "é \u00a0 \t"}},
        ),
    ],
)
def test_assembled_data_is_the_whole_parse(source: str, context: dict[str, Any]) -> None:
    structure._skeleton.cache_clear()
    _, data, whole = _parsed(source, **context)
    assert data == whole
    assert structure._skeleton.cache_info().misses == 1, "the skeleton was parsed, not the text"


@pytest.mark.parametrize(
    ("source", "context"),
    [
        # A static key after a mapping block, at its indent: one mapping in YAML.
        ("config:\n{{ c | yaml_block(2) }}\n  extra: 1\n", {"c": {"a": 1}}),
        # A static item after a list block.
        ("l:\n{{ l | yaml_block(0) }}\n- z\n", {"l": ["a", "b"]}),
        # Text after a scalar on its line: part of the same scalar.
        ("a: {{ v | yaml }} tail\n", {"v": "x"}),
        # A block indented less than its key: not the key's value.
        ("top:\n  key:\n{{ c | yaml_block(2) }}\n", {"c": {"a": 1}}),
        # A scalar over several lines (the dumper folds nothing at this width, but quotes may
        # span lines).
        ("a: {{ v | yaml }}\n", {"v": "one\n\ntwo"}),
        # A comment given a line break: the rest is YAML.
        ("# {{ s | comment }}\nb: 1\n", {"s": "x\nc: 2"}),
        # A block given as a scalar where a mapping is expected.
        ("m:\n{{ v | yaml_block(2) }}\n", {"v": "plain"}),
        # Anchors in the template's own text repeat a placeholder.
        ("a: &x\n{{ c | yaml_block(2) }}\nb: *x\n", {"c": {"k": 1}}),
    ],
)
def test_a_fragment_not_alone_falls_back_to_the_whole_parse(
    source: str, context: dict[str, Any]
) -> None:
    try:
        whole = yaml.safe_load(_env(source).render(**context))
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            _parsed(source, **context)
        return
    _, data, _ = _parsed(source, **context)
    assert data == whole


def test_outside_a_project_render_the_filters_give_the_text() -> None:
    assert to_yaml("a: b") == "'a: b'"
    assert to_yaml_block({"a": [1]}, 2) == "  a:\n  - 1"
    assert to_comment("x") == "x"
