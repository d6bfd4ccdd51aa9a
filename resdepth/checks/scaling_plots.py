"""The S1 and S4 report plots: each shows the quantity its rows are decided on (S1: the slack
against the rounding band and the power threshold; S4: the z-scores) beside the measurement."""

import math

from numerics.probes.lipschitz import identity_tower_gain, rounding_tolerance
from resdepth.checks.expectation import z_panel
from resdepth.plots import plain_log_axis, plt, save_figure
from theorems.lipschitz import s1_bound

SIGMA2 = 1.0


def plot_s1(ctx, depths, found, rows, case, power_threshold) -> str | None:
    """S1_bound.png: bound, tight J = cI tower and the optimiser's best against depth; and the
    slack 1 - best/bound with the float64 rounding band (|slack| below it is the bound attained,
    not a violation) and the power threshold."""
    path = ctx.plot_path("S1_bound.png")
    if path is None:
        return None
    d, lam, c = case["d"], case["lam"], case["c"]
    grid = list(range(1, max(depths) + 1))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(grid, [s1_bound(n, lam, c) for n in grid], "-", color="k",
              label="bound (1 + lam c)^n")
    left.plot(grid, [identity_tower_gain(n, lam, c, d) for n in grid], "s", mfc="none",
              color="C2", ms=9, label="tight case J_i = cI")
    tol = rounding_tolerance(max(depths), d)
    right.axhspan(-tol, tol, color="0.8", alpha=0.7,
                  label=f"float64 rounding 8(n+1)d eps = {tol:.0e}: bound attained")
    right.axhspan(-1.0, -tol, color="C3", alpha=0.12, label="violation beyond rounding (fail)")
    right.axhline(power_threshold, color="C1", ls="--",
                  label=f"power: slack <= {power_threshold:g} (else inconclusive)")
    for i, (branch, worst) in enumerate(found.items()):
        style = {"marker": "o^"[i], "ls": "none", "color": f"C{i}",
                 "label": f"optimiser, {branch} branches ({rows[1 + i].verdict})"}
        left.plot(depths, worst, **style)
        right.plot(depths, [1 - w / s1_bound(n, lam, c)
                            for w, n in zip(worst, depths, strict=True)], **style)
    left.set_yscale("log")
    plain_log_axis(left.yaxis)
    left.set_xlabel("depth n")
    left.set_ylabel("Lipschitz constant")
    left.set_title(f"S1: d={d}, lam={lam}, c={c}")
    right.set_yscale("symlog", linthresh=tol)
    right.set_ylim(-10 * tol, 1.0)
    ticks = [-tol, 0.0, tol, 1e-10, 1e-6, 1e-2, 1.0]
    right.set_yticks(ticks, ["-tol", "0", "tol", "1e-10", "1e-6", "1e-2", "1"])
    right.yaxis.set_minor_locator(plt.NullLocator())
    right.set_xlabel("depth n")
    right.set_ylabel("slack 1 - best estimate / bound")
    right.set_title("slack (symlog; linear inside the rounding band)", fontsize=9)
    for ax in (left, right):
        ax.set_xticks(grid)
    left.legend(fontsize="small", loc="upper left")
    right.legend(fontsize="x-small", loc="center right")
    return save_figure(fig, path)


def plot_s4(ctx, found, rows, detail, a_of) -> str | None:
    """S4_regimes.png: log R_n / (a^2 sigma^2) against n on log-log axes, where the three regimes
    are three slopes (1 - 2 beta: growing, flat at 1, falling), and the rows' z-scores."""
    path = ctx.plot_path("S4_regimes.png")
    if path is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.6), width_ratios=(1.2, 1))
    largest = max(n for points in found.values() for n, _, _ in points)
    reach = max(256, largest)  # the lines run past the sampled depths, towards the limits
    grid = [2 ** (k / 4) for k in range(4 * int(math.log2(reach)) + 1)]
    for i, (beta, points) in enumerate(found.items()):
        a2 = a_of(beta) ** 2 * SIGMA2
        curve = [n * math.log1p(a2 * n ** (-2 * float(beta))) / a2 for n in grid]
        b = float(beta)
        regime = ("explodes" if b < 0.5 else "critical: R_n -> e^(a^2 sigma^2)" if b == 0.5
                  else "collapses: R_n -> 1")
        left.plot(grid, curve, color=f"C{i}", label=f"beta = {beta} ({regime}), a = "
                  f"{a_of(beta):.3g}")
        ns, means, ses = zip(*points, strict=True)
        left.errorbar(ns, [math.log(m) / a2 for m in means],
                      yerr=[2 * s / (m * a2) for m, s in zip(means, ses, strict=True)],
                      fmt="o", color=f"C{i}", ms=4, capsize=3)
    left.axhline(1.0, color="0.4", ls=":", lw=1)
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    plain_log_axis(left.yaxis, subs=(1.0,))
    ticks = [2**k for k in range(0, int(math.log2(reach)) + 1, 2)]
    left.set_xticks(ticks, [str(t) for t in ticks])
    left.set_xlabel("depth n")
    left.set_ylabel("log(E||x_n||^2/||x_0||^2) / (a^2 sigma^2)")
    left.set_title(f"S4: lam = a n^-beta; lines n log(1 + a^2 n^-2beta)/a^2 ~ n^(1 - 2 beta)\n"
                   f"(flat at 1: beta = 1/2); points Monte Carlo, bars 2 SE ({detail})",
                   fontsize="small")
    left.legend(fontsize="x-small", loc="lower left")
    names = [f"b={r.details['beta']} n={r.details['depth']}" for r in rows]
    z_panel(right, rows, names)
    right.set_title("rows: z-scores; hollow = inconclusive (n - 1 not resolved)",
                    fontsize="small")
    return save_figure(fig, path)
