"""Checks of D1 (function preservation) and D2 (first-order descent, population jumpboard).

Tolerance policy. D1 is exact up to LayerNorm's eps: the expanded model equals the old one fed
c h_j instead of h_j, c = (var h_j + eps)^(-1/2), so expanded - old = (c - 1) J h_j + O((c-1)^2);
the check compares with that first-order prediction, allowing ``CURVATURE`` (c - 1)^2 ||J h_j||
for the second-order remainder plus float64 rounding. D2's autograd gradient is compared with
central differences at step ``FD_STEP`` (truncation ~ FD_STEP^2, rounding ~ 1e-16 / FD_STEP, both
far below ``FD_TOL``); its first-order law by rho(t) at the smallest step and the log-log slope of
|1 - rho(t)| on t. D2's population form is judged over ``budget("D2", mode).models``
independently trained old models (issue 21): on each model where the split directional test
observes the condition, the population decrease R(0) - R(t u) on fresh samples over its first-
order prediction from the held-out sample, -t mean<g_i, u>; the row asks that this ratio be
positive across trained models, by the z of its mean over models (training variation included).
"""

import torch

from numerics.probes.expansion import (
    block_gradient,
    directional_fd,
    first_order_deviation,
    first_order_ratio_fit,
    gradient_noise,
    insert_block,
    line_search,
    make_loss,
    per_example_gradients,
)
from numerics.probes.joint_scaling import t_z
from numerics.probes.observability import directional_test, population_decrease
from resdepth.checks.expansion_plots import line_search_figure
from resdepth.checks.expansion_setup import ALPHA, load_old, old_spec, population, position
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import Criterion, Power, exact_power
from theorems.joint_scaling import critical_z

CURVATURE = 100.0
ROUNDING = 64 * 2.0**-52
FD_STEP, FD_TOL = 1e-5, 1e-6
RHO_TOL, SLOPE_TOL = 0.05, 0.25
COEFF_ERROR = 0.1
Z_POP = 3.0
SMALL_STEPS = [10.0**k for k in (-4, -3.5, -3, -2.5, -2)]
JUMP_STEPS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]


@register("D1", needs=lambda ctx: [old_spec(ctx)])
def d1_function_preservation(ctx) -> list[CheckResult]:
    """D1: the V = 0 expansion at every position equals the old model up to (c-1) J h_j."""
    old, _, data = load_old(ctx)
    x = ctx.tensor(data.test_x)
    rows = []
    for j in range(len(old.blocks) + 1):
        expanded = insert_block(old, j, generator=torch.Generator().manual_seed(ctx.seed + j))
        dev = first_order_deviation(old, expanded, j, x)
        c1 = dev["c_minus_1"].abs()
        jh = (dev["predicted"].norm(dim=1) / c1.clamp_min(1e-300)).max()
        residual = float((dev["measured"] - dev["predicted"]).norm(dim=1).max())
        deviation = float(dev["measured"].norm(dim=1).max())
        with torch.no_grad():
            scale = float(old(x).abs().max()) + 1.0
        tol = CURVATURE * float(c1.max()) ** 2 * float(jh) + ROUNDING * scale
        rows.append(CheckResult(
            "D1", f"expansion at j={j} preserves the function up to (c-1) J h_j: "
            "max |out' - out - (c-1)Jh| / tol <= 1", "exact", 0.0, residual, residual / tol,
            Criterion("residual / tolerance", "<=", 1.0),
            exact_power(tol / scale, "change of the function, relative to its scale,"),
            details={"max_deviation": deviation, "max_c_minus_1": float(c1.max()),
                     "tol": tol, "first_order_resolved": tol < 0.1 * deviation}))
    return rows


def _models(ctx) -> list:
    """The old models behind D2's population row: ``models`` seeds at the base shape."""
    return [old_spec(ctx, seed_offset=k) for k in range(budget("D2", ctx.mode).models)]


def _setup(ctx, spec=None):
    spec = old_spec(ctx) if spec is None else spec
    old, _, data = load_old(ctx, spec)
    j = position(old)
    model = insert_block(old, j, generator=torch.Generator().manual_seed(spec.seed + 11))
    loss = make_loss(data.task)
    train = (ctx.tensor(data.train_x), ctx.tensor(data.train_y))
    test = (ctx.tensor(data.test_x), ctx.tensor(data.test_y))
    return model, j, loss, train, test, data


@register("D2", needs=_models)
def d2_descent(ctx) -> list[CheckResult]:
    """D2: G by autograd = FD; rho(t) -> 1 linearly (the base model); population jumpboard where
    observed, over independently trained models."""
    model, j, loss, (x, y), _, _ = _setup(ctx)
    g = block_gradient(model, j, x, y, loss)
    studies = [_population_study(ctx, spec) for spec in _models(ctx)]
    return [_fd_row(ctx, model, j, loss, x, y, g), _ratio_row(model, j, loss, x, y, g),
            population_row(ctx, studies)]


def _fd_row(ctx, model, j, loss, x, y, g) -> CheckResult:
    gen = torch.Generator().manual_seed(ctx.seed + 12)
    dirs = torch.randn((4, *g.shape), generator=gen, dtype=g.dtype).to(g.device)
    dirs = dirs / dirs.flatten(1).norm(dim=1)[:, None, None]
    fd = directional_fd(model, j, x, y, loss, dirs, FD_STEP)
    exact = (dirs * g).flatten(1).sum(dim=1)
    err = float((fd - exact).abs().max() / exact.abs().max().clamp_min(1e-300))
    return CheckResult("D2", "dR/dV at V=0: autograd equals central differences (4 random "
                       "directions; relative error)", "exact", 0.0, err, err,
                       Criterion("relative error", "<=", FD_TOL), exact_power(FD_TOL),
                       details={"autograd": exact.tolist(), "central_differences": fd.tolist()})


def _ratio_row(model, j, loss, x, y, g) -> CheckResult:
    """rho(t) -> 1 linearly. The power is what the row would have said had the first-order
    coefficient ||G|| been off by COEFF_ERROR either way: rho(t_min) / (1 +- COEFF_ERROR) must
    then miss 1 by more than RHO_TOL (the criterion's own threshold), so that error fails."""
    gnorm = float(g.norm())
    risks = line_search(model, j, -g / gnorm, [0.0] + SMALL_STEPS, [("train", x, y, loss)])
    law = first_order_ratio_fit(risks["train"][0], risks["train"][1:], SMALL_STEPS, gnorm)
    rho0 = law["ratios"][0]
    dev0 = abs(1 - rho0)
    alternative = min(abs(1 - rho0 / (1 + s * COEFF_ERROR)) for s in (1, -1))
    return CheckResult(
        "D2", f"rho(t) = (R(0)-R(tu))/(t||G||) -> 1: |1 - rho(t_min)| < {RHO_TOL} at t_min = "
        f"{SMALL_STEPS[0]:g}, and |1-rho| = O(t) (log-log slope within 1 +- {SLOPE_TOL})",
        "exact", 0.0, dev0, max(dev0 / RHO_TOL, abs(law["slope"] - 1) / SLOPE_TOL),
        Criterion("max(|1-rho(t_min)|/0.05, |slope-1|/0.25)", "<=", 1.0),
        Power(f"a first-order coefficient ||G|| off by {COEFF_ERROR:.0%} either way (value: the "
              f"smaller |1 - rho(t_min)/(1 +- {COEFF_ERROR:g})|, which must exceed {RHO_TOL} "
              "for that error to fail the row)", alternative, ">", RHO_TOL),
        details={"ratios": law["ratios"], "steps": SMALL_STEPS, "slope": law["slope"]})


def _population_study(ctx, spec) -> dict:
    """One trained old model: the split test, the population decrease at the first jump step,
    the line search (train and held-out) and the decrease at the best training step."""
    model, j, loss, (x, y), (xt, yt), data = _setup(ctx, spec)
    g = block_gradient(model, j, x, y, loss)
    test = directional_test(per_example_gradients(model, j, x, y, loss),
                            per_example_gradients(model, j, xt, yt, loss), ALPHA)
    u = test["u"].reshape(g.shape)
    n_pop = budget("D1", ctx.mode).n_pop
    gen = torch.Generator().manual_seed(spec.seed + 14)
    pop = population(ctx, data)
    first = population_decrease(model, j, u, JUMP_STEPS[0], pop, loss, n=n_pop, generator=gen)
    curves = line_search(model, j, u, [0.0] + JUMP_STEPS, [("train", x, y, loss),
                                                          ("held-out", xt, yt, loss)])
    best = 1 + min(range(len(JUMP_STEPS)), key=lambda k: curves["train"][k + 1])
    jump = population_decrease(model, j, u, ([0.0] + JUMP_STEPS)[best], pop, loss, n=n_pop,
                               generator=gen)
    return {"seed": spec.seed, "test": test, "first": first, "jump": jump, "curves": curves,
            "best": ([0.0] + JUMP_STEPS)[best], "g_norm": float(g.norm()), "m": x.shape[0],
            "m_held": xt.shape[0], "n_pop": n_pop,
            "ratio": first["mean"] / (-JUMP_STEPS[0] * test["mean"]),
            "snr": gradient_noise(model, j, x, y, loss)["snr"]}


def population_row(ctx, studies: list[dict]) -> CheckResult:
    """The population form over independently trained models: on each model where the split
    test observes <G_pop, u> < 0, r_k = (R(0) - R(t u)) / (-t mean_held <g_i, u>) at t =
    JUMP_STEPS[0] (population decrease on fresh samples over its first-order prediction from
    the held-out sample; about 1 when the first-order law holds, <= 0 when the risk does not
    fall); statistic: the z of mean r_k over the observed models (:func:`t_z`, k - 1 degrees
    of freedom). Fails when a rise is resolved (z <= -Z_POP); informative
    when the fall is resolved (z >= Z_POP) on at least ``models`` (THEORY's 5) observed models."""
    crit = critical_z(ALPHA)
    observed = [s for s in studies if s["test"]["observed"]]
    stat = t_z([s["ratio"] for s in observed]) if len(observed) >= 2 else None
    base = studies[0]
    path = ctx.plot_path("D2_line_search.png")
    plot = None if path is None else line_search_figure(
        path, [0.0] + JUMP_STEPS, base["curves"], base["best"], base["test"], base["g_norm"])
    per_model = [{"seed": s["seed"], "observability_z": s["test"]["z"],
                  "observed": s["test"]["observed"], "ratio": s["ratio"],
                  "population_decrease": s["first"]["mean"], "population_z": s["first"]["z"],
                  "jump_step": s["best"], "jump_population_z": s["jump"]["z"],
                  "jump_population_decrease": s["jump"]["mean"], "snr": s["snr"]}
                 for s in studies]
    models = budget("D2", ctx.mode).models
    return CheckResult(
        "D2", f"population form over {len(studies)} independently trained old models: where "
        f"the split test observes <G_pop, u> < 0 (u from the {base['m']} training examples, z "
        f"from {base['m_held']} held-out ones below -z_alpha = {-crit:.3f}; observed on "
        f"{len(observed)}), the population risk falls along u: the decrease R(0) - R(t u) at t "
        f"= {JUMP_STEPS[0]:g} on {base['n_pop']} fresh samples over its first-order prediction "
        f"-t mean<g_i, u>, mean over models "
        + ("(none)" if stat is None else f"{stat['mean']:.3f}, 95% t-interval "
           f"[{stat['lower']:.3f}, {stat['upper']:.3f}], z {stat['z']:.2f}")
        + f"; fails on a resolved rise (z <= {-Z_POP})",
        "empirical", 1.0, None if stat is None else stat["mean"],
        None if stat is None else stat["z"],
        Criterion("z of the mean ratio over observed models (negative: the risk rises)", ">",
                  -Z_POP),
        Power(f"a resolved fall, z >= {Z_POP}, on at least {models} independently trained "
              f"models where the condition was observed (held-out z < {-crit:.3f}) (value: the "
              f"z; none with fewer models)",
              stat["z"] if stat is not None and len(observed) >= models else None, ">=", Z_POP),
        verdict=None if stat is not None else "skipped",
        reason=None if stat is not None else "the premise (the condition observed) held on fewer "
        "than two models: no interval over models to judge",
        details={"per_model": per_model, "observed_models": len(observed),
                 **({} if stat is None else {"t": stat["t"], "df": stat["df"], "se": stat["se"],
                                             "interval": [stat["lower"], stat["upper"]]}),
                 "smallest_population_z": min((s["first"]["z"] for s in observed),
                                              default=None),
                 "held_out_curve": base["curves"]["held-out"],
                 "train_curve": base["curves"]["train"], "steps": [0.0] + JUMP_STEPS},
        plot=plot)


__all__ = ["d1_function_preservation", "d2_descent"]
