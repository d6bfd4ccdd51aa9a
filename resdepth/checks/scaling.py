"""Checks of S1 (worst-case bound), S4 (module scaling principle) and S5 (known schemes).

Tolerance policy: the S1 bound is checked one-sided at the float64 rounding slack of
:func:`numerics.probes.lipschitz.rounding_tolerance` (8 (n+1) d eps), after an optimiser over inputs and
normalised weights has tried to break it; its power is how close the optimiser got (a bound
too small by more than that slack would have been exceeded). S4's limits are SymPy results
compared structurally; S4's finite-depth values and S5's measured branch scales are
expectations over the random initialisation, checked by :func:`resdepth.checks.expectation.
z_row` (|z| < 5, informative when the named alternatives lie >= 10 SE from the prediction);
zero-initialised schemes are exact (0).
"""

import sympy as sp
import torch

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.probes.lipschitz import falsify_s1, identity_tower_gain, rounding_tolerance
from numerics.probes.montecarlo import mean_and_se, signal_second_moments
from resdepth.checks.expectation import by_construction, with_plot, z_row
from resdepth.checks.scaling_plots import plot_s1, plot_s4
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import Criterion, Power, count_power
from theorems import scaling
from theorems.lipschitz import s1_bound
from theorems.schemes import SCHEMES, effective_lam
from theorems.signal import s2_ratio

SIGMA2 = 1.0  # the numerics branches are initialised so that sigma^2 = 1
S1_CASE = {"n": 5, "d": 3, "lam": 0.5, "c": 1.5}
S1_SLACK_POWER = 0.05  # informative when the optimiser got within 5% of the bound everywhere
S4_WIDTH = 16


def s4_a(beta) -> float:
    """S4's constant a per exponent: a = 12^beta / 2, so that a^2 n^(-2 beta) = 1/4 at n = 12
    (every regime then has a growth term the Monte Carlo resolves at depths 4 and 16)."""
    return 12.0 ** float(beta) / 2


def s1_search(ctx) -> tuple[tuple[int, ...], dict, int]:
    """The S1 optimiser's best Lipschitz estimate per branch kind and depth (depths, found,
    Adam steps)."""
    sizes = budget("S1", ctx.mode)
    depths, steps = sizes.depths, sizes.steps
    found = {branch: [_s1_falsify(ctx, depth, branch, steps) for depth in depths]
             for branch in ("linear", "relu")}
    return depths, found, steps


@register("S1")
def s1_bound_check(ctx) -> list[CheckResult]:
    """S1: the identity tower attains (1 + lam c)^n; an optimiser cannot exceed it at any depth."""
    return s1_report(ctx, *s1_search(ctx))


def s1_report(ctx, depths, found, steps) -> list[CheckResult]:
    """S1's rows from the optimiser's results, with their plot."""
    n, d, lam, c = S1_CASE["n"], S1_CASE["d"], S1_CASE["lam"], S1_CASE["c"]
    bound, tol = s1_bound(n, lam, c), rounding_tolerance(n, d)
    gain = identity_tower_gain(n, lam, c, d)
    rows = [CheckResult("S1", f"J_i = cI attains Lip = (1 + lam c)^n, n={n}, lam={lam}, c={c} "
                        "(relative error)", "exact", bound, gain, abs(gain / bound - 1),
                        Criterion("relative error", "<=", tol),
                        by_construction("(I + lam c I)^n = (1 + lam c)^n I by arithmetic; the "
                                        "bound's tightness is measured by the optimiser rows"))]
    for branch, worst in found.items():
        bounds = [s1_bound(depth, lam, c) for depth in depths]
        excess = [w / b - 1 - rounding_tolerance(depth, d)
                  for w, b, depth in zip(worst, bounds, depths, strict=True)]
        slacks = [1 - w / b for w, b in zip(worst, bounds, strict=True)]
        rows.append(CheckResult(
            "S1", f"optimiser over inputs and {branch} branches with ||J_i|| <= c finds no "
            f"Lipschitz estimate above (1 + lam c)^n at n = {list(depths)} ({steps} Adam steps; "
            "statistic: largest best/bound - 1 - rounding tolerance 8(n+1)d eps, must be <= 0; "
            "prediction: the bound at the largest n, measurement: the best estimate there)",
            "bound", bounds[-1], worst[-1], max(excess),
            Criterion("largest estimate/bound - 1 - rounding tolerance", "<=", 0.0),
            Power(f"a bound too small by more than the optimiser's slack 1 - best/bound would "
                  f"have been exceeded (value: the largest slack over n; informative at <= "
                  f"{S1_SLACK_POWER:g})", max(slacks), "<=", S1_SLACK_POWER),
            details={"depths": list(depths), "bounds": bounds, "best": worst, "slack": slacks}))
    return with_plot(rows, plot_s1(ctx, depths, found, rows, S1_CASE, S1_SLACK_POWER))


def _s1_falsify(ctx, depth: int, branch: str, steps: int) -> float:
    """The largest Lipschitz estimate (Jacobian norm or secant ratio) the optimiser reaches."""
    seed = ctx.seed + 40 + 100 * ("linear", "relu").index(branch) + depth
    out = falsify_s1(depth, S1_CASE["d"], S1_CASE["lam"], S1_CASE["c"], branch=branch,
                     restarts=budget("S1", ctx.mode).restarts, steps=steps,
                     generator=torch.Generator().manual_seed(seed))
    return max(out["max_jacobian_norm"], out["max_secant_ratio"])


def _symbolic_row(claim: str, expected: sp.Expr, got: sp.Expr, point: dict) -> CheckResult:
    """A SymPy result against the expected expression: statistic 1 if they differ, else 0;
    prediction and measurement are both evaluated at ``point`` (oo becomes inf)."""
    mismatch = int(sp.simplify(got - expected) != 0) if not (
        expected.has(sp.oo) or got.has(sp.oo)) else int(got != expected)
    return CheckResult("S4", claim, "exact", float(expected.subs(point)), float(got.subs(point)),
                       mismatch, Criterion("symbolic mismatch (1 if SymPy's result differs)",
                                           "==", 0), count_power(1, "limit"),
                       details={"expected": str(expected), "sympy": str(got),
                                "evaluated_at": {str(k): str(v) for k, v in point.items()}})


@register("S4")
def s4_symbolic_limits(ctx) -> list[CheckResult]:
    """S4: SymPy's limits of (1 + a^2 sigma^2 n^-2beta)^n, n p and the S1 bound per beta."""
    c = scaling.A**2 * scaling.SIGMA2
    half = sp.Rational(1, 2)
    point = {scaling.A: half, scaling.SIGMA2: sp.Integer(1)}
    rows = []
    for beta in scaling.BETAS:
        expected = sp.oo if beta < half else (sp.exp(c) if beta == half else sp.Integer(1))
        rows.append(_symbolic_row(f"lim E||x_n||^2/||x_0||^2 for lam = a n^-{beta} (symbolic a, "
                                  "sigma^2; evaluated at a = 1/2, sigma^2 = 1)", expected,
                                  scaling.ratio_limit(beta), point))
        bounded = scaling.s1_bound_limit(beta) is not sp.oo
        rows.append(CheckResult(
            "S4", f"S1 bound (1 + a c n^-{beta})^n bounded iff beta >= 1 (1 = bounded)", "exact",
            int(bool(beta >= 1)), int(bounded), int(bounded != bool(beta >= 1)),
            Criterion("mismatch (1 if SymPy's limit disagrees)", "==", 0),
            count_power(1, "limit")))
    limits = scaling.regime_limits_symbolic()
    mismatches = int(limits["below"][0] is not sp.oo) + int(limits["critical"] != (c, c)) + int(
        limits["above"] != (0, 0))
    rows.append(CheckResult(
        "S4", "symbolic beta: bounds on log R_n tend to (oo, .), (a^2 sigma^2, a^2 sigma^2), "
        "(0, 0) for beta <, =, > 1/2 (statistic: regimes whose limits differ)", "exact", 0, 0,
        mismatches, Criterion("regimes with a wrong limit", "==", 0), count_power(3, "limit"),
        details={name: [str(v) for v in pair] for name, pair in limits.items()}))
    pmf = scaling.poisson_pmf_limit(1)
    rows.append(_symbolic_row("beta = 1/2: P(path length = 1) -> a^2 sigma^2 e^{-a^2 sigma^2} "
                              "(Poisson; evaluated at a = 1/2, sigma^2 = 1)", c * sp.exp(-c),
                              pmf, point))
    return rows




def s4_runs(ctx) -> dict:
    """The Monte Carlo behind S4: for each beta, (n, run) at the depths of ``S4_DEPTHS``."""
    sizes = budget("S4", ctx.mode)
    runs = {}
    for i, beta in enumerate(scaling.BETAS):
        for j, n in enumerate(sizes.depths):
            lam = s4_a(beta) * float(n) ** (-float(beta))
            generator = torch.Generator().manual_seed(ctx.seed + 100 + 10 * i + j)
            runs.setdefault(beta, []).append((n, signal_second_moments(
                n, S4_WIDTH, S4_WIDTH, lam, sizes.nets, generator=generator)))
    return runs


def s4_rows(runs: dict) -> list[CheckResult]:
    """One z-row per (beta, n): the mean against (1 + a^2 n^-2beta)^n, informative when the
    baseline 1 and n - 1 in the exponent both lie >= 10 SE away."""
    rows = []
    for beta, points in runs.items():
        a = s4_a(beta)
        for n, out in points:
            lam = out["lam"]
            rows.append(z_row(
                "S4", f"E||x_n||^2/||x_0||^2 = (1 + a^2 n^-2beta)^n, beta={beta}, a={a:.4g}, "
                f"n={n}, d=h={out['width']}, {out['n_nets']} nets", s2_ratio(n, lam, SIGMA2),
                out["mean"], out["se"],
                {"baseline 1 (no growth)": 1.0,
                 "n - 1 in place of n in the exponent": s2_ratio(n - 1, lam, SIGMA2)},
                details={"beta": str(beta), "a": a, "lam": lam, "depth": n}))
    return rows


@register("S4")
def s4_monte_carlo(ctx) -> list[CheckResult]:
    """S4: Monte Carlo E||x_n||^2/||x_0||^2 against (1 + a^2 n^-2beta)^n (sigma^2 = 1), one
    a per beta (:func:`s4_a`); each row must resolve n - 1 in the exponent and the baseline 1."""
    return s4_report(ctx, s4_runs(ctx))


def s4_report(ctx, runs) -> list[CheckResult]:
    """S4's Monte Carlo rows from finished runs, with their plot."""
    rows = s4_rows(runs)
    found = {beta: [(n, out["mean"], out["se"]) for n, out in points]
             for beta, points in runs.items()}
    n_nets = next(iter(runs.values()))[0][1]["n_nets"]
    plot = plot_s4(ctx, found, rows, f"d = h = {S4_WIDTH}, {n_nets} networks per point", s4_a)
    return with_plot(rows, plot)


def measured_branch_scale(model, width: int, generator) -> list[float]:
    """Per block, ||lam f(z)||^2 / ||z||^2 over a batch of Gaussian z."""
    z = torch.randn(256, width, dtype=torch.float64, generator=generator)
    with torch.no_grad():
        return [float((block.lam.to(torch.float64) * block.branch(z)).pow(2).sum()
                      / z.pow(2).sum()) for block in model.blocks]


def s5_measurements(ctx) -> tuple[int, dict]:
    """Per scheme, the measured ||lam f(z)||^2 / ||z||^2 of every block of several seeded
    ``build_model`` networks at initialisation (depth L, {scheme name: ratios})."""
    sizes = budget("S5", ctx.mode)
    depth, width, seeds = sizes.depth, sizes.width, sizes.seeds
    measured = {}
    for i, s in enumerate(SCHEMES):
        norm = "post" if s.model_scaling == "deepnorm" else "none"
        cfg = ModelConfig(arch="mlp", depth=depth, width=width, scaling=s.model_scaling,
                          norm=norm, bias=False)
        ratios = []
        for k in range(seeds):
            generator = torch.Generator().manual_seed(ctx.seed + 200 + 10 * i + k)
            model = build_model(cfg, width, 2, generator=generator).double()
            ratios += measured_branch_scale(model, width, generator)
        measured[s.name] = ratios
    return depth, measured


def s5_rows(depth: int, measured: dict) -> list[CheckResult]:
    """S5's rows: zero-initialised schemes exactly 0; the others a z-row against lam_eff^2,
    informative when a 5% error in lam_eff and the neighbouring exponent are resolved."""
    rows = []
    for s in SCHEMES:
        ratios = measured[s.name]
        predicted = effective_lam(s.name, depth) ** 2 * SIGMA2
        claim = (f"{s.name} (ModelConfig scaling={s.model_scaling!r}, L={depth}): "
                 f"E||lam f(z)||^2/||z||^2 = lam_eff^2 sigma^2, lam_eff = {s.lam_eff}, "
                 f"S4 beta = {s.beta} ({s.regime})")
        if predicted == 0:
            largest = max(ratios)
            rows.append(CheckResult(
                "S5", claim + f" (identity at init: every block adds exactly 0; statistic: the "
                f"largest measured ratio over {len(ratios)} blocks)", "exact", 0.0, largest,
                largest, Criterion("largest ||lam f(z)||^2 / ||z||^2", "==", 0.0),
                by_construction("a zero-initialised scheme adds exactly 0 because its "
                                "parameter is set to 0; nothing of S5's law is tested")))
            continue
        mean, se = mean_and_se(torch.tensor(ratios, dtype=torch.float64))
        rows.append(z_row("S5", claim + f" ({len(ratios)} blocks)", predicted, mean, se, {
            "lam_eff 5% too large": 1.05**2 * predicted,
            "the neighbouring exponent beta - 1/4": predicted * depth ** 0.5}))
    return rows


@register("S5")
def s5_schemes(ctx) -> list[CheckResult]:
    """S5: each scheme's measured branch scale at init on build_model against lam_eff(L)^2."""
    return s5_rows(*s5_measurements(ctx))
