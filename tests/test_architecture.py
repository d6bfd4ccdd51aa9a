"""The three libraries stay independent: theorems/, graphs/ and numerics/ never import each other."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARIES = ("theorems", "graphs", "numerics")


def imported_top_levels(path: pathlib.Path) -> set[str]:
    """Top-level package names imported anywhere in the file (including inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("library", LIBRARIES)
def test_library_imports_no_sibling(library):
    forbidden = (set(LIBRARIES) - {library}) | {"resdepth"}
    for path in (ROOT / library).rglob("*.py"):
        bad = imported_top_levels(path) & forbidden
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_oracle_catches_a_forbidden_import(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from numerics.models.networks import x\n")
    assert "numerics" in imported_top_levels(path)
