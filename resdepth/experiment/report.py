"""The experiment's outputs: ``results.json`` (S7 rows), ``report.md``, ``runs.json``, plots.

``results.json`` has validate's schema (docs/results.schema.json): ``{"schema_version", "meta",
"rows"}`` with the S7 rows; ``runs.json`` holds one record per grid entry (rule, a, depth, seed,
lr, outcome, measurements at initialisation and after training); ``report.md`` the settings,
S7(a)'s prediction, the Table-1 analogue (accuracy +- 95% interval per rule and depth, diverged
counts), the rows and the plots.
"""

import json
import platform

from resdepth.experiment import plots
from resdepth.report import counts, criterion_text, power_text, results_json

__all__ = ["markdown", "meta", "table_markdown", "write_all"]


def meta(result) -> dict:
    """validate's meta block, for this experiment."""
    import numpy
    import torch

    from resdepth import __version__

    s = result.settings
    return {
        "resdepth": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": numpy.__version__, "platform": platform.platform(), "mode": s.mode,
        "seed": s.seed, "device": result.device, "strict": False, "labels": ["S7"],
        "backend": s.backend, "workers": s.workers, "config": None, "started": result.started,
        "wall_time_s": round(result.wall_time_s, 3), "check_wall_time_s": {},
        "training_runs": {"trained": result.trained, "reused": result.reused,
                          "failed": len(result.errors)},
        "counts": counts([r.as_dict() for r in result.rows]),
    }


def write_all(result) -> None:
    """Write the plots, results.json, runs.json and report.md into the output folder."""
    out = result.settings.out_dir
    rows = [r.as_dict() for r in result.rows]
    plots.accuracy_vs_depth(result.table, result.tau, 1.0 / result.classes, out / plots.PLOTS[0])
    plots.gc_vs_lam(result.records, result.tau, out / plots.PLOTS[1])
    plots.lr_sweep(result.records, out / plots.PLOTS[2], result.classes)
    plots.spectrum_shares(result.records, out / plots.PLOTS[3])
    (out / "results.json").write_text(results_json(rows, meta(result)), encoding="utf-8")
    (out / "runs.json").write_text(json.dumps(result.records, indent=1, allow_nan=False) + "\n",
                                   encoding="utf-8")
    (out / "report.md").write_text(markdown(result, rows), encoding="utf-8")


def rule_depth_markdown(table, cell_text, depth_label: str = "n = ") -> str:
    """A rules x depths Markdown table of ``table`` ((rule, depth) -> cell): each cell written by
    ``cell_text(rule, cell)``, then ``[diverged/runs diverged]`` where any run diverged; an empty
    cell where the grid has no entry."""
    depths = sorted({d for _, d in table})
    rules = list(dict.fromkeys(r for r, _ in table))
    lines = ["| rule | " + " | ".join(f"{depth_label}{d}" for d in depths) + " |",
             "|---|" + "---|" * len(depths)]
    for rule in rules:
        cells = []
        for d in depths:
            cell = table.get((rule, d))
            if cell is None:
                cells.append("")
                continue
            text = cell_text(rule, cell)
            if cell["diverged"]:
                text += f" [{cell['diverged']}/{cell['runs']} diverged]"
            cells.append(text)
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_markdown(table) -> str:
    """Rules x depths: mean accuracy +- 95% half-width, [diverged/runs] where any diverged."""

    def cell_text(rule, cell):
        i = cell["interval"]
        text = f"{100 * i.mean:.1f} ± {100 * i.half:.1f}"
        return text + (f" (a = {cell['a']:g})" if rule == "tuned" else "")

    return rule_depth_markdown(table, cell_text)


def _rows_markdown(rows: list[dict]) -> str:
    lines = ["| verdict | claim | prediction | measurement | statistic | criterion | power |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join([
            f"**{r['verdict']}**", r["claim"] + (f" ({r['reason']})" if r["reason"] else ""),
            _num(r["prediction"]), _num(r["measurement"]), _num(r["statistic"]),
            criterion_text(r["criterion"]), power_text(r["power"])]) + " |")
    return "\n".join(lines)


def _num(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def markdown(result, rows: list[dict]) -> str:
    """report.md (see the module docstring); ``rows`` are the S7 rows as dicts."""
    s, b = result.settings, result.budget
    settings = (f"mode {s.mode}, dataset {s.dataset}, depths {list(b.depths)}, "
                f"{b.seeds} seeds from {s.seed}, width {b.width}, {b.n_train} training examples, "
                f"{b.epochs} epochs at batch {b.batch_size}, AdamW lr {b.lr:g} (cosine), "
                f"lr sweep depths {list(b.sweep_depths)} x lrs {list(b.sweep_lrs)}; device "
                f"{result.device}, backend {s.backend} x {s.workers}; "
                f"{result.trained} runs trained, {result.reused} reused, "
                f"{len(result.errors)} failed; {result.wall_time_s:.0f} s")
    missing = sum(len(v) for v in result.missing.values()) if result.missing else 0
    if missing:
        settings += (f". **Partial**: {missing} grid entries not trained yet "
                     f"({', '.join(f'{k}: {len(v)}' for k, v in result.missing.items())}); "
                     f"cells show the seeds that finished")
    parts = [
        "# S7: trained depth scaling (resdepth experiment depth-scaling)", "", settings, "",
        "## S7(a)'s prediction, before training", "",
        f"E||x_0||^2 at initialisation = {result.x0_energy:.4g}; S2 gives "
        f"E||x_n||^2 = 2^n E||x_0||^2 for lam = 1, which exceeds float32's largest number at "
        f"n_a = {result.n_a}.", "",
        "## Table 1 analogue: final test accuracy (%) ± 95% interval over seeds", "",
        f"Diverged runs count at chance ({100 / result.classes:.0f}%). tau = {result.tau:.3f} (halfway from chance to "
        f"the best rule at the smallest depth, {result.ref:.3f}) is what \"trains\" means.", "",
        table_markdown(result.table), "",
        "## S7 rows", "", _rows_markdown(rows), "",
        "## Plots", "",
    ]
    parts += [f"![{name}]({name})" for name in plots.PLOTS]
    if result.errors:
        parts += ["", "## Runs that raised", ""] + [f"- {k}: {v}" for k, v in result.errors.items()]
    return "\n".join(parts) + "\n"
