"""Plots of a traced real model: signal propagation, path-length spectrum, lesions (matplotlib, Agg)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from resdepth.plots import save_figure

__all__ = ["plot_lesions", "plot_signal", "plot_spectrum_shares"]


def plot_signal(profile: dict, init_profile: dict | None, path: Path, title: str) -> str:
    """||x_i|| along the stream (trained and at initialisation) and each block's effective lam."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    curves = [("given weights", profile)] + ([("at initialisation", init_profile)]
                                             if init_profile else [])
    for label, prof in curves:
        left.plot(range(len(prof["stream_norms"])), prof["stream_norms"], "o-", label=label)
        right.plot(range(1, len(prof["effective_lam"]) + 1), prof["effective_lam"], "o-",
                   label=label)
    left.set_xlabel("block i")
    left.set_ylabel("rms ||x_i|| per example")
    left.set_title("signal along the residual stream (S2/S3)", fontsize="medium")
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
    """Signed shares (sum to 1) and energy shares by path length."""
    ks = range(spectrum.depth + 1)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.bar([k - 0.2 for k in ks], spectrum.signed_shares(), width=0.4,
           label="signed share <y_k, out>/||out||^2 (sums to 1)")
    ax.bar([k + 0.2 for k in ks], spectrum.energy_fractions(), width=0.4,
           label="energy share ||y_k||^2 / sum ||y_j||^2")
    ax.set_xlabel("path length k (branches taken)")
    ax.set_ylabel("share")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"{title}\nmax rel. error {spectrum.max_rel_error():.1e}", fontsize="medium")
    ax.legend(fontsize="small")
    return save_figure(fig, path)


def plot_lesions(study: dict, path: Path, title: str, verdict: str) -> str:
    """Single-block lesions (measured vs frozen) and the kept share after m deletions."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    singles = study["singles"]
    blocks = [s["block"] for s in singles]
    left.plot(blocks, [s["measured_change"] for s in singles], "o-", label="measured")
    left.plot(blocks, [s["frozen_change"] for s in singles], "s--", label="frozen gates (exact)")
    left.set_xlabel("deleted block i")
    left.set_ylabel("||out' - out|| / ||out||")
    left.legend(fontsize="small")
    curve = study["curve"]
    ms = [c["m"] for c in curve]
    right.errorbar(ms, [c["kept_measured"] for c in curve],
                   yerr=[2 * c["kept_measured_se"] for c in curve], fmt="o", capsize=2,
                   label="measured (±2 SE)")
    right.plot(ms, [c["kept_predicted"] for c in curve], "s-", label="spectrum prediction")
    right.plot(ms, [c["kept_uniform"] for c in curve], "x:", label="uniform over paths")
    right.set_xlabel("m random blocks deleted")
    right.set_ylabel("kept share <out', out> / ||out||^2")
    right.set_title(f"verdict: {verdict}", fontsize="medium")
    right.legend(fontsize="small")
    for ax in (left, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title, fontsize="medium")
    return save_figure(fig, path)
