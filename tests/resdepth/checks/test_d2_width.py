"""D2's width law over independently trained models (resdepth/checks/d2_width.py) and the
population row over models (resdepth/checks/d1_d2.py), on synthetic measurements: the rows'
verdicts follow the between-model statistics (issue 21)."""

import math

import pytest

from resdepth.checks import d1_d2
from resdepth.checks.d2_width import Z_TREND, level_row, prediction_se, trend_row
from resdepth.engine.registry import CheckContext
from theorems.joint_scaling import misalignment_probability


def _pt(d, p, q=0.2, reps=300, h=32, m=32, q_se=0.0):
    return {"d": d, "h": h, "m": m, "p": p, "k": round(p * reps), "reps": reps, "d_eff": 3.0,
            "predicted": q, "predicted_se": q_se}


def test_a_rise_in_every_model_fails_the_law_as_stated():
    first = [_pt(8, p) for p in (0.10, 0.20, 0.30, 0.15, 0.25)]
    last = [_pt(16, p + 0.1 + 0.002 * i) for i, p in enumerate((0.10, 0.20, 0.30, 0.15, 0.25))]
    row = trend_row("d", [first, last])
    assert row.verdict == "fail" and row.statistic <= -Z_TREND
    assert row.details["per_model_fall"] == pytest.approx([-0.1, -0.102, -0.104, -0.106, -0.108])


def test_a_fall_in_every_model_passes_even_when_the_models_differ_in_level():
    """Paired over models: the levels spread from 0.05 to 0.45, the fall is 0.1 in each; an
    unpaired comparison of the two means could not resolve it."""
    levels = (0.05, 0.45, 0.25, 0.15, 0.35)
    first = [_pt(8, p + 0.1 + 0.003 * i) for i, p in enumerate(levels)]
    last = [_pt(16, p) for p in levels]
    row = trend_row("d", [first, last])
    assert row.verdict == "pass" and row.statistic >= Z_TREND
    assert row.power.informative()


def test_models_that_disagree_leave_the_law_inconclusive():
    """Model 0 alone rises by 0.14 (the single-model fail of issue 21); the others do not."""
    first = [_pt(8, p) for p in (0.113, 0.22, 0.44, 0.0, 0.053)]
    last = [_pt(16, p) for p in (0.253, 0.117, 0.123, 0.21, 0.28)]
    row = trend_row("d", [first, last])
    assert row.verdict == "inconclusive" and abs(row.statistic) < Z_TREND
    assert row.details["df"] == 4


def test_level_row_passes_at_the_formula_and_fails_off_it():
    right = [[_pt(8, 0.2 + 0.01 * (-1) ** k, q=0.2) for k in range(5)],
             [_pt(16, 0.05, q=0.05) for _ in range(5)]]
    row = level_row(right)
    assert abs(row.statistic) < 5 and row.verdict in ("pass", "inconclusive")
    assert row.power.value == pytest.approx(
        min(5 * 0.3 / math.sqrt(5 * 0.2 * 0.8 / 300), 5 * 0.45 / math.sqrt(5 * 0.05 * 0.95 / 300)))
    wrong = [[_pt(8, 0.12, q=0.2) for _ in range(5)], [_pt(16, 0.05, q=0.05) for _ in range(5)]]
    assert level_row(wrong).verdict == "fail"
    # the prediction's own sampling error widens the standard error: a large one forgives it
    forgiven = [[_pt(8, 0.12, q=0.2, q_se=0.2) for _ in range(5)],
                [_pt(16, 0.05, q=0.05) for _ in range(5)]]
    assert abs(level_row(forgiven).statistic) < 5


def test_prediction_se_is_the_delta_method_on_mu2():
    mom = {"mu2": 0.01, "mu_sigma_mu": 0.02, "tr_sigma2": 0.5, "n": 4096}
    m, h = 32, 1e-7
    def q(mu2):
        return misalignment_probability(m, mu2=mu2, mu_sigma_mu=mom["mu_sigma_mu"],
                                        tr_sigma2=mom["tr_sigma2"])

    slope = q(mom["mu2"] + h) - q(mom["mu2"] - h)
    sd_mu2 = math.sqrt(4 * mom["mu_sigma_mu"] / mom["n"] + 2 * mom["tr_sigma2"] / mom["n"] ** 2)
    assert prediction_se(m, mom) == pytest.approx(abs(slope / (2 * h)) * sd_mu2, rel=1e-5)


def _study(seed, ratio, z=-5.0):
    return {"seed": seed, "test": {"z": z, "observed": z < -1.645, "mean": -1.0},
            "first": {"mean": 1e-3 * ratio, "z": 30.0 * ratio}, "jump": {"mean": 0.01, "z": 9.0},
            "curves": {"train": [0.0] * 9, "held-out": [0.0] * 9}, "best": 0.1, "g_norm": 1.0,
            "m": 256, "m_held": 2048, "n_pop": 20000, "ratio": ratio, "snr": 1.0}


def test_population_row_over_models():
    ctx = CheckContext(quick=True)
    good = d1_d2.population_row(ctx, [_study(k, r) for k, r in enumerate((0.95, 0.73, 0.96,
                                                                            1.04, 1.03))])
    assert good.verdict == "pass" and good.statistic > d1_d2.Z_POP
    assert good.details["observed_models"] == 5
    rises = d1_d2.population_row(ctx, [_study(k, r) for k, r in enumerate((-0.9, -1.1, -1.0,
                                                                             -0.95, -1.05))])
    assert rises.verdict == "fail"
    few = [_study(0, 1.0), _study(1, 0.9), _study(2, 1.1), _study(3, 1.0, z=0.3),
           _study(4, 1.0, z=0.1)]
    assert d1_d2.population_row(ctx, few).verdict == "inconclusive"  # premise on 3 of 5
    none = [_study(k, 1.0, z=0.5) for k in range(5)]
    assert d1_d2.population_row(ctx, none).verdict == "skipped"
