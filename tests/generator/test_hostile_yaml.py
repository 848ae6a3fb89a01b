"""Hostile YAML (issue 9, class 1 and the reader's rules): each refused, located, fast, unread.

Resource exhaustion (aliases, depth, size, long values), unsafe tags, merges, duplicate keys,
multi-document files and encodings, each run through `validate` and `render` by the `hostile`
harness (tests/generator/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_harness import GOOD, Case

pytestmark = pytest.mark.hostile

BOMBS = "config: YAML resource exhaustion"
TAGS = "config: YAML tags, merges, duplicate keys"
DOCS = "config: documents and encodings"
JOB = "configs/acme/job.yaml"


def laughs(levels: int = 9) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + f"\ntenant_id: *l{levels - 1}\n"


def body(after: str = "") -> str:
    """The good job without its tenant line, for cases that replace the tenant's value."""
    return GOOD.split("\n", 1)[1] + after


CASES = [
    Case(
        BOMBS,
        "billion laughs: 9 levels of 9 aliases, 500 bytes",
        laughs(),
        (
            f"{JOB}:6 l5[0]: the document holds more than 100,000 values once its aliases are "
            "expanded",
        ),
    ),
    Case(
        BOMBS,
        "alias uses past 1,000 (each small)",
        "a: &a x\nb: [" + ", ".join(["*a"] * 1001) + "]\n",
        (f"{JOB}:2 b[1000]: more than 1,000 alias uses",),
    ),
    Case(
        BOMBS,
        "an alias inside its own anchor (a value containing itself)",
        "tenant_id: &me [*me]\n",
        (f"{JOB}:1 tenant_id[0]: the alias *'me' is used inside its own anchor",),
    ),
    Case(
        BOMBS,
        "10,000 nested [",
        "tenant_id: " + "[" * 10_000 + "]" * 10_000 + "\n",
        (f"{JOB}:1: not valid YAML: exceeded maximum nesting depth",),
    ),
    Case(
        BOMBS,
        "500 nested [ (under the parser's own bound of 1,000)",
        "tenant_id: " + "[" * 500 + "]" * 500 + "\n",
        (f"{JOB}:1 tenant_id[0][0][0][0][0]...[0][0]: values are nested more than 64 levels deep",),
    ),
    Case(
        BOMBS,
        "10,000 nested { (flow mappings)",
        "tenant_id: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
        (f"{JOB}:1 tenant_id.a.a.a.a.a...a.a: values are nested more than 64 levels deep",),
    ),
    Case(
        BOMBS,
        "5,000 nested block lists",
        "tenant_id:\n" + "- " * 5_000 + "x\n",
        (f"{JOB}:2 tenant_id[0][0][0][0][0]...[0][0]: values are nested more than 64 levels deep",),
    ),
    Case(
        BOMBS,
        "a shallow anchor aliased at depth 60 (depth counted through aliases)",
        "deep: &d " + "[" * 10 + "]" * 10 + "\ntenant_id: " + "[" * 55 + "*d" + "]" * 55 + "\n",
        ("values are nested more than 64 levels deep",),
    ),
    Case(
        BOMBS,
        "30 MB job file (an honest shape: a long file list)",
        body().replace(
            "    - file_id: a.csv\n",
            "".join(
                f"    - {{file_id: f{n:07d}.csv, object: deals_daily}}\n" for n in range(600_000)
            )
            + "    - file_id: a.csv\n",
        ),
        (f"{JOB}: the file is larger than 1,024 KiB",),
    ),
    Case(
        BOMBS,
        "5 MB scalar",
        "tenant_id: " + "x" * 5_000_000 + "\n" + body(),
        (f"{JOB}: the file is larger than 1,024 KiB",),
        absent=("x" * 200,),
    ),
    Case(
        BOMBS,
        "900 KB scalar (under the size limit, past the value limit)",
        "tenant_id: " + "x" * 900_000 + "\n" + body(),
        (f"{JOB}:1 tenant_id: a value of 900,000 characters (more than 65,536)",),
        absent=("x" * 200,),
    ),
    Case(
        BOMBS,
        "60 KB tenant id (within limits: quoted as an excerpt)",
        "tenant_id: " + "x" * 60_000 + "\n" + body(),
        (
            f"{JOB}:1 tenant_id: 'xxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxx' "
            "(60,000 characters)",
        ),
        absent=("x" * 200,),
    ),
    Case(
        BOMBS,
        "60 KB unknown key (quoted as an excerpt in the key path too)",
        GOOD.replace("target:\n", "target:\n  ? " + "k" * 60_000 + "\n  : 1\n"),
        (
            "unknown key 'kkkkkkkkkkkkkkkkkkkkkkkkkkk...kkkkkkkkkkkkkkkkkkkkkkkkkkkk' "
            "(60,000 characters)",
        ),
        absent=("k" * 200,),
    ),
    Case(
        BOMBS,
        "a number of 5,000 digits (int conversion limit)",
        GOOD.replace("  redaction: true", "  redaction: " + "7" * 5_000),
        (f"{JOB}:14 logging.redaction: a number of 5,000 digits",),
    ),
    Case(
        BOMBS,
        "a mapping of 10,001 keys",
        "tenant_id: {" + ", ".join(f"k{n}: 1" for n in range(10_001)) + "}\n",
        (f"{JOB}:1 tenant_id: a mapping holds more than 10,000 keys",),
    ),
    Case(
        BOMBS,
        "100,001 values in one list",
        "tenant_id: [" + "1," * 100_000 + "1]\n",
        ("the document holds more than 100,000 values once its aliases are expanded",),
    ),
    Case(
        BOMBS,
        "an alias to an anchor that does not exist",
        GOOD.replace("tenant_id: acme", "tenant_id: *nowhere"),
        (f"{JOB}:1 tenant_id: the alias *'nowhere' has no anchor before it",),
    ),
    Case(
        BOMBS,
        "one anchor defined twice",
        GOOD.replace("tenant_id: acme", "tenant_id: &t acme").replace(
            "  type: iceberg", "  type: &t iceberg"
        ),
        (f"{JOB}:11 target.type: the anchor &'t' is defined twice",),
    ),
    Case(
        TAGS,
        "!!python/object/apply:os.system",
        GOOD.replace(
            "tenant_id: acme", "tenant_id: !!python/object/apply:os.system ['touch pwned']"
        ),
        (
            f"{JOB}:1 tenant_id: the tag 'tag:yaml.org,2002:python/object/apply:os.system' is "
            "not allowed",
        ),
    ),
    Case(
        TAGS,
        "!!python/name:os.system as a key",
        GOOD.replace("logging:\n", "logging:\n  !!python/name:os.system : 1\n"),
        (f"{JOB}:14 logging: the tag 'tag:yaml.org,2002:python/name:os.system' is not allowed",),
    ),
    Case(
        TAGS,
        "!!binary value",
        GOOD.replace("tenant_id: acme", "tenant_id: !!binary YWNtZQ=="),
        (f"{JOB}:1 tenant_id: the tag 'tag:yaml.org,2002:binary' is not allowed",),
    ),
    Case(
        TAGS,
        "!!set value",
        GOOD.replace("tenant_id: acme", "tenant_id: !!set {acme: null}"),
        (f"{JOB}:1 tenant_id: the tag 'tag:yaml.org,2002:set' is not allowed",),
    ),
    Case(
        TAGS,
        "a local !custom tag",
        GOOD.replace("  catalog: embedded", "  catalog: !embedded embedded"),
        (f"{JOB}:12 target.catalog: the tag '!embedded' is not allowed",),
    ),
    Case(
        TAGS,
        "<< merge of an anchored mapping",
        GOOD.replace("target:\n  type: iceberg\n", "base: &b {type: iceberg}\ntarget:\n  <<: *b\n"),
        (f"{JOB}:12 target: merge keys (<<) are not supported (write the keys out)",),
    ),
    Case(
        TAGS,
        "duplicate top-level key (a second tenant)",
        GOOD + "tenant_id: globex\n",
        (f"{JOB}:16 tenant_id: the key 'tenant_id' appears twice (keep one of them)",),
    ),
    Case(
        TAGS,
        "duplicate nested key (a second asset definition path inside target)",
        GOOD.replace("  catalog: embedded", "  catalog: embedded\n  catalog: nessie"),
        (f"{JOB}:13 target.catalog: the key 'catalog' appears twice",),
    ),
    Case(
        TAGS,
        "a YAML 1.1 boolean as a key (on:)",
        GOOD.replace("logging:\n", "logging:\n  on: 1\n"),
        (f"{JOB}:14 logging: keys must be text, not True (quote the key to keep it as text)",),
    ),
    Case(
        TAGS,
        "a list as a key",
        GOOD.replace("logging:\n", "logging:\n  ? [a, b]\n  : 1\n"),
        (f"{JOB}:14 logging: keys must be text, not a list",),
    ),
    Case(
        TAGS,
        "an impossible date (2026-13-45)",
        GOOD.replace(
            "    strategy: file_modified_time",
            "    strategy: file_modified_time\n    start_date: 2026-13-45",
        ),
        (
            f"{JOB}:10 source.incremental.start_date: '2026-13-45' is not a valid timestamp "
            "(quote it",
        ),
    ),
    Case(
        DOCS,
        "two YAML documents (a second tenant after ---)",
        GOOD + "---\n" + GOOD.replace("acme", "globex"),
        (f"{JOB}:16: a second YAML document starts here; a file holds one document",),
    ),
    Case(
        DOCS,
        "document end marker (...) and more content",
        GOOD + "...\n---\ntenant_id: globex\n",
        (f"{JOB}:17: a second YAML document starts here",),
    ),
    Case(
        DOCS,
        "UTF-16 with a byte-order mark",
        GOOD.encode("utf-16"),
        (f"{JOB}:1: the file starts with a UTF-16 byte-order mark (save it as UTF-8",),
    ),
    Case(
        DOCS,
        "UTF-16 without a byte-order mark",
        GOOD.encode("utf-16-le"),
        (f"{JOB}:1: the file holds a NUL byte (UTF-16 or binary?)",),
    ),
    Case(
        DOCS,
        "UTF-8 with a byte-order mark",
        b"\xef\xbb\xbf" + GOOD.encode(),
        (f"{JOB}:1: the file starts with a UTF-8 byte-order mark",),
    ),
    Case(
        DOCS,
        "UTF-32 with a byte-order mark",
        GOOD.encode("utf-32"),
        (f"{JOB}:1: the file starts with a UTF-32 byte-order mark",),
    ),
    Case(
        DOCS,
        "an invalid UTF-8 byte on line 7 (Latin-1 text)",
        GOOD.replace("object: deals_daily", "object: d\xe9als").encode("latin-1"),
        (f"{JOB}:7: the file is not UTF-8 text: byte 0xe9 cannot be decoded",),
    ),
    Case(
        DOCS,
        "a NUL byte inside a value",
        GOOD.replace("a.csv", "a\x00.csv").encode(),
        (f"{JOB}:6: the file holds a NUL byte",),
    ),
    Case(
        DOCS,
        "an escaped NUL in a quoted value (\\0)",
        GOOD.replace("file_id: a.csv", 'file_id: "a\\0.csv"'),
        (f"{JOB}:6 source.files[0].file_id: 'a\\x00.csv' holds the control character U+0000",),
    ),
    Case(
        DOCS,
        "a right-to-left override (U+202E) in a value",
        GOOD.replace("file_id: a.csv", 'file_id: "a\\u202evsc.exe"'),
        (f"{JOB}:6 source.files[0].file_id: 'a\\u202evsc.exe' holds the control character U+202E",),
    ),
    Case(
        DOCS,
        "a C1 control (U+0085, NEL) inside a value: a line break to YAML",
        GOOD.replace("tenant_id: acme", "tenant_id: ac\x85me"),
        (f"{JOB}:3: not valid YAML: could not find expected ':'",),
    ),
    Case(
        DOCS,
        "an empty file",
        "",
        (f"{JOB}:1: a job file must be a mapping of keys",),
    ),
    Case(
        DOCS,
        "a file of comments only",
        "# nothing here\n",
        (f"{JOB}:1: a job file must be a mapping of keys",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.case)
def test_hostile_yaml(case: Case, hostile: Callable[[Case], Path]) -> None:
    hostile(case)
