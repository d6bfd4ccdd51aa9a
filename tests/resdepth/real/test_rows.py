"""The lesion row's sequential rule (resdepth.real.rows): decided at LESION_Z standard errors
from the threshold, inconclusive when the draws leave it undecided, fail only when decided."""

import math

import pytest

from resdepth.real.rows import (
    LESION_Z,
    UNEXPLAINED,
    lesion_bounds,
    lesion_more,
    lesion_row,
    lesion_spread,
    lesion_undecided,
)

WIDE = math.sqrt(30 / 28)  # the t widening at 31 draws


def point(m, measured, se, predicted=0.8, uniform=0.5, draws=31):
    return {"m": m, "kept_measured": measured, "kept_measured_se": se,
            "kept_predicted": predicted, "kept_uniform": uniform, "draws": draws,
            "exhaustive": False}


def test_R2_lesion_spread_is_z_se_widened_for_few_draws():
    assert lesion_spread(point(1, 0.8, 0.01, draws=4)) == pytest.approx(
        LESION_Z * 0.01 * math.sqrt(3))
    assert lesion_spread(point(1, 0.8, 0.01, draws=8)) == pytest.approx(
        LESION_Z * 0.01 * math.sqrt(7 / 5))
    assert lesion_spread(point(1, 0.8, 0.01, draws=3)) == math.inf
    assert lesion_spread({**point(1, 0.8, 0.0), "exhaustive": True}) == 0.0


def study(*points):
    return {"singles": [], "curve": list(points), "signed_shares": [0.2, 0.8], "rounds": 1,
            "sets_measured": 4}


def test_R2_lesion_bounds_are_the_miss_over_the_effect_plus_minus_z_se():
    b = lesion_bounds(point(1, 0.78, 0.001))  # effect 0.2, miss 0.02
    assert b["effect"] == pytest.approx(0.2) and b["miss"] == pytest.approx(0.02)
    assert b["lower"] == pytest.approx((0.02 - LESION_Z * 0.001 * WIDE) / 0.2)
    assert b["upper"] == pytest.approx((0.02 + LESION_Z * 0.001 * WIDE) / 0.2)
    assert b["uniform"] == pytest.approx(0.3 / 0.2)


def test_R2_a_clear_pass_is_decided_and_passes():
    curve = [point(1, 0.79, 0.001), point(2, 0.81, 0.002)]
    assert lesion_undecided(curve) == []
    row = lesion_row("m", study(*curve), None)
    assert row.verdict == "pass" and row.details["decided"]
    # m = 1: miss 0.01, 5 SE = 0.005: 0.025 of the effect unexplained; m = 2 none beyond 5 SE
    assert row.statistic == pytest.approx((0.01 - 0.005 * WIDE) / 0.2)
    assert row.details["deciding_m"] == 1


def test_R2_a_borderline_m_draws_on_and_stays_inconclusive_at_the_cap():
    # m = 2: miss 0.09 = 0.45 of the effect, SE 0.004: the upper bound 0.55 is above 0.5
    curve = [point(1, 0.79, 0.001), point(2, 0.71, 0.004)]
    assert lesion_undecided(curve) == [2]
    row = lesion_row("m", study(*curve), None)
    assert row.verdict == "inconclusive" and not row.details["decided"]
    assert row.power.value == pytest.approx(
        UNEXPLAINED / ((0.09 + LESION_Z * 0.004 * WIDE) / 0.2))


def test_R2_a_decided_fail_stops_the_draws_and_fails():
    # m = 1: miss 0.15 = 0.75 of the effect, 5 SE = 0.01: decided beyond the threshold
    curve = [point(1, 0.65, 0.002), point(2, 0.71, 0.05)]
    assert lesion_undecided(curve) == []
    row = lesion_row("m", study(*curve), None)
    assert row.verdict == "fail" and row.details["deciding_m"] == 1
    assert row.statistic == pytest.approx((0.15 - LESION_Z * 0.002 * WIDE) / 0.2)


def test_R2_a_miss_above_the_threshold_within_5_se_is_not_a_fail():
    # miss 0.12 = 0.6 of the effect but SE 0.01: not decided, so inconclusive, never fail
    curve = [point(1, 0.68, 0.01)]
    assert lesion_undecided(curve) == [1]
    assert lesion_row("m", study(*curve), None).verdict == "inconclusive"


def test_R2_four_draws_must_clear_the_widened_spread():
    # miss 0.02 of effect 0.2, SE 0.012: 5 SE would decide a pass (upper 0.4), but from 4
    # draws the spread is x sqrt(3): upper 0.62, undecided; from 31 draws it is decided
    assert lesion_undecided([point(1, 0.78, 0.012, draws=4)]) == [1]
    assert lesion_undecided([point(1, 0.78, 0.012, draws=31)]) == []


def test_R2_a_uniform_law_inside_the_tolerance_leaves_the_row_inconclusive():
    curve = [point(1, 0.8, 0.0, uniform=0.85)]  # uniform misses by 0.25 of the effect < 0.5
    row = lesion_row("m", study(*curve), None)
    assert row.verdict == "inconclusive" and row.details["power_uniform"] == pytest.approx(0.5)


def test_R2_lesions_that_change_nothing_are_skipped_and_stop():
    curve = [point(1, 1.0, 0.0, predicted=1.0, uniform=0.5)]
    assert lesion_undecided(curve) == []
    assert lesion_row("m", study(*curve), None).verdict == "skipped"


def sized(measured, se, draws, population=1770, predicted=0.8):
    return {**point(2, measured, se, predicted=predicted, draws=draws), "population": population}


def test_R2_lesion_more_asks_for_the_draws_the_standard_error_says_decide():
    # effect 0.2, miss 0.01: the threshold sits 0.09 away; sd of K - beta G = se sqrt(N / (1 - f))
    drawn, se = 5, 0.02
    extra = lesion_more(sized(0.79, se, drawn))
    sd = se / math.sqrt((1 - drawn / 1770) / drawn)
    total = drawn + extra

    def spread(t):
        return 1.1 * LESION_Z * math.sqrt((t - 2) / (t - 4)) * sd * math.sqrt((1 - t / 1770) / t)

    assert 2 <= extra <= drawn
    assert spread(total) < 0.09 and (extra == 2 or spread(total - 1) >= 0.09)


def test_R2_lesion_more_at_most_doubles_and_at_least_two():
    assert lesion_more(sized(0.79, 0.5, 5)) == 5  # hopeless SE: as many again, not hundreds
    assert lesion_more(sized(0.79, 1e-6, 5)) == 2  # one more round of two already decides
    assert lesion_more(sized(0.79, 0.01, 8, population=10)) == 2  # the population is reached
    assert lesion_more(sized(0.70, 0.01, 6)) == 6  # the miss sits on the threshold: doubles


def test_R2_lesion_row_fails_when_the_prediction_deletes_one_block_too_many(monkeypatch):
    # the row's power on a real model: P(m) computed with the survival of m + 1 deletions is
    # decided wrong at both seeds, while the right prediction is not refuted (on this 16-block
    # Llama the uniform law would also sit within the tolerance: inconclusive, not pass)
    import numerics.real.lesion_study as study
    from numerics.models.tiny_llm import llama_config, tiny_causal_lm
    from numerics.real.frozen import trace_model
    from resdepth.commands.probe import lesion_verdict

    model, inputs = tiny_causal_lm("llama", config=llama_config(
        layers=8, hidden=32, intermediate=64, heads=2, kv_heads=1), batch=1, tokens=8)
    traced = trace_model(model.model, inputs)
    right = [lesion_verdict(traced, "llama", seed=s, draws=64, max_m=4) for s in (0, 1)]
    assert [r.verdict for r in right] == ["inconclusive", "inconclusive"]
    assert all(r.statistic < UNEXPLAINED for r in right)
    prediction = study.kept_share_prediction
    monkeypatch.setattr(study, "kept_share_prediction",
                        lambda shares, m: prediction(shares, m + 1))
    wrong = [lesion_verdict(traced, "llama", seed=s, draws=64, max_m=4) for s in (0, 1)]
    assert [r.verdict for r in wrong] == ["fail", "fail"]
    assert all(r.details["decided"] and r.statistic >= UNEXPLAINED for r in wrong)
