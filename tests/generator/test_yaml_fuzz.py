"""A fuzz pass over the located YAML reader, with a fixed budget (hypothesis, derandomized).

Whatever the text, `parse_located` returns a document or raises `ConfigError`: never another
exception, never a value past the limits, never much memory. Where it returns a document,
PyYAML's own safe loader (same parser) agrees on every value: the reader is stricter, never
different. No timing is asserted; hypothesis's deadline is off.
"""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hostile_harness import GOOD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestgen.config.yamlcompose import LIMITS
from ingestgen.config.yamlsource import parse_located
from ingestgen.errors import ConfigError

pytestmark = pytest.mark.hostile

BUDGET = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    # record_property only appends the report's row; it holds no state between examples.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
TOKENS = [
    "- ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "!!str ",
    "!!python/name:os.system ",
    "!x ",
    "<<: ",
    "? ",
    "|\n",
    ">-\n",
    "'",
    '"',
    "#",
    "\n",
    "\n  ",
    "\n    ",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "~",
    "null",
    "true",
    "on",
    "1e999",
    ".nan",
    "0x1F",
    "1:20",
    "2026-13-45",
    "2026-01-01",
    "\\0",
    "\\u202e",
    "\t",
    "tenant_id",
    "acme",
    "${X}",
    "\ufeff",
    "\x85",
    "=",
]
# At most this much Python memory for one parse of a short text (the limits bound it).
PEAK_BYTES = 64 * 2**20


def measure(value: Any, depth: int = 0) -> tuple[int, int]:
    """Values and depth of a built document."""
    if isinstance(value, dict):
        parts = [measure(v, depth + 1) for v in value.values()] + [(len(value), depth + 1)]
    elif isinstance(value, list):
        parts = [measure(v, depth + 1) for v in value] + [(0, depth + 1)]
    else:
        return 1, depth
    return 1 + sum(p[0] for p in parts), max(p[1] for p in parts)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def check(text: str) -> str:
    """Parse ``text``; assert the reader's contract; say how it ended."""
    tracemalloc.start()
    refused: ConfigError | None = None
    try:
        doc = parse_located(text, "fuzz.yaml")
    except ConfigError as exc:
        refused = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < PEAK_BYTES
    if refused is not None:
        assert refused.problems and all(len(str(p)) < 600 for p in refused.problems)
        return "refused"
    values, depth = measure(doc.data)
    assert values <= LIMITS.nodes and depth <= LIMITS.depth
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if "=" in text:
        # A lone '=' is YAML 1.1's `value` type, which PyYAML cannot build; the reader keeps
        # text. Compare where PyYAML builds it.
        try:
            theirs = yaml.load(text, Loader=loader)
        except yaml.constructor.ConstructorError:
            return "accepted"
    else:
        theirs = yaml.load(text, Loader=loader)
    assert same(doc.data, theirs), (doc.data, theirs)
    return "accepted"


Record = Callable[[str, object], None]


def row(record: Record, case: str, outcome: str = "") -> None:
    record("category", "config: YAML reader fuzz")
    record("case", case)
    record(
        "outcome",
        outcome
        or "a document or ConfigError, never another exception; values and depth within "
        "limits; < 64 MiB; equal to PyYAML's safe load when accepted",
    )
    record("figures", f"{BUDGET.max_examples} derandomized examples, no deadline")


@BUDGET
@given(text=st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_token_soup(text: str, record_property: Record) -> None:
    row(record_property, "hypothesis: soups of YAML tokens (indicators, tags, anchors, escapes)")
    check(text)


@BUDGET
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(GOOD)), st.sampled_from(TOKENS) | st.text(max_size=3)),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_job(edits: list[tuple[int, str]], record_property: Record) -> None:
    row(record_property, "hypothesis: the good job with tokens and text inserted anywhere")
    text = GOOD
    for at, insert in sorted(edits, reverse=True):
        text = text[:at] + insert + text[at:]
    check(text)


@BUDGET
@given(levels=st.integers(1, 12), width=st.integers(1, 12), flow=st.booleans())
def test_alias_pyramids(levels: int, width: int, flow: bool, record_property: Record) -> None:
    row(
        record_property,
        "hypothesis: nested aliases of every width and depth (billion-laughs shapes)",
        "refused exactly when the expanded document passes 100,000 values, else equal to "
        "PyYAML's safe load; never another exception; < 64 MiB",
    )
    lines = ["l0: &l0 x"]
    size = total = 1  # the anchored value's size expanded; the document's so far (the root)
    total += 1 + size
    for n in range(1, levels):
        items = [f"*l{n - 1}"] * width
        body = f"[{', '.join(items)}]" if flow else "".join(f"\n  - {i}" for i in items)
        lines.append(f"l{n}: &l{n} {body}")
        size = 1 + width * size
        total += 1 + size
    outcome = check("\n".join(lines) + "\n")
    assert outcome == ("refused" if total > LIMITS.nodes else "accepted"), total
