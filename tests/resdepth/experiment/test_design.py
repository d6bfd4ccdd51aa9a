"""S7's pre-registered design: Holm, the plan's rows on synthetic tables, the test gate."""

import numpy as np
import pytest

from resdepth.experiment.holm import Claim, holm, t_pvalues
from resdepth.experiment.plan_rows import row_a, row_b, row_d, row_e, row_f
from resdepth.experiment.selection import TestGate, TestTouched, choose
from resdepth.experiment.stats import interval

SEEDS = range(5)


def _cell(mean, spread=0.01, lr=1e-2, censored=False):
    test = {s: mean + spread * (s - 2) / 2 for s in SEEDS}
    return {"lr": lr, "censored": censored, "test": test, "values": test,
            "interval": interval(test.values()), "diverged": 0, "runs": 5, "val": mean,
            "rates": [lr]}


def test_S7_holm_step_down_and_t_pvalues():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    above, below = t_pvalues([1.0, 1.1, 0.9, 1.05, 0.95], 0.5)
    assert above < 1e-4 and below > 0.999
    assert t_pvalues([0.2] * 5, 0.5) == (1.0, 0.0)
    assert t_pvalues([0.7], 0.5) == (1.0, 1.0)  # one seed never decides


def _lam_one(depth_acc):
    return {("none", d): _cell(acc) for d, acc in depth_acc.items()}


def test_S7a_row_fails_when_n_a_is_1_9_times_larger():
    table = _lam_one({16: 0.85, 112: 0.80, 160: 0.10})
    tau, n_a = 0.45, 124
    assert row_a(table, tau, n_a).verdict == "pass"
    assert row_a(table, tau, n_a).details["bracketed"]
    wrong = row_a(table, tau, int(1.9 * n_a))
    assert wrong.verdict == "fail"  # 160 < 1.9 n_a must train, and does not
    assert row_a(table, tau, 100).verdict == "fail"  # 112 >= 100 must fail, and trains


def test_S7a_lam_one_failing_before_n_a_fails_the_row():
    assert row_a(_lam_one({16: 0.85, 112: 0.10, 160: 0.10}), 0.45, 124).verdict == "fail"


def test_S7b_holm_over_rules_and_depths():
    table = {(r, d): _cell(0.8) for r in ("inv-sqrt", "inv") for d in (16, 160)}
    assert {r.verdict for r in row_b(table, 0.45)} == {"pass"}
    table["inv", 160] = _cell(0.2)
    verdicts = {r.details["rule"]: r.verdict for r in row_b(table, 0.45)}
    assert verdicts == {"inv-sqrt": "pass", "inv": "fail"}
    table["inv", 160] = _cell(0.2, censored=True)
    assert {r.details["rule"]: r.verdict for r in row_b(table, 0.45)}["inv"] == "inconclusive"


def test_S7d_comparator_is_inv_sqrt_fixed_in_advance():
    table = {("inv-sqrt", 16): _cell(0.80), ("pre-ln", 16): _cell(0.805),
             ("none", 16): _cell(0.95)}  # a better rule elsewhere is not the comparator
    (row,) = row_d(table)
    assert row.verdict == "pass"
    table["pre-ln", 16] = _cell(0.70)
    assert row_d(table)[0].verdict == "fail"


def _gc_records(curve, depth=16):
    rng = np.random.default_rng(0)
    out = []
    for j, value in enumerate(curve):
        for s in SEEDS:
            out.append({"group": "lam", "depth": depth, "lam": 2.0 ** (j - len(curve)),
                        "seed": s, "val_acc": 0.8,
                        "measurements": {"trained": {"gc": 10 ** (value + 0.01 * rng.normal())}}})
    return out


def test_S7e_u_shaped_gc_fails_the_single_peak_reading():
    peak, dip = row_e(_gc_records([0, 1, 2, 3, 2, 1, 0]), 0.45)
    assert peak.verdict != "fail" and dip.verdict == "fail"
    peak, dip = row_e(_gc_records([3, 2, 1, 0, 1, 2, 3]), 0.45)
    assert peak.verdict == "fail" and dip.verdict != "fail"
    assert len(peak.details["16"]["lam"]) == 7


def _sweep(best):
    lrs = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
    out = []
    for rule, by_depth in best.items():
        for depth, j in by_depth.items():
            for i, lr in enumerate(lrs):
                for s in SEEDS:
                    out.append({"group": "sweep", "rule": rule, "depth": depth, "lr": lr,
                                "seed": s, "train_loss": 0.3 + 0.1 * abs(i - j) + 0.001 * s})
    return out


def test_S7f_transfer_judged_by_bca_and_censoring():
    good = _sweep({"mup": {4: 2, 16: 2}, "constant": {4: 1, 16: 3}})
    assert row_f(good, censored=False).verdict == "pass"
    assert row_f(good, censored=True).verdict == "inconclusive"
    bad = _sweep({"mup": {4: 1, 16: 3}, "constant": {4: 2, 16: 2}})
    assert row_f(bad, censored=False).verdict == "fail"


def test_S7_choice_reads_validation_only_and_the_gate_seals_the_test_set():
    records = [{"group": "tune", "rule": "inv", "depth": 4, "lr": lr, "seed": s,
                "val_acc": acc, "train_loss": 0.5}
               for lr, acc in ((1e-2, 0.6), (3e-2, 0.7)) for s in SEEDS]
    assert choose(records, "inv", 4) == 3e-2
    scored = []
    gate = TestGate(lambda spec, run: scored.append(spec) or 0.9)

    class Spec:
        seed = 0

        def key(self):
            return "k"

    with pytest.raises(TestTouched, match="before the learning rates were chosen"):
        gate.accuracy("inv", 4, 3e-2, Spec(), None)
    gate.unseal({("inv", 4): 3e-2})
    with pytest.raises(TestTouched, match="not the chosen"):
        gate.accuracy("inv", 4, 1e-2, Spec(), None)
    assert gate.accuracy("inv", 4, 3e-2, Spec(), None) == 0.9
    with pytest.raises(TestTouched, match="already scored"):
        gate.accuracy("inv", 4, 3e-2, Spec(), None)
    assert len(scored) == 1


def test_S7_claim_censored_decides_nothing():
    c = Claim("x", [0.9] * 5, 0.5, censored=True)
    assert c.p_for == c.p_against == 1.0
