"""D4's coverage rows (resdepth/checks/d4.py) against wrong slacks (issue 21): on deviations
simulated from a loss at the largest variance a [0, M] loss can have, the correct Hoeffding
and route E slacks cover, a halved Hoeffding slack and a route E slack x 0.2 fail the row, and
the power entry (the halved slack's coverage) decides pass against inconclusive. The slow test
runs the check's power experiment with route E's slack x 0.2 (catalogue mutant
d4-route-e-slack-0.2) and gets fail."""

import pytest
import torch

from resdepth.checks import d4
from resdepth.engine.registry import CheckContext
from theorems.guarantees import hoeffding_slack, restricted_route_e_slack

M, m, DELTA, REPS = 8.0, 256, 0.001, 6000


@pytest.fixture(scope="module")
def gaps():
    """R - R_S of a fixed model whose loss is M x Bernoulli(1/2): M (1/2 - fraction of M's)."""
    draws = torch.rand(REPS, m, generator=torch.Generator().manual_seed(0)) < 0.5
    return (M * (0.5 - draws.double().mean(1))).tolist()


def _row(gaps, slack):
    return d4._coverage_row("test", gaps, [slack] * len(gaps), m, DELTA, d4.ALPHA, M, {})


def test_D4_hoeffding_slack_covers_and_its_half_fails(gaps):
    hoeff = hoeffding_slack(m, DELTA, M)
    row = _row(gaps, hoeff)
    assert row.verdict == "pass"  # covers, and the halved slack's coverage is detectable
    assert row.power.value <= row.power.threshold < 1 - DELTA
    assert _row(gaps, hoeff / 2).verdict == "fail"


def test_D4_route_e_slack_covers_its_fifth_fails_its_half_is_unresolved(gaps):
    slack = restricted_route_e_slack(0.0, m, DELTA, loss_bound=M)
    row = _row(gaps, slack)
    assert row.criterion.holds(row.statistic) and row.verdict == "inconclusive"
    assert row.power.value == 1.0  # the halved slack still covers every sample
    assert 0.2 < row.details["slack_factor_resolved"] < 0.5
    assert _row(gaps, 0.2 * slack).verdict == "fail"


def test_D4_resolved_factor_and_detectable_level():
    assert d4._resolved_factor([0.9, 0.1, 0.5, 0.3], 0.5) == 0.5  # 2 violations needed
    assert d4._detectable(30, 0.05, 0.05) == pytest.approx(25 / 30)


@pytest.mark.slow
@pytest.mark.parametrize("route", ["restricted_route_e_slack", "restricted_route_p_slack"])
def test_D4_power_experiments_fail_a_route_slack_times_a_fifth(monkeypatch, route):
    """Catalogue mutants d4-route-e-slack-0.2 and d4-route-p-slack-0.2 inside the check."""
    ctx = CheckContext(quick=True)
    old, _, _ = d4.load_old(ctx)
    j = d4.position(old)
    teacher = d4.planted(old, d4.SCALE, ctx.seed + 40)
    real = getattr(d4, route)
    monkeypatch.setattr(d4, route, lambda *a, **k: 0.2 * real(*a, **k))
    hoeff, route_e, route_p = d4._tight_rows(ctx, old, j, teacher, d4._sizes(ctx))
    assert hoeff.verdict == "pass"
    mutated, other = (route_e, route_p) if route.endswith("e_slack") else (route_p, route_e)
    assert mutated.verdict == "fail" and other.verdict == "inconclusive"
