"""Checks of S1 (worst-case bound), S4 (module scaling principle) and S5 (known schemes).

Tolerance policy: the S1 bound is checked one-sided at the float64 rounding slack of
:func:`numerics.lipschitz.rounding_tolerance` (8 (n+1) d eps), after an optimiser over inputs and
normalised weights has tried to break it; S4's limits are SymPy results compared structurally;
S4's finite-depth values and S5's measured branch scales are expectations over the random
initialisation, checked by batched Monte Carlo at |z| < ``Z_MAX`` = 5 with the standard error
required to be below ``SE_FRACTION`` of the prediction; zero-initialised schemes are exact (0).
"""

import dataclasses
import math

import sympy as sp
import torch

from numerics.config import ModelConfig
from numerics.lipschitz import falsify_s1, identity_tower_gain, rounding_tolerance
from numerics.models import build_model
from numerics.montecarlo import signal_second_moments
from resdepth.checks.base import CheckResult, register, verdict
from resdepth.plots import plain_log_axis, plt, save_figure
from theorems import scaling
from theorems.lipschitz import s1_bound
from theorems.schemes import SCHEMES, effective_lam
from theorems.signal import s2_ratio

Z_MAX = 5.0
SE_FRACTION = 0.05
SIGMA2 = 1.0  # the numerics branches are initialised so that sigma^2 = 1
S1_CASE = {"n": 5, "d": 3, "lam": 0.5, "c": 1.5}
S1_DEPTHS_QUICK = (1, 3, 5)  # depths the S1 optimiser tries (quick / full budget)
S1_DEPTHS = (1, 3, 5, 8)


def _z_row(label, claim, prediction, mean, se) -> CheckResult:
    z = (mean - prediction) / se
    ok = abs(z) < Z_MAX and se < SE_FRACTION * abs(prediction)
    return CheckResult(label, claim + f" (z-score; SE/prediction = {se / prediction:.3g})",
                       "expectation", prediction, mean, z, verdict(ok))


@register("S1")
def s1_bound_check(ctx) -> list[CheckResult]:
    """S1: the identity tower attains (1 + lam c)^n; an optimiser cannot exceed it at any depth."""
    n, d, lam, c = S1_CASE["n"], S1_CASE["d"], S1_CASE["lam"], S1_CASE["c"]
    bound, tol = s1_bound(n, lam, c), rounding_tolerance(n, d)
    gain = identity_tower_gain(n, lam, c, d)
    depths = S1_DEPTHS_QUICK if ctx.quick else S1_DEPTHS
    steps = 60 if ctx.quick else 300
    found = {branch: [_s1_falsify(ctx, depth, branch, steps) for depth in depths]
             for branch in ("linear", "relu")}
    plot = _plot_s1(ctx, depths, found)
    rows = [CheckResult("S1", f"J_i = cI attains Lip = (1 + lam c)^n, n={n}, lam={lam}, c={c} "
                        "(relative error)", "exact", bound, gain, abs(gain / bound - 1),
                        verdict(abs(gain / bound - 1) <= tol), plot)]
    for branch, worst in found.items():
        bounds = [s1_bound(depth, lam, c) for depth in depths]
        ratios = [w / b for w, b in zip(worst, bounds, strict=True)]
        ok = all(r <= 1 + rounding_tolerance(depth, d)
                 for r, depth in zip(ratios, depths, strict=True))
        rows.append(CheckResult(
            "S1", f"optimiser over inputs and {branch} branches with ||J_i|| <= c finds no "
            f"Lipschitz estimate above (1 + lam c)^n at n = {list(depths)} ({steps} Adam steps; "
            "statistic: largest max estimate / bound, must be <= 1 + rounding)", "bound", bounds,
            worst, max(ratios), verdict(ok), plot))
    return rows


def _s1_falsify(ctx, depth: int, branch: str, steps: int) -> float:
    """The largest Lipschitz estimate (Jacobian norm or secant ratio) the optimiser reaches."""
    seed = ctx.seed + 40 + 100 * ("linear", "relu").index(branch) + depth
    out = falsify_s1(depth, S1_CASE["d"], S1_CASE["lam"], S1_CASE["c"], branch=branch,
                     restarts=8 if ctx.quick else 32, steps=steps,
                     generator=torch.Generator().manual_seed(seed))
    return max(out["max_jacobian_norm"], out["max_secant_ratio"])




def _plot_s1(ctx, depths, found) -> str | None:
    """S1_bound.png: bound, tight J = cI tower and the optimiser's best against depth."""
    path = ctx.plot_path("S1_bound.png")
    if path is None:
        return None
    from matplotlib.ticker import NullLocator

    d, lam, c = S1_CASE["d"], S1_CASE["lam"], S1_CASE["c"]
    grid = list(range(1, max(depths) + 1))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    left.plot(grid, [s1_bound(n, lam, c) for n in grid], "-", color="k",
              label="bound (1 + lam c)^n")
    left.plot(grid, [identity_tower_gain(n, lam, c, d) for n in grid], "s", mfc="none",
              color="C2", ms=9, label="tight case J_i = cI")
    tol = rounding_tolerance(max(depths), d)
    right.axhspan(-1.0, -tol, color="C3", alpha=0.15, label="violation beyond rounding")
    right.axhline(0.0, color="k", label="bound")
    for i, (branch, worst) in enumerate(found.items()):
        style = {"marker": "o^"[i], "ls": "none", "color": f"C{i}",
                 "label": f"optimiser, {branch} branches"}
        left.plot(depths, worst, **style)
        right.plot(depths, [1 - w / s1_bound(n, lam, c)
                            for w, n in zip(worst, depths, strict=True)], **style)
    left.set_yscale("log")
    plain_log_axis(left.yaxis)
    left.set_xlabel("depth n")
    left.set_ylabel("Lipschitz constant")
    left.set_title(f"S1: d={d}, lam={lam}, c={c}")
    right.set_yscale("symlog", linthresh=1e-16)
    right.set_ylim(-1e-13, 1.0)
    ticks = [-1e-14, 0.0, 1e-12, 1e-8, 1e-4, 1.0]
    right.set_yticks(ticks, [f"{t:g}" for t in ticks])
    right.yaxis.set_minor_locator(NullLocator())
    right.set_xlabel("depth n")
    right.set_ylabel("1 - best estimate / bound")
    right.set_title("slack of the bound (>= 0: not exceeded)")
    for ax in (left, right):
        ax.set_xticks(grid)
    left.legend(fontsize="small", loc="lower right")
    right.legend(fontsize="small", loc="center right")
    return save_figure(fig, path)


@register("S4")
def s4_symbolic_limits(ctx) -> list[CheckResult]:
    """S4: SymPy's limits of (1 + a^2 sigma^2 n^-2beta)^n, n p and the S1 bound per beta."""
    c = scaling.A**2 * scaling.SIGMA2
    half = sp.Rational(1, 2)
    rows = []
    for beta in scaling.BETAS:
        expected = sp.oo if beta < half else (sp.exp(c) if beta == half else sp.Integer(1))
        got = scaling.ratio_limit(beta)
        rows.append(CheckResult("S4", f"lim E||x_n||^2/||x_0||^2 for lam = a n^-{beta} "
                                "(symbolic a, sigma^2)", "exact", str(expected), str(got),
                                None, verdict(got == expected)))
        bounded = scaling.s1_bound_limit(beta) is not sp.oo
        rows.append(CheckResult("S4", f"S1 bound (1 + a c n^-{beta})^n bounded iff beta >= 1",
                                "exact", bool(beta >= 1), bounded, None,
                                verdict(bounded == (beta >= 1))))
    limits = scaling.regime_limits_symbolic()
    ok = (limits["below"][0] is sp.oo and limits["critical"] == (c, c)
          and limits["above"] == (0, 0))
    rows.append(CheckResult("S4", "symbolic beta: bounds on log R_n tend to (oo, .), "
                            "(a^2 sigma^2, a^2 sigma^2), (0, 0) for beta <, =, > 1/2", "exact",
                            "oo; c; 0", str(limits), None, verdict(ok)))
    pmf = scaling.poisson_pmf_limit(1)
    ok = sp.simplify(pmf - c * sp.exp(-c)) == 0
    rows.append(CheckResult("S4", "beta = 1/2: P(path length = 1) -> a^2 sigma^2 e^{-a^2 sigma^2} "
                            "(Poisson)", "exact", str(c * sp.exp(-c)), str(pmf), None,
                            verdict(ok)))
    return rows


@register("S4")
def s4_monte_carlo(ctx) -> list[CheckResult]:
    """S4: Monte Carlo E||x_n||^2/||x_0||^2 against (1 + a^2 n^-2beta)^n (sigma^2 = 1).

    The per-network ratio has a heavy right tail at beta = 0 (its relative variance grows
    geometrically in n), so a = 1/2: at n = 64, d = h = 32 and 6000 networks the standard error
    is about 3.6% of the prediction (measured), below ``SE_FRACTION``.
    """
    a = 0.5
    depths = (4, 16) if ctx.quick else (4, 16, 64)
    width, n_nets = (16, 2000) if ctx.quick else (32, 6000)
    rows, found = [], {}
    for i, beta in enumerate(scaling.BETAS):
        for j, n in enumerate(depths):
            lam = a * float(n) ** (-float(beta))
            generator = torch.Generator().manual_seed(ctx.seed + 100 + 10 * i + j)
            out = signal_second_moments(n, width, width, lam, n_nets, generator=generator)
            found.setdefault(beta, []).append((out["mean"], out["se"]))
            rows.append(_z_row("S4", f"E||x_n||^2/||x_0||^2 = (1 + a^2 n^-2beta)^n, a={a}, "
                               f"beta={beta}, n={n}, d=h={width}", s2_ratio(n, lam, SIGMA2),
                               out["mean"], out["se"]))
    plot = _plot_s4(ctx, a, depths, found, f"d = h = {width}, {n_nets} networks per point")
    return [dataclasses.replace(row, plot=plot) for row in rows]


def _plot_s4(ctx, a, depths, found, detail) -> str | None:
    """S4_regimes.png: prediction lines, Monte Carlo points (2 SE bars) and the three limits."""
    path = ctx.plot_path("S4_regimes.png")
    if path is None:
        return None
    grid = range(1, max(depths) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.axhline(math.exp(a**2 * SIGMA2), color="0.4", ls="--",
               label=f"beta = 1/2 limit e^(a^2 sigma^2) = {math.exp(a**2 * SIGMA2):.3f}")
    ax.axhline(1.0, color="0.4", ls=":", label="beta > 1/2 limit 1")
    for i, (beta, points) in enumerate(found.items()):
        predicted = [s2_ratio(n, a * n ** -float(beta), SIGMA2) for n in grid]
        ax.plot(grid, predicted, color=f"C{i}", label=f"beta = {beta}")
        means, ses = zip(*points, strict=True)
        ax.errorbar(depths, means, yerr=[2 * se for se in ses], fmt="o", color=f"C{i}", ms=4,
                    capsize=3)
    ax.annotate("beta < 1/2: limit = infinity", xy=(0.02, 0.97), xycoords="axes fraction",
                va="top", fontsize="small", color="0.3")
    ax.set_xscale("log", base=2)
    ticks = [2**k for k in range(max(depths).bit_length())]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis)
    ax.set_xlabel("depth n")
    ax.set_ylabel("E||x_n||^2 / ||x_0||^2")
    ax.set_title(f"S4: lam = a n^(-beta), a = {a}; lines (1 + a^2 n^(-2 beta))^n,\n"
                 f"points Monte Carlo with 2 SE bars ({detail})", fontsize="small")
    ax.legend(fontsize="x-small", loc="center left")
    return save_figure(fig, path)


def measured_branch_scale(model) -> tuple[list[float], list[bool]]:
    """Per block, ||lam f(z)||^2 / ||z||^2 over a batch of Gaussian z; and whether f(z) == 0."""
    generator = torch.Generator().manual_seed(7)
    width = model.blocks[0].branch[0].in_features
    z = torch.randn(256, width, dtype=torch.float64, generator=generator)
    ratios, zero = [], []
    with torch.no_grad():
        for block in model.blocks:
            out = block.lam.to(torch.float64) * block.branch(z)
            ratios.append(float(out.pow(2).sum() / z.pow(2).sum()))
            zero.append(bool(torch.count_nonzero(out) == 0))
    return ratios, zero


@register("S5")
def s5_schemes(ctx) -> list[CheckResult]:
    """S5: each scheme's measured branch scale at init on build_model against lam_eff(L)^2."""
    depth, width = (32, 32) if ctx.quick else (64, 64)
    seeds = 2 if ctx.quick else 4
    rows = []
    for i, s in enumerate(SCHEMES):
        predicted = effective_lam(s.name, depth) ** 2 * SIGMA2
        norm = "post" if s.model_scaling == "deepnorm" else "none"
        cfg = ModelConfig(arch="mlp", depth=depth, width=width, scaling=s.model_scaling,
                          norm=norm, bias=False)
        ratios, zeros = [], []
        for k in range(seeds):
            model = build_model(cfg, width, 2, generator=torch.Generator().manual_seed(
                ctx.seed + 200 + 10 * i + k)).double()
            r, zero = measured_branch_scale(model)
            ratios += r
            zeros += zero
        claim = (f"{s.name} (ModelConfig scaling={s.model_scaling!r}, L={depth}): "
                 f"E||lam f(z)||^2/||z||^2 = lam_eff^2 sigma^2, lam_eff = {s.lam_eff}, "
                 f"S4 beta = {s.beta} ({s.regime})")
        if predicted == 0:
            rows.append(CheckResult("S5", claim + " (identity at init: every block adds 0)",
                                    "exact", 0.0, max(ratios), max(ratios), verdict(all(zeros))))
            continue
        samples = torch.tensor(ratios, dtype=torch.float64)
        mean = samples.mean().item()
        se = samples.std().item() / math.sqrt(len(ratios))
        rows.append(_z_row("S5", claim, predicted, mean, se))
    return rows
