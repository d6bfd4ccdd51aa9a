"""The symbolic R1/R3/R4/R5 checks of ``resdepth validate`` pass in quick mode and are registered
under their labels; a check row fails when its prediction is wrong."""

import math

import pytest

from resdepth.checks import CheckContext, load_checks, symbolic_paths

CHECKS = {
    "R1": [symbolic_paths.r1_symbolic_identity, symbolic_paths.r1_numeric_substitution],
    "R3": [symbolic_paths.r3_tree_expansion, symbolic_paths.r3_exponential_tower,
           symbolic_paths.r3_autograd_taylor],
    "R4": [symbolic_paths.r4_tree_counts],
    "R5": [symbolic_paths.r5_symbolic_jacobian],
}


@pytest.mark.parametrize("label,check", [(lab, c) for lab, cs in CHECKS.items() for c in cs])
def test_symbolic_checks_pass_in_quick_mode(label, check):
    assert check in [entry.check for entry in load_checks()[label]]
    rows = check(CheckContext(quick=True))
    assert rows and all(row.label == label and row.kind == "exact" for row in rows)
    assert [row.verdict for row in rows] == ["pass"] * len(rows), [r.as_dict() for r in rows]


def test_R4_check_fails_on_a_wrong_count(monkeypatch):
    monkeypatch.setattr(symbolic_paths, "tree_count", lambda n, k: n + k)
    rows = symbolic_paths.r4_tree_counts(CheckContext(quick=True))
    assert all(row.verdict == "fail" for row in rows)


def test_R3_autograd_check_fails_without_the_factorial(monkeypatch):
    coefficients = symbolic_paths.taylor_coefficients

    def derivatives(branches, x, order):
        series = coefficients(branches, x, order)
        return [c * math.factorial(k) for k, c in enumerate(series)]

    monkeypatch.setattr(symbolic_paths, "taylor_coefficients", derivatives)
    rows = symbolic_paths.r3_autograd_taylor(CheckContext(quick=True))
    assert all(row.verdict == "fail" for row in rows)
