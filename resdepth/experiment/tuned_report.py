"""Outputs of the pre-registered experiment: results.json, report.md, runs.json and plots.

``results.json`` has validate's schema with the S7 rows; its meta carries ``plan_sha256`` (the
sha256 of docs/S7_plan.md when the runs were analysed) and ``design``: the grid, whether the run
follows the plan (``registered``: the registered grid, seeds and rules, no overrides) or is
exploratory, and each rule's tuning budget (rates tried per depth, the rate chosen on the
validation split, censored or not). Every row's details say ``plan: registered|exploratory``.
"""

import json
import math
from dataclasses import asdict, replace

from resdepth.experiment import gradients, plots
from resdepth.experiment.report import _rows_markdown, rule_depth_markdown
from resdepth.plots import plt, save_figure
from resdepth.report import counts, results_json

__all__ = ["write_all"]

PLOTS = ("accuracy_vs_depth.png", "gc_vs_lam.png", "lr_sweep.png", "block_gradients.png")


def _tuning(table) -> dict:
    return {f"{rule} @ {depth}": {"rates": cell["rates"], "chosen": cell["lr"],
                                  "censored": cell["censored"], "val_acc": cell["val"]}
            for (rule, depth), cell in table.items()}


def meta(result) -> dict:
    import platform

    import numpy
    import torch

    from resdepth import __version__

    s = result.settings
    return {
        "resdepth": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": numpy.__version__, "platform": platform.platform(),
        "mode": "quick" if result.grid == "quick" else "full",  # the schema's modes; grid: design
        "seed": s.seed, "device": result.device, "strict": False, "labels": ["S7"],
        "backend": s.backend, "workers": s.workers, "config": None, "started": result.started,
        "wall_time_s": round(result.wall_time_s, 3), "check_wall_time_s": {},
        "training_runs": {"trained": result.trained, "reused": 0, "failed": len(result.errors)},
        "counts": counts([r.as_dict() for r in result.rows]),
        "plan_sha256": result.plan_sha256,
        "design": {"dataset": s.dataset, "arch": result.budget.arch, "grid": result.grid,
                   "registered": result.registered, "budget": asdict(result.budget),
                   "tau": result.tau, "n_a": result.n_a, "x0_energy": result.x0_energy,
                   "tuning": _tuning(result.table)},
    }


def table_markdown(table) -> str:
    """rule x depth: test accuracy (%) +- 95% t half-width, the rate chosen on validation."""

    def cell_text(rule, c):
        i = c["interval"]
        text = f"{100 * i.mean:.1f} ± {100 * min(i.half, 1):.1f} (lr {c['lr']:.2g}"
        return text + (", censored)" if c["censored"] else ")")

    return rule_depth_markdown(table, cell_text, "depth ")


def _budget_markdown(table) -> str:
    lines = ["| rule | depth | rates tried (validation) | chosen | mean val acc | censored |",
             "|---|---|---|---|---|---|"]
    for (rule, depth), c in table.items():
        lines.append(f"| {rule} | {depth} | {', '.join(f'{r:.2g}' for r in c['rates'])} | "
                     f"{c['lr']:.2g} | {100 * c['val']:.1f} | {c['censored']} |")
    return "\n".join(lines)


def gc_vs_lam(records, path) -> str:
    from resdepth.experiment.plan_rows import gc_points

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for depth, curve in gc_points(records, -math.inf).items():
        lams = [lam for lam, _ in curve]
        means = [sum(v.values()) / len(v) for _, v in curve]
        ax.plot(lams, means, marker="o", label=f"depth {depth}")
    ax.set_xscale("log")
    ax.set_xlabel("lam = n^(-beta)")
    ax.set_ylabel("log10 GC after training (mean over seeds)")
    ax.set_title("S7(e): GC after training against lam", fontsize="medium")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small")
    return save_figure(fig, path)


def lr_sweep(records, path) -> str:
    from resdepth.experiment.selection import sweep_best

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    cells = sorted({(r["rule"], r["depth"]) for r in records if r["group"] == "sweep"})
    for rule, depth in cells:
        best, means = sweep_best(records, rule, depth)
        line, = ax.plot(list(means), list(means.values()), marker="o",
                        ls="-" if rule == "mup" else "--", label=f"{rule}, depth {depth}")
        ax.plot([best], [means[best]], "*", ms=12, color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("base learning rate")
    ax.set_ylabel("final training loss (mean over seeds)")
    ax.set_title("S7(f): depth-muP (solid) and constant lam = 1/2 (dashed); * = best",
                 fontsize="medium")
    if cells:
        ax.legend(fontsize="x-small", ncols=2)
    return save_figure(fig, path)


def _tag(rows, registered: bool) -> list:
    tag = "registered" if registered else "exploratory"
    return [replace(r, details={**r.details, "plan": tag},
                    **({} if r.criterion is None else {"verdict": None})) for r in rows]


def write_all(result, sweep_cells: dict) -> None:
    out = result.settings.out_dir
    result.rows = _tag(result.rows, result.registered)
    rows = [r.as_dict() for r in result.rows]
    plots.accuracy_vs_depth(result.table, result.tau, 0.1, out / PLOTS[0])
    gc_vs_lam(result.records, out / PLOTS[1])
    lr_sweep(result.records, out / PLOTS[2])
    gradients.gradient_plot(result.records, result.table, out / PLOTS[3])
    (out / "results.json").write_text(results_json(rows, meta(result)), encoding="utf-8")
    (out / "runs.json").write_text(json.dumps(result.records, indent=1, allow_nan=False) + "\n",
                                   encoding="utf-8")
    b, s = result.budget, result.settings
    status = ("**registered**: the grid, seeds and rules of docs/S7_plan.md" if result.registered
              else "**exploratory**: the grid, seeds or rules differ from docs/S7_plan.md")
    sweep = "; ".join(f"{r} @ {d}: best {c:.2g}{' (censored)' if cen else ''}"
                      for (r, d), (_, c, cen) in sweep_cells.items())
    parts = [
        f"# S7 (pre-registered design): {s.dataset}, arch {b.arch}, grid {result.grid}", "",
        f"Plan sha256 {result.plan_sha256}; these rows are {status}.", "",
        f"Depths {list(b.depths)} ({'blocks per stage, n = 3 depth' if b.arch == 'resnet' else 'blocks'}), "
        f"width {b.width}, {b.n_train} training images (+ a validation split carved from the "
        f"training set), {b.epochs} epochs at batch {b.batch_size}, AdamW cosine, {b.seeds} seeds; "
        f"device {result.device}, {s.workers} worker(s); {result.trained} runs trained; "
        f"{result.wall_time_s:.0f} s.", "",
        f"S7(a)'s depth before training: E||x_0||^2 = {result.x0_energy:.4g}, n_a = "
        f"{result.n_a} blocks. tau = {result.tau:.3f}, halfway from chance to {result.ref:.3f}, "
        f"the best rule's mean validation accuracy at the smallest depth.", "",
        "## Test accuracy (%) ± 95% t interval over seeds, at the rate chosen on validation", "",
        table_markdown(result.table), "",
        "## Tuning budget (every rule: the same rates; an edge choice extends the grid)", "",
        _budget_markdown(result.table), "", f"S7(f) sweep: {sweep or 'not run'}.", "",
        "## S7 rows (Holm within each family)", "", _rows_markdown(rows), "",
        "## Underfitting analysis: signal and gradient per block (S7(d))", "",
        "At the rate each arm chose on validation, mean over seeds; gradients g_i = "
        "||dL/d theta_i|| of block i on one training batch, at initialisation and after "
        "training: log10(g_n/g_1) > 0 grows towards the output, < 0 vanishes; the spread is "
        "the decades between the largest and smallest block (block_gradients.png: the deepest "
        "depth).", "", gradients.gradient_markdown(result.records, result.table), "",
        "## Plots", ""]
    parts += [f"![{name}]({name})" for name in PLOTS]
    if result.errors:
        parts += ["", "## Runs that raised", ""] + [f"- {k}: {v}" for k, v in result.errors.items()]
    (out / "report.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
