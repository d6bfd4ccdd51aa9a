"""The S1, S4 and S5 checks (resdepth/checks/scaling.py): they pass in the quick budget with
every row informative, draw their plots (S1_bound.png, S4_regimes.png), and fail when the
formula they guard is broken (n - 1 in S1's and S4's exponents, a 5% error in lam_eff)."""

import pytest

from resdepth.checks import load_checks
from resdepth.checks import scaling as checks
from resdepth.engine.registry import CheckContext
from resdepth.engine.rows import passes_or_by_construction
from theorems import lipschitz, signal


@pytest.fixture(scope="module")
def s1_search():
    return checks.s1_search(CheckContext(quick=True))


@pytest.fixture(scope="module")
def s4_runs():
    return checks.s4_runs(CheckContext(quick=True))


@pytest.fixture(scope="module")
def s5_measurements():
    return checks.s5_measurements(CheckContext(quick=True))


def _all_pass(rows):
    assert passes_or_by_construction(rows), [
        (row.claim, row.statistic, row.power) for row in rows if row.verdict != "pass"]


def test_checks_are_registered():
    registry = load_checks(("S1", "S4", "S5"))
    for label, check in (("S1", checks.s1_bound_check), ("S4", checks.s4_monte_carlo),
                         ("S4", checks.s4_symbolic_limits), ("S5", checks.s5_schemes)):
        assert check in [entry.check for entry in registry[label]]


def test_S4_symbolic_limits_pass():
    rows = checks.s4_symbolic_limits(CheckContext(quick=True))
    _all_pass(rows)
    assert all(row.statistic == 0 for row in rows)


def test_S4_symbolic_rows_fail_for_a_wrong_limit(monkeypatch):
    monkeypatch.setattr(checks.scaling, "ratio_limit", lambda beta: checks.sp.Integer(1))
    rows = checks.s4_symbolic_limits(CheckContext(quick=True))
    assert [row.verdict for row in rows if "lim E||x_n||^2" in row.claim] == [
        "fail", "fail", "fail", "pass", "pass"]


def test_S1_check_passes_quick_within_five_percent_and_draws_its_plot(s1_search, tmp_path):
    rows = checks.s1_report(CheckContext(quick=True, out_dir=tmp_path), *s1_search)
    _all_pass(rows)
    assert all(row.power.value <= checks.S1_SLACK_POWER for row in rows[1:])
    assert (tmp_path / "S1_bound.png").stat().st_size > 0
    assert {row.plot for row in rows} == {"S1_bound.png"}


def test_S1_bound_with_n_minus_one_fails(s1_search, monkeypatch):
    real = lipschitz.s1_bound
    monkeypatch.setattr(checks, "s1_bound", lambda n, lam, c: real(n - 1, lam, c))
    rows = checks.s1_report(CheckContext(quick=True), *s1_search)
    assert [row.verdict for row in rows] == ["fail", "fail", "fail"]


def test_S4_monte_carlo_rows_pass_quick_informative_and_draw_the_plot(s4_runs, tmp_path):
    rows = checks.s4_report(CheckContext(quick=True, out_dir=tmp_path), s4_runs)
    _all_pass(rows)
    assert len(rows) == 10 and all(row.power.value >= 10 for row in rows)
    assert (tmp_path / "S4_regimes.png").stat().st_size > 0
    assert {row.plot for row in rows} == {"S4_regimes.png"}


def test_S4_n_minus_one_in_the_exponent_fails_every_row(s4_runs, monkeypatch):
    """The issue's mutation: (1 + a^2 n^-2beta)^(n - 1) passed the old check for beta >= 1/2."""
    real = signal.s2_ratio
    monkeypatch.setattr(checks, "s2_ratio", lambda n, lam, s2: real(n - 1, lam, s2))
    assert {row.verdict for row in checks.s4_rows(s4_runs)} == {"fail"}


def test_S5_rows_pass_quick(s5_measurements):
    _all_pass(checks.s5_rows(*s5_measurements))


def test_S5_five_percent_error_in_lam_eff_fails(s5_measurements, monkeypatch):
    real = checks.effective_lam
    monkeypatch.setattr(checks, "effective_lam", lambda name, depth: 1.05 * real(name, depth))
    rows = checks.s5_rows(*s5_measurements)
    assert [row.verdict for row in rows if row.kind == "expectation"] == ["fail"] * 5
