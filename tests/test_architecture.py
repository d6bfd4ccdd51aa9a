"""The architecture (docs/ARCHITECTURE.md), enforced on the import graph.

- The three libraries stay independent: theorems/, graphs/ and numerics/ never import each
  other nor resdepth.
- resdepth/ stands on floors that import only downward: engine (1) < real, tables, experiment,
  outputs (2) < checks (3) < validate, settings, commands, CLI (4). Within a floor, imports
  are allowed but form no cycle; across resdepth/ there is no cycle at all. Imports inside
  functions count (a deferred import is still a dependency).
"""

import ast
import pathlib

import networkx as nx
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARIES = ("theorems", "graphs", "numerics")

FLOORS = {
    1: ("resdepth.engine",),
    2: ("resdepth.real", "resdepth.tables", "resdepth.experiment", "resdepth.plots",
        "resdepth.report", "resdepth.strategies", "resdepth.testing"),
    3: ("resdepth.checks",),
    4: ("resdepth.validate", "resdepth.settings", "resdepth.commands", "resdepth.cli",
        "resdepth.__main__", "resdepth.pytest_plugin", "resdepth"),
}
"""Floor of each part of resdepth (a module belongs to the longest prefix listed)."""


def imported_top_levels(path: pathlib.Path) -> set[str]:
    """Top-level package names imported anywhere in the file (including inside functions)."""
    return {name.split(".")[0] for name in imported_modules(path)}


def imported_modules(path: pathlib.Path) -> set[str]:
    """Dotted names imported anywhere in the file; ``from a import b`` gives ``a.b`` too (b may
    be a module). Relative imports are not used in this project."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def module_name(path: pathlib.Path, root: pathlib.Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def floor(module: str) -> int:
    """The floor of a resdepth module: the longest prefix of :data:`FLOORS` it falls under."""
    best, found = -1, None
    for level, prefixes in FLOORS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), level
    assert found is not None, f"{module} is on no floor: add it to FLOORS and ARCHITECTURE.md"
    return found


def resdepth_graph(root: pathlib.Path = ROOT) -> nx.DiGraph:
    """Module -> module imports inside resdepth/ (only names that are modules of it)."""
    paths = sorted((root / "resdepth").rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for path in paths:
        source = module_name(path, root)
        for name in imported_modules(path):
            if name in modules and name != source and name != "resdepth":
                graph.add_edge(source, name)
    return graph


@pytest.mark.parametrize("library", LIBRARIES)
def test_library_imports_no_sibling(library):
    forbidden = (set(LIBRARIES) - {library}) | {"resdepth"}
    for path in (ROOT / library).rglob("*.py"):
        bad = imported_top_levels(path) & forbidden
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_resdepth_imports_only_downward():
    graph = resdepth_graph()
    upward = [(a, b) for a, b in graph.edges if floor(b) > floor(a)]
    assert not upward, "imports of a higher floor: " + ", ".join(f"{a} -> {b}" for a, b in upward)


def test_engine_imports_nothing_else_of_resdepth():
    graph = resdepth_graph()
    bad = [(a, b) for a, b in graph.edges
           if a.startswith("resdepth.engine") and not b.startswith("resdepth.engine")]
    assert not bad, bad


def test_resdepth_has_no_import_cycle():
    cycles = list(nx.simple_cycles(resdepth_graph()))
    assert not cycles, f"import cycles: {cycles[:3]}"


def test_checks_and_experiment_do_not_import_each_other_both_ways():
    graph = resdepth_graph()
    up = {(a, b) for a, b in graph.edges
          if a.startswith("resdepth.experiment") and b.startswith("resdepth.checks")}
    assert not up, up


def test_modules_stay_under_400_lines():
    long = [f"{p.relative_to(ROOT)} ({n})" for folder in ("resdepth", *LIBRARIES)
            for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) >= 400]
    assert not long, f"split these modules: {long}"


# --- the oracles themselves can fail --------------------------------------------------------

def test_oracle_catches_a_forbidden_import(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from numerics.models import x\n")
    assert "numerics" in imported_top_levels(path)


def test_oracle_catches_an_upward_import_and_a_cycle(tmp_path):
    engine = tmp_path / "resdepth" / "engine"
    engine.mkdir(parents=True)
    (tmp_path / "resdepth" / "__init__.py").write_text("")
    (engine / "__init__.py").write_text("")
    (engine / "rows.py").write_text("def f():\n    from resdepth.checks import d3\n")
    checks = tmp_path / "resdepth" / "checks"
    checks.mkdir()
    (checks / "__init__.py").write_text("")
    (checks / "d3.py").write_text("from resdepth.engine import rows\n")
    graph = resdepth_graph(tmp_path)
    assert ("resdepth.engine.rows", "resdepth.checks.d3") in graph.edges
    assert floor("resdepth.checks.d3") > floor("resdepth.engine.rows")
    assert list(nx.simple_cycles(graph))
