"""The S1, S4 and S5 checks (resdepth/checks/scaling.py) pass in the quick budget."""

import pytest

from resdepth.checks import load_checks
from resdepth.checks import scaling as checks
from resdepth.checks.base import CheckContext


@pytest.mark.parametrize("check", [checks.s1_bound_check, checks.s4_symbolic_limits,
                                   checks.s5_schemes])
def test_S1_S4_S5_checks_pass_quick(check):
    rows = check(CheckContext(quick=True))
    assert rows and all(row.verdict == "pass" for row in rows), [
        (row.claim, row.statistic) for row in rows if row.verdict != "pass"]


def test_checks_are_registered():
    for label, check in (("S1", checks.s1_bound_check), ("S4", checks.s4_monte_carlo),
                         ("S5", checks.s5_schemes)):
        assert check in [entry.check for entry in load_checks()[label]]


@pytest.mark.slow
def test_S4_monte_carlo_check_passes_quick():
    rows = checks.s4_monte_carlo(CheckContext(quick=True))
    assert all(row.verdict == "pass" for row in rows)
