"""The S2 and S3 report plots: each shows the measurement against its prediction and, beside
it, the z-scores the rows are decided on (:func:`resdepth.checks.expectation.z_panel`)."""

import math

import torch

from numerics.probes.montecarlo import signal_second_moments
from resdepth.checks.expectation import z_panel
from resdepth.plots import plt, save_figure
from theorems.block_law import block_log_moments, postln_factor
from theorems.signal import s2_ratio

SIGMA2 = 1.0
EXTRA_LAM = 0.25  # drawn only for the plot, beside the rows' lam


def _mean_band(ax, steps, samples, colour, label, fmt="o"):
    """Monte Carlo means over networks with bars of 2 standard errors."""
    se = samples.std(1) / math.sqrt(samples.shape[1])
    ax.errorbar(steps, samples.mean(1).tolist(), yerr=(2 * se).tolist(), fmt=fmt, color=colour,
                ms=4, capsize=2, label=label)


def plot_s2(ctx, mean_run, typical_run, rows, n_nets) -> str | None:
    """S2_signal_growth.png: the mean law at small lam, the mean and typical laws at lam = 1
    (with the heavy-tail explanation on the plot), and the rows' z-scores."""
    path = ctx.plot_path("S2_signal_growth.png")
    if path is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), width_ratios=(1.7, 1))
    depth, width = mean_run["depth"], mean_run["width"]
    extra = signal_second_moments(depth, width, width, EXTRA_LAM, n_nets,
                                  generator=torch.Generator().manual_seed(ctx.seed + 22))
    for j, run in enumerate((extra, mean_run)):
        steps = list(range(run["depth"] + 1))
        lam = run["lam"]
        left.plot(steps, [s2_ratio(i, lam, SIGMA2) for i in steps], "-", color=f"C{j}",
                  label=f"mean law (1 + lam^2)^i, lam = {lam} (d = h = {width})")
        _mean_band(left, steps, run["layer_sq"] / run["x0_sq"], f"C{j}", None)
    _typical_curves(left, typical_run)
    left.set_yscale("log")
    left.set_xlabel("depth i")
    left.set_ylabel("||x_i||^2 / ||x_0||^2 (log scale)")
    left.set_title("S2 at initialisation, ReLU, no biases, sigma^2 = 1; points: Monte Carlo "
                   "(bars 2 SE)", fontsize=9)
    left.legend(fontsize=7, loc="upper left")
    z_panel(right, rows, ["mean", "Jacobian", "E log (typ.)", "median (typ.)"])
    right.set_title("rows: z-scores (decide the verdict)", fontsize=9)
    return save_figure(fig, path)


def _typical_curves(ax, run) -> None:
    """lam = 1: the mean law, the sample mean (falls below it at depth), the median and the
    typical law exp(i g - kappa3/(6 v)), with the explanation as text on the axes."""
    n, width, lam, nets = run["depth"], run["width"], run["lam"], run["n_nets"]
    law = block_log_moments(lam, SIGMA2, width, width)
    steps = list(range(n + 1))
    ratio = run["layer_sq"] / run["x0_sq"]
    ax.plot(steps, [s2_ratio(i, lam, SIGMA2) for i in steps], "-", color="C3",
            label=f"mean law 2^i, lam = {lam} (d = h = {width})")
    ax.plot(steps[1:], ratio.mean(1)[1:].tolist(), "o", color="C3", ms=3, mfc="none",
            label=f"lam = 1: sample mean of {nets} nets")
    ax.plot(steps[1:], ratio.median(1).values[1:].tolist(), "x", color="C4", ms=4,
            label="lam = 1: sample median")
    typical = [math.exp(i * law["mean"] - law["kappa3"] / (6 * law["var"])) for i in steps[1:]]
    ax.plot(steps[1:], typical, "--", color="C4",
            label=f"typical law exp(i g - k3/6v), g = {law['mean']:.3f} < ln 2")
    tail = n * law["var"] / 2
    ax.text(0.98, 0.03, f"lam = 1: log R_n is a sum of n i.i.d. block gains (mean g, var "
            f"v = {law['var']:.3f}).\nThe mean 2^n is carried by ~exp(-n v/2) of the networks "
            f"(n = {n}: exp(-{tail:.1f}) = {math.exp(-tail):.1%}),\nso a sample of {nets} "
            f"falls below it at depth (heavy tail); the median\nfollows the typical law. Rows: "
            f"E log R_n and the median (exact block law).", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=6.5,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})


def plot_s3(ctx, pre, post, rows) -> str | None:
    """S3_signal.png: pre-LN linear growth, post-LN identity share against rho^i (with the
    heuristic and the wrong-power factors), and the z-scores of the rows."""
    path = ctx.plot_path("S3_signal.png")
    if path is None:
        return None
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 4.2))
    depth, width, lam = pre["depth"], pre["width"], pre["lam"]
    steps = list(range(depth + 1))
    q = lam * lam * SIGMA2
    left.plot(steps, [1 + i * q for i in steps], "-", color="C0",
              label="S3: 1 + i lam^2 sigma^2")
    left.plot(steps, [s2_ratio(i, lam, SIGMA2) for i in steps], ":", color="0.5",
              label="no normalisation (S2): (1 + lam^2 sigma^2)^i")
    _mean_band(left, steps, pre["layer_sq"] / pre["x0_sq"], "C0", "pre-LN Monte Carlo")
    left.set_xlabel("depth i")
    left.set_ylabel("||x_i||^2 / ||x_0||^2")
    left.set_title(f"pre-LN, d = h = {width}, lam = {lam}", fontsize=9)
    left.legend(fontsize=7)
    rho = postln_factor(lam, SIGMA2, width, width)
    for value, style, label in (
            (rho, "-", f"prediction rho^i, rho = E 1/s^2 = {rho:.4f}"),
            (1 / (1 + q), "--", f"heuristic (1 + lam^2 sigma^2)^-i = {1 / (1 + q):.3f}^i"),
            (postln_factor(lam, SIGMA2, width, width, 0.5), ":", "wrong power: (E 1/s)^i")):
        middle.plot(steps, [value**i for i in steps], style, color="C1" if style == "-" else
                    "0.5", label=label)
    _mean_band(middle, steps, post["identity_share"], "C1", "post-LN Monte Carlo")
    middle.set_yscale("log")
    middle.set_xlabel("depth i")
    middle.set_ylabel("mean identity-path share c_i^2 ||x_0||^2 / ||x_i||^2")
    exact = next(row for row in rows if row.kind == "exact")
    middle.set_title(f"post-LN: ||x_i||^2 = d v/(v + eps) to {exact.statistic:.1e} "
                     f"({exact.verdict})", fontsize=9)
    middle.legend(fontsize=7, loc="lower left")
    z_rows = [row for row in rows if row.kind != "exact"]
    z_panel(right, z_rows, [f"pre-LN i={i}" for i in (1, depth // 2, depth)]
            + ["post-LN factor"])
    right.set_title("rows: z-scores (decide the verdict)", fontsize=9)
    return save_figure(fig, path)
