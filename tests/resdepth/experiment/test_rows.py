"""S7's rows on synthetic records: each prediction passes, fails or is inconclusive as it should.

The records are what the grid would produce; the accuracies are chosen, so every row is seen to
fail when its prediction is contradicted (the house rule: a check that cannot fail is a defect).
"""

import math
from fractions import Fraction

import pytest

from resdepth.experiment.analysis import accuracy_table, trains_threshold, tuned_choice
from resdepth.experiment.rows import row_a, row_b, row_c, row_d, row_e, row_f, rows
from resdepth.experiment.stats import interval
from theorems.trained_scaling import FLOAT32_MAX, overflow_depth

SEEDS = (0, 1, 2)


def record(rule, depth, seed, acc, *, a=1.0, loss=0.5, diverged=False, gc=None, lr=1e-2,
           group="grid"):
    return {"rule": rule, "a": a, "depth": depth, "seed": seed, "lr": lr, "group": group,
            "diverged": diverged, "final_test_acc": 0.1 if diverged else acc,
            "best_test_acc": acc, "final_test_loss": None if diverged else loss,
            "best_test_loss": loss, "final_train_loss": None if diverged else loss,
            "steps_to_target": None, "target_loss": 1.15, "wall_time_s": 1.0,
            "measurements": None if gc is None else {"trained": {"gc": gc}}}


def cell(rule, depth, accs, **kwargs):
    return [record(rule, depth, s, acc, **kwargs) for s, acc in zip(SEEDS, accs)]


def base_records(deep_none=(0.1, 0.1, 0.1), inv_deep=(0.70, 0.71, 0.69)):
    out = []
    for depth in (16, 256):
        out += cell("inv-sqrt", depth, (0.80, 0.81, 0.79))
        out += cell("inv", depth, inv_deep if depth == 256 else (0.78, 0.80, 0.79))
        out += cell("learnable", depth, (0.75, 0.77, 0.76))
    out += cell("none", 16, (0.5, 0.55, 0.45))
    out += cell("none", 256, deep_none)
    return out


def test_S7_overflow_depth_is_the_exact_smallest_depth():
    limit = Fraction(FLOAT32_MAX)
    for energy in (1.0, 2.5, 8.0, 31.7):
        n = overflow_depth(1.0, 1.0, energy)
        assert 2**n * Fraction(energy) >= limit > 2 ** (n - 1) * Fraction(energy)
    assert overflow_depth(1.0, 1.0, 1.0) == 128
    assert overflow_depth(0.5, 1.0, 1.0) == math.ceil(math.log(FLOAT32_MAX) / math.log(1.25))
    with pytest.raises(ValueError):
        overflow_depth(0.0, 1.0, 1.0)


def test_S7_interval_is_students_t():
    i = interval([0.7, 0.8, 0.9])
    assert i.mean == pytest.approx(0.8) and i.half == pytest.approx(4.302653 * 0.1 / math.sqrt(3))
    assert interval([0.5]).half == math.inf


def test_S7_threshold_is_halfway_from_chance_to_the_best_rule_at_the_smallest_depth():
    tau, ref = trains_threshold(accuracy_table(base_records()), 0.1)
    assert ref == pytest.approx(0.80) and tau == pytest.approx(0.45)


@pytest.mark.parametrize("deep_none, verdict", [
    ((0.1, 0.1, 0.1), "pass"), ((0.80, 0.82, 0.81), "fail"), ((0.1, 0.8, 0.45), "inconclusive"),
])
def test_S7a_lam_one_beyond_the_overflow_depth(deep_none, verdict):
    table = accuracy_table(base_records(deep_none))
    row = row_a(table, 0.45, n_a=128)
    assert row.verdict == verdict and row.prediction == 128
    assert row_a(table, 0.45, n_a=300).verdict == "skipped"


def test_S7a_diverged_runs_count_as_failures():
    records = [r for r in base_records() if not (r["rule"] == "none" and r["depth"] == 256)]
    records += cell("none", 256, (0.9, 0.9, 0.9), diverged=True)
    assert row_a(accuracy_table(records), 0.45, 128).verdict == "pass"


@pytest.mark.parametrize("inv_deep, verdict", [
    ((0.70, 0.71, 0.69), "pass"), ((0.12, 0.10, 0.11), "fail"), ((0.2, 0.8, 0.5), "inconclusive"),
])
def test_S7b_scaled_rules_train_at_every_depth(inv_deep, verdict):
    table = accuracy_table(base_records(inv_deep=inv_deep))
    assert row_b(table, 0.45, "inv").verdict == verdict
    assert row_b(table, 0.45, "inv-sqrt").verdict == "pass"


@pytest.mark.parametrize("inv_deep, verdict", [
    ((0.70, 0.71, 0.69), "pass"), ((0.90, 0.91, 0.92), "fail"), ((0.70, 0.85, 0.79), "inconclusive"),
])
def test_S7c_inv_sqrt_beats_inv_at_the_largest_depth(inv_deep, verdict):
    row = row_c(accuracy_table(base_records(inv_deep=inv_deep)))
    assert row.verdict == verdict and row.details["depth"] == 256


@pytest.mark.parametrize("pre, verdict", [
    ((0.82, 0.83, 0.81), "pass"), ((0.60, 0.61, 0.62), "fail"), ((0.70, 0.90, 0.80), "inconclusive"),
])
def test_S7d_normalised_baselines_match_the_best_unnormalised_rule(pre, verdict):
    records = base_records()
    for depth in (16, 256):
        records += cell("pre-ln", depth, pre)
    row = row_d(accuracy_table(records), "pre-ln")
    assert row.verdict == verdict
    assert {v["best"] for v in row.details["per_depth"].values()} == {"inv-sqrt"}


def _gc_records(curve, noise=0.01):
    """GC(lam) = 10^curve[j] at lam = 1/n, a/sqrt(n) for a in TUNED_A, 1 (depth 16), 3 seeds."""
    out, depth = [], 16
    rules = [("inv", 1.0), ("tuned", 0.5), ("tuned", 1.0), ("tuned", 2.0), ("none", 1.0)]
    for (rule, a), level in zip(rules, curve):
        for s in SEEDS:
            out.append(record(rule, depth, s, 0.8, a=a, gc=10 ** (level + noise * (s - 1))))
    return out


@pytest.mark.parametrize("curve, verdict", [
    ((0, 1, 2, 1.5, 0.5), "pass"),      # one interior peak
    ((0, 1, 2, 3, 4), "pass"),          # monotone is unimodal
    ((2, 1, 0, 1, 2), "fail"),          # an interior minimum: U-shaped
])
def test_S7e_gc_unimodal_in_lam(curve, verdict):
    row = row_e(_gc_records(curve), tau=0.45)
    assert row.verdict == verdict
    assert row.details["16"]["peak_interior"] == (verdict == "pass" and curve[2] == 2
                                                  and curve[-1] < curve[2])


def test_S7e_noise_larger_than_the_curve_is_inconclusive():
    assert row_e(_gc_records((0, 0.01, 0.0, 0.01, 0.0), noise=0.5), 0.45).verdict == "inconclusive"


def test_S7e_runs_that_did_not_train_are_left_out():
    records = _gc_records((2, 1, 0, 1, 2))
    for r in records:  # the two points left of the dip never trained
        if r["rule"] == "inv" or r["a"] == 0.5:
            r["final_test_acc"] = 0.1
    assert row_e(records, 0.45).verdict == "pass"
    assert row_e(records, 0.0).verdict == "fail"


def _sweep(best_mup, best_const):
    """Final training losses (lr - best)^2-shaped on a log2 grid, best lr per depth given."""
    out = []
    lrs = [2.0**-k for k in range(10, 2, -1)]
    for rule, bests in (("mup", best_mup), ("constant", best_const)):
        for depth, best in zip((4, 16, 64), bests):
            for lr in lrs:
                for s in SEEDS:
                    loss = 0.2 + 0.05 * (math.log2(lr) - best) ** 2 + 0.001 * s
                    out.append(record(rule, depth, s, 0.8, loss=loss, lr=lr, group="sweep"))
    return out


@pytest.mark.parametrize("best_mup, best_const, verdict", [
    ((-6, -6, -6), (-5, -6.5, -8), "pass"),       # constant's optimum drifts, mup's stays
    ((-5, -6.5, -8), (-6, -6, -6), "fail"),       # the reverse
    ((-6, -6, -6), (-6, -6, -6), "inconclusive"),  # neither moves: the grid cannot tell
])
def test_S7f_depth_mup_learning_rate_transfers(best_mup, best_const, verdict):
    row = row_f(_sweep(best_mup, best_const), classes=10)
    assert row.verdict == verdict
    assert row.details["best_log2_lr"]["mup"] == pytest.approx(list(best_mup), abs=0.05)


def test_S7f_an_optimum_at_the_grid_edge_is_inconclusive():
    row = row_f(_sweep((-3, -3, -3), (-5, -6.5, -8)), classes=10)
    assert row.details["censored"] and row.verdict == "inconclusive"


def test_S7_tuned_takes_the_lowest_training_loss_not_the_best_test_accuracy():
    records = (cell("tuned", 16, (0.9, 0.9, 0.9), a=0.5, loss=0.8)
               + cell("tuned", 16, (0.7, 0.7, 0.7), a=2.0, loss=0.3))
    assert tuned_choice(records, 16) == 2.0
    assert accuracy_table(records)["tuned", 16]["interval"].mean == pytest.approx(0.7)


def test_S7_rows_selects_parts_and_rules_present():
    table = accuracy_table(base_records())
    found = rows(table, base_records(), 0.45, 128, 10, "abc")
    assert [r.claim[:5] for r in found] == ["S7(a)", "S7(b)", "S7(b)", "S7(b)", "S7(c)"]
