"""The S6 checks (resdepth/checks/capacity.py): the Lipschitz product is attained on a planted
tower (and a wrong product fails), the trained rows carry criterion and power (the bound row is
judged against the optimiser's slack, the trend rows against what training could have
erased), GC per lam is reported, and a diverged run is reported as such."""

import dataclasses
import math

import pytest

from numerics.models.train import TrainResult
from resdepth.checks import capacity as checks
from resdepth.checks import load_checks
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckContext, train_locally
from resdepth.engine.rows import by_construction


@pytest.fixture(scope="module")
def trained_context(tmp_path_factory):
    cache = {}
    declared = {spec.key() for spec in checks.s6_specs(CheckContext(quick=True))}

    def runner(spec, device):
        assert spec.key() in declared, "S6 trained a run it did not declare in needs="
        if spec.key() not in cache:
            cache[spec.key()] = train_locally(spec, device)
        return cache[spec.key()]

    return CheckContext(quick=True, runner=runner, out_dir=tmp_path_factory.mktemp("s6"))


def test_S6_checks_are_registered_with_their_runs():
    entries = {e.check: e for e in load_checks(("S6",))["S6"]}
    assert checks.s6_tight_case in entries
    specs = entries[checks.s6_capacity].specs(CheckContext(quick=True))
    seeds = budget("S6", "quick").seeds
    assert seeds >= 5  # THEORY.md: at least 5 independently trained models (issue 21)
    assert len(specs) == 2 * seeds and len({s.key() for s in specs}) == len(specs)
    assert len({s.seed for s in specs}) == seeds


def test_S6_lipschitz_product_is_attained_on_the_planted_tower():
    """True by construction ((I + lam c I)^n = (1 + lam c)^n I): the criterion holds, and the
    row is inconclusive with power "none", never pass (issue 21)."""
    (row,) = checks.s6_tight_case(CheckContext(quick=True))
    assert row.prediction == pytest.approx(64.0) and row.criterion.holds(row.statistic)
    assert by_construction(row) and row.verdict == "inconclusive"


def test_S6_a_wrong_product_fails_the_tight_case(monkeypatch):
    real = checks.lipschitz_product
    monkeypatch.setattr(checks, "lipschitz_product", lambda blocks: real(blocks) ** (5 / 6))
    (row,) = checks.s6_tight_case(CheckContext(quick=True))
    assert row.verdict == "fail"


def test_S6_trained_rows_carry_criterion_power_and_gc(trained_context):
    rows = checks.s6_capacity(trained_context)
    bound, length_trend, product_trend, length_route = rows
    assert length_route.verdict == "pass" and length_route.power.value > 1e-3
    assert bound.criterion.holds(bound.statistic)  # no violation found
    assert bound.verdict == ("pass" if bound.statistic <= checks.SLACK_POWER else "inconclusive")
    assert bound.statistic > 0  # the product of spectral norms is loose on trained networks
    for trend in (length_trend, product_trend):
        assert trend.verdict == "pass", trend
        assert trend.power.value >= checks.TREND_POWER
        gc = trend.details["gc"]
        assert set(gc) == {"0.25", "1.0"}
        assert all(math.isfinite(v) and v > 0 for lam in gc.values()
                   for stage in lam.values() for v in stage[:1])
    assert (trained_context.out_dir / "S6_capacity.png").stat().st_size > 0
    assert {row.plot for row in rows[:3]} == {"S6_capacity.png"}


def test_S6_length_route_row_fails_with_energy_fractions(trained_context, monkeypatch):
    """Issue 21's survivor: mean_length from energy fractions undoes the signed shares; the
    trend row cannot see it, the second route (d x_n/dt) can."""
    from numerics.probes.spectrum import Spectrum

    monkeypatch.setattr(Spectrum, "mean_length", Spectrum.mean_length_energy)
    rows = checks.s6_capacity(trained_context)
    assert rows[-1].verdict == "fail"


def test_S6_a_diverged_run_gives_a_diverged_row():
    def runner(spec, device):
        model, result = train_locally(dataclasses.replace(spec, train=dataclasses.replace(
            spec.train, epochs=1)), device)
        return model, TrainResult(history=result.history, diverged=True)

    rows = checks.s6_capacity(CheckContext(quick=True, runner=runner))
    assert [row.verdict for row in rows] == ["diverged"] and "diverged" in rows[0].reason
