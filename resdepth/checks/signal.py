"""Checks of S2 and S3 (signal growth at initialisation) by batched Monte Carlo."""

import dataclasses
import math

import torch

from numerics.montecarlo import linear_path_energies, relu_path_energies, signal_second_moments
from resdepth.checks.base import CheckResult, register, verdict
from resdepth.checks.towers import SE_FRACTION, SIGMA2, Z_MAX
from resdepth.plots import plt, save_figure
from theorems.signal import (
    s2_energy_by_length,
    s2_ratio,
    s3_prenorm_second_moment,
)


def _z_row(label, claim, prediction, mean, se) -> CheckResult:
    z = (mean - prediction) / se
    ok = abs(z) < Z_MAX and se < SE_FRACTION * abs(prediction)
    return CheckResult(label, claim + f" (z-score; SE/prediction = {se / prediction:.3g})",
                       "expectation", prediction, mean, z, verdict(ok))

def _mc_size(ctx) -> int:
    return 4000 if ctx.quick else 40000

@register("S2")
def s2_signal(ctx) -> list[CheckResult]:
    """S2: E||x_n||^2/||x_0||^2 and E||J u||^2/||u||^2 = (1 + lam^2 sigma^2)^n (ReLU, no bias)."""
    depth, width, lam = 8, 16, 0.5
    out = signal_second_moments(depth, width, width, lam, _mc_size(ctx),
                                generator=torch.Generator().manual_seed(ctx.seed + 20))
    prediction = s2_ratio(depth, lam, SIGMA2)
    jac = out["jac_ratio"]
    jac_se = jac.std().item() / math.sqrt(len(jac))
    plot = _plot_signal_growth(ctx, depth, width, {lam: out})
    rows = [
        _z_row("S2", f"E||x_n||^2/||x_0||^2 = (1 + lam^2 sigma^2)^n, n={depth}, d=h={width}, "
               f"lam={lam}", prediction, out["mean"], out["se"]),
        _z_row("S2", f"E||(dx_n/dx_0) u||^2 = (1 + lam^2 sigma^2)^n ||u||^2, n={depth}",
               prediction, jac.mean().item(), jac_se),
    ]
    return [dataclasses.replace(row, plot=plot) for row in rows]

SIGNAL_PLOT_LAMS = (0.25, 0.5, 1.0)

def _plot_signal_growth(ctx, depth, width, runs):
    """E||x_i||^2/||x_0||^2 against i for a few lam: Monte Carlo (SE bars) and S2's line.

    ``runs`` maps lam to a finished :func:`signal_second_moments` run; the other lams of
    ``SIGNAL_PLOT_LAMS`` are run here (only when a plot is wanted).
    """
    path = ctx.plot_path("S2_signal_growth.png")
    if path is None:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    steps = list(range(depth + 1))
    for j, lam in enumerate(SIGNAL_PLOT_LAMS):
        out = runs.get(lam) or signal_second_moments(
            depth, width, width, lam, _mc_size(ctx),
            generator=torch.Generator().manual_seed(ctx.seed + 22 + j))
        ratio = out["layer_sq"] / out["x0_sq"]
        se = ratio.std(1) / math.sqrt(ratio.shape[1])
        ax.plot(steps, [s2_ratio(i, lam, SIGMA2) for i in steps], "-", color=f"C{j}",
                label=rf"$(1 + \lambda^2\sigma^2)^i$, $\lambda$ = {lam}")
        ax.errorbar(steps, ratio.mean(1).tolist(), yerr=se.tolist(), fmt="o", color=f"C{j}",
                    capsize=3, markersize=4)
    ax.set_yscale("log")
    ax.set_xlabel("depth i")
    ax.set_ylabel(r"$E\|x_i\|^2 / \|x_0\|^2$ (log scale)")
    ax.set_title(f"S2 signal growth, ReLU, d = h = {width}, {ratio.shape[1]} nets\n"
                 "(points: Monte Carlo, bars: SE)", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)

@register("S2")
def s2_linear_lengths(ctx) -> list[CheckResult]:
    """S2: linear branches put energy C(n,k)(lam^2 sigma^2)^k on paths of length k."""
    depth, width, lam = 6, 8, 0.7
    out = linear_path_energies(depth, width, lam, _mc_size(ctx), sigma2=SIGMA2,
                               generator=torch.Generator().manual_seed(ctx.seed + 21))
    law = s2_energy_by_length(depth, lam, SIGMA2)
    zs = [(m - p) / s for m, p, s in zip(out["mean"][1:], law[1:], out["se"][1:])]
    se_ok = all(s < SE_FRACTION * p for s, p in zip(out["se"][1:], law[1:]))
    worst = max(zs, key=abs)
    return [CheckResult(
        "S2", f"linear branches: E||y_k||^2/||x||^2 = C(n,k)(lam^2 sigma^2)^k for k=1..{depth} "
        "(statistic: the largest |z| over k)", "expectation", law, out["mean"], worst,
        verdict(abs(worst) < Z_MAX and se_ok))]

@register("S2")
def s2_relu_lengths(ctx) -> list[CheckResult]:
    """S2 (measured): ReLU path-length energies deviate from the binomial law; report by width.

    The deviation is the total variation 1/2 sum_k |q_k - b_k| between the measured energy
    shares q_k = E||y_k||^2 / sum_j E||y_j||^2 and the binomial shares b_k of S2.
    """
    depth, lam = 6, 0.7
    law = s2_energy_by_length(depth, lam, SIGMA2)
    law = [v / sum(law) for v in law]
    widths = (4, 16, 32) if ctx.quick else (4, 16, 64, 128)
    deviation = {}
    for width in widths:
        out = relu_path_energies(depth, width, width, lam, 1000 if ctx.quick else 20000,
                                 generator=torch.Generator().manual_seed(ctx.seed + width))
        shares = [m / sum(out["mean"]) for m in out["mean"]]
        deviation[str(width)] = 0.5 * sum(abs(q - b) for q, b in zip(shares, law))
    values = list(deviation.values())
    return [CheckResult(
        "S2", "ReLU branches: total variation between the energy shares by path length and "
        "Binomial(n, p), by width (approximately binomial; expected to shrink with width)",
        "empirical", law, deviation, values[-1], verdict(values[-1] < values[0]))]

@register("S3")
def s3_prenorm(ctx) -> list[CheckResult]:
    """S3: pre-LN towers grow linearly, E||x_i||^2 = ||x_0||^2 + i lam^2 sigma^2 d at every i."""
    depth, width, lam = 12, 16, 0.5
    out = signal_second_moments(depth, width, width, lam, _mc_size(ctx), norm="pre",
                                generator=torch.Generator().manual_seed(ctx.seed + 30))
    rows = []
    for i in (1, depth // 2, depth):
        samples = out["layer_sq"][i]
        prediction = s3_prenorm_second_moment(i, lam, SIGMA2, width, out["x0_sq"])
        rows.append(_z_row("S3", f"pre-LN: E||x_i||^2 = ||x_0||^2 + i lam^2 sigma^2 d at i={i}, "
                           f"d={width}, lam={lam}", prediction, samples.mean().item(),
                           samples.std().item() / math.sqrt(len(samples))))
    return rows

@register("S3")
def s3_postnorm(ctx) -> list[CheckResult]:
    """S3 post-LN (measured trend): the identity path's share of x_i decays geometrically."""
    depth, width, lam = 12, 16, 0.5
    out = signal_second_moments(depth, width, width, lam, _mc_size(ctx), norm="post",
                                generator=torch.Generator().manual_seed(ctx.seed + 31))
    share = out["identity_share"].mean(1)
    logs = share.log()
    steps = torch.arange(depth + 1, dtype=torch.float64)
    slope = ((steps - steps.mean()) @ (logs - logs.mean()) / (steps - steps.mean()).pow(2).sum())
    fit = logs.mean() + slope * (steps - steps.mean())
    r2 = 1 - ((logs - fit).pow(2).sum() / (logs - logs.mean()).pow(2).sum()).item()
    factor = math.exp(slope.item())
    return [CheckResult(
        "S3", "post-LN: identity-path share of x_i decays geometrically (statistic: R^2 of a "
        "log-linear fit; prediction: heuristic factor 1/(1 + lam^2 sigma^2) per block)",
        "empirical", 1 / (1 + lam * lam * SIGMA2), {"factor_per_block": factor,
                                                   "share_at_n": share[-1].item()}, r2,
        verdict(r2 > 0.99 and factor < 1))]
