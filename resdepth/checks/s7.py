"""Checks of S7 (trained depth scaling, empirical): paper 1's experiment inside validate.

``validate --quick`` trains a reduced grid, the rules that decide S7(a)-(c) (none, inv-sqrt, inv,
learnable, fixup) at the quick budget's two depths (16 and 256) and 3 seeds, and reports (d)-(f)
as skipped; full ``validate`` trains the experiment's ``--quick`` grid (every rule and the
learning-rate sweep) and reports all six. The full grid is ``resdepth experiment
depth-scaling``'s own. Divergence is part of S7(a)'s prediction, so the check is registered
with ``divergence_ok``: it reads each run's ``diverged`` flag (a diverged run counts at chance,
its losses are never used) and validate adds no diverged row.
"""

from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import row_error
from resdepth.experiment.grid import BUDGETS, RULES, plan

GC_RULES = ("none", "inv-sqrt", "inv", "tuned")


def _plan(ctx):
    sizes = budget("S7", ctx.mode)
    rules = tuple(RULES) if sizes.rules is None else sizes.rules
    return plan("mnist1d", BUDGETS["quick"], rules, seed=ctx.seed, sweep=sizes.sweep)


def s7_specs(ctx):
    """The training runs of S7's grid (see the module docstring)."""
    return list(_plan(ctx).specs.values())


def _records(ctx, grid) -> list[dict]:
    """One record per grid entry: outcome and (full mode, fixed-lam rules) GC after training."""
    from dataclasses import asdict

    from numerics.probes.geometric_complexity import geometric_complexity
    from resdepth.experiment.measure import outcome, probe_inputs

    records = []
    for key, spec in grid.specs.items():
        model, result = ctx.trained(spec)
        found = outcome(result.as_dict(), spec.n_train, spec.train.batch_size, 10)
        entries = grid.entries[key]
        measurements = None
        if budget("S7", ctx.mode).gc and not result.diverged and any(e.rule in GC_RULES for e in entries):
            x = ctx.tensor(probe_inputs(spec, grid.budget.probe_n))
            gc = geometric_complexity(ctx.probe_model(model), x)
            measurements = {"trained": {"gc": gc}}
        records += [{**asdict(e), **found, "measurements": measurements} for e in entries]
    return records


@register("S7", needs=s7_specs, divergence_ok=True)
def s7_trained_depth_scaling(ctx) -> list[CheckResult]:
    """S7(a)-(c) (quick) or (a)-(f) (full) from intervals over seeds on the trained grid."""
    from resdepth.experiment.judge import judge
    from resdepth.experiment.plots import accuracy_vs_depth

    grid = _plan(ctx)
    records = _records(ctx, grid)
    j = judge(records, grid.dataset, grid.budget, range(ctx.seed, ctx.seed + grid.budget.seeds),
              budget("S7", ctx.mode).parts)
    found = j.rows
    path = ctx.plot_path("S7_accuracy_vs_depth.png")
    plot = None if path is None else accuracy_vs_depth(j.table, j.tau, 1.0 / j.classes, path)
    found = [_with_plot(r, plot) for r in found]
    if budget("S7", ctx.mode).parts == "abc":
        found += [row_error("S7", "empirical", f"S7({part}) {what}", "skipped",
                            "not in validate --quick's reduced grid; full validate runs it, "
                            "and `resdepth experiment depth-scaling` runs the full grid")
                  for part, what in (("d", "normalised baselines match the best "
                                           "unnormalised rule"),
                                     ("e", "GC after training is unimodal in lam"),
                                     ("f", "depth-muP's learning rate transfers across depth"))]
    return found


def _with_plot(row: CheckResult, plot: str | None) -> CheckResult:
    """``row`` pointing at ``plot`` (a derived verdict is derived again, not copied)."""
    from dataclasses import replace

    if row.criterion is None:
        return replace(row, plot=plot)
    return replace(row, plot=plot, verdict=None)
