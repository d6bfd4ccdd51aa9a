"""Checks of R2 (gated path expansion, signed shares, secant split) and R5 (Jacobian expansion)
on real forward passes of random and trained networks; the lesion rows are in
:mod:`resdepth.checks.lesion`, the tolerances in :mod:`resdepth.checks.towers`.

Every probe runs in float64 on the context's device: models through ``ctx.probe_model``, data
through ``ctx.tensor``, so trained models and their inputs meet on one device.
"""

import math

import torch

from numerics.models.data import load_dataset
from numerics.models.networks import build_model
from numerics.models.train import INIT_STREAM
from numerics.probes.enumeration import masked_path_sums
from numerics.probes.jacobian import (
    branch_jacobians,
    jacobian_product,
    jacobian_subset_sum,
    tower_jacobian,
)
from numerics.probes.length_derivative import length_weighted_sum
from numerics.probes.secant import secant_spectrum
from numerics.probes.spectrum import block_scales, path_spectrum
from resdepth.checks.towers import (
    DATASET,
    EXACT_TOL,
    PL_ACTIVATIONS,
    TRAINED_DEPTH,
    random_tower,
    trained_spec,
)
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import Criterion, Power, exact_power
from resdepth.plots import plt, save_figure
from theorems.signal import binomial_p, s2_energy_by_length

RELATIVE = Criterion("max relative error", "<=", EXACT_TOL)
SECANT_NODES = (1, 4, 8, 32)


def _tower_cases(ctx):
    depths = budget("R2", ctx.mode).depths
    for i, depth in enumerate(depths):
        for j, activation in enumerate(PL_ACTIVATIONS):
            yield ctx.seed * 1000 + 10 * i + j, depth, activation


def _share_error(spectrum) -> float:
    return abs(math.fsum(spectrum.signed_shares()) - 1.0)


@register("R2")
def r2_random_towers(ctx) -> list[CheckResult]:
    """R2 on random ReLU / leaky ReLU / abs towers with biases (lam = 0.7): sum_k y_k = x_n; the
    DP's terms against a second implementation (masked forward passes of the model's own layers
    with the gates frozen, Moebius-inverted over the 2^n subsets); and both routes of the DP
    (MLP: gates from the weights; generic: forward-mode JVPs with c = f(x) - Dx, for which the
    split holds whatever D is) against autograd: sum_k k y_k = d x_n(t)/dt at t = 1, every
    branch scaled by t (:mod:`numerics.probes.length_derivative`)."""
    worst, worst_enum, worst_share = 0.0, 0.0, 0.0
    worst_route = {"mlp": 0.0, "generic": 0.0}
    for seed, depth, activation in _tower_cases(ctx):
        model = ctx.probe_model(random_tower(seed, depth, 8, activation=activation))
        x = torch.randn(16, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        x0 = model.embed(ctx.tensor(x))
        spectrum = path_spectrum(model.blocks, x0)
        worst = max(worst, spectrum.max_rel_error())
        worst_share = max(worst_share, _share_error(spectrum))
        if depth <= 12:
            oracle = masked_path_sums(model.blocks, x0)
            scale = spectrum.terms.abs().max().item()
            worst_enum = max(worst_enum, (oracle - spectrum.terms).abs().max().item() / scale)
        tangent, _ = length_weighted_sum(model.blocks, x0)
        for route in worst_route:
            terms = path_spectrum(model.blocks, x0, route=route).terms
            k = torch.arange(depth + 1, dtype=terms.dtype, device=terms.device)
            weighted = (k.view(-1, *([1] * x0.dim())) * terms).sum(0)
            error = ((weighted - tangent).flatten(1).norm(dim=1)
                     / tangent.flatten(1).norm(dim=1)).max().item()
            worst_route[route] = max(worst_route[route], error)
    route_error = max(worst_route.values())
    return [
        CheckResult("R2", "random piecewise-linear towers with biases: max ||sum_k y_k - x_n|| / "
                    "||x_n|| (the signed shares' sum, which follows from it, in details)", "exact",
                    0.0, worst, worst, RELATIVE,
                    exact_power(EXACT_TOL, "relative defect of the split"),
                    details={"max_abs_signed_share_sum_minus_1": worst_share}),
        CheckResult("R2", "DP spectrum = sum of the 2^n gated paths by length, each path from "
                    "masked forward passes of the model's own layers with frozen gates (Moebius "
                    "inversion over subsets; n <= 12, lam = 0.7), max |difference| / max |term|",
                    "exact", 0.0, worst_enum, worst_enum,
                    Criterion("max |difference| / max |term|", "<=", EXACT_TOL),
                    exact_power(EXACT_TOL, "difference, e.g. a wrong power of lam on the paths "
                                "of one length (1 - lam = 0.3) or a term filed under the wrong "
                                "length")),
        CheckResult("R2", "MLP and generic route (forward-mode JVPs, offset c = f(x) - Dx): "
                    "sum_k k y_k = d x_n(t)/dt at t = 1 with every branch scaled by t (autograd "
                    "through the model's own forward), max relative error over both routes",
                    "exact", 0.0, route_error, route_error, RELATIVE,
                    exact_power(EXACT_TOL, "error in the lengths of the terms (a wrong D keeps "
                                "the generic split exact but moves sum_k k y_k)"),
                    details={f"{route}_route": e for route, e in worst_route.items()}),
    ]


@register("R2")
def r2_secant(ctx) -> list[CheckResult]:
    """R2 secant variant: GELU towers without biases split exactly up to quadrature."""
    model = ctx.probe_model(random_tower(ctx.seed + 7, 6, 8, activation="gelu", bias=False))
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(ctx.seed), dtype=torch.float64)
    x0 = model.embed(ctx.tensor(x))
    errors = {q: secant_spectrum(model.blocks, x0, nodes=q).max_rel_error() for q in SECANT_NODES}
    return [CheckResult(
        "R2", "secant Jacobians M_i = int_0^1 Df_i(s x) ds (Gauss-Legendre, Q = 32 nodes) split "
        "a GELU tower (n = 6, no biases) exactly up to quadrature: max relative error",
        "exact", 0.0, errors[32], errors[32], RELATIVE,
        Power("the one-node (midpoint) rule Df_i(x/2) in place of the secant integral: its "
              "relative error", errors[1], ">", EXACT_TOL),
        details={"errors_by_nodes": {str(q): e for q, e in errors.items()}})]


@register("R2", needs=lambda ctx: [trained_spec(ctx)])
def r2_trained(ctx) -> list[CheckResult]:
    """R2 on a trained residual ReLU MLP: the test-set forward pass is a sum of gated paths,
    and its signed shares sum to 1 (the energy shares do not decompose ||x_n||^2)."""
    model, _ = ctx.trained(trained_spec(ctx))
    data = load_dataset(DATASET, seed=ctx.seed)
    model64 = ctx.probe_model(model)
    with torch.no_grad():
        x0 = model64.embed(ctx.tensor(data.test_x))
    spectrum = path_spectrum(model64.blocks, x0)
    init = _initial_spectrum(ctx, data)
    err, share_err = spectrum.max_rel_error(), _share_error(spectrum)
    details = {"trained": _summary(spectrum), "init": _summary(init),
               "max_abs_signed_share_sum_minus_1": share_err}
    plot = _plot_spectrum(ctx, spectrum, init, block_scales(model64.blocks), err)
    name = f"trained ReLU MLP (depth {TRAINED_DEPTH}, {DATASET} test set, float64)"
    return [
        CheckResult("R2", f"{name}: max ||sum_k y_k - x_n|| / ||x_n|| (the signed shares, which "
                    f"sum to 1 because of it, in details; cross terms "
                    f"{spectrum.cross_term_fraction():+.2f} of ||x_n||^2, so the energy shares "
                    "do not)", "exact", 0.0, err, err,
                    RELATIVE, exact_power(EXACT_TOL, "relative defect of the split"),
                    details=details, plot=plot),
    ]


def _summary(spectrum) -> dict:
    """What a report reader wants of a spectrum: both kinds of share and both mean lengths."""
    return {"signed_shares": spectrum.signed_shares(),
            "energy_shares": spectrum.energy_fractions(),
            "cross_term_fraction": spectrum.cross_term_fraction(),
            "mean_length_signed": spectrum.mean_length(),
            "mean_length_energy": spectrum.mean_length_energy(),
            "norms_by_length": spectrum.norms_by_length(),
            "max_rel_error": spectrum.max_rel_error()}


def _initial_spectrum(ctx, data):
    """The spectrum of the trained run's architecture at its own initialisation (untrained)."""
    spec = trained_spec(ctx)
    model = build_model(spec.model, data.in_dim, data.out_dim,
                        generator=torch.Generator().manual_seed(spec.seed ^ INIT_STREAM))
    model64 = ctx.probe_model(model)
    with torch.no_grad():
        x0 = model64.embed(ctx.tensor(data.test_x))
    return path_spectrum(model64.blocks, x0)


def _plot_spectrum(ctx, trained, init, lams, err):
    """Signed shares (which decompose ||x_n||^2) beside energy shares (which do not), at
    initialisation and trained, against S2's law at initialisation."""
    path = ctx.plot_path("R2_trained_spectrum.png")
    if path is None:
        return None
    n = trained.depth
    ks = torch.arange(n + 1, dtype=torch.float64)
    lam = sum(lams) / n
    law = s2_energy_by_length(n, lam, 1.0)
    law = [v / sum(law) for v in law]
    fig, ax = plt.subplots(figsize=(6.6, 5.0))
    series = [(init, "C0", "init", -0.3), (trained, "C2", "trained", 0.1)]
    for spectrum, colour, name, shift in series:
        ax.bar(ks + shift, spectrum.signed_shares(), width=0.2, color=colour,
               label=f"{name}: signed share (mean length {spectrum.mean_length():.2f})")
        ax.bar(ks + shift + 0.2, spectrum.energy_fractions(), width=0.2, color="none",
               edgecolor=colour, hatch="///",
               label=f"{name}: energy share (cross terms {spectrum.cross_term_fraction():+.2f})")
    ax.plot(ks, law, "o-", color="C1", ms=4,
            label=f"S2 law at init: Binomial(n={n}, p={binomial_p(lam, 1.0):.2f})")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(range(n + 1))
    ax.set_xlabel("path length k (branches taken)")
    ax.set_ylabel(r"share of $\|x_n\|^2$ / of $\Sigma_j \|y_j\|^2$")
    ax.set_title(f"R2 path-length spectrum, ReLU MLP depth {n}, {DATASET} test set\n"
                 r"signed $\langle y_k, x_n\rangle/\|x_n\|^2$ (sums to 1) vs energy "
                 rf"$\|y_k\|^2/\Sigma_j\|y_j\|^2$; split error {err:.1e} (tol {EXACT_TOL:g})",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2,
              frameon=False)
    return save_figure(fig, path)


@register("R5")
def r5_jacobian(ctx) -> list[CheckResult]:
    """R5: prod (I + lam J_i) and the subset sum equal autograd's Jacobian of the tower."""
    worst_product, worst_subsets = 0.0, 0.0
    for i, (depth, activation) in enumerate([(3, "relu"), (6, "gelu"), (10, "abs")]):
        model = ctx.probe_model(random_tower(ctx.seed + 100 + i, depth, 6, activation=activation))
        x0 = ctx.tensor(torch.randn(4, 6, generator=torch.Generator().manual_seed(i),
                                    dtype=torch.float64))
        truth = tower_jacobian(model.blocks, x0)
        scale = truth.norm(dim=(1, 2))
        product = jacobian_product(model.blocks, x0)
        worst_product = max(worst_product,
                            ((product - truth).norm(dim=(1, 2)) / scale).max().item())
        if depth <= 6:
            jacobians, _ = branch_jacobians(model.blocks, x0)
            subsets = jacobian_subset_sum(jacobians, block_scales(model.blocks))
            worst_subsets = max(worst_subsets,
                                ((subsets - truth).norm(dim=(1, 2)) / scale).max().item())
    power = exact_power(EXACT_TOL, "relative Frobenius defect (a Jacobian at the wrong point, "
                        "or the factors in the wrong order)")
    return [
        CheckResult("R5", "prod_i (I + lam J_i(x_{i-1})) vs autograd's d x_n / d x_0 "
                    "(ReLU, GELU, abs; biases): max relative Frobenius error", "exact", 0.0,
                    worst_product, worst_product, RELATIVE, power),
        CheckResult("R5", "sum over S of lam^|S| J_S (all 2^n subsets, n <= 6) vs autograd",
                    "exact", 0.0, worst_subsets, worst_subsets, RELATIVE, power),
    ]
