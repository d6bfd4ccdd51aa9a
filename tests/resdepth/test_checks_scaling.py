"""The S1, S4 and S5 checks (resdepth/checks/scaling.py) pass in the quick budget and draw
their plots (S1_bound.png, S4_regimes.png) into the output folder."""

import pytest

from resdepth.checks import load_checks
from resdepth.checks import scaling as checks
from resdepth.checks.base import CheckContext


@pytest.mark.parametrize("check", [checks.s4_symbolic_limits, checks.s5_schemes])
def test_S4_S5_checks_pass_quick(check):
    rows = check(CheckContext(quick=True))
    assert rows and all(row.verdict == "pass" for row in rows), [
        (row.claim, row.statistic) for row in rows if row.verdict != "pass"]


def test_checks_are_registered():
    for label, check in (("S1", checks.s1_bound_check), ("S4", checks.s4_monte_carlo),
                         ("S5", checks.s5_schemes)):
        assert check in [entry.check for entry in load_checks()[label]]


def _assert_plotted(rows, tmp_path, name):
    assert (tmp_path / name).stat().st_size > 0
    assert rows and all(row.plot == name for row in rows)


def test_S1_check_passes_quick_and_draws_bound_plot(tmp_path):
    rows = checks.s1_bound_check(CheckContext(quick=True, out_dir=tmp_path))
    assert all(row.verdict == "pass" for row in rows), [
        (row.claim, row.statistic) for row in rows if row.verdict != "pass"]
    _assert_plotted(rows, tmp_path, "S1_bound.png")


def test_S4_monte_carlo_check_passes_quick_and_draws_regimes_plot(tmp_path):
    rows = checks.s4_monte_carlo(CheckContext(quick=True, out_dir=tmp_path))
    assert all(row.verdict == "pass" for row in rows)
    _assert_plotted(rows, tmp_path, "S4_regimes.png")
