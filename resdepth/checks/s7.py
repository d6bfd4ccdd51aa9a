"""Checks of S7 (trained depth scaling, empirical): the pre-registered design inside validate.

validate runs the design of docs/S7_plan.md (:mod:`resdepth.experiment.tuned`, the flow of
``resdepth experiment depth-scaling --dataset fashion-mnist --arch mlp``) on its MLP quick grid:
width 16, 1,000 training images, 3 epochs, depths 16, 112, 160, rates 3e-3, 1e-2, 3e-2, 5 seeds.
Every rule trains at every rate, depth and seed on the validation split (``NAME/val``); the
rate of each (rule, depth) is chosen on validation numbers (an edge choice extends the rates, at
most twice, then the cell is censored); tau comes from validation numbers; only then is the
:class:`~resdepth.experiment.selection.TestGate` unsealed and each chosen configuration's
models scored once on the test set (the first 2,000 test images). The rows are
:func:`resdepth.experiment.plan_rows.plan_rows`: one-sided t tests over 5 seeds paired by seed,
Holm within each family, (d)'s comparator 1/sqrt(n) fixed in advance.

S7(a)'s n_a (:mod:`theorems.trained_scaling`, from the embedding's energy before training) is
about 125 blocks for this width: the depths 112 < n_a <= 160 < 1.9 n_a bracket it within a
factor 1.9, so a wrong n_a (1.9 n_a) changes what the row demands at 160 blocks.

- ``validate --quick``: the rules (a) and (c) need, none, inv-sqrt and inv (so (b) is judged on
  the two of its five scaled rules that (c) compares), no lam or rate sweep; rows (d)-(f)
  skipped. Rows ``plan: exploratory`` (a subset of the registered rules; 135 runs plus the
  extensions, within quick validate's 5 minutes on one core).
- full ``validate``: every rule of the plan, the lam sweep of (e) and the rate sweep of (f):
  the registered quick grid, rows ``plan: registered`` on Fashion-MNIST.

Data: Fashion-MNIST's IDX files where :mod:`numerics.models.images` finds them
($RESDEPTH_DATA, Debian's /usr/share/datasets/fashion-mnist/). Without them validate runs the
*same* design on mnist1d (a procedural 1-D task, always available), every row ``plan:
exploratory`` with ``dataset: mnist1d`` and the one-line hint to install the images: S7 is
still tested (with its power on n_a), but not on the registered data.

Divergence is part of S7(a)'s prediction, so the check is registered with ``divergence_ok``
(a diverged run counts at chance). Extensions of the rate grid and the lam sweep depend on
validation results, so they are trained when the check asks for them (validate's runner trains
and stores runs it was not told about in advance).
"""

from dataclasses import replace

from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import row_error
from resdepth.experiment.design import DESIGN_BUDGETS, DESIGN_RULES, LAM_BETAS, Run, design_spec

GRID = DESIGN_BUDGETS["mlp", "quick"]
DESIGN_DATA, FALLBACK = "fashion-mnist", "mnist1d"


def dataset() -> tuple[str, str | None]:
    """(the dataset S7 runs on, None) or (the fallback, the line saying how to get the images)."""
    from numerics.models.images import MissingData, fashion_folder

    try:
        fashion_folder(None)
    except MissingData as missing:
        return FALLBACK, str(missing)
    return DESIGN_DATA, None


def _rules(ctx) -> tuple[str, ...]:
    rules = budget("S7", ctx.mode).rules
    return DESIGN_RULES if rules is None else tuple(rules)


def _seeds(ctx) -> list[int]:
    return list(range(ctx.seed, ctx.seed + GRID.seeds))


def s7_specs(ctx):
    """The runs known in advance: every rule x depth x rate x seed, and (full) the rate sweep."""
    data, _ = dataset()
    runs = [Run(r, d, s, lr) for r in _rules(ctx) for d in GRID.depths for lr in GRID.lrs
            for s in _seeds(ctx)]
    if budget("S7", ctx.mode).sweep:
        runs += [Run(r, d, s, lr, "sweep") for r in ("mup", "constant")
                 for d in GRID.sweep_depths for lr in GRID.sweep_lrs for s in _seeds(ctx)]
    return list({design_spec(data, GRID, run).key(): design_spec(data, GRID, run)
                 for run in runs}.values())


class ContextTrainer:
    """The design's trainer on validate's context: ``ensure`` trains (or reuses) runs through
    ``ctx.trained``; ``records`` are validation numbers only (GC after training for lam runs,
    on the validation inputs, when ``gc``)."""

    def __init__(self, ctx, data: str, gc: bool = False):
        self.ctx, self.data, self.gc = ctx, data, gc
        self.runs: dict[str, tuple] = {}
        self.results: dict[str, tuple] = {}
        self.models: dict[str, object] = {}

    def spec(self, run: Run):
        return design_spec(self.data, GRID, run)

    def ensure(self, runs) -> None:
        for run in runs:
            spec = self.spec(run)
            entry = self.runs.setdefault(spec.key(), (spec, []))
            if run not in entry[1]:
                entry[1].append(run)
            if spec.key() not in self.results:
                metrics = self._stored_metrics(spec)
                if metrics is None:  # not trained yet (an extension): train it now
                    model, result = self.ctx.trained(spec)
                    self.models[spec.key()] = model
                    metrics = result.as_dict()
                self.results[spec.key()] = (metrics, self._gc(spec, run, metrics))

    def _stored_metrics(self, spec) -> dict | None:
        """The TrainResult fields of a run validate's store already holds, read without
        rebuilding its model (rebuilding 170 deep MLPs cost most of the check's time)."""
        store = getattr(self.ctx.runner, "store", None)
        run = None if store is None else store.load_run(spec.key())
        return None if run is None else dict(run.metrics)

    def model(self, spec):
        """The trained model of ``spec`` (rebuilt once, when a chosen cell or GC needs it)."""
        if spec.key() not in self.models:
            self.models[spec.key()] = self.ctx.trained(spec)[0]
        return self.models[spec.key()]

    def _gc(self, spec, run, metrics):
        if not (self.gc and run.group == "lam") or metrics["diverged"]:
            return None
        model = self.model(spec)
        from numerics.probes.geometric_complexity import geometric_complexity
        from resdepth.experiment.measure import probe_inputs

        x = self.ctx.tensor(probe_inputs(spec, GRID.probe_n))
        return {"trained": {"gc": geometric_complexity(self.ctx.probe_model(model), x)}}

    def records(self) -> list[dict]:
        from resdepth.experiment.tuned import record

        return [record(spec, run, *self.results[key])
                for key, (spec, runs) in self.runs.items() for run in runs]


def design_rows(ctx, data: str, rules, *, sweep: bool, lam: bool, parts: str):
    """Tune on validation, fix tau, (lam and rate sweeps), unseal the gate, score the chosen
    configurations once on the test set; returns (rows, table, tau, n_a)."""
    from resdepth.experiment.plan_rows import plan_rows
    from resdepth.experiment.selection import TestGate, mean_val, sweep_best
    from resdepth.experiment.stats import interval
    from resdepth.experiment.tuned import design_energy, score_model, threshold, tune
    from theorems.trained_scaling import overflow_depth

    seeds = [s for s in range(ctx.seed, ctx.seed + GRID.seeds)]
    trainer = ContextTrainer(ctx, data, gc=lam)
    cells, records = tune(trainer, rules, GRID.depths, GRID.lrs, seeds, GRID.max_extensions)
    tau, _ = threshold(records, cells, rules, GRID.depths)
    if lam:
        trainer.ensure([Run("lam", d, s, cells["inv-sqrt", d][1], "lam", beta)
                        for d in GRID.lam_depths if ("inv-sqrt", d) in cells
                        for beta in LAM_BETAS for s in seeds])
    sweep_cells = {}
    if sweep:
        sweep_cells, _ = tune(trainer, ("mup", "constant"), GRID.sweep_depths, GRID.sweep_lrs,
                              seeds, GRID.max_extensions, "sweep",
                              lambda recs, r, d: sweep_best(recs, r, d)[0])
    records = trainer.records()
    gate = TestGate(lambda spec, model: score_model(spec, model, trainer.results[spec.key()][0][
        "diverged"], ctx.device, GRID.n_test))
    gate.unseal({cell: chosen for cell, (_, chosen, _) in cells.items()})
    table = {}
    for (rule, depth), (rates, chosen, censored) in cells.items():
        test, diverged = {}, 0
        for seed in seeds:
            spec = trainer.spec(Run(rule, depth, seed, chosen))
            diverged += trainer.results[spec.key()][0]["diverged"]
            test[seed] = gate.accuracy(rule, depth, chosen, spec, trainer.model(spec))
        table[rule, depth] = {"lr": chosen, "censored": censored, "rates": rates, "test": test,
                              "values": test, "interval": interval(test.values()),
                              "runs": len(test), "diverged": diverged,
                              "val": mean_val(records, rule, depth, chosen)}
    n_a = overflow_depth(1.0, 1.0, design_energy(data, GRID, seeds))
    rows = plan_rows(table, records, tau, n_a, parts=parts,
                     sweep_censored=any(c for *_, c in sweep_cells.values()))
    return rows, table, tau, n_a


def is_registered(data: str, rules, sizes) -> bool:
    """The plan's grid exactly: Fashion-MNIST, every rule, both sweeps, every part (the grid
    itself is always the registered MLP quick grid, :data:`GRID`)."""
    return (data == DESIGN_DATA and set(rules) == set(DESIGN_RULES) and bool(sizes.sweep)
            and bool(sizes.lam) and sizes.parts == "abcdef")


@register("S7", needs=s7_specs, divergence_ok=True)
def s7_trained_depth_scaling(ctx) -> list[CheckResult]:
    """S7(a)-(c) (quick) or (a)-(f) (full) on the pre-registered design (module docstring)."""
    import torch

    from resdepth.experiment.plots import accuracy_vs_depth

    sizes = budget("S7", ctx.mode)
    data, missing = dataset()
    rules = _rules(ctx)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only contend (x30 on shared cores)
    try:
        rows, table, tau, n_a = design_rows(ctx, data, rules, sweep=sizes.sweep, lam=sizes.lam,
                                            parts=sizes.parts)
    finally:
        torch.set_num_threads(threads)
    registered = is_registered(data, rules, sizes)
    path = ctx.plot_path("S7_accuracy_vs_depth.png")
    plot = None if path is None else accuracy_vs_depth(table, tau, 0.1, path)
    details = {"plan": "registered" if registered else "exploratory", "dataset": data,
               "grid": "mlp quick (docs/S7_plan.md)", "n_a": n_a, "tau": tau,
               **({"data_missing": missing} if missing else {})}
    found = [_with(r, plot, details) for r in rows]
    if sizes.parts == "abc":
        found += [row_error("S7", "empirical", f"S7({part}) {what}", "skipped",
                            "not in validate --quick (rules none and the scaled rules only); "
                            "full validate runs it")
                  for part, what in (("d", "normalised baselines match 1/sqrt(n)"),
                                     ("e", "GC after training is unimodal in lam"),
                                     ("f", "depth-muP's learning rate transfers across depth"))]
    return found


def _with(row: CheckResult, plot: str | None, details: dict) -> CheckResult:
    """``row`` pointing at ``plot``, with the design's details (a derived verdict is derived
    again, not copied)."""
    extra = {"plot": plot, "details": {**row.details, **details}}
    return replace(row, **extra) if row.criterion is None else replace(row, **extra, verdict=None)
