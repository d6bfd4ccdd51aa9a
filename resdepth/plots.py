"""Plots that the validation report draws itself (the checks draw their own via ``ctx.plot_path``).

matplotlib runs on the Agg backend: no display is needed.
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from resdepth.engine.registry import LABELS, VERDICTS

OVERVIEW = "verdicts.png"


def save_figure(fig, path: Path) -> str:
    """Lay out, write (110 dpi) and close ``fig``; the file name, for a row's ``plot`` field."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plain_log_axis(axis, subs=(1.0, 2.0, 5.0)) -> None:
    """Tick a log axis at ``subs`` x 10^k in plain numbers (no mathtext, no minor ticks: the
    layout of many tick labels is what makes a plot slow)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    axis.set_major_locator(LogLocator(subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_locator(NullLocator())

COLOURS = {"pass": "#2a9d3f", "fail": "#d62828", "inconclusive": "#5e60ce",
           "diverged": "#f4a261", "skipped": "#adb5bd"}


def verdict_overview(rows: list[dict], path: Path) -> Path:
    """A stacked bar per THEORY.md label: how many of its rows have each verdict."""
    present = [label for label in LABELS if any(row["label"] == label for row in rows)]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(present) + 1.5), 3.2))
    bottom = [0] * len(present)
    for verdict in VERDICTS:
        heights = [sum(r["label"] == lb and r["verdict"] == verdict for r in rows)
                   for lb in present]
        ax.bar(present, heights, bottom=bottom, color=COLOURS[verdict], label=verdict)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("rows")
    ax.set_ylim(0, max(bottom, default=1) * 1.12 + 0.5)
    counts = ", ".join(f"{sum(r['verdict'] == v for r in rows)} {v}" for v in VERDICTS)
    ax.set_title(f"resdepth validate: verdicts per THEORY.md label ({len(rows)} rows: {counts})",
                 fontsize="medium")
    ax.legend(ncols=5, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12),
              frameon=False)
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


SIGNAL = "signal_growth.png"
SIGNAL_WIDTH = 8  # d = h: S2 holds at every width, so a small one keeps the plot cheap
SCALINGS = (("constant", "lam = 1", lambda n: 1.0), ("inv-sqrt", "lam = 1/sqrt(n)",
            lambda n: n ** -0.5), ("inv", "lam = 1/n", lambda n: 1.0 / n))


def signal_growth(path: Path, *, seed: int, mode: str) -> Path:
    r"""S2/S4: E||x_n||^2 / ||x_0||^2 against depth n for lam = 1, 1/sqrt(n), 1/n, and S3 (pre-LN).

    Lines: the predictions (1 + lam^2 sigma^2)^n (S2, sigma^2 = 1) and 1 + n lam^2 (S3 with
    ||x_0||^2 = d). Points: Monte Carlo means over independent ReLU towers with bars of two
    standard errors (:func:`numerics.probes.montecarlo.signal_second_moments`, one seeded generator
    per point, so the plot is the same for the same ``seed``). For lam = 1 the sample mean
    falls below its prediction at depth: log R_n is a sum of n i.i.d. block gains
    (:mod:`theorems.block_law`), so the mean is carried by about exp(-n v/2) of the networks;
    the plot also shows the sample median and the typical law exp(n g - kappa3/(6 v)) it
    follows, and says so on the axes.
    """
    import numpy as np
    import torch

    from numerics.probes.montecarlo import signal_second_moments
    from resdepth.engine.policy import budget
    from theorems.block_law import block_log_moments
    from theorems.signal import s2_log10_ratio_array, s3_prenorm_second_moment

    sizes = budget("overview", mode)
    depths, n_nets = list(sizes.depths), sizes.nets
    grid = np.arange(1, depths[-1] + 1)
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    curves = [(label, rule, "none") for _, label, rule in SCALINGS]
    curves.append(("pre-LN, lam = 1", lambda n: 1.0, "pre"))
    for index, (label, rule, norm) in enumerate(curves):
        if norm == "none":
            predicted = 10 ** s2_log10_ratio_array(grid, [rule(n) for n in grid], 1.0)
        else:
            predicted = [s3_prenorm_second_moment(int(n), rule(n), 1.0, SIGNAL_WIDTH, SIGNAL_WIDTH)
                         / SIGNAL_WIDTH for n in grid]
        (line,) = ax.plot(grid, predicted, label=f"{label} (prediction)")
        means, bars, medians = [], [], []
        for depth in depths:
            generator = torch.Generator().manual_seed(seed * 1000 + index * 100 + depth)
            found = signal_second_moments(depth, SIGNAL_WIDTH, SIGNAL_WIDTH, rule(depth), n_nets,
                                          norm=norm, generator=generator)
            means.append(found["mean"])
            bars.append(2 * found["se"])
            medians.append(found["ratio"].median().item())
        ax.errorbar(depths, means, yerr=bars, fmt="o", color=line.get_color(), ms=4, capsize=2)
        if index == 0:
            _typical_law(ax, grid, depths, medians, line.get_color(), n_nets, block_log_moments)
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_yscale("log")
    ax.set_xlabel("depth n")
    ax.set_ylabel("||x_n||^2 / ||x_0||^2")
    ax.set_title(f"S2/S3/S4: signal growth at initialisation (d = h = {SIGNAL_WIDTH}; "
                 f"points: mean of {n_nets} nets, ±2 SE)", fontsize="medium")
    ax.legend(fontsize="x-small", loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _typical_law(ax, grid, depths, medians, colour, n_nets, block_log_moments) -> None:
    """lam = 1: sample medians, the typical law exp(n g - kappa3/(6 v)) and why the mean's
    points fall below 2^n (as text on the axes)."""
    law = block_log_moments(1.0, 1.0, SIGNAL_WIDTH, SIGNAL_WIDTH)
    ax.plot(depths, medians, "x", color=colour, ms=6, label="lam = 1: sample median")
    ax.plot(grid, [math.exp(n * law["mean"] - law["kappa3"] / (6 * law["var"])) for n in grid],
            ":", color=colour, label=f"lam = 1: typical law exp(n g - k3/6v), g = "
            f"{law['mean']:.3f} < ln 2")
    deepest = depths[-1]
    ax.text(0.02, 0.6, f"lam = 1: the mean 2^n is carried by ~exp(-n v/2) of the networks\n"
            f"(v = {law['var']:.2f}; n = {deepest}: {math.exp(-deepest * law['var'] / 2):.1%}), so "
            f"{n_nets} nets fall below it at depth;\nthe median follows the typical law "
            f"(rows: S2 typical growth)", transform=ax.transAxes, ha="left", va="top",
            fontsize=6.5, bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
