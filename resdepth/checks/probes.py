"""Checks of R2, R5, S2, S3 and S6 on real forward passes (random and trained networks).

Tolerance policy: identities (R2, R5) are checked in float64 at relative error ``EXACT_TOL``
= 1e-9, far above the rounding error of a depth-n tower (about n * 1e-16) and far below any
real discrepancy; expectations (S2, S3) by batched Monte Carlo at |z| < ``Z_MAX`` = 5 with the
standard error required to be below ``SE_FRACTION`` of the prediction; empirical rows report
what they measure and pass when the qualitative prediction holds.
"""

import copy
import dataclasses
import itertools
import math

import torch
from torch import nn

from numerics.capacity import capacity_summary
from numerics.config import ModelConfig, TrainConfig
from numerics.data import load_dataset
from numerics.jacobian import (
    branch_jacobians,
    jacobian_product,
    jacobian_subset_sum,
    tower_jacobian,
)
from numerics.lesion import lesion_curve, surviving_share
from numerics.models import build_model
from numerics.montecarlo import linear_path_energies, relu_path_energies, signal_second_moments
from numerics.spectrum import (
    block_scales,
    enumerate_paths,
    path_spectrum,
    secant_spectrum,
    sum_by_length,
)
from numerics.train import INIT_STREAM
from resdepth.checks.base import CheckResult, RunSpec, register, verdict
from resdepth.plots import plt, save_figure
from theorems.signal import (
    binomial_p,
    s2_energy_by_length,
    s2_ratio,
    s3_prenorm_second_moment,
)

EXACT_TOL = 1e-9
Z_MAX = 5.0
SE_FRACTION = 0.05
SIGMA2 = 1.0
TRAINED_DEPTH, TRAINED_WIDTH, DATASET = 6, 32, "digits"
PL_ACTIVATIONS = {"relu": nn.ReLU, "leaky": lambda: nn.LeakyReLU(0.1),
                  "abs": lambda: nn.LeakyReLU(-1.0)}


def trained_spec(ctx, lam: float = 1.0) -> RunSpec:
    """The trained residual ReLU MLP (with biases) behind the R2, lesion and S6 rows."""
    cfg = ModelConfig(arch="mlp", depth=TRAINED_DEPTH, width=TRAINED_WIDTH, lam=lam)
    train = TrainConfig(epochs=3 if ctx.quick else 15, lr=3e-3)
    return RunSpec(model=cfg, dataset=DATASET, train=train, seed=ctx.seed)


def s6_lams(ctx) -> tuple[float, ...]:
    return (0.25, 1.0) if ctx.quick else (0.1, 0.25, 0.5, 1.0)


def random_tower(seed: int, depth: int, width: int, *, activation: str = "relu",
                 bias: bool = True, lam: float = 0.7):
    """A float64 residual MLP with every weight and bias drawn from a generator seeded ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    gelu = activation == "gelu"
    cfg = ModelConfig(depth=depth, width=width, lam=lam, bias=bias,
                      activation="gelu" if gelu else "relu")
    model = build_model(cfg, width, 2, generator=generator)
    with torch.no_grad():
        for block in model.blocks:
            if not gelu:
                block.branch[1] = PL_ACTIVATIONS[activation]()
            for layer in (block.branch[0], block.branch[2]):
                if layer.bias is not None:
                    layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator))
    return model.double().eval()


def _float64(model):
    return copy.deepcopy(model).double().eval()


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
    model64 = _float64(model)
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
    model64 = _float64(model)
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


def _z_row(label, claim, prediction, mean, se) -> CheckResult:
    z = (mean - prediction) / se
    ok = abs(z) < Z_MAX and se < SE_FRACTION * abs(prediction)
    return CheckResult(label, claim + f" (z-score; SE/prediction = {se / prediction:.3g})",
                       "expectation", prediction, mean, z, verdict(ok))


def _mc_size(ctx) -> int:
    return 4000 if ctx.quick else 40000


@register("S2")
def s2_signal(ctx) -> list[CheckResult]:
    """S2: E||x_n||^2/||x_0||^2 and E||J u||^2/||u||^2 = (1 + lam^2 sigma^2)^n (ReLU, no bias)."""
    depth, width, lam = 8, 16, 0.5
    out = signal_second_moments(depth, width, width, lam, _mc_size(ctx),
                                generator=torch.Generator().manual_seed(ctx.seed + 20))
    prediction = s2_ratio(depth, lam, SIGMA2)
    jac = out["jac_ratio"]
    jac_se = jac.std().item() / math.sqrt(len(jac))
    plot = _plot_signal_growth(ctx, depth, width, {lam: out})
    rows = [
        _z_row("S2", f"E||x_n||^2/||x_0||^2 = (1 + lam^2 sigma^2)^n, n={depth}, d=h={width}, "
               f"lam={lam}", prediction, out["mean"], out["se"]),
        _z_row("S2", f"E||(dx_n/dx_0) u||^2 = (1 + lam^2 sigma^2)^n ||u||^2, n={depth}",
               prediction, jac.mean().item(), jac_se),
    ]
    return [dataclasses.replace(row, plot=plot) for row in rows]


SIGNAL_PLOT_LAMS = (0.25, 0.5, 1.0)


def _plot_signal_growth(ctx, depth, width, runs):
    """E||x_i||^2/||x_0||^2 against i for a few lam: Monte Carlo (SE bars) and S2's line.

    ``runs`` maps lam to a finished :func:`signal_second_moments` run; the other lams of
    ``SIGNAL_PLOT_LAMS`` are run here (only when a plot is wanted).
    """
    path = ctx.plot_path("S2_signal_growth.png")
    if path is None:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    steps = list(range(depth + 1))
    for j, lam in enumerate(SIGNAL_PLOT_LAMS):
        out = runs.get(lam) or signal_second_moments(
            depth, width, width, lam, _mc_size(ctx),
            generator=torch.Generator().manual_seed(ctx.seed + 22 + j))
        ratio = out["layer_sq"] / out["x0_sq"]
        se = ratio.std(1) / math.sqrt(ratio.shape[1])
        ax.plot(steps, [s2_ratio(i, lam, SIGMA2) for i in steps], "-", color=f"C{j}",
                label=rf"$(1 + \lambda^2\sigma^2)^i$, $\lambda$ = {lam}")
        ax.errorbar(steps, ratio.mean(1).tolist(), yerr=se.tolist(), fmt="o", color=f"C{j}",
                    capsize=3, markersize=4)
    ax.set_yscale("log")
    ax.set_xlabel("depth i")
    ax.set_ylabel(r"$E\|x_i\|^2 / \|x_0\|^2$ (log scale)")
    ax.set_title(f"S2 signal growth, ReLU, d = h = {width}, {ratio.shape[1]} nets\n"
                 "(points: Monte Carlo, bars: SE)", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


@register("S2")
def s2_linear_lengths(ctx) -> list[CheckResult]:
    """S2: linear branches put energy C(n,k)(lam^2 sigma^2)^k on paths of length k."""
    depth, width, lam = 6, 8, 0.7
    out = linear_path_energies(depth, width, lam, _mc_size(ctx), sigma2=SIGMA2,
                               generator=torch.Generator().manual_seed(ctx.seed + 21))
    law = s2_energy_by_length(depth, lam, SIGMA2)
    zs = [(m - p) / s for m, p, s in zip(out["mean"][1:], law[1:], out["se"][1:])]
    se_ok = all(s < SE_FRACTION * p for s, p in zip(out["se"][1:], law[1:]))
    worst = max(zs, key=abs)
    return [CheckResult(
        "S2", f"linear branches: E||y_k||^2/||x||^2 = C(n,k)(lam^2 sigma^2)^k for k=1..{depth} "
        "(statistic: the largest |z| over k)", "expectation", law, out["mean"], worst,
        verdict(abs(worst) < Z_MAX and se_ok))]


@register("S2")
def s2_relu_lengths(ctx) -> list[CheckResult]:
    """S2 (measured): ReLU path-length energies deviate from the binomial law; report by width.

    The deviation is the total variation 1/2 sum_k |q_k - b_k| between the measured energy
    shares q_k = E||y_k||^2 / sum_j E||y_j||^2 and the binomial shares b_k of S2.
    """
    depth, lam = 6, 0.7
    law = s2_energy_by_length(depth, lam, SIGMA2)
    law = [v / sum(law) for v in law]
    widths = (4, 16, 32) if ctx.quick else (4, 16, 64, 128)
    deviation = {}
    for width in widths:
        out = relu_path_energies(depth, width, width, lam, 1000 if ctx.quick else 20000,
                                 generator=torch.Generator().manual_seed(ctx.seed + width))
        shares = [m / sum(out["mean"]) for m in out["mean"]]
        deviation[str(width)] = 0.5 * sum(abs(q - b) for q, b in zip(shares, law))
    values = list(deviation.values())
    return [CheckResult(
        "S2", "ReLU branches: total variation between the energy shares by path length and "
        "Binomial(n, p), by width (approximately binomial; expected to shrink with width)",
        "empirical", law, deviation, values[-1], verdict(values[-1] < values[0]))]


@register("S3")
def s3_prenorm(ctx) -> list[CheckResult]:
    """S3: pre-LN towers grow linearly, E||x_i||^2 = ||x_0||^2 + i lam^2 sigma^2 d at every i."""
    depth, width, lam = 12, 16, 0.5
    out = signal_second_moments(depth, width, width, lam, _mc_size(ctx), norm="pre",
                                generator=torch.Generator().manual_seed(ctx.seed + 30))
    rows = []
    for i in (1, depth // 2, depth):
        samples = out["layer_sq"][i]
        prediction = s3_prenorm_second_moment(i, lam, SIGMA2, width, out["x0_sq"])
        rows.append(_z_row("S3", f"pre-LN: E||x_i||^2 = ||x_0||^2 + i lam^2 sigma^2 d at i={i}, "
                           f"d={width}, lam={lam}", prediction, samples.mean().item(),
                           samples.std().item() / math.sqrt(len(samples))))
    return rows


@register("S3")
def s3_postnorm(ctx) -> list[CheckResult]:
    """S3 post-LN (measured trend): the identity path's share of x_i decays geometrically."""
    depth, width, lam = 12, 16, 0.5
    out = signal_second_moments(depth, width, width, lam, _mc_size(ctx), norm="post",
                                generator=torch.Generator().manual_seed(ctx.seed + 31))
    share = out["identity_share"].mean(1)
    logs = share.log()
    steps = torch.arange(depth + 1, dtype=torch.float64)
    slope = ((steps - steps.mean()) @ (logs - logs.mean()) / (steps - steps.mean()).pow(2).sum())
    fit = logs.mean() + slope * (steps - steps.mean())
    r2 = 1 - ((logs - fit).pow(2).sum() / (logs - logs.mean()).pow(2).sum()).item()
    factor = math.exp(slope.item())
    return [CheckResult(
        "S3", "post-LN: identity-path share of x_i decays geometrically (statistic: R^2 of a "
        "log-linear fit; prediction: heuristic factor 1/(1 + lam^2 sigma^2) per block)",
        "empirical", 1 / (1 + lam * lam * SIGMA2), {"factor_per_block": factor,
                                                   "share_at_n": share[-1].item()}, r2,
        verdict(r2 > 0.99 and factor < 1))]


@register("S6", needs=lambda ctx: [trained_spec(ctx, lam) for lam in s6_lams(ctx)])
def s6_capacity(ctx) -> list[CheckResult]:
    """S6: on trained models, lam shapes weight norms, the Lipschitz product, margins, spectrum."""
    data = load_dataset(DATASET, seed=ctx.seed)
    probe = torch.cat([data.test_x[:24], 3 * data.test_x.std() *
                       torch.randn(8, data.in_dim, generator=torch.Generator().manual_seed(1))])
    summaries, slack = {}, math.inf
    for lam in s6_lams(ctx):
        model, _ = ctx.trained(trained_spec(ctx, lam))
        summary = capacity_summary(model, data.test_x, data.test_y, n_jacobian=0)
        bound_probe = capacity_summary(model, probe, n_jacobian=len(probe))
        summary["log10_max_jacobian"] = bound_probe["log10_max_jacobian"]
        slack = min(slack, summary["log10_lipschitz_bound"] - summary["log10_max_jacobian"])
        summary.pop("energy_fractions")
        summaries[str(lam)] = summary
    ordered = [summaries[str(lam)] for lam in s6_lams(ctx)]
    monotone = all(a["log10_lipschitz_bound"] < b["log10_lipschitz_bound"]
                   and a["mean_path_length"] < b["mean_path_length"]
                   for a, b in itertools.pairwise(ordered))
    return [
        CheckResult("S6", "trained: max ||d x_n/d x_0||_2 over test and far inputs <= "
                    "prod(1 + lam_i B_i) (statistic: log10 slack, >= 0)", "bound", 0.0,
                    slack, slack, verdict(slack >= 0)),
        CheckResult("S6", "trained: a larger lam gives a larger Lipschitz product and a longer "
                    "mean path length (weight norms and margins recorded per lam)", "empirical",
                    "increasing in lam", summaries, monotone, verdict(monotone)),
    ]
