"""S7's pre-registered experiment on real images: tune on validation, choose, score the test once.

The flow (docs/S7_plan.md), for ``--dataset fashion-mnist`` (or ``cifar10``) and ``--arch``:

1. the tuning grid (:mod:`resdepth.experiment.design`): every rule x depth x rate x seed on
   ``NAME/val``; a cell whose chosen rate sits at the grid's edge gets the next rate, up to
   ``max_extensions`` times (then it is censored if the edge is still strictly best);
2. tau, from validation accuracies only: halfway from chance to the best rule's mean at the
   smallest depth;
3. the lam sweep of S7(e) at inv-sqrt's chosen rate, and the rate sweep of S7(f) (extended
   until both optima are interior, or censored);
4. :class:`resdepth.experiment.selection.TestGate` unsealed with the choices: each chosen
   configuration's stored models are scored on the test set, once;
5. the rows of :mod:`resdepth.experiment.plan_rows`, the report and plots
   (:mod:`resdepth.experiment.tuned_report`).

Training goes through :func:`resdepth.experiment.run._train` (the shared loop) and the
resumable store; each training run is a :func:`resdepth.experiment.measure.train_and_measure`.
"""

import functools
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from resdepth.engine.errors import ResdepthError, check_out_dir
from resdepth.experiment.design import (
    DESIGN_BUDGETS,
    DESIGN_RULES,
    LAM_BETAS,
    Run,
    design_spec,
    extend,
    plan_hash,
    with_seeds,
)
from resdepth.experiment.selection import TestGate, choose, mean_val, sweep_best

__all__ = ["DesignResult", "check_data", "record", "run_design", "score_model", "score_on_test",
           "threshold", "tune", "design_energy"]


@dataclass
class DesignResult:
    """What the pre-registered experiment produced (see the module docstring)."""

    settings: object
    budget: object
    grid: str
    device: str
    records: list
    table: dict
    rows: list
    tau: float
    ref: float
    n_a: int
    x0_energy: float
    plan_sha256: str
    registered: bool
    wall_time_s: float
    started: str
    trained: int = 0
    errors: dict = field(default_factory=dict)
    sweep_censored: bool = False


def check_data(dataset: str, data_dir) -> None:
    """One clear line (a ResdepthError) when the image files are absent, before anything starts."""
    from numerics.models.images import MissingData, cifar_folder, fashion_folder

    try:
        (fashion_folder if dataset == "fashion-mnist" else cifar_folder)(data_dir)
    except MissingData as error:
        raise ResdepthError(str(error)) from None


def record(spec, run_entry: Run, train_metrics: dict, measurements=None,
           classes: int = 10) -> dict:
    """One design record (validation numbers only) from a run's TrainResult fields."""
    from resdepth.experiment.measure import outcome

    found = outcome(train_metrics, spec.n_train, spec.train.batch_size, classes)
    lam = spec.model.lam if run_entry.group == "lam" else None
    return {**asdict(run_entry), "lam": lam, "val_acc": found["final_test_acc"],
            "train_loss": found["final_train_loss"], "diverged": found["diverged"],
            "wall_time_s": found["wall_time_s"], "measurements": measurements}


def _record(spec, run_entry: Run, stored, classes: int = 10) -> dict:
    return record(spec, run_entry, stored.metrics["train"], stored.metrics.get("measurements"),
                  classes)


class _Trainer:
    """Trains design runs into the store (skipping finished ones) and reads their records."""

    def __init__(self, settings, budget, store, backend, device):
        from resdepth.experiment.measure import train_and_measure

        self.settings, self.budget, self.store = settings, budget, store
        self.backend, self.device = backend, device
        self.train = functools.partial(train_and_measure, probe_n=budget.probe_n,
                                       spectrum_n=budget.spectrum_n)
        self.runs: dict[str, tuple] = {}
        self.loaded: dict[str, object] = {}
        self.errors: dict[str, str] = {}
        self.trained = 0

    def spec(self, run: Run):
        return design_spec(self.settings.dataset, self.budget, run)

    def ensure(self, runs: list[Run]) -> None:
        from resdepth.experiment.run import _train

        for run in runs:
            self.runs.setdefault(self.spec(run).key(), (self.spec(run), []))[1].append(run)
        finished = self.store.finished_keys()
        todo = {}
        for run in runs:
            spec = self.spec(run)
            if spec.key() not in finished and spec.key() not in self.errors:
                todo[spec.key()] = spec
        todo = sorted(todo.values(), key=lambda s: (s.model.depth, s.seed))
        if todo and self.settings.train:
            self.errors.update(_train(todo, self.backend, self.device, self.train, self.store,
                                      self.settings))
            self.trained += len(todo)

    def load(self, key: str):
        """The stored run of ``key`` (read once, then kept)."""
        if key not in self.loaded:
            stored = self.store.load_run(key)
            if stored is None:
                return None
            self.loaded[key] = stored
        return self.loaded[key]

    def records(self) -> list[dict]:
        out, seen = [], set()
        for key, (spec, runs) in self.runs.items():
            stored = None if key in self.errors else self.load(key)
            if stored is None:
                continue
            for run in runs:
                if (key, run) not in seen:
                    seen.add((key, run))
                    out.append(_record(spec, run, stored))
        return out


def tune(trainer, rules, depths, lrs, seeds, max_ext, group="tune", choose_fn=None):
    """Cell -> (rates tried, chosen rate, censored), extending edge choices.

    ``trainer`` trains design runs (``ensure(runs)``) and lists their validation records
    (``records()``): the experiment's store (:class:`_Trainer`) or validate's context
    (resdepth.checks.s7). Nothing here reads the test set."""
    tried = {(r, d): list(lrs) for r in rules for d in depths}
    pick = choose_fn or (lambda recs, r, d: choose(recs, r, d, group))
    for extension in range(max_ext + 1):
        trainer.ensure([Run(r, d, s, lr, group) for (r, d), rates in tried.items()
                        for lr in rates for s in seeds])
        records = trainer.records()
        grew = False
        for cell, rates in tried.items():
            if not any(x["group"] == group and (x["rule"], x["depth"]) == cell for x in records):
                continue
            nxt = extend(tuple(rates), pick(records, *cell))
            if nxt is not None and extension < max_ext:
                rates.append(nxt)
                grew = True
        if not grew:
            break
    out = {}
    records = trainer.records()
    for cell, rates in tried.items():
        if not any(x["group"] == group and (x["rule"], x["depth"]) == cell for x in records):
            continue
        chosen = pick(records, *cell)
        out[cell] = (sorted(rates), chosen, _censored(records, cell, sorted(rates), chosen, group))
    return out, records


def _censored(records, cell, rates, chosen, group) -> bool:
    """At the edge and strictly better than its neighbour: the optimum may lie outside."""
    if group == "sweep":
        means = sweep_best(records, *cell)[1]
        score = {lr: -v for lr, v in means.items()}
    else:
        score = {lr: mean_val(records, *cell, lr, group) for lr in rates}
    if math.isclose(chosen, rates[0]) and len(rates) > 1:
        return score[rates[0]] > score[rates[1]]
    if math.isclose(chosen, rates[-1]) and len(rates) > 1:
        return score[rates[-1]] > score[rates[-2]]
    return False


@functools.lru_cache(maxsize=8)
def _test_split(name: str, seed: int, n_train: int, n_test: int | None):
    """NAME/test for one seed (every rule and depth of that seed scores on the same one)."""
    from numerics.models.data import load_dataset

    return load_dataset(name, seed=seed, n_train=n_train, n_test=n_test)


def score_model(spec, model, diverged: bool, device: str = "cpu",
                n_test: int | None = None) -> float:
    """Test accuracy of ``spec``'s trained ``model`` on the test set of ``spec``'s dataset
    (NAME/test: the same training examples, NAME's test set); chance when it diverged."""
    import torch

    from numerics.models.train import evaluate

    data = _test_split(spec.dataset.rsplit("/", 1)[0] + "/test", spec.seed, spec.n_train, n_test)
    if diverged:
        return 1.0 / data.out_dim
    with torch.no_grad():
        return float(evaluate(model.to(device).eval(), data.task, data.test_x.to(device),
                              data.test_y.to(device))[1])


def score_on_test(spec, stored, device: str = "cpu", n_test: int | None = None) -> float:
    """The stored run's trained model, scored by :func:`score_model`."""
    from numerics.models.train import initial_model
    from resdepth.engine.store import state_from_bytes

    model = None
    if stored.status != "diverged":
        from numerics.models.data import load_dataset

        data = load_dataset(spec.dataset, seed=spec.seed, n_train=spec.n_train)
        model = initial_model(spec.model, data, spec.seed)
        model.load_state_dict(state_from_bytes(stored.state))
    return score_model(spec, model, stored.status == "diverged", device, n_test)


def threshold(records, cells, rules, depths) -> tuple[float, float]:
    """(tau, ref): ref = the best rule's mean validation accuracy at the smallest depth (its
    chosen rate), tau = chance + (ref - chance)/2, chance 0.1: validation numbers only."""
    smallest = min(depths)
    ref = max(mean_val(records, r, smallest, cells[r, smallest][1])
              for r in rules if (r, smallest) in cells)
    return 0.1 + (ref - 0.1) / 2, ref


def design_energy(dataset: str, budget, seeds) -> float:
    """E||x_0||^2 of the embedding at initialisation (mean over seeds, 512 training inputs):
    S7(a)'s n_a comes from it, before any training."""
    import torch

    from numerics.models.config import ModelConfig
    from numerics.models.data import load_dataset
    from numerics.models.train import initial_model

    arch = "resnet" if budget.arch == "resnet" else "mlp"
    values = []
    for seed in seeds:
        data = load_dataset(f"{dataset}/val", seed=seed, n_train=budget.n_train)
        model = initial_model(ModelConfig(arch=arch, depth=1, width=budget.width), data, seed)
        with torch.no_grad():
            values.append(float(model.embed(data.train_x[:512]).flatten(1).pow(2).sum(1).mean()))
    return sum(values) / len(values)


def run_design(settings, grid: str, budget=None) -> DesignResult:
    """The pre-registered experiment of ``settings`` on grid ``grid`` (quick | cpu | gpu);
    ``budget`` (a DesignBudget) replaces the grid's entirely (tests; then exploratory)."""
    from numerics.device import choose_device
    from resdepth.engine.sweep import make_backend
    from resdepth.experiment import tuned_report
    from resdepth.experiment.plan_rows import plan_rows
    from resdepth.experiment.run import _open_store
    from theorems.trained_scaling import overflow_depth

    start, started = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    check_out_dir(settings.out_dir)
    check_data(settings.dataset, settings.data_dir)
    if settings.data_dir is not None:  # the training processes find the files through it
        import os

        os.environ["RESDEPTH_DATA"] = str(settings.data_dir)
    arch = settings.arch or "mlp"
    registered = budget is None and settings.seeds is None and settings.depths is None
    budget = with_seeds(budget or DESIGN_BUDGETS[arch, grid], settings.seeds, settings.depths)
    rules = tuple(r for r in settings.rules if r in DESIGN_RULES)
    registered = registered and set(rules) == set(DESIGN_RULES) and settings.sweep
    device = choose_device(settings.device).type
    backend = make_backend(settings.backend, workers=settings.workers, address=settings.address)
    seeds = list(range(settings.seed, settings.seed + budget.seeds))
    store = _open_store(settings)
    try:
        trainer = _Trainer(settings, budget, store, backend, device)
        cells, records = tune(trainer, rules, budget.depths, budget.lrs, seeds,
                               budget.max_extensions)
        tau, ref = threshold(records, cells, rules, budget.depths)
        lam_runs = [Run("lam", d, s, cells["inv-sqrt", d][1], "lam", beta)
                    for d in budget.lam_depths if ("inv-sqrt", d) in cells
                    for beta in LAM_BETAS for s in seeds]
        trainer.ensure(lam_runs)
        sweep_cells = {}
        if settings.sweep and budget.sweep_depths:
            sweep_cells, _ = tune(trainer, ("mup", "constant"), budget.sweep_depths,
                                   budget.sweep_lrs, seeds, budget.max_extensions, "sweep",
                                   lambda recs, r, d: sweep_best(recs, r, d)[0])
        records = trainer.records()
        gate = TestGate(lambda spec, stored: score_on_test(spec, stored, device, budget.n_test))
        gate.unseal({cell: chosen for cell, (_, chosen, _) in cells.items()})
        table = _score(trainer, gate, cells, seeds, records, progress=settings.progress)
    finally:
        store.close()
    energy = design_energy(settings.dataset, budget, seeds)
    n_a = overflow_depth(1.0, 1.0, energy)
    n_a_depth = math.ceil(n_a / 3) if arch == "resnet" else n_a
    rows = plan_rows(table, records, tau, n_a_depth,
                     sweep_censored=any(c for *_, c in sweep_cells.values()))
    result = DesignResult(settings, budget, grid, device, records, table, rows, tau, ref, n_a,
                          energy, plan_hash(), registered, time.perf_counter() - start, started,
                          trainer.trained, trainer.errors,
                          any(c for *_, c in sweep_cells.values()))
    tuned_report.write_all(result, sweep_cells)
    return result


def _score(trainer, gate, cells, seeds, records, progress: bool = False) -> dict:
    """(rule, depth) -> the chosen cell: lr, censored, rates tried, validation mean, test
    accuracies by seed, their interval (read through the gate). The test set is scored once per
    chosen model, serially (the CPU grid's 120 scorings take minutes: a progress bar shows them)."""
    from tqdm import tqdm

    from resdepth.experiment.stats import interval

    table = {}
    bar = tqdm(total=len(cells) * len(seeds), desc="test set (chosen rates)", unit="model",
               disable=not progress)
    for (rule, depth), (rates, chosen, censored) in cells.items():
        test, diverged = {}, 0
        for seed in seeds:
            bar.update()
            run = Run(rule, depth, seed, chosen)
            spec = trainer.spec(run)
            stored = trainer.load(spec.key())
            if stored is None:
                continue
            diverged += stored.status == "diverged"
            test[seed] = gate.accuracy(rule, depth, chosen, spec, stored)
        if test:
            table[rule, depth] = {
                "lr": chosen, "censored": censored, "rates": rates, "test": test,
                "values": test, "interval": interval(test.values()), "diverged": diverged,
                "runs": len(test), "val": mean_val(records, rule, depth, chosen)}
    bar.close()
    return table
