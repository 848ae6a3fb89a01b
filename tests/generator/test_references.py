"""The registry's reference language (generator/ingestgen/registry/references.py)."""

from __future__ import annotations

from ingestgen.registry.references import fill, option_names

CTX = {"source": {"files": [{"file_id": "a"}], "port": 5432}, "options": {"image": "x:1"}}


def test_whole_references_keep_types_and_absent_ones_drop_the_key() -> None:
    config = {"files": "{source.files}", "port": "{source.port}", "token": "{source.token}"}
    assert fill(config, CTX) == {"files": [{"file_id": "a"}], "port": 5432}


def test_inline_references_become_text() -> None:
    assert fill({"dsn": "db:{source.port}/{source.db}"}, CTX) == {"dsn": "db:5432/"}


def test_absent_list_items_are_left_out() -> None:
    assert fill(["{source.port}", "{source.nope}", "lit"], CTX) == [5432, "lit"]


def test_first_of_takes_the_first_alternative_that_resolves() -> None:
    config = {
        "connector": {
            "first_of": [
                {"docker_image": "{options.image}", "engine": "{options.engine}"},
                {"python": {"executable": "source-x"}},
            ]
        }
    }
    assert fill(config, CTX) == {"connector": {"docker_image": "x:1"}}
    assert fill(config, {"options": {}}) == {"connector": {"python": {"executable": "source-x"}}}


def test_first_of_skips_an_alternative_whose_only_values_are_defaults() -> None:
    # The container alternative carries a default network; without an image it is skipped.
    config = {
        "first_of": [
            {"docker_image": "{options.image}", "network": {"first_of": ["{options.net}", "none"]}},
            {"python": {"executable": "source-x"}},
        ]
    }
    assert fill(config, {"options": {}}) == {"python": {"executable": "source-x"}}
    assert fill(config, CTX) == {"docker_image": "x:1", "network": "none"}
    both = {"options": {"image": "x:1", "net": "bridge"}}
    assert fill(config, both) == {"docker_image": "x:1", "network": "bridge"}


def test_first_of_with_nothing_resolving_drops_the_key() -> None:
    config = {"c": {"first_of": ["{options.a}", "{options.b}"]}, "d": 1}
    assert fill(config, {"options": {}}) == {"d": 1}


def test_option_names_are_the_valid_engine_options() -> None:
    config = {"a": "{options.batch_size_rows}", "b": [{"c": "x{options.image}y"}], "d": 3}
    assert option_names(config) == {"batch_size_rows", "image"}
