"""Checks of R2 (gated path expansion, spectrum, lesion) and R5 (Jacobian expansion) on real
forward passes of random and trained networks; tolerances in :mod:`resdepth.checks.towers`."""


import torch

from numerics.data import load_dataset
from numerics.jacobian import (
    branch_jacobians,
    jacobian_product,
    jacobian_subset_sum,
    tower_jacobian,
)
from numerics.lesion import lesion_curve, surviving_share
from numerics.models import build_model
from numerics.spectrum import (
    block_scales,
    enumerate_paths,
    path_spectrum,
    secant_spectrum,
    sum_by_length,
)
from numerics.train import INIT_STREAM
from resdepth.checks.base import CheckResult, register, verdict
from resdepth.checks.towers import (
    DATASET,
    EXACT_TOL,
    PL_ACTIVATIONS,
    SIGMA2,
    TRAINED_DEPTH,
    float64_copy,
    random_tower,
    trained_spec,
)
from resdepth.plots import plt, save_figure
from theorems.signal import (
    binomial_p,
    s2_energy_by_length,
)


def _tower_cases(ctx):
    depths = (1, 5, 12) if ctx.quick else (1, 5, 12, 24, 40)
    for i, depth in enumerate(depths):
        for j, activation in enumerate(PL_ACTIVATIONS):
            yield ctx.seed * 1000 + 10 * i + j, depth, activation

@register("R2")
def r2_random_towers(ctx) -> list[CheckResult]:
    """R2 on random ReLU / leaky ReLU / abs towers with biases: sum_k y_k = x_n, DP = enumeration."""
    worst, worst_enum = 0.0, 0.0
    for seed, depth, activation in _tower_cases(ctx):
        model = random_tower(seed, depth, 8, activation=activation)
        x0 = model.embed(torch.randn(16, 8, generator=torch.Generator().manual_seed(seed),
                                     dtype=torch.float64))
        spectrum = path_spectrum(model.blocks, x0)
        worst = max(worst, spectrum.max_rel_error())
        if depth <= 12:
            oracle = sum_by_length(*enumerate_paths(model.blocks, x0))
            scale = spectrum.terms.abs().max().item()
            worst_enum = max(worst_enum, (oracle - spectrum.terms).abs().max().item() / scale)
    claim = "random piecewise-linear towers with biases: max ||sum_k y_k - x_n|| / ||x_n||"
    return [
        CheckResult("R2", claim, "exact", 0.0, worst, worst, verdict(worst <= EXACT_TOL)),
        CheckResult("R2", "DP spectrum = sum of the 2^n enumerated gated paths (n <= 12), "
                    "max relative difference", "exact", 0.0, worst_enum, worst_enum,
                    verdict(worst_enum <= EXACT_TOL)),
    ]

@register("R2")
def r2_secant(ctx) -> list[CheckResult]:
    """R2 secant variant: GELU towers without biases split exactly up to quadrature."""
    model = random_tower(ctx.seed + 7, 6, 8, activation="gelu", bias=False)
    x0 = model.embed(torch.randn(16, 8, generator=torch.Generator().manual_seed(ctx.seed),
                                 dtype=torch.float64))
    errors = {q: secant_spectrum(model.blocks, x0, nodes=q).max_rel_error() for q in (4, 8, 32)}
    ok = errors[32] <= EXACT_TOL and errors[4] > errors[8] > errors[32]
    return [CheckResult(
        "R2", "secant Jacobians (Gauss-Legendre, Q nodes) split a GELU tower exactly up to "
        "quadrature: error falls with Q, below 1e-9 at Q = 32", "exact", 0.0,
        {str(q): e for q, e in errors.items()}, errors[32], verdict(ok))]

@register("R2", needs=lambda ctx: [trained_spec(ctx)])
def r2_trained(ctx) -> list[CheckResult]:
    """R2 on a trained residual ReLU MLP: the test-set forward pass is a sum of gated paths."""
    model, _ = ctx.trained(trained_spec(ctx))
    data = load_dataset(DATASET, seed=ctx.seed)
    model64 = float64_copy(model)
    with torch.no_grad():
        x0 = model64.embed(data.test_x.double())
    spectrum = path_spectrum(model64.blocks, x0)
    init = _initial_spectrum(ctx, data)
    err = spectrum.max_rel_error()
    plot = _plot_spectrum(ctx, spectrum, init, block_scales(model64.blocks))
    return [CheckResult(
        "R2", f"trained ReLU MLP (depth {TRAINED_DEPTH}, {DATASET}, float64): max "
        "||sum_k y_k - x_n|| / ||x_n|| over the test set", "exact", 0.0,
        {"max_rel_error": err, "norms_by_length": spectrum.norms_by_length(),
         "mean_length_trained": spectrum.mean_length(), "mean_length_init": init.mean_length()},
        err, verdict(err <= EXACT_TOL), plot)]

def _initial_spectrum(ctx, data):
    """The spectrum of the trained run's architecture at its own initialisation (untrained)."""
    spec = trained_spec(ctx)
    model = build_model(spec.model, data.in_dim, data.out_dim,
                        generator=torch.Generator().manual_seed(spec.seed ^ INIT_STREAM))
    model64 = model.double().eval()
    with torch.no_grad():
        x0 = model64.embed(data.test_x.double())
    return path_spectrum(model64.blocks, x0)

def _plot_spectrum(ctx, trained, init, lams):
    path = ctx.plot_path("R2_trained_spectrum.png")
    if path is None:
        return None
    n = trained.depth
    ks = torch.arange(n + 1, dtype=torch.float64)
    law = s2_energy_by_length(n, sum(lams) / n, SIGMA2)
    law = [v / sum(law) for v in law]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.bar(ks - 0.2, init.energy_fractions(), width=0.4, color="C0",
           label=f"at initialisation (mean length {init.mean_length():.2f})")
    ax.bar(ks + 0.2, trained.energy_fractions(), width=0.4, color="C2",
           label=f"trained (mean length {trained.mean_length():.2f})")
    p = binomial_p(sum(lams) / n, SIGMA2)
    ax.plot(ks, law, "o-", color="C1", label=f"S2 law at init: Binomial(n={n}, p={p:.2f})")
    ax.set_ylim(0, 1.45 * max(max(law), *init.energy_fractions(), *trained.energy_fractions()))
    ax.set_xlabel("path length k")
    ax.set_ylabel(r"energy share $\|y_k\|^2 / \Sigma_j \|y_j\|^2$")
    ax.set_title(f"R2 path-length spectrum: ReLU MLP, depth {n}, {DATASET} test set",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return save_figure(fig, path)

@register("R2", needs=lambda ctx: [trained_spec(ctx)])
def r2_lesion(ctx) -> list[CheckResult]:
    """Lesion study: test error against m deleted blocks vs the surviving path-energy share."""
    model, _ = ctx.trained(trained_spec(ctx))
    data = load_dataset(DATASET, seed=ctx.seed)
    model64 = float64_copy(model)
    x = data.test_x.double()
    with torch.no_grad():
        spectrum = path_spectrum(model64.blocks, model64.embed(x))
    energies = [v * v for v in spectrum.norms_by_length()]
    n = len(model64.blocks)
    rows = lesion_curve(model64, x, data.test_y, ms=list(range(n + 1)),
                        n_draws=4 if ctx.quick else 20,
                        generator=torch.Generator().manual_seed(ctx.seed))
    lost = [1 - surviving_share(energies, r["m"]) for r in rows]
    errors = [r["error"] for r in rows]
    corr = _correlation(lost, errors)
    return [CheckResult(
        "R2", "lesion (Veit et al. 2016): test error grows with the deleted blocks m in step "
        "with the lost path energy 1 - sum_k C(n-m,k)/C(n,k) e_k / sum e_k (statistic: "
        "Pearson correlation)", "empirical", {"lost_share": lost},
        {"error": errors, "stream_change": [r["stream_change"] for r in rows]}, corr,
        verdict(corr > 0 and errors[-1] > errors[0]), _plot_lesion(ctx, rows, lost))]

def _plot_lesion(ctx, rows, lost):
    """Left: test error against m (SE over the drawn subsets); right: stream change vs path loss."""
    path = ctx.plot_path("R2_lesion.png")
    if path is None:
        return None
    ms = [r["m"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    left.errorbar(ms, [r["error"] for r in rows], yerr=[r["error_se"] for r in rows],
                  fmt="o-", capsize=3, label="measured test error")
    left.set_xlabel("deleted blocks m")
    left.set_ylabel("test error (misclassification rate)")
    left.set_title("lesioned trained ReLU MLP")
    left.legend(fontsize=8)
    right.plot(ms, lost, "s--", color="C1",
               label=r"prediction: lost path energy $1 - \rho(m)$")
    right.plot(ms, [r["stream_change"] for r in rows], "o-", color="C0",
               label=r"measured $\|x_n' - x_n\|^2 / \|x_n\|^2$")
    right.set_xlabel("deleted blocks m")
    right.set_ylabel("share of the residual stream")
    right.set_title("R2 surviving paths vs measured change")
    right.legend(fontsize=8)
    return save_figure(fig, path)

def _correlation(a, b) -> float:
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    ta, tb = ta - ta.mean(), tb - tb.mean()
    denom = (ta.norm() * tb.norm()).item()
    return (ta @ tb).item() / denom if denom > 0 else 0.0

@register("R5")
def r5_jacobian(ctx) -> list[CheckResult]:
    """R5: prod (I + lam J_i) and the subset sum equal autograd's Jacobian of the tower."""
    worst_product, worst_subsets = 0.0, 0.0
    for i, (depth, activation) in enumerate([(3, "relu"), (6, "gelu"), (10, "abs")]):
        model = random_tower(ctx.seed + 100 + i, depth, 6, activation=activation)
        x0 = torch.randn(4, 6, generator=torch.Generator().manual_seed(i), dtype=torch.float64)
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
    return [
        CheckResult("R5", "prod_i (I + lam J_i(x_{i-1})) vs autograd's d x_n / d x_0 "
                    "(ReLU, GELU, abs; biases): max relative Frobenius error", "exact", 0.0,
                    worst_product, worst_product, verdict(worst_product <= EXACT_TOL)),
        CheckResult("R5", "sum over S of lam^|S| J_S (all 2^n subsets, n <= 6) vs autograd",
                    "exact", 0.0, worst_subsets, worst_subsets,
                    verdict(worst_subsets <= EXACT_TOL)),
    ]
