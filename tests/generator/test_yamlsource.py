"""The safe, located YAML reader."""

from __future__ import annotations

import pytest

from ingestgen.config.yamlsource import parse_located
from ingestgen.errors import ConfigError


def test_lines_of_keys_and_items() -> None:
    doc = parse_located("a: 1\nb:\n  c:\n    - x\n    - y: 2\n", "f.yaml")
    assert doc.data == {"a": 1, "b": {"c": ["x", {"y": 2}]}}
    assert doc.line_of(("a",)) == 1
    assert doc.line_of(("b", "c")) == 3
    assert doc.line_of(("b", "c", 1, "y")) == 5
    assert doc.line_of(("b", "missing")) == 2


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['echo owned']\n",
        "a: !!python/name:os.system\n",
        "!!python/object:collections.OrderedDict {}\n",
        "a: !custom 3\n",
    ],
)
def test_unsafe_tags_are_rejected(text: str) -> None:
    with pytest.raises(ConfigError, match="is not allowed"):
        parse_located(text, "f.yaml")


def test_merge_keys_and_duplicates_are_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        parse_located("base: &b {x: 1}\nc:\n  <<: *b\na: 1\na: 2\n", "f.yaml")
    text = str(info.value)
    assert "f.yaml:3 c: merge keys (<<) are not supported" in text
    assert "f.yaml:5 a: the key 'a' appears twice" in text


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ConfigError, match=r"f.yaml:2: not valid YAML"):
        parse_located("a: [1\nb: 2\n", "f.yaml")


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b]\n", None),
        ("a: " + "[" * 70 + "]" * 70 + "\n", "values are nested more than 64 levels deep"),
        ("a: &me [*me]\n", "is used inside its own anchor"),
        ("a: 1\n---\nb: 2\n", "a second YAML document starts here"),
    ],
)
def test_both_parsers_give_the_same_answer(
    loader: str, text: str, message: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without libyaml PyYAML's pure-Python parser serves: the same events, the same limits.
    import yaml

    from ingestgen.config import yamlcompose

    if not hasattr(yaml, loader):
        pytest.skip(f"PyYAML has no {loader} here")
    monkeypatch.setattr(yamlcompose, "_Loader", getattr(yaml, loader))
    if message is None:
        assert parse_located(text, "f.yaml").data["c"] == [[["x", "x"]] * 3] * 2
    else:
        with pytest.raises(ConfigError, match=message):
            parse_located(text, "f.yaml")
