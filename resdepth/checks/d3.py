"""Checks of D3: the head-level Rademacher bound by Monte Carlo, and a falsification attempt of the
whole-class covering bound by training a network to correlate with random signs.

Power. The head-level row would catch a bound too small by the relative amount
(bound - mean + Z_MAX SE)/bound; the second-moment identity reports the z-score a 1% error would
produce; the falsification reports bound / achieved: an error in the bound by a smaller factor
would go unseen, so the row is informative only when that ratio is at most ``FALSIFY_RATIO``.
"""

import math

import torch

from numerics.probes.rademacher import correlate_random_signs, head_rademacher_mc
from resdepth.checks.expansion_setup import load_old, old_spec, with_plot
from resdepth.checks.expectation import by_construction
from resdepth.engine.policy import Z_MAX, budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import Criterion, Power
from resdepth.plots import plain_log_axis, plt, save_figure
from theorems.rademacher import NetworkClass, head_rademacher_bound, rademacher_bound

TIGHT = 0.25
FALSIFY_RATIO = 3.0
ARCH = {"depth": 1, "width": 3, "hidden": 3}
BUDGETS = {"embed_norm": 2.0, "u_norm": 2.0, "v_norm": 2.0}


@register("D3", needs=lambda ctx: [old_spec(ctx)])
def d3_rademacher(ctx) -> list[CheckResult]:
    """D3: head-level Monte Carlo meets B sqrt(d/m); trained correlation stays below the bound."""
    old, _, data = load_old(ctx)
    x = ctx.tensor(data.test_x)
    with torch.no_grad():
        features = old.run_blocks(old.embed(x))
    d = features.shape[1]
    m = features.shape[0]
    n_sigma = budget("D3", ctx.mode).n_sigma
    sizes = sorted({m // 4**k for k in range(4)} - {0})
    gen = torch.Generator().manual_seed(ctx.seed)
    sweep = [head_rademacher_mc(features[:size], 1.0, n_sigma, generator=gen) for size in sizes]
    bounds = [head_rademacher_bound(size, d, 1.0) for size in sizes]
    z_bound = max((mc["mean"] - b) / mc["se"] for mc, b in zip(sweep, bounds, strict=True))
    caught = min((b - mc["mean"] + Z_MAX * mc["se"]) / b for mc, b in zip(sweep, bounds,
                                                                           strict=True))
    mc = head_rademacher_mc(features[:sizes[0]], 1.0, budget("D3", ctx.mode).head_mc,
                            generator=gen)
    z_moment = (mc["second_moment"] - mc["second_moment_exact"]) / mc["second_moment_se"]
    falsification, achieved, cls = _falsification(ctx)
    plot = _plot(ctx, sizes, sweep, d, achieved, cls)
    rows = [
        CheckResult("D3", "head level: E sup_{|w|<=1} (1/m) sum sigma_i w.h_L(x_i) <= sqrt(d/m) "
                    f"on the first m test points, m = {sizes} (statistic: largest z of "
                    "Monte Carlo over bound)", "bound", bounds[-1], sweep[-1]["mean"], z_bound,
                    Criterion("largest z of Monte Carlo over the bound", "<", Z_MAX),
                    Power("a bound smaller by this relative amount would be exceeded at "
                          f"z = {Z_MAX} (the bound is tested as tight when below {TIGHT})",
                          caught, "<=", TIGHT),
                    details={"sizes": sizes, "bounds": bounds,
                             "means": [r["mean"] for r in sweep], "se": [r["se"] for r in sweep]},
                    plot=plot),
        CheckResult("D3", f"E||sum sigma_i h_i||^2 = sum ||h_i||^2, m = {sizes[0]} (z-score)",
                    "expectation", mc["second_moment_exact"], mc["second_moment"], z_moment,
                    Criterion("z-score", "|x|<", Z_MAX),
                    by_construction("E sigma_i sigma_j = delta_ij makes the identity hold for "
                                    "any features; it tests the sign generator, not D3"),
                    plot=plot),
    ]
    return rows + [with_plot(falsification, plot)]


def _falsification(ctx):
    m, p = 2000, 2
    gen = torch.Generator().manual_seed(ctx.seed + 31)
    x = torch.randn(m, p, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    draws, steps = budget("D3", ctx.mode).falsify
    achieved = []
    for _ in range(draws):
        signs = (torch.randint(0, 2, (m,), generator=gen) * 2 - 1).to(torch.float64)
        result = correlate_random_signs(x, signs, head_norm=1.0, steps=steps, generator=gen,
                                        **ARCH, **BUDGETS)
        achieved.append(result["correlation"])
    cls = NetworkClass(d=ARCH["width"], depth=ARCH["depth"], hidden=ARCH["hidden"], in_dim=p,
                       head_norm=1.0, input_norm=1.0, **BUDGETS)
    bound = rademacher_bound(cls, m)
    mean = sum(achieved) / draws
    row = CheckResult(
        "D3", f"falsification: the correlation with random signs reached by training ({draws} "
        f"draw(s), {steps} Adam steps, d = {ARCH['width']}, depth {ARCH['depth']}, m = {m}) "
        "stays below the whole-class bound", "bound", bound, mean, mean / bound,
        Criterion("achieved / bound", "<=", 1.0),
        Power("a bound too small by more than the factor bound / achieved would be caught; "
              f"informative within a factor {FALSIFY_RATIO}", bound / mean, "<=", FALSIFY_RATIO),
        details={"head_level": head_rademacher_bound(m, ARCH["width"], 1.0),
                 "trivial": math.sqrt(ARCH["width"]), "correlations": achieved})
    return row, {"m": m, "correlations": achieved}, cls


def _plot(ctx, sizes, sweep, d, achieved, cls) -> str | None:
    """D3_bounds.png: head-level Monte Carlo against m; trained correlation against the bounds."""
    path = ctx.plot_path("D3_bounds.png")
    if path is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(sizes, [head_rademacher_bound(m, d, 1.0) for m in sizes], "k-",
              label="bound B sqrt(d/m)")
    left.errorbar(sizes, [r["mean"] for r in sweep], yerr=[2 * r["se"] for r in sweep], fmt="o",
                  color="C0", capsize=3, label="Monte Carlo (2 SE)")
    left.set_title(f"D3 head level: trained old model's features, d = {d}, B = 1",
                   fontsize="small")
    ms = [int(v) for v in torch.logspace(2, 5, 25).tolist()]
    right.plot(ms, [rademacher_bound(cls, m) for m in ms], "C3-", label="whole-class bound (D3)")
    right.plot(ms, [head_rademacher_bound(m, cls.d, 1.0) for m in ms], "k--",
               label="head-level B sqrt(d/m)")
    right.axhline(math.sqrt(cls.d), color="0.5", ls=":", label="trivial cap B sqrt(d)")
    m = achieved["m"]
    mean = sum(achieved["correlations"]) / len(achieved["correlations"])
    right.plot([m] * len(achieved["correlations"]), achieved["correlations"], "o", color="C0",
               label=f"trained random-sign correlation: bound/achieved = "
               f"{rademacher_bound(cls, m) / mean:.1f}")
    right.set_title(f"D3 whole class: falsification, d = {cls.d}, depth {cls.depth}, "
                    f"h = {cls.hidden}", fontsize="small")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_axis(ax.xaxis, subs=(1.0, 2.0, 5.0) if ax is left else (1.0,))
        plain_log_axis(ax.yaxis)
        ax.set_xlabel("sample size m")
        ax.set_ylabel("Rademacher average / correlation")
        ax.legend(fontsize="small")
    return save_figure(fig, path)


__all__ = ["d3_rademacher"]
