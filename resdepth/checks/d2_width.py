"""D2's width law on independently trained models (issue 21): P(<G_A, G_B> < 0) against the
new block's width h, the model width d and the sample size m, judged as THEORY.md states it.

THEORY.md D2: the probability that training and held-out gradients point in conflicting
directions falls as the model widens; measured against d, h and m with at least 5 independently
trained models per width (``budget("D2", mode).models``, distinct seeds in the training specs),
and reported as stated: where it is measured false, the row fails.

For model k (seed ``ctx.seed + k``) and point (d, h, m), p_k(d, h, m) is the misalignment rate
over ``mis_reps`` pairs of independent samples of size m from the population (the new block
inserted before the head with a fresh U). Along an axis, from its first point a to its last b,
the per-model differences p_k(a) - p_k(b) (paired: the same seed, hence the same training
sample, at both ends) are independent over k, and their sample variance holds both the training
variation and the binomial noise; :func:`numerics.probes.joint_scaling.t_z` turns their t
(k - 1 degrees of freedom) into a z. The law fails when a rise is resolved (z <= -Z_TREND) and is
informative when the change is resolved either way (|z| >= Z_TREND).

The moments formula Phi(-m|mu|^2/sqrt(2m mu'S mu + tr S^2)) is its own row, judged on its level
per model: at each point the models' summed deviations p_k - q_k over their binomial standard
error (q_k from model k's own gradient moments).
"""

import math

import torch

from numerics.probes.expansion import insert_block, make_loss, per_example_gradients
from numerics.probes.joint_scaling import t_z
from numerics.probes.observability import gradient_moments, misalignment_runs
from resdepth.checks.expansion_setup import load_old, old_spec, population, position
from resdepth.checks.expectation import SEPARATION, Z_MAX
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult
from resdepth.engine.rows import Criterion, Power
from theorems.joint_scaling import misalignment_probability

Z_TREND = 3.0
BLOCK_WIDTH = 32
"""The new block's width h along the d and m axes."""
LOSS = make_loss("regression")
TEXTS = {"h": "the new block's width h (model width d = 8)",
         "d": f"the model width d (block width h = {BLOCK_WIDTH})",
         "m": f"m (d = 8, h = {BLOCK_WIDTH})"}

__all__ = ["BLOCK_WIDTH", "Z_TREND", "width_needs", "width_rows"]


def width_needs(ctx) -> list:
    """The trained old models behind the width rows: every width at ``models`` seeds."""
    sizes = budget("D2", ctx.mode)
    return [old_spec(ctx, width=w, seed_offset=k) for w in sizes["widths"]
            for k in range(sizes["models"])]


def _keys(sizes) -> dict:
    m, d0 = sizes["mis_m"], min(sizes["widths"])
    return {"h": [(d0, h, m) for h in sizes["hiddens"]],
            "d": [(w, BLOCK_WIDTH, m) for w in sizes["widths"]],
            "m": [(d0, BLOCK_WIDTH, m), (d0, BLOCK_WIDTH, 4 * m)]}


def width_rows(ctx, gen) -> tuple[list[CheckResult], dict]:
    """The three trend rows (h, d, m), the level row, and the pooled points per axis (plot)."""
    sizes = budget("D2", ctx.mode)
    keys = _keys(sizes)
    wanted = {key for axis in keys.values() for key in axis}
    per_model = []
    for k in range(sizes["models"]):
        points = {}
        for width in sizes["widths"]:
            spec = old_spec(ctx, width=width, seed_offset=k)
            old, _, data = load_old(ctx, spec)
            sample = population(ctx, data)
            for hidden in sorted({h for d, h, _ in wanted if d == width}):
                probe, mom = _probe_moments(old, hidden, sample, sizes["n_deff"], gen, spec.seed)
                for size in sorted({s for d, h, s in wanted if (d, h) == (width, hidden)}):
                    points[width, hidden, size] = _misalignment(probe, mom, sample, size,
                                                                sizes["mis_reps"], gen)
        per_model.append(points)
    rows = [trend_row(axis, [[pts[key] for pts in per_model] for key in keys[axis]])
            for axis in keys]
    rows.append(level_row([[pts[key] for pts in per_model] for key in sorted(wanted)]))
    pooled = {axis: [_pooled([pts[key] for pts in per_model]) for key in keys[axis]]
              for axis in keys}
    return rows, pooled


def _probe_moments(old, hidden, sample, n, gen, seed):
    j = position(old)
    probe = insert_block(old, j, hidden=hidden, generator=torch.Generator().manual_seed(seed + 25))
    x, y = sample(n, gen)
    return probe, gradient_moments(per_example_gradients(probe, j, x, y, LOSS))


def _misalignment(probe, mom, sample, m, reps, gen) -> dict:
    runs = misalignment_runs(probe, position(probe) - 1, sample, LOSS, m=m, reps=reps,
                             generator=gen)
    keys = ("mu2", "mu_sigma_mu", "tr_sigma2")
    return {"d": probe.config.width, "h": probe.blocks[-1].branch[0].out_features, "m": m,
            "p": runs["misaligned"] / reps, "k": runs["misaligned"], "reps": reps,
            "d_eff": mom["d_eff"], "signal_per_noise": mom["mu2"] / mom["tr_sigma"],
            "predicted": misalignment_probability(m, **{k: max(mom[k], 0.0) for k in keys}),
            "predicted_se": prediction_se(m, mom)}


def prediction_se(m: int, mom: dict) -> float:
    r"""The standard error of the predicted misalignment q = Phi(z_q), z_q = -m mu2 / sqrt(2m
    mu'S mu + tr S^2), from the sampling error of the estimated ||mu||^2 (the moments come from
    ``mom["n"]`` per-example gradients; delta method). ||g bar||^2 - tr S / n with g bar = mu +
    e, e ~ N(0, S/n), has variance 4 mu'S mu / n + 2 tr S^2 / n^2, and dq/d mu2 = -phi(z_q) m /
    sqrt(2m mu'S mu + tr S^2).

    >>> round(prediction_se(4, {"mu2": 0.0, "mu_sigma_mu": 0.0, "tr_sigma2": 1.0, "n": 100}), 12)
    0.022567583342
    """
    n, msm, trs2 = mom["n"], max(mom["mu_sigma_mu"], 0.0), mom["tr_sigma2"]
    scale = math.sqrt(2 * m * msm + trs2)
    z = -m * max(mom["mu2"], 0.0) / scale
    density = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return density * m / scale * math.sqrt(4 * msm / n + 2 * trs2 / n**2)


def _pooled(models: list[dict]) -> dict:
    """One point over the models: mean p with its 95% t-interval over models, mean prediction."""
    stat = t_z([pt["p"] for pt in models])
    return {**{k: models[0][k] for k in ("d", "h", "m")}, "p": stat["mean"],
            "lower": stat["lower"], "upper": stat["upper"],
            "predicted": sum(pt["predicted"] for pt in models) / len(models),
            "predicted_se": [pt["predicted_se"] for pt in models],
            "d_eff": sum(pt["d_eff"] for pt in models) / len(models),
            "per_model_p": [pt["p"] for pt in models], "models": len(models)}


def trend_row(axis: str, points: list[list[dict]]) -> CheckResult:
    """THEORY.md D2 as stated along ``axis``: misalignment falls from its first point to its last
    (``points[i][k]``: point i, model k). Statistic: the z of the per-model fall p_k(first) -
    p_k(last) (:func:`numerics.probes.joint_scaling.t_z`, k - 1 degrees of freedom); fails at
    z <= -Z_TREND (a resolved rise). Whether the gradient moments predict the direction is
    reported beside it; their level is :func:`level_row`'s."""
    first, last = points[0], points[-1]
    falls = [a["p"] - b["p"] for a, b in zip(first, last, strict=True)]
    stat = t_z(falls)
    p0, p1 = (sum(pt["p"] for pt in side) / len(side) for side in (first, last))
    q0, q1 = (sum(pt["predicted"] for pt in side) / len(side) for side in (first, last))
    moments = "falls" if q0 >= q1 else "rises"
    return CheckResult(
        "D2", f"misalignment P(<G_train, G_heldout> < 0) falls from {axis} = {first[0][axis]} "
        f"to {last[0][axis]} along {TEXTS[axis]} (THEORY.md D2 as stated; {len(falls)} "
        f"independently trained models): measured {p0:.3f} -> {p1:.3f} (mean over models; the "
        f"fall's 95% t-interval [{stat['lower']:.3f}, {stat['upper']:.3f}], z {stat['z']:.2f} "
        f"from t {stat['t']:.2f} on {stat['df']} df); the gradient moments predict it {moments} "
        f"({q0:.3f} -> {q1:.3f})", "empirical", 1.0, stat["mean"], stat["z"],
        Criterion("z of the fall over models (negative: a rise)", ">", -Z_TREND),
        Power(f"a change resolved at |z| >= {Z_TREND} (between-model standard error "
              f"{stat['se']:.3g}, training variation included)", abs(stat["z"]), ">=", Z_TREND),
        details={"per_model_fall": falls, "t": stat["t"], "df": stat["df"], "se": stat["se"],
                 "interval": [stat["lower"], stat["upper"]], "moments_direction": moments,
                 "points": [_pooled(side) for side in points]})


def level_row(points: list[list[dict]]) -> CheckResult:
    """The moments formula on its level: at every (d, h, m) point, sum_k (p_k - q_k) over its
    standard error sqrt(sum_k q_k (1 - q_k) / reps + se(q_k)^2) (q_k from model k's moments,
    se(q_k) their sampling error, :func:`prediction_se`; the models are independent), |z| <
    Z_MAX; informative when a coin flip (1/2, no signal) would sit SEPARATION standard errors
    away at every point."""
    zs, separations, pooled = [], [], []
    for models in points:
        qs = [min(max(pt["predicted"], 1e-12), 1 - 1e-12) for pt in models]
        se = math.sqrt(sum(q * (1 - q) / pt["reps"] + pt["predicted_se"] ** 2
                           for q, pt in zip(qs, models, strict=True)))
        zs.append(sum(pt["p"] - q for q, pt in zip(qs, models, strict=True)) / se)
        separations.append(sum(abs(0.5 - q) for q in qs) / se)
        pooled.append(_pooled(models))
    worst = max(range(len(zs)), key=lambda i: abs(zs[i]))
    w = pooled[worst]
    return CheckResult(
        "D2", f"the moments formula's level: P(<G_train, G_heldout> < 0) = Phi(-m|mu|^2/sqrt(2m "
        f"mu'S mu + tr S^2)) at each of {len(points)} (d, h, m) points, {len(points[0])} "
        f"trained models each (statistic: the largest |binomial z| over points, models summed; "
        f"worst at d = {w['d']}, h = {w['h']}, m = {w['m']}: predicted {w['predicted']:.3f}, "
        f"measured {w['p']:.3f})", "expectation", w["predicted"], w["p"], zs[worst],
        Criterion("largest |z| over points", "|x|<", Z_MAX),
        Power(f"no signal, P = 1/2: its smallest distance from the prediction over the points, "
              f"in standard errors (informative at >= {SEPARATION:g})", min(separations), ">=",
              SEPARATION),
        details={"z": zs, "separations": separations, "points": pooled})
