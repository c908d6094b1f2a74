"""What docs/architecture.md says of the package's shape, checked (issue 38).

The layers are import-linter's contract in pyproject.toml (``lint-imports``, run by
scripts/test.sh); here, what it does not check: no import cycle anywhere (also inside
a layer), and no private name imported from another module.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def test_no_import_cycle_in_the_package():
    grimp = pytest.importorskip("grimp", reason="comes with import-linter ([test] extra)")
    graph = grimp.build_graph("migrate")
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                cycles.append(sorted(part))

    limit = sys.getrecursionlimit()  # the walk recurses once per import level; the
    sys.setrecursionlimit(max(limit, 10_000))  # limit is put back: other tests read it
    try:
        for module in sorted(graph.modules):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    assert cycles == []


def test_no_private_name_is_imported_from_another_module():
    found = []
    for path in sorted((ROOT / "migrate").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("migrate"):
                found += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}"
                          for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


# mypy (pyproject.toml) checks every module: none is excused with ignore_errors. The
# last 28 were typed in session 17; new code is typed from the start.


def test_no_module_is_excused_from_the_type_check():
    import tomllib
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    excused = [o["module"] for o in config.get("overrides", []) if o.get("ignore_errors")]
    assert not excused, f"typed from the start, not excused: {excused}"


def test_every_package_is_installed_not_only_in_an_editable_checkout():
    """pyproject lists the packages a wheel holds: one missing is there in the tests'
    editable install and absent from `pip install .` (the README's first command)."""
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "migrate").rglob("__init__.py")}
    assert found == listed, f"pyproject packages: add {sorted(found - listed)}"
