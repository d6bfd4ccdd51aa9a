"""Plots of a traced real model: signal propagation, path-length spectrum, lesions (matplotlib, Agg)."""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from resdepth.plots import save_figure

__all__ = ["fitted_binomial", "lesion_misses", "plot_lesions", "plot_norms_by_length", "plot_signal",
           "plot_spectrum_shares"]


def signal_curves(profile: dict) -> dict:
    """Block by block, the cumulative log energy of the stream, sum_{j<=i} log
    ||s_j + f_j||^2/||s_j||^2 (measured), and S2's laws for it, sum_{j<=i} log(1 + q_j^2)
    (branches orthogonal to the skip, q_j = ||f_j|| / ||s_j||) and sum_{j<=i} 2 log(1 + q_j)
    (aligned); i = 0..n, ending at block n's sum (x_n before any final normalisation). Also
    the row's statistic |log measured - log orthogonal| and its threshold half the gap."""
    import math

    measured, orthogonal, aligned = [0.0], [0.0], [0.0]
    for ratio, q in zip(profile["energy_ratios"], profile["branch_to_skip"]):
        measured.append(measured[-1] + math.log(ratio))
        orthogonal.append(orthogonal[-1] + math.log1p(q * q))
        aligned.append(aligned[-1] + 2 * math.log1p(q))
    return {"measured": measured, "orthogonal": orthogonal, "aligned": aligned,
            "statistic": abs(profile["log_measured"] - profile["log_orthogonal"]),
            "threshold": (profile["log_aligned"] - profile["log_orthogonal"]) / 2}


def plot_signal(profile: dict, init_profile: dict | None, path: Path, title: str,
                verdict: str | None = None) -> str:
    """S2/S3 as the row decides it: the stream's cumulative log energy block by block up to
    x_n against the orthogonal-branch law and the aligned law (the row passes when the end
    point is nearer the orthogonal law than half their gap; both numbers in the title); and
    each block's effective lam_i (given weights and at initialisation)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.9))
    found = signal_curves(profile)
    blocks = range(len(found["measured"]))
    left.plot(blocks, found["measured"], "o-", color="C0", label="measured, given weights")
    left.plot(blocks, found["orthogonal"], "--", color="C1",
              label="orthogonal law sum log(1 + q_j^2)")
    left.plot(blocks, found["aligned"], ":", color="C3", label="aligned law sum 2 log(1 + q_j)")
    left.set_xlabel("block i (the last point is block n's sum, x_n)")
    left.set_ylabel("sum_{j<=i} log ||s_j + f_j||^2 / ||s_j||^2")
    said = f"verdict: {verdict}; " if verdict else ""
    left.set_title(f"{said}|log meas. - log orth.| = {found['statistic']:.3g} "
                   f"(< {found['threshold']:.3g} passes)", fontsize="medium")
    curves = [("given weights", profile)] + ([("at initialisation", init_profile)]
                                             if init_profile else [])
    for label, prof in curves:
        right.plot(range(1, len(prof["effective_lam"]) + 1), prof["effective_lam"], "o-",
                   label=label)
    right.set_xlabel("block i")
    right.set_ylabel("effective lam_i = ||f_i|| / ||x_{i-1}||")
    right.set_yscale("log")
    right.set_title(f"S4: {profile['regime']['regime']}", fontsize="medium")
    for ax in (left, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize="small")
    fig.suptitle(title, fontsize="medium")
    return save_figure(fig, path)


def plot_spectrum_shares(spectrum, path: Path, title: str) -> str:
    """Signed shares (sum to 1) and energy shares by path length; the title carries the R2 row's
    number, the split's max relative error, against its tolerance; lengths below the rounding
    floor (:mod:`numerics.probes.rounding`) are marked, not drawn as shares."""
    from numerics.probes.rounding import below_floor
    from resdepth.real.rows import EXACT_TOL as EXACT_TOL_REAL

    ks = range(spectrum.depth + 1)
    below = below_floor(spectrum)
    signed = [0.0 if b else v for v, b in zip(spectrum.signed_shares(), below)]
    energy = [0.0 if b else v for v, b in zip(spectrum.energy_fractions(), below)]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.bar([k - 0.2 for k in ks], signed, width=0.4,
           label="signed share <y_k, out>/||out||^2 (sums to 1)")
    ax.bar([k + 0.2 for k in ks], energy, width=0.4,
           label="energy share ||y_k||^2 / sum ||y_j||^2")
    floor = [k for k in ks if below[k]]
    if floor:
        ax.plot(floor, [0.0] * len(floor), "v", color="grey", mfc="none",
                label="below the rounding floor (not measured)")
    ax.set_xlabel("path length k (branches taken)")
    ax.set_ylabel("share")
    ax.xaxis.get_major_locator().set_params(integer=True)
    error = spectrum.max_rel_error()
    said = "exact" if error <= EXACT_TOL_REAL else "NOT exact"
    ax.set_title(f"{title}\nR2: max ||sum_k y_k - out|| / ||out|| = {error:.1e} "
                 f"(tolerance {EXACT_TOL_REAL:g}: {said})", fontsize="medium")
    ax.legend(fontsize="small")
    return save_figure(fig, path)


def lesion_misses(study: dict, unexplained: float) -> dict:
    """Per m: the prediction minus the measurement of the kept share, its band
    (:func:`~resdepth.real.rows.lesion_spread`: Z SE, widened for few draws), and the allowed
    miss band + ``unexplained``
    |1 - predicted| (the row passes when every miss is inside it, decided); ``statistic``, the
    row's max unexplained share of the lesion effect beyond Z SE."""
    from resdepth.real.rows import ZERO_EFFECT, lesion_spread

    curve = study["curve"]
    miss = [c["kept_predicted"] - c["kept_measured"] for c in curve]
    band = [lesion_spread(c) for c in curve]
    effect = [max(abs(1 - c["kept_predicted"]), ZERO_EFFECT) for c in curve]
    allowed = [b + unexplained * e for b, e in zip(band, effect)]
    shares = [max(0.0, abs(m) - b) / e for m, b, e in zip(miss, band, effect)]
    return {"m": [c["m"] for c in curve], "miss": miss, "band": band, "allowed": allowed,
            "statistic": max(shares)}


def plot_lesions(study: dict, path: Path, title: str, verdict: str) -> str:
    """Single-block lesions, measured vs frozen (``resdepth lesion``; ``probe`` skips them for
    speed and shows instead each drawn set's measured kept share against its first-order frozen
    lesion 1 - sum_{i in D} a_i: the control variate); the kept share after m deletions, measured and predicted; and, on its own scale,
    prediction - measurement with its Z-SE band and the miss the criterion allows (Z SE +
    UNEXPLAINED |1 - predicted|): the number the verdict is decided on, in the title."""
    from resdepth.real.rows import LESION_Z, UNEXPLAINED

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 3.9))
    singles = study["singles"]
    curve = study["curve"]
    if singles:
        blocks = [s["block"] for s in singles]
        left.plot(blocks, [s["measured_change"] for s in singles], "o-", label="measured")
        left.plot(blocks, [s["frozen_change"] for s in singles], "s--",
                  label="frozen gates (exact)")
        _label(left, "deleted block i", "||out' - out|| / ||out||", "single-block lesions")
    else:
        for c in curve:
            left.plot(c["control_each"], c["kept_each"], "o", ms=4,
                      label=f"m = {c['m']} ({c['draws']} sets)")
        every = [v for c in curve for v in c["control_each"] + c["kept_each"]]
        left.plot([min(every), max(every)], [min(every), max(every)], ":", color="grey", lw=0.8)
        _label(left, "first-order frozen lesion 1 - sum a_i (the control)",
               "kept share, gates recomputed", "each drawn deletion set")
    ms = [c["m"] for c in curve]
    found = lesion_misses(study, UNEXPLAINED)
    band = [b if math.isfinite(b) else 0.0 for b in found["band"]]  # < 4 draws: no band
    allowed = [a if math.isfinite(a) else 0.0 for a in found["allowed"]]
    middle.errorbar(ms, [c["kept_measured"] for c in curve], yerr=band, fmt="o",
                    capsize=2, label=f"measured (±{LESION_Z:g} SE)")
    middle.plot(ms, [c["kept_predicted"] for c in curve], "s-", label="spectrum prediction")
    middle.plot(ms, [c["kept_uniform"] for c in curve], "x:", label="uniform over paths")
    _label(middle, "m random blocks deleted", "kept share <out', out> / ||out||^2", "kept share")
    right.axhline(0.0, color="grey", lw=0.8)
    right.fill_between(ms, [-a for a in allowed], allowed, color="C2",
                       alpha=0.15, label=f"allowed: {LESION_Z:g} SE + {UNEXPLAINED:g} "
                       "|1 - predicted|")
    right.errorbar(ms, found["miss"], yerr=band, fmt="o-", color="C3", capsize=3,
                   label=f"predicted - measured (±{LESION_Z:g} SE)")
    worst = max(range(len(ms)), key=lambda i: abs(found["miss"][i]))
    right.annotate(f"{found['miss'][worst]:+.2g}", (ms[worst], found["miss"][worst]),
                   textcoords="offset points", xytext=(-10, -14), ha="right", fontsize="small",
                   color="C3")
    last = curve[-1]
    middle.text(0.02, 0.04, f"m = {last['m']}: predicted {last['kept_predicted']:.6g}, "
                f"measured {last['kept_measured']:.6g}", transform=middle.transAxes,
                fontsize="small")
    right.set_xlabel("m random blocks deleted")
    right.set_ylabel("kept share: predicted - measured")
    right.set_title(f"verdict: {verdict}; unexplained share {found['statistic']:.3g} "
                    f"(< {UNEXPLAINED:g} passes)", fontsize="medium")
    right.legend(fontsize="small")
    for ax in (left, middle, right) if singles else (middle, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title, fontsize="medium")
    return save_figure(fig, path)


def fitted_binomial(norms: list) -> tuple[float, list[float]] | None:
    """The binomial law rms ||y_k||^2 = A C(n, k) q^k fitted by least squares in log space to the
    measured terms (None entries, below the rounding floor, and zeros left out): (q, the law's
    rms norms for k = 0..n); None with fewer than two terms to fit."""
    import math

    import numpy as np

    n = len(norms) - 1
    ks = [k for k, v in enumerate(norms) if v is not None and v > 0]
    if len(ks) < 2:
        return None
    y = np.array([2 * math.log(norms[k]) - math.log(math.comb(n, k)) for k in ks])
    slope, intercept = np.polyfit(np.array(ks, dtype=float), y, 1)
    law = [math.exp(0.5 * (intercept + math.log(math.comb(n, k)) + slope * k))
           for k in range(n + 1)]
    return math.exp(slope), law


def plot_norms_by_length(payload: dict, path, title: str):
    """R2: rms ||y_k|| by path length on a log scale, with the law it is compared with (S2's
    binomial law at initialisation when the payload has ``binomial_shares``, else the binomial
    law fitted to the measured terms), the rounding floor as a line and the terms below it
    marked at the floor (not measurements). Returns the figure's path."""
    import math

    norms = payload["norms_by_length"]
    floor = payload.get("rounding_floor")
    ks = list(range(len(norms)))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    shown = [(k, v) for k, v in zip(ks, norms) if v is not None and v > 0]
    ax.plot([k for k, _ in shown], [v for _, v in shown], "o", color="C0", zorder=3,
            label="measured rms ||y_k||")
    if payload.get("binomial_shares") is not None:
        total = math.sqrt(sum(v * v for v in norms if v is not None))
        law = [total * math.sqrt(s) for s in payload["binomial_shares"]]
        label = "binomial law (S2, init): sqrt(C(n,k) q^k / (1+q)^n sum_j ||y_j||^2)"
    else:
        fit = fitted_binomial(norms)
        law = None if fit is None else fit[1]
        label = None if fit is None else f"binomial law fitted: A C(n,k) q^k, q = {fit[0]:.3g}"
    if law is not None:
        keep = [(k, v) for k, v in zip(ks, law) if v > 0]
        ax.plot([k for k, _ in keep], [v for _, v in keep], "-", color="C1", label=label)
    below = [k for k, v in zip(ks, norms) if v is None or v == 0]
    if floor:
        ax.axhline(floor, color="grey", ls="--", lw=1,
                   label=f"rounding floor (n+1) eps sum ||y_k|| = {floor:.1e}")
        if below:
            ax.plot(below, [floor] * len(below), "v", color="grey", mfc="none",
                    label=f"below the floor (k = {_span(below)}): not measured")
    ax.set_yscale("log")
    ax.set_xlabel("path length k (branches taken)")
    ax.set_ylabel("rms ||y_k|| over the inputs")
    ax.xaxis.get_major_locator().set_params(integer=True)
    error = payload.get("max_rel_error")
    extra = "" if error is None else f"; max ||sum_k y_k - out|| / ||out|| = {error:.1e}"
    ax.set_title(f"{title}{extra}", fontsize="small")
    ax.legend(fontsize="x-small")
    return save_figure(fig, path)


def _span(ks: list[int]) -> str:
    return str(ks[0]) if len(ks) == 1 else f"{ks[0]}..{ks[-1]}"


def _label(ax, xlabel: str, ylabel: str, title: str) -> None:
    """Axis labels, a medium title and a small legend: one lesion panel's dressing."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small")
