"""The S2 and S3 checks (resdepth/checks/signal.py): they pass in the quick budget with every
row informative, draw their plots, and fail when the formula they guard is broken: n - 1 in
S2's exponent, the mean law in place of the typical one, the wrong power of S3's identity
share, S3's old heuristic factor."""

import math

import pytest
import torch
import torch.nn.functional as F

from numerics.probes import montecarlo
from numerics.probes.montecarlo import LN_EPS
from resdepth.checks import load_checks
from resdepth.checks import signal as checks
from resdepth.engine.registry import CheckContext
from resdepth.engine.rows import passes_or_by_construction
from theorems import signal as theory


@pytest.fixture(scope="module")
def s2_runs():
    return checks.s2_runs(CheckContext(quick=True))


@pytest.fixture(scope="module")
def s3_runs():
    return checks.s3_runs(CheckContext(quick=True))


def _all_pass(rows):
    assert passes_or_by_construction(rows), [
        (row.claim, row.statistic, row.power) for row in rows if row.verdict != "pass"]


def test_S2_S3_checks_are_registered():
    registry = load_checks(("S2", "S3"))
    assert checks.s2_signal in [e.check for e in registry["S2"]]
    assert checks.s2_path_lengths in [e.check for e in registry["S2"]]
    assert checks.s3_signal in [e.check for e in registry["S3"]]


def test_S2_signal_rows_pass_quick_resolve_n_minus_one_and_draw_the_plot(s2_runs, tmp_path):
    rows = checks.s2_report(CheckContext(quick=True, out_dir=tmp_path), *s2_runs)
    _all_pass(rows)
    assert {row.plot for row in rows} == {"S2_signal_growth.png"}
    assert (tmp_path / "S2_signal_growth.png").stat().st_size > 0
    for row in rows:
        assert row.power.value >= 10  # the named wrong values lie >= 10 SE away
        assert all(alt["separation_se"] >= 10 for alt in row.details["alternatives"].values())


def test_S2_n_minus_one_in_the_exponent_fails_the_mean_rows(s2_runs, monkeypatch):
    """The mutation the issue names: (1 + lam^2 sigma^2)^(n-1) for ^n must fail the check."""
    real = theory.s2_ratio
    monkeypatch.setattr(checks, "s2_ratio", lambda n, lam, s2: real(n - 1, lam, s2))
    rows = checks.s2_mean_rows(s2_runs[0])
    assert [row.verdict for row in rows] == ["fail", "fail"]


def test_S2_mean_law_in_place_of_the_typical_law_fails(s2_runs, monkeypatch):
    """Typical rows: predicting E log R_n by the mean law n log(1 + lam^2 sigma^2) fails."""
    real = checks.block_log_moments

    def mean_law(lam, sigma2, d, h):
        return {**real(lam, sigma2, d, h), "mean": math.log1p(lam * lam * sigma2)}

    monkeypatch.setattr(checks, "block_log_moments", mean_law)
    rows = checks.s2_typical_rows(s2_runs[1])
    assert rows[0].verdict == "fail"


def test_S2_path_length_rows_pass_quick_including_relu():
    rows = checks.s2_path_lengths(CheckContext(quick=True))
    _all_pass(rows)
    assert len(rows) == 3 and all(row.power.value >= 10 for row in rows)
    assert all(row.details["sum_error"] < 1e-12 for row in rows)


def test_S3_rows_pass_quick_and_draw_the_plot(s3_runs, tmp_path):
    rows = checks.s3_report(CheckContext(quick=True, out_dir=tmp_path), *s3_runs)
    _all_pass(rows)
    assert {row.plot for row in rows} == {"S3_signal.png"}
    assert (tmp_path / "S3_signal.png").stat().st_size > 0
    exact, share = rows[-2:]
    assert exact.verdict == "pass"  # an independent route (issue 21), no longer by construction
    assert exact.statistic <= checks.POSTLN_TOL < exact.details["d_exactly_deviation"]
    assert exact.details["replay_vs_monte_carlo_variance"] < 1e-12
    assert share.details["factor_measured"] == pytest.approx(share.details["factor_predicted"],
                                                             rel=0.01)


@pytest.mark.parametrize("layer_norm", [
    lambda x: F.layer_norm(x.squeeze(-1), (x.shape[1],), eps=1e-2).unsqueeze(-1),  # eps mismatch
    lambda x: ((x - x.mean(1, keepdim=True))
               / torch.sqrt(x.var(1, keepdim=True, unbiased=True) + LN_EPS)),  # unbiased v
])
def test_S3_postnorm_norm_row_fails_when_the_towers_layernorm_differs(monkeypatch, layer_norm):
    """The towers' LayerNorm with another eps or the unbiased variance: the norm the Monte
    Carlo measures leaves d v/(v + eps) with v from the independent replay, and the row fails
    (while the row that read v off the same tensor could not see the unbiased variance)."""
    monkeypatch.setattr(montecarlo, "_layer_norm", layer_norm)
    _, post = checks.s3_runs(CheckContext(quick=True))
    exact = checks.s3_postnorm_rows(post)[0]
    assert exact.verdict == "fail" and exact.statistic > 1e3 * checks.POSTLN_TOL


@pytest.mark.parametrize("wrong", ["first power", "heuristic"])
def test_S3_postnorm_factor_row_fails_for_a_wrong_factor(s3_runs, monkeypatch, wrong):
    """The wrong power of c_i (factor E 1/s) and the old heuristic 1/(1 + lam^2 sigma^2) in
    place of rho = E 1/s^2 each fail the row."""
    real = checks.postln_factor

    def factor(lam, sigma2, d, h, power=1.0):
        if power == 0.5:
            return real(lam, sigma2, d, h, 0.5)
        return real(lam, sigma2, d, h, 0.5) if wrong == "first power" else 1 / (1 + lam * lam)

    monkeypatch.setattr(checks, "postln_factor", factor)
    share = checks.s3_postnorm_rows(s3_runs[1])[-1]
    assert share.verdict == "fail"


def test_S3_wrong_power_in_the_measured_share_fails(s3_runs):
    """A share measured with c_i instead of c_i^2 (the planted error) decays like (E 1/s)^i:
    its fitted factor lies far outside the row's band."""
    pre, post = s3_runs
    wrong = dict(post, identity_share=post["identity_share"].sqrt())  # c_i ~ sqrt(share)
    share = checks.s3_postnorm_rows(wrong)[-1]
    assert share.verdict == "fail" and abs(share.statistic) > 10

