"""Checks of S2 and S3 (signal growth at initialisation) by batched Monte Carlo.

Every Monte Carlo row is a :func:`resdepth.checks.expectation.z_row`: it fails at |z| >= 5 and
is informative only when the baseline of the statement's negation (1 for growth over the
identity, ||x_0||^2 for no growth, a factor 1 for no decay) and the named wrong values
(n - 1 in place of n, the mean law in place of the typical one, a heuristic factor, the wrong
power) each lie >= 10 standard errors from the prediction. The sizes below are chosen so that
every row is informative in the quick budget (the separations are in each row's details).
"""

import math

import torch

from numerics.probes.montecarlo import (
    LN_EPS,
    geometric_rate,
    linear_path_energies,
    mean_and_se,
    median_and_se,
    relu_path_energies,
    signal_second_moments,
)
from numerics.probes.postln_norm import replay_postln_variances
from resdepth.checks.expectation import SEPARATION, Z_MAX, with_plot, z_row
from resdepth.checks.signal_plots import plot_s2, plot_s3
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import Criterion, Power
from theorems.block_law import block_log_moments, log_ratio_median, postln_factor
from theorems.signal import (
    mean_path_length,
    s2_energy_by_length,
    s2_ratio,
    s3_prenorm_second_moment,
)

SIGMA2 = 1.0  # numerics.probes.montecarlo draws W1 ~ N(0, 2/d), W2 ~ N(0, 1/h): sigma^2 = 1
S2_CASE = {"depth": 8, "width": 16, "lam": 0.5}
TYPICAL_CASE = {"depth": 32, "width": 8, "lam": 1.0}
LENGTHS_CASE = {"depth": 6, "lam": 0.7}
S3_CASE = {"depth": 12, "width": 16, "lam": 0.5}
POSTLN_TOL = 1e-12  # ||x_i||^2 / d against v / (v + eps): float64 rounding of a d-sum, d <= 64
POSTLN_POWER = 10.0  # the eps-free formula must sit this many tolerances away


def _nets(ctx, base: int = 4000) -> int:
    """Monte Carlo networks: ``base`` in the quick budget, ``nets_scale`` times more in full."""
    return base * budget("S2", ctx.mode).nets_scale


def _generator(ctx, offset: int) -> torch.Generator:
    return torch.Generator().manual_seed(ctx.seed + offset)


def s2_runs(ctx) -> tuple[dict, dict]:
    """The Monte Carlo behind S2's signal rows: the mean-law case and the typical (lam = 1) case."""
    mean_run = signal_second_moments(S2_CASE["depth"], S2_CASE["width"], S2_CASE["width"],
                                      S2_CASE["lam"], _nets(ctx), generator=_generator(ctx, 20))
    typical_run = signal_second_moments(
        TYPICAL_CASE["depth"], TYPICAL_CASE["width"], TYPICAL_CASE["width"], TYPICAL_CASE["lam"],
        _nets(ctx, 8000), generator=_generator(ctx, 23))
    return mean_run, typical_run


@register("S2")
def s2_signal(ctx) -> list[CheckResult]:
    """S2: the mean law (1 + lam^2 sigma^2)^n for the signal and the Jacobian, and the typical
    law at lam = 1, where the mean is carried by rare networks: E log R_n = n g and the median."""
    return s2_report(ctx, *s2_runs(ctx))


def s2_report(ctx, mean_run, typical_run) -> list[CheckResult]:
    """S2's signal rows from finished runs, with their plot."""
    rows = s2_mean_rows(mean_run) + s2_typical_rows(typical_run)
    return with_plot(rows, plot_s2(ctx, mean_run, typical_run, rows, mean_run["n_nets"]))


def _tail(n: int, lam: float, width: int, n_nets: int) -> dict:
    """How rare the networks carrying the mean are: log R_n ~ N(n g, n v) puts the mean's
    weight near n g + n v, a fraction ~exp(-n v / 2) of networks (reliable while << n_nets)."""
    law = block_log_moments(lam, SIGMA2, width, width)
    return {"n_v_over_2": n * law["var"] / 2, "log_n_nets": math.log(n_nets)}


def s2_mean_rows(run) -> list[CheckResult]:
    n, width, lam = run["depth"], run["width"], run["lam"]
    prediction = s2_ratio(n, lam, SIGMA2)
    alternatives = {"baseline 1 (no growth)": 1.0,
                    "n - 1 in place of n in the exponent": s2_ratio(n - 1, lam, SIGMA2)}
    details = _tail(n, lam, width, run["n_nets"])
    jac_mean, jac_se = mean_and_se(run["jac_ratio"])
    return [
        z_row("S2", f"E||x_n||^2/||x_0||^2 = (1 + lam^2 sigma^2)^n, n={n}, d=h={width}, "
              f"lam={lam}, {run['n_nets']} nets", prediction, run["mean"], run["se"],
              alternatives, details=details),
        z_row("S2", f"E||(dx_n/dx_0) u||^2 = (1 + lam^2 sigma^2)^n ||u||^2, n={n}, d=h={width}, "
              f"lam={lam}", prediction, jac_mean, jac_se, alternatives),
    ]


def s2_typical_rows(run) -> list[CheckResult]:
    """E log R_n = n g exactly and median log R_n = n g - kappa3/(6 v) + O(1/n) (block law)."""
    n, width, lam = run["depth"], run["width"], run["lam"]
    law = block_log_moments(lam, SIGMA2, width, width)
    log_ratio = (run["layer_sq"][-1] / run["layer_sq"][0]).log()
    mean_law = n * math.log1p(lam * lam * SIGMA2)
    mean, se = mean_and_se(log_ratio)
    median, median_se = median_and_se(log_ratio)
    details = {"g": law["mean"], "v": law["var"], "kappa3": law["kappa3"],
               "log_mean_law": mean_law, **_tail(n, lam, width, run["n_nets"])}
    where = f"lam={lam}, n={n}, d=h={width}, {run['n_nets']} nets"
    return [
        z_row("S2", f"typical growth: E log(||x_n||^2/||x_0||^2) = n g, g = E log(one block's "
              f"gain) = {law['mean']:.6f} < log(1 + lam^2 sigma^2), {where}", n * law["mean"],
              mean, se, {"the mean law n log(1 + lam^2 sigma^2)": mean_law,
                         "(n - 1) g": (n - 1) * law["mean"]}, details=details),
        z_row("S2", f"typical growth: median log(||x_n||^2/||x_0||^2) = n g - kappa3/(6 v) "
              f"(Cornish-Fisher, error O(1/n)), {where}",
              log_ratio_median(n, lam, SIGMA2, width, width), median, median_se,
              {"the mean law n log(1 + lam^2 sigma^2)": mean_law,
               "n - 1 in place of n": log_ratio_median(n - 1, lam, SIGMA2, width, width)},
              details=details),
    ]


def _length_row(claim: str, run, law: list[float], wrong: list[float]) -> CheckResult:
    """Per-length energies against ``law`` (k = 1..n): statistic the largest |z| over k;
    informative when the ``wrong`` law (n - 1 blocks) is >= 10 SE away at some k."""
    n = len(law) - 1
    means, ses = run["mean"], run["se"]
    zs = [(m - p) / s for m, p, s in zip(means[1:], law[1:], ses[1:], strict=True)]
    separation = max(abs(p - w) / s for p, w, s in zip(law[1:], wrong[1:], ses[1:], strict=True))
    worst = max(zs, key=abs)
    measured_length = sum(k * m for k, m in enumerate(means)) / sum(means)
    predicted_length = sum(k * p for k, p in enumerate(law)) / sum(law)
    return CheckResult(
        "S2", claim + " (statistic: the largest |z| over k = 1..n; prediction and measurement: "
        "the energy-weighted mean path length)", "expectation", predicted_length,
        measured_length, worst, Criterion("largest |z-score| over path lengths", "|x|<", Z_MAX),
        Power(f"n - 1 in place of n, C(n-1, k) q^k (rejected when >= {SEPARATION:g} SE away "
              "at some k; value: the largest separation over k, in SE)", separation, ">=",
              SEPARATION),
        details={"law": law, "mean": means, "se": ses, "z": zs, "depth": n,
                 "sum_error": run["sum_error"]})


@register("S2")
def s2_path_lengths(ctx) -> list[CheckResult]:
    """S2: E||y_k||^2 = C(n,k)(lam^2 sigma^2)^k ||x||^2 for linear branches and, exactly too,
    for ReLU branches without biases (proofs.md S2: the cross terms vanish), by width."""
    n, lam = LENGTHS_CASE["depth"], LENGTHS_CASE["lam"]
    law = s2_energy_by_length(n, lam, SIGMA2)
    wrong = s2_energy_by_length(n - 1, lam, SIGMA2) + [0.0]
    linear = linear_path_energies(n, 8, lam, _nets(ctx), sigma2=SIGMA2,
                                  generator=_generator(ctx, 21))
    rows = [_length_row(f"linear branches: E||y_k||^2/||x||^2 = C(n,k)(lam^2 sigma^2)^k, "
                        f"n={n}, d=8, lam={lam}, mean path length n p = "
                        f"{mean_path_length(n, lam, SIGMA2):.4f}", linear, law, wrong)]
    for width in budget("S2", ctx.mode).relu_widths:
        run = relu_path_energies(n, width, width, lam, _nets(ctx),
                                 generator=_generator(ctx, width))
        rows.append(_length_row(f"ReLU branches, no biases: E||y_k||^2/||x||^2 = "
                                f"C(n,k)(lam^2 sigma^2)^k exactly at every width, n={n}, "
                                f"d=h={width}, lam={lam}", run, law, wrong))
    return rows


def s3_runs(ctx) -> tuple[dict, dict]:
    """The pre-LN and post-LN Monte Carlo behind S3's rows."""
    depth, width, lam = S3_CASE["depth"], S3_CASE["width"], S3_CASE["lam"]
    pre = signal_second_moments(depth, width, width, lam, _nets(ctx, 6000), norm="pre",
                                generator=_generator(ctx, 30))
    post = signal_second_moments(depth, width, width, lam, _nets(ctx), norm="post",
                                 generator=_generator(ctx, 31))
    post["replay_var"] = replay_postln_variances(depth, width, width, lam, _nets(ctx),
                                                 generator=_generator(ctx, 31))
    return pre, post


@register("S3")
def s3_signal(ctx) -> list[CheckResult]:
    """S3: pre-LN towers grow linearly; post-LN ||x_i||^2 = d v/(v + eps) and the identity
    path's share decays by the factor rho = E 1/s^2 per block (theorems.block_law)."""
    return s3_report(ctx, *s3_runs(ctx))


def s3_report(ctx, pre, post) -> list[CheckResult]:
    """S3's rows from finished runs, with their plot."""
    rows = s3_prenorm_rows(pre) + s3_postnorm_rows(post)
    return with_plot(rows, plot_s3(ctx, pre, post, rows))


def s3_prenorm_rows(run) -> list[CheckResult]:
    depth, width, lam, x0_sq = run["depth"], run["width"], run["lam"], run["x0_sq"]
    rows = []
    for i in (1, depth // 2, depth):
        mean, se = mean_and_se(run["layer_sq"][i])
        rows.append(z_row(
            "S3", f"pre-LN: E||x_i||^2 = ||x_0||^2 + i lam^2 sigma^2 d at i={i}, d=h={width}, "
            f"lam={lam}, {run['n_nets']} nets", s3_prenorm_second_moment(
                i, lam, SIGMA2, width, x0_sq), mean, se,
            {"baseline ||x_0||^2 (no growth)": x0_sq,
             "i - 1 in place of i": s3_prenorm_second_moment(i - 1, lam, SIGMA2, width, x0_sq)}))
    return rows


def s3_postnorm_rows(run) -> list[CheckResult]:
    depth, width, lam = run["depth"], run["width"], run["lam"]
    var = run["replay_var"]
    norm_error = ((run["layer_sq"][1:] / width - var / (var + LN_EPS)).abs().max().item())
    eps_effect = (1 - var / (var + LN_EPS)).abs().max().item()
    exact = CheckResult(
        "S3", f"post-LN: ||x_i||^2 = d v/(v + eps) exactly, i = 1..{depth}, {run['n_nets']} nets "
        "(||x_i||^2 from the Monte Carlo's F.layer_norm; v by Welford in float64 on the "
        "pre-normalisation input of an independent replayed forward pass; statistic: "
        "max |(||x_i||^2/d) - v/(v + eps)|)", "exact", 0.0, norm_error, norm_error,
        Criterion("max absolute error of ||x_i||^2 / d", "<=", POSTLN_TOL),
        Power(f"the eps-free formula ||x_i||^2 = d (or any eps off by more than "
              f"{POSTLN_POWER:g} x the tolerance relative to v) sits max |1 - v/(v + eps)| away; "
              f"it must exceed {POSTLN_POWER:g} x the tolerance", eps_effect, ">=",
              POSTLN_POWER * POSTLN_TOL),
        details={"d_exactly_deviation": eps_effect,
                 "d_exactly_deviation_over_tol": eps_effect / POSTLN_TOL,
                 "replay_vs_monte_carlo_variance": (var - run["post_var"]).abs().max().item()})
    rate, rate_se = geometric_rate(run["identity_share"])
    rho = postln_factor(lam, SIGMA2, width, width)
    alternatives = {"baseline factor 1 (no decay)": 0.0,
                    "the first power of c_i (factor E 1/s)":
                        math.log(postln_factor(lam, SIGMA2, width, width, power=0.5)),
                    "the heuristic 1/(1 + lam^2 sigma^2)": -math.log1p(lam * lam * SIGMA2)}
    share = z_row(
        "S3", f"post-LN: the identity path's share c_i^2 ||x_0||^2/||x_i||^2 has mean rho^i, "
        f"rho = E 1/s^2 = {rho:.6f} (prediction and measurement: log of the per-block factor, "
        f"least-squares slope of log mean share with delta-method SE), d=h={width}, lam={lam}, "
        f"n={depth}, {run['n_nets']} nets", math.log(rho), rate, rate_se, alternatives,
        details={"factor_measured": math.exp(rate), "factor_predicted": rho})
    return [exact, share]
