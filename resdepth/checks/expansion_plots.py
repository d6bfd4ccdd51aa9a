"""The depth-expansion figures that ``resdepth validate`` (D2, D5) and ``resdepth expand`` share."""

from resdepth.plots import plain_log_axis, plt, save_figure

__all__ = ["comparison_figure", "line_search_figure"]


def line_search_figure(path, steps, curves, chosen, test, grad_norm) -> str:
    """D2's line search: left, R(t u) on train and held-out data over all steps (log t axis,
    t = 0 at the left); right, the decisive region t < 0.05: the decrease R(0) - R(t u) against
    the first-order prediction t ||G_train||."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    ts = [steps[1] / 3] + list(steps[1:])
    for name, risks in curves.items():
        left.plot(ts, risks, marker="o", label=name)
    left.axvline(chosen, color="0.5", ls="--", label=f"step chosen on train (t = {chosen:g})")
    left.axvspan(ts[0] / 1.5, 0.05, color="C2", alpha=0.08, lw=0, label="decisive region t < 0.05")
    left.set_xscale("log")
    left.set_xticks(ts, ["0"] + [f"{t:g}" for t in steps[1:]])
    left.minorticks_off()
    left.set_xlabel("t  (V = t u, u = -G_train/||G_train||; first point is t = 0)")
    left.set_ylabel("risk (MSE)")
    left.legend(fontsize="small")
    small = [k for k, t in enumerate(steps) if 0 < t < 0.05]
    for name, risks in curves.items():
        right.plot([steps[k] for k in small], [risks[0] - risks[k] for k in small], marker="o",
                   label=f"{name}: R(0) - R(t u)")
    right.plot([steps[k] for k in small], [grad_norm * steps[k] for k in small], "k--",
               label="first order t ||G_train||")
    right.axhline(0.0, color="0.5", lw=0.8)
    right.set_xscale("log")
    plain_log_axis(right.xaxis, subs=(1.0, 3.0))
    right.set_xlabel("t (decisive region)")
    right.set_ylabel("decrease of the risk (MSE)")
    right.legend(fontsize="small")
    verdict = "observed" if test["observed"] else "not observed"
    fig.suptitle(f"D2: jumpboard line search; split test z = {test['z']:.2f} ({verdict})",
                 fontsize="medium")
    return save_figure(fig, path)


def comparison_figure(path, points, loss_name: str = "MSE") -> str:
    """D5's comparison: test loss per method with t-intervals over seeds, and the difference
    train-longer - expanded that the verdicts read, per point (observed points coloured).

    Each point has ``label``, ``seeds``, ``z``, ``observed``, ``diverged``, ``diff`` and
    ``{old,expanded,longer,scratch}_test`` as (mean, lower, upper)."""
    good = [p for p in points if not p["diverged"]]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(7.0, 1.2 * len(good) + 3), 7),
                                      sharex=True)
    xs = list(range(len(good)))
    styles = (("old", "old model (before)", "_", "0.4"), ("expanded", "expand then train", "o", "C0"),
              ("longer", "old model trained longer", "s", "C1"),
              ("scratch", "deeper from scratch", "^", "C3"))
    for offset, (key, label, marker, colour) in zip((-0.24, -0.08, 0.08, 0.24), styles,
                                                    strict=True):
        means = [p[f"{key}_test"][0] for p in good]
        err = [[min(p[f"{key}_test"][0] - p[f"{key}_test"][1], 0.9 * p[f"{key}_test"][0])
                for p in good],  # a t-interval reaching below 0 is cut on the log axis
               [p[f"{key}_test"][2] - p[f"{key}_test"][0] for p in good]]
        top.errorbar([x + offset for x in xs], means, yerr=err, fmt=marker, color=colour,
                     capsize=3, label=label)
    top.set_yscale("log")
    top.set_ylabel(f"test risk ({loss_name}), 95% t-interval\n(cut at 0.1 x mean)")
    top.set_title(f"D5: expand-then-train against the alternatives ({good[0]['seeds'] if good else 0}"
                  " seeds per point)", fontsize="medium")
    top.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for x, p in zip(xs, good, strict=True):
        mean, lo, hi = p["diff"]
        colour = "C2" if p["observed"] else "0.5"
        bottom.errorbar([x], [mean], yerr=[[mean - lo], [hi - mean]], fmt="o", color=colour,
                        capsize=4)
        seeds = p.get("seed_diffs", [])
        bottom.plot([x + 0.12] * len(seeds), seeds, ".", color=colour, alpha=0.5, ms=4)
    bottom.axhline(0.0, color="k", lw=0.8)
    bottom.plot([], [], "o", color="C2", label="D2 condition observed")
    bottom.plot([], [], "o", color="0.5", label="not observed")
    bottom.plot([], [], ".", color="0.3", alpha=0.5, label="one seed")
    bottom.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    bottom.set_ylabel(f"{loss_name}(longer) - {loss_name}(expanded)\n> 0: expansion better")
    bottom.set_xticks(xs, [f"{p['label']}\nz = {p['z']:.1f}" for p in good], fontsize="small")
    return save_figure(fig, path)


