"""Checks of D2's observability test: its size at G_pop = 0, its power on a planted signal, and
width's effect on gradient misalignment (the effective alignment dimension).

- Size: the planted teacher at scale 0 is the old model itself, so G_pop = 0 exactly; the split
  test must reject at its nominal rate ALPHA (binomial z of the rejection rate, |z| < ``Z_SIZE``).
- Power: at a planted scale chosen so that theorems/joint_scaling.py predicts detection half of the
  time at m_50 (:func:`theorems.joint_scaling.samples_to_detect`, constants from a large sample),
  the measured rejection rate over a grid m_50 * 2^k must cross 1/2 within a factor 2 of m_50.
- Width: P(<G_A, G_B> < 0) over independent samples of size m at ``models`` independently
  trained old models per width, against the new block's width h, the model width d and m:
  THEORY's "falls with width" judged as stated (z of the per-model fall over models; a resolved
  rise fails), and the moments formula judged on its level (:mod:`resdepth.checks.d2_width`).
"""

import math

import torch

from numerics.probes.expansion import insert_block, make_loss, per_example_gradients
from numerics.probes.guarantee_coverage import clopper_pearson
from numerics.probes.observability import gradient_moments, split_test_runs
from resdepth.checks.d2_width import width_needs, width_rows
from resdepth.checks.expansion_setup import ALPHA, load_old, planted, position, with_plot
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import Criterion, Power
from resdepth.plots import plain_log_axis, plt, save_figure
from theorems.joint_scaling import detection_power, samples_to_detect

Z_SIZE = 3.3
S_REF = 0.3
LOSS = make_loss("regression")


def _sizes(ctx):
    return budget("D2", ctx.mode)


@register("D2", needs=width_needs)
def d2_observability(ctx) -> list[CheckResult]:
    """D2: size and power of the split directional test; misalignment against width."""
    sizes = _sizes(ctx)
    old, _, _ = load_old(ctx)
    j = position(old)
    probe = insert_block(old, j, generator=torch.Generator().manual_seed(ctx.seed + 21))
    gen = torch.Generator().manual_seed(ctx.seed + 22)
    null = _size_row(probe, j, planted(old, 0.0, ctx.seed + 23), sizes, gen)
    power, curve = _power_row(probe, j, old, ctx.seed + 24, sizes, gen)
    trend, widths = width_rows(ctx, gen)
    plot = _plot(ctx, null, curve, widths)
    return [with_plot(row, plot) for row in [null, power, *trend]]


def _size_row(probe, j, teacher, sizes, gen) -> CheckResult:
    m, reps = sizes["null_m"], sizes["null_reps"]
    runs = split_test_runs(probe, j, teacher.sample, LOSS, m=m, reps=reps, alpha=ALPHA,
                           generator=gen)
    rate = runs["rejections"] / reps
    se = math.sqrt(ALPHA * (1 - ALPHA) / reps)
    return CheckResult(
        "D2", f"observability test's size: at G_pop = 0 (the teacher is the old model) the "
        f"split test rejects at its nominal rate alpha = {ALPHA} ({reps} samples of 2 x {m}; "
        f"binomial z, |z| < {Z_SIZE})", "exact", ALPHA, rate, (rate - ALPHA) / se,
        Criterion("binomial z of the rejection rate", "|x|<", Z_SIZE),
        Power("a test of size 2 alpha (e.g. a standard error off by 30%; dividing it by 3 "
              "gives about 0.29) would give this |z|", ALPHA / se, ">=", Z_SIZE),
        details={"rejections": runs["rejections"], "reps": reps, "m": m,
                 "clopper_pearson": list(clopper_pearson(runs["rejections"], reps, 0.05)),
                 "mean_z": sum(runs["z"]) / reps})


def _moments(probe, j, teacher, n, gen) -> dict:
    x, y = teacher.sample(n, gen)
    return gradient_moments(per_example_gradients(probe, j, x, y, LOSS))


def _predict(moments) -> float:
    keys = ("mu2", "mu_sigma_mu", "tr_sigma2")
    return samples_to_detect(**{k: moments[k] for k in keys}, alpha=ALPHA)


def _power_row(probe, j, old, seed, sizes, gen):
    ref = _moments(probe, j, planted(old, S_REF, seed), sizes["n_mom"], gen)
    scale = S_REF * math.sqrt(_predict(ref) / sizes["m50"])
    teacher = planted(old, scale, seed)
    moments = _moments(probe, j, teacher, sizes["n_mom"], gen)
    m50 = _predict(moments)
    grid = sorted({max(4, round(m50 * 2.0**k)) for k in (-2, -1, 0, 1, 2)})
    reps = sizes["power_reps"]
    rates = [split_test_runs(probe, j, teacher.sample, LOSS, m=m, reps=reps, alpha=ALPHA,
                             generator=gen)["rejections"] / reps for m in grid]
    measured, se_log2 = _crossing(grid, rates, reps)
    keys = ("mu2", "mu_sigma_mu", "tr_sigma2")
    predicted = [detection_power(m, **{k: moments[k] for k in keys}, alpha=ALPHA) for m in grid]
    stat = None if measured is None else abs(math.log2(measured / m50))
    row = CheckResult(
        "D2", f"observability test's power: on a planted gradient (scale {scale:.3g}) the "
        f"detection rate crosses 1/2 within a factor 2 of theorems/joint_scaling.py's m_50 = "
        f"{m50:.1f} (grid {grid}, {reps} samples each; statistic |log2(measured/predicted)|)",
        "empirical", m50, measured, stat, Criterion("|log2(m_50 measured / predicted)|", "<=", 1.0),
        Power("a factor-2 error in the predicted detection sample size, resolved when the "
              "measured crossing's standard error in log2 m is below 1/3", se_log2, "<", 1 / 3),
        reason=None if measured is not None else "the detection rate did not cross 1/2 on the grid",
        details={"grid": grid, "rates": rates, "predicted_rates": predicted, "scale": scale,
                 **{k: moments[k] for k in ("mu2", "mu_sigma_mu", "tr_sigma", "tr_sigma2",
                                            "d_eff")}})
    return row, {"grid": grid, "rates": rates, "predicted": predicted, "m50": m50,
                 "measured": measured, "reps": reps}


def _crossing(grid, rates, reps):
    """Where the rate first reaches 1/2, interpolated in log2 m, and its standard error."""
    for k in range(1, len(grid)):
        lo, hi = rates[k - 1], rates[k]
        if lo < 0.5 <= hi:
            a, b = math.log2(grid[k - 1]), math.log2(grid[k])
            slope = (hi - lo) / (b - a)
            return 2 ** (a + (0.5 - lo) / slope), math.sqrt(0.25 / reps) / slope
    return None, None


def _plot(ctx, null, curve, widths) -> str | None:
    """D2_observability.png: detection rate against m with the prediction; size at G_pop = 0;
    misalignment probability against width: mean over the trained models with its 95%
    t-interval over models."""
    path = ctx.plot_path("D2_observability.png")
    if path is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    reps = curve["reps"]
    bars = [clopper_pearson(round(r * reps), reps, 0.05) for r in curve["rates"]]
    left.errorbar(curve["grid"], curve["rates"], fmt="o", color="C0", capsize=3,
                  yerr=[[r - lo for r, (lo, _) in zip(curve["rates"], bars, strict=True)],
                        [hi - r for r, (_, hi) in zip(curve["rates"], bars, strict=True)]],
                  label="measured detection rate (95% CI), planted gradient")
    left.plot(curve["grid"], curve["predicted"], "C0--", label="predicted Phi(-E z - z_alpha)")
    left.axvline(curve["m50"], color="C0", ls=":", label=f"predicted m_50 = {curve['m50']:.0f}")
    if curve["measured"] is not None:
        left.axvline(curve["measured"], color="k", ls="-.", lw=0.8,
                     label=f"measured crossing of 1/2: {curve['measured']:.0f}")
    left.axvspan(curve["m50"] / 2, curve["m50"] * 2, color="C0", alpha=0.07, lw=0,
                 label="pass band: factor 2")
    lo, hi = null.details["clopper_pearson"]
    left.errorbar([null.details["m"]], [null.measurement], yerr=[[null.measurement - lo],
                  [hi - null.measurement]], fmt="s", color="C3", capsize=3,
                  label=f"size at G_pop = 0 ({null.verdict})")
    left.axhline(ALPHA, color="C3", lw=0.8, label=f"alpha = {ALPHA}")
    left.axhline(0.5, color="0.6", lw=0.8)
    left.set_xscale("log")
    plain_log_axis(left.xaxis)
    left.set_xlabel("examples per side m")
    left.set_ylabel("rejection rate of the split test")
    left.set_title("D2 observability test: power and size", fontsize="medium")
    left.legend(fontsize="x-small", loc="upper left")
    for colour, axis in (("C1", "h"), ("C2", "d")):
        points = widths[axis]
        xs = [p[axis] for p in points]
        right.plot(xs, [p["predicted"] for p in points], "x--", color=colour, lw=0.8)
        right.errorbar(xs, [p["p"] for p in points], fmt="o-", color=colour, capsize=3,
                       yerr=[[p["p"] - p["lower"] for p in points],
                             [p["upper"] - p["p"] for p in points]],
                       label=f"against {'block width h (d = 8)' if axis == 'h' else 'model width d (h = 32)'}")
        for x, p in zip(xs, points, strict=True):
            right.annotate(f"d_eff {p['d_eff']:.1f}", (x, p["p"]), fontsize="x-small",
                           textcoords="offset points", xytext=(4, 4))
    right.set_xscale("log", base=2)
    ticks = sorted({p[axis] for axis in ("h", "d") for p in widths[axis]})
    right.set_xticks(ticks, [str(t) for t in ticks])
    right.minorticks_off()
    right.set_xlabel("width")
    right.set_ylabel("P(<G_train, G_heldout> < 0)")
    right.set_title(f"misalignment at m = {_sizes(ctx)['mis_m']} per sample, "
                    f"{_sizes(ctx)['models']} trained models: mean, 95% t-interval",
                    fontsize="medium")
    right.plot([], [], "kx--", lw=0.8, label="Gaussian prediction from the moments")
    right.legend(fontsize="small")
    return save_figure(fig, path)


__all__ = ["d2_observability"]
