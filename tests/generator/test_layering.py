"""The package's layering: the facade on top of the stages, presentation in the CLI only."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "generator" / "ingestgen"


def imports(path: Path, *, runtime: bool = False) -> set[str]:
    """The ingestgen modules (and names) ``path`` imports, in functions too.

    With ``runtime``, imports under ``if TYPE_CHECKING:`` are left out.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime:
        for node in tree.body:
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                skipped.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "ingestgen" or name.startswith("ingestgen.")}


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
    }


def test_no_stage_imports_the_facade_or_the_cli() -> None:
    offenders = {
        name: sorted(n for n in imports(path) if n.startswith(("ingestgen.api", "ingestgen.cli")))
        for name, path in modules().items()
        if not name.startswith(("ingestgen.cli", "ingestgen.api", "ingestgen.__main__"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_cli_reaches_the_stages_only_through_the_facade() -> None:
    known = set(modules())
    stages = known - {"ingestgen", "ingestgen.api", "ingestgen.errors", "ingestgen.paths"}
    presentation = {name for name in known if name.startswith("ingestgen.cli")}
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        used = imports(path, runtime=True) & known
        assert used & stages <= presentation, path.name


def test_no_module_import_cycles() -> None:
    known = modules()
    edges = {name: imports(path) & set(known) - {name} for name, path in known.items()}
    # A package's __init__ is imported with each of its modules; it is not a dependency.
    edges = {
        name: {t for t in targets if not name.startswith(t + ".")}
        for name, targets in edges.items()
    }

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in edges.get(node, set()):
                if nxt == start:
                    return [*path, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    assert [c for c in map(cycle_from, sorted(edges)) if c] == []
