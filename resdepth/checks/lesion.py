"""R2 lesion rows (Veit et al. 2016): delete m blocks of a trained ReLU MLP, keep the skips.

Three statements, from exact to empirical (:mod:`numerics.probes.lesion` has the algebra):

1. frozen gates, every set D of deleted blocks: the frozen tower is exactly the sum of the
   paths that avoid D (exact);
2. frozen gates, averaged over all sets of m blocks: the kept share
   <x'_n, x_n> / ||x_n||^2 is sum_k C(n-m,k)/C(n,k) s_k in the signed shares s_k (exact; the
   energy shares would miss it, which is the row's power);
3. real lesions, gates recomputed: the kept share against that prediction, judged by the
   unexplained share of the lesion effect over ``budget("R2", mode).lesion_models``
   independently trained models per lam (empirical, issue 21: a 95% t-interval over models, so
   the training variation is in it; informative where the interval lies below the criterion's
   threshold and the uniform law over paths, 2^-m, would miss above it).

The trained runs (:data:`resdepth.checks.towers.LESION_LAMS`) are short-path networks
(lam = 1/4) and lam = 1, whose spectrum is close to uniform, at seeds ctx.seed + k (the same
specs as S6's runs, so one training serves both).
"""

import dataclasses
import math

import torch

from numerics.models.data import load_dataset
from numerics.probes.enumeration import enumerate_paths
from numerics.probes.joint_scaling import t_z
from numerics.probes.lesion import (
    frozen_lesion,
    frozen_pieces,
    kept_share,
    lesion_curve,
    surviving_paths,
    surviving_share,
)
from numerics.probes.spectrum import block_scales, path_spectrum
from resdepth.checks.towers import (
    DATASET,
    EXACT_TOL,
    LESION_LAMS,
    LESION_UNEXPLAINED,
    TRAINED_DEPTH,
    trained_spec,
)
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import Criterion, Power, exact_power
from resdepth.plots import plt, save_figure

MAX_SUBSETS = 20
"""Sets of deleted blocks measured per m: all C(6, m) <= 20 of them at the trained depth 6."""


def lesion_specs(ctx, lam: float | None = None) -> list:
    """The trained runs behind the lesion rows: ``lesion_models`` seeds per lam (or at ``lam``)."""
    lams = LESION_LAMS if lam is None else (lam,)
    return [dataclasses.replace(trained_spec(ctx, lam), seed=ctx.seed + k) for lam in lams
            for k in range(budget("R2", ctx.mode).lesion_models)]


def _study(ctx, lam: float, seed: int | None = None) -> dict:
    """Real and frozen lesions of the trained run at ``lam`` (seed ``seed``, default the base
    seed) on its test set, every m."""
    spec = dataclasses.replace(trained_spec(ctx, lam), seed=ctx.seed if seed is None else seed)
    model, _ = ctx.trained(spec)
    data = load_dataset(DATASET, seed=spec.seed)
    model64 = ctx.probe_model(model)
    x, y = ctx.tensor(data.test_x), data.test_y.to(ctx.device)
    with torch.no_grad():
        x0 = model64.embed(x)
    spectrum = path_spectrum(model64.blocks, x0)
    paths, _ = enumerate_paths(model64.blocks, x0)
    pieces, _ = frozen_pieces(model64.blocks, x0)
    lams, full, n = block_scales(model64.blocks), spectrum.output, len(model64.blocks)
    shares, energies = spectrum.signed_shares(), spectrum.energy_fractions()
    generator = torch.Generator().manual_seed(spec.seed)
    intact = lesion_curve(model64, x, y, ms=[0], max_subsets=1, generator=generator)[0]
    curve = lesion_curve(model64, x, y, ms=list(range(1, n + 1)), max_subsets=MAX_SUBSETS,
                         generator=generator)
    worst_paths = 0.0
    for point in curve:
        frozen = [frozen_lesion(pieces, lams, x0, d) for d in point["subsets"]]
        worst_paths = max(worst_paths, max(_relative(f, surviving_paths(paths, d), full)
                                           for f, d in zip(frozen, point["subsets"])))
        point["frozen_kept"] = math.fsum(kept_share(f, full) for f in frozen) / len(frozen)
        point["predicted"] = surviving_share(shares, point["m"])
        point["energy_predicted"] = surviving_share(energies, point["m"])
        point["uniform"] = 2.0 ** -point["m"]
        point["unexplained"] = _over_effect(point["kept_mean"], point, 2 * point["kept_se"])
        point["subsets"] = [list(d) for d in point["subsets"]]
    return {"lam": lam, "seed": spec.seed, "n": n, "curve": curve, "paths_error": worst_paths,
            "intact_error": intact["error"],
            "signed_shares": shares, "energy_shares": energies}


def _relative(a: torch.Tensor, b: torch.Tensor, full: torch.Tensor) -> float:
    """max over the batch of ||a - b|| / ||x_n||."""
    return ((a - b).flatten(1).norm(dim=1) / full.flatten(1).norm(dim=1)).max().item()


def _over_effect(value: float, point: dict, allowance: float = 0.0) -> float:
    """|value - predicted| beyond ``allowance``, over the predicted lesion effect |1 - predicted|."""
    miss = max(0.0, abs(value - point["predicted"]) - allowance)
    return miss / max(abs(1.0 - point["predicted"]), 1e-300)


@register("R2", needs=lesion_specs)
def r2_lesion(ctx) -> list[CheckResult]:
    """Lesions of trained ReLU MLPs: frozen gates exactly, real gates against the prediction
    (over independently trained models per lam)."""
    studies = {lam: [_study(ctx, lam, spec.seed) for spec in lesion_specs(ctx, lam)]
               for lam in LESION_LAMS}
    every = [s for group in studies.values() for s in group]
    plot = _plot(ctx, [group[0] for group in studies.values()])
    return [_paths_row(every), _mean_row(every)] + [_real_row(group, plot)
                                                    for group in studies.values()]


def _paths_row(studies) -> CheckResult:
    worst = max(s["paths_error"] for s in studies)
    return CheckResult(
        "R2", f"lesion with frozen gates (trained MLPs, depth {TRAINED_DEPTH}, lam in "
        f"{list(LESION_LAMS)}, every set D of deleted blocks): the frozen tower = the sum of the "
        "paths avoiding D; max ||difference|| / ||x_n||", "exact", 0.0, worst, worst,
        Criterion("max relative error", "<=", EXACT_TOL),
        exact_power(EXACT_TOL, "relative defect (e.g. a path through a deleted block kept)"))


def _mean_row(studies) -> CheckResult:
    """Mean frozen kept share over all m-sets = sum_k rho_k(m) s_k; power: the energy shares."""
    exhaustive = [p for s in studies for p in s["curve"] if p["exhaustive"]]
    worst = max(abs(p["frozen_kept"] - p["predicted"]) for p in exhaustive)
    energy = min(max(abs(p["energy_predicted"] - p["frozen_kept"]) for p in s["curve"]
                     if p["exhaustive"]) for s in studies)
    return CheckResult(
        "R2", "lesion with frozen gates, mean over all C(n, m) sets of m deleted blocks: kept "
        "share <x'_n, x_n>/||x_n||^2 = sum_k C(n-m,k)/C(n,k) s_k in the signed shares s_k "
        "(max over lam and m of |difference|)", "exact", 0.0, worst, worst,
        Criterion("max |mean frozen kept share - prediction|", "<=", EXACT_TOL),
        Power("the energy shares ||y_k||^2 / sum_j ||y_j||^2 in place of the signed shares: "
              "their prediction's miss (smallest over the two networks)", energy, ">", EXACT_TOL),
        details={"points": len(exhaustive)})


def _real_row(studies: list[dict], plot: str | None) -> CheckResult:
    """The real lesion's kept share against the frozen-gate spectrum prediction, over the
    independently trained models of one lam: per model u_k = max_m unexplained share of the
    lesion effect (|kept - predicted| beyond 2 SE over the deletion sets, 0 SE when all sets
    were measured, over |1 - predicted|) and w_k = max_m the uniform law's miss |2^-m -
    predicted| / |1 - predicted|. Statistic: the lower end of the 95% t-interval of mean u_k
    (fails when the spectrum resolvedly leaves at least LESION_UNEXPLAINED of the effect
    unexplained); informative when the interval of u lies below LESION_UNEXPLAINED and the
    uniform law's interval above it (power value: the smaller of the two margins, > 0)."""
    unexplained = [max(p["unexplained"] for p in s["curve"]) for s in studies]
    uniform = [max(_over_effect(p["uniform"], p) for p in s["curve"]) for s in studies]
    u, w = t_z(unexplained), t_z(uniform)
    margin = min(LESION_UNEXPLAINED - u["upper"], w["lower"] - LESION_UNEXPLAINED)
    first = studies[0]["curve"][0]
    details = {"seeds": [s["seed"] for s in studies], "per_model_unexplained": unexplained,
               "per_model_uniform_miss": uniform, "unexplained_interval": [u["lower"], u["upper"]],
               "uniform_interval": [w["lower"], w["upper"]],
               "curve": studies[0]["curve"], "intact_error": studies[0]["intact_error"],
               "signed_shares": studies[0]["signed_shares"],
               "energy_shares": studies[0]["energy_shares"],
               "energy_alternative": [max(_over_effect(p["energy_predicted"], p)
                                          for p in s["curve"]) for s in studies]}
    return CheckResult(
        "R2", f"real lesion (Veit et al.; gates recomputed), trained MLP lam = "
        f"{studies[0]['lam']}, {len(studies)} independently trained models: kept share after m "
        "random deletions vs the spectrum's sum_k C(n-m,k)/C(n,k) s_k (statistic: lower end of "
        f"the 95% t-interval over models of the unexplained share of the lesion effect, max "
        f"over m; interval [{u['lower']:.3g}, {u['upper']:.3g}]; values at m = 1 of the first "
        "model)", "empirical", first["predicted"], first["kept_mean"], max(0.0, u["lower"]),
        Criterion("lower 95% bound of mean_k max_m |kept - predicted| (beyond 2 SE) / "
                  "|1 - predicted|", "<", LESION_UNEXPLAINED),
        Power(f"the uniform law over paths, kept share 2^-m (its miss over the effect, 95% "
              f"interval [{w['lower']:.3g}, {w['upper']:.3g}] over models) must lie above "
              f"{LESION_UNEXPLAINED} and the spectrum's unexplained share below it (value: the "
              "smaller margin)", margin, ">", 0.0),
        details=details, plot=plot)


def _plot(ctx, studies) -> str | None:
    """Per network: measured kept share (range over the sets) against the prediction with the
    criterion's band, the uniform law and the energy-share formula; last panel: test error."""
    path = ctx.plot_path("R2_lesion.png")
    if path is None:
        return None
    fig, axes = plt.subplots(1, len(studies) + 1, figsize=(4.2 * (len(studies) + 1), 3.8))
    for ax, study in zip(axes, studies):
        curve = study["curve"]
        ms = [p["m"] for p in curve]
        pred = [p["predicted"] for p in curve]
        band = [LESION_UNEXPLAINED * abs(1 - v) for v in pred]
        ax.fill_between(ms, [v - b for v, b in zip(pred, band)], [v + b for v, b in zip(pred, band)],
                        color="C2", alpha=0.15, label=f"criterion: miss < {LESION_UNEXPLAINED} x effect")
        ax.plot(ms, pred, "-", color="C2", label=r"prediction $\Sigma_k \rho_k(m)\, s_k$ (signed)")
        ax.plot(ms, [p["energy_predicted"] for p in curve], ":", color="C4",
                label="energy shares in place of signed")
        ax.plot(ms, [p["uniform"] for p in curve], "--", color="grey", label=r"uniform paths $2^{-m}$")
        low = [p["kept_mean"] - min(p["kept"]) for p in curve]
        high = [max(p["kept"]) - p["kept_mean"] for p in curve]
        ax.errorbar(ms, [p["kept_mean"] for p in curve], yerr=[low, high], fmt="o", color="C0",
                    capsize=3, ms=4, label="measured (mean; bars: range over sets)")
        statistic = max(p["unexplained"] for p in curve)
        uniform = max(_over_effect(p["uniform"], p) for p in curve)
        verdict = ("the uniform law would miss" if uniform >= LESION_UNEXPLAINED
                   else "inconclusive: the uniform law fits too")
        ax.set_title(f"lam = {study['lam']}: unexplained {statistic:.3f} (criterion < "
                     f"{LESION_UNEXPLAINED})\nuniform law's miss {uniform:.2f}: {verdict}",
                     fontsize=8.5)
        ax.set_xlabel("deleted blocks m")
        ax.set_ylabel(r"signed kept share $\langle x_n', x_n\rangle / \|x_n\|^2$")
        ax.set_xticks(ms)
        ax.legend(fontsize=6.5)
    error_ax = axes[-1]
    for study, colour in zip(studies, ("C0", "C3")):
        curve = study["curve"]
        error_ax.plot([0] + [p["m"] for p in curve],
                      [study["intact_error"]] + [p["error"] for p in curve],
                      "o-", color=colour, ms=4, label=f"lam = {study['lam']}")
    error_ax.set_xlabel("deleted blocks m")
    error_ax.set_ylabel("test error (misclassification)")
    error_ax.set_title("lesioned test error (not judged)", fontsize=9)
    error_ax.legend(fontsize=7)
    fig.suptitle("R2 lesion (Veit et al.): real lesions, gates recomputed, against the "
                 "frozen-gate spectrum", fontsize=10)
    return save_figure(fig, path)
