"""Located problems take a constrained type's name and fix from the type itself."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, StringConstraints, ValidationError

from ingestgen.config.locate import problems_from
from ingestgen.config.yamlsource import parse_located
from target_iceberg.strict import Hint, StrictModel

Code = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), Hint("code", "use 3 capitals")]
Plain = Annotated[str, StringConstraints(pattern=r"^x+$")]


class Inner(StrictModel):
    codes: list[Code] = Field(default_factory=list)


class Outer(StrictModel):
    code: Code
    maybe: Code | None = None
    inner: Inner | None = None
    plain: Plain = "x"


def problems(text: str) -> list[str]:
    doc = parse_located(text, "f.yaml")
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate(doc.data)
    return [str(p) for p in problems_from(caught.value, doc, Outer)]


def test_the_hint_is_found_on_fields_optionals_and_list_items() -> None:
    assert problems("code: ab\nmaybe: cd\ninner:\n  codes: [EUR, usd]\n") == [
        "f.yaml:1 code: 'ab' is not a valid code (use 3 capitals)",
        "f.yaml:2 maybe: 'cd' is not a valid code (use 3 capitals)",
        "f.yaml:4 inner.codes[1]: 'usd' is not a valid code (use 3 capitals)",
    ]


def test_a_type_without_a_hint_shows_its_pattern() -> None:
    assert problems("code: ABC\nplain: y\n") == [
        "f.yaml:2 plain: 'y' is not a valid value (it must match ^x+$)"
    ]


def test_the_strict_base_forbids_unknown_keys_and_freezes() -> None:
    assert problems("code: ABC\ncodee: 1\n") == [
        "f.yaml:2 codee: unknown key 'codee' (did you mean 'code'? valid keys: code, inner, "
        "maybe, plain)"
    ]
    with pytest.raises(ValidationError, match="frozen"):
        Outer(code="ABC").code = "XYZ"  # type: ignore[misc]
