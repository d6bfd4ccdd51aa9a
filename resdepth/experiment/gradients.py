"""Why the normalised baselines fall behind 1/sqrt(n) (S7(d)): the gradient per block.

Issue 24's underfitting analysis. For each (rule, depth) cell at the rate chosen on validation,
over its seeds (means), from :func:`resdepth.experiment.measure.measure`'s records at
initialisation and after training on one batch of the training set:

- the final training loss and the signal ratio ||x_n||^2 / ||x_0||^2;
- g_i = ||dL/d theta_i||_2 per block i, summarised as log10(g_n / g_1) (last over first block:
  > 0 the gradient grows towards the output, < 0 it vanishes towards it) and the spread
  max_i log10 g_i - min_i log10 g_i (orders of magnitude between the blocks);

for pre-LN, BatchNorm and 1/sqrt(n) (:data:`RULES`), and a plot of log10 g_i against the
block index i at the deepest depth (initialisation dashed, trained solid, mean over seeds).
Nothing here is a verdict: it is the measurement the report puts beside S7(d)'s row.
"""

import math

import numpy as np

from resdepth.plots import plt, save_figure

__all__ = ["RULES", "gradient_cells", "gradient_markdown", "gradient_plot"]

RULES = ("inv-sqrt", "pre-ln", "batch")


def _chosen_runs(records, table, rule, depth) -> list[dict]:
    lr = table[rule, depth]["lr"]
    return [r for r in records if r["group"] == "tune" and r["rule"] == rule
            and r["depth"] == depth and math.isclose(r["lr"], lr)]


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else None


def _at(run, when, key):
    return ((run.get("measurements") or {}).get(when) or {}).get(key)


def gradient_cells(records, table, rules=RULES) -> dict:
    """(rule, depth) -> means over the chosen cell's seeds (see the module docstring)."""
    out = {}
    for rule, depth in sorted(k for k in table if k[0] in rules):
        runs = _chosen_runs(records, table, rule, depth)
        cell = {"lr": table[rule, depth]["lr"], "seeds": len(runs),
                "train_loss": _mean(r["train_loss"] for r in runs)}
        for when in ("initial", "trained"):
            for key in ("signal_ratio", "grad_last_first", "grad_spread"):
                cell[f"{key}_{when}"] = _mean(_at(r, when, key) for r in runs)
        out[rule, depth] = cell
    return out


def _fmt(value, spec=".2f") -> str:
    return "–" if value is None else format(value, spec)


def gradient_markdown(records, table) -> str:
    """The report's table of :func:`gradient_cells`."""
    cells = gradient_cells(records, table)
    if not cells:
        return "No pre-LN, BatchNorm or 1/sqrt(n) cell was trained."
    lines = ["| rule | depth | lr | train loss | signal ratio init → trained | "
             "log10 g_n/g_1 init → trained | spread (decades) init → trained |",
             "|---|---|---|---|---|---|---|"]
    for (rule, depth), c in cells.items():
        lines.append(
            f"| {rule} | {depth} | {c['lr']:.2g} | {_fmt(c['train_loss'], '.3f')} | "
            f"{_fmt(c['signal_ratio_initial'], '.3g')} → {_fmt(c['signal_ratio_trained'], '.3g')}"
            f" | {_fmt(c['grad_last_first_initial'])} → {_fmt(c['grad_last_first_trained'])} | "
            f"{_fmt(c['grad_spread_initial'])} → {_fmt(c['grad_spread_trained'])} |")
    return "\n".join(lines)


def _curve(runs, when) -> np.ndarray | None:
    norms = [_at(r, when, "grad_norms") for r in runs]
    norms = [n for n in norms if n and all(v is not None and v > 0 for v in n)]
    return np.mean(np.log10(np.array(norms)), axis=0) if norms else None


def gradient_plot(records, table, path) -> str:
    """log10 ||dL/d theta_i|| against block i at the deepest depth, per rule of :data:`RULES`."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    depths = [d for r, d in table if r in RULES]
    depth = max(depths) if depths else None
    for rule in RULES:
        if (rule, depth) not in table:
            continue
        runs = _chosen_runs(records, table, rule, depth)
        color = None
        for when, style in (("trained", "-"), ("initial", "--")):
            curve = _curve(runs, when)
            if curve is None:
                continue
            line, = ax.plot(np.arange(1, len(curve) + 1), curve, ls=style, color=color,
                            label=f"{rule}, {'trained' if when == 'trained' else 'init'}")
            color = line.get_color()
    ax.set_xlabel("block i")
    ax.set_ylabel("log10 ||dL/d theta_i|| (mean over seeds)")
    ax.set_title(f"Gradient per block at depth {depth}: pre-LN, BatchNorm, 1/sqrt(n)",
                 fontsize="medium")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small")
    return save_figure(fig, path)
