"""``resdepth experiment depth-scaling``: plan the grid, train it resumably, analyse, write.

The flow reuses validate's machinery: the grid's RunSpecs (:mod:`resdepth.experiment.grid`)
train on a :mod:`resdepth.engine.sweep` backend (this process, spawned processes, or Ray) with
:func:`resdepth.experiment.measure.train_and_measure`; each run, with its measurements at
initialisation and after training, is committed to ``OUT/results.sqlite``
(:class:`resdepth.engine.store.Store`) the moment it finishes, so ``--resume`` loses no finished work.
Then the records are analysed into the Table-1 analogue and S7's rows, and ``results.json``,
``report.md``, ``runs.json`` and four plots are written.
"""

import functools
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from resdepth.engine.errors import ResdepthError, check_out_dir
from resdepth.engine.store import DB_NAME
from resdepth.experiment.grid import BUDGETS, DATASET_ARCH, RULES, Budget, plan
from resdepth.experiment.measure import outcome, train_and_measure

__all__ = ["DB_NAME", "ExperimentSettings", "Result", "budget_for", "run_experiment"]

GPU_DEPTH = 1024


@dataclass(frozen=True)
class ExperimentSettings:
    """Everything that shapes one run of the experiment (the command line fills it)."""

    out_dir: Path = Path("experiment-out")
    quick: bool = False
    seeds: int | None = None
    depths: tuple[int, ...] | None = None
    rules: tuple[str, ...] = tuple(RULES)
    dataset: str = "mnist1d"
    device: str = "auto"
    backend: str = "local"
    address: str | None = None
    workers: int = 1
    resume: bool = False
    fresh: bool = False
    seed: int = 0
    sweep: bool = True
    progress: bool = True
    budget: Budget | None = None  # replaces the mode's budget entirely (tests, custom grids)
    train: bool = True  # False: analyse the finished runs in the store, train nothing
    arch: str | None = None  # the pre-registered design (fashion-mnist, cifar10): mlp | resnet
    data_dir: Path | None = None  # where fashion-mnist's or cifar10's files are

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


@dataclass
class Result:
    """What the experiment produced: records, the table, the rows, where it all went."""

    settings: ExperimentSettings
    budget: Budget
    device: str
    records: list[dict]
    table: dict
    rows: list
    tau: float
    ref: float
    n_a: int
    x0_energy: float
    wall_time_s: float
    started: str
    classes: int = 10
    missing: dict = field(default_factory=dict)
    trained: int = 0
    reused: int = 0
    errors: dict = field(default_factory=dict)


def budget_for(settings: ExperimentSettings, device: str) -> Budget:
    """The budget of ``settings.mode`` with the given seeds and depths; the full grid adds
    depth 1024 on a GPU."""
    budget = BUDGETS[settings.mode] if settings.budget is None else settings.budget
    if settings.seeds is not None:
        budget = replace(budget, seeds=settings.seeds)
    if settings.depths is not None:
        budget = replace(budget, depths=tuple(sorted(set(settings.depths))))
    elif device == "cuda" and not settings.quick:
        budget = replace(budget, depths=budget.depths + (GPU_DEPTH,))
    return budget


def _open_store(settings: ExperimentSettings):
    from resdepth.engine.store import open_store

    return open_store(settings.out_dir, resume=settings.resume, fresh=settings.fresh,
                      holds="an experiment")


def run_experiment(settings: ExperimentSettings) -> Result:
    """Train (or reuse) every run of the grid, analyse, and write the outputs."""
    from numerics.device import choose_device
    from resdepth.engine.sweep import make_backend
    from resdepth.experiment import report

    start = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    check_out_dir(settings.out_dir)
    if settings.dataset not in DATASET_ARCH:
        raise ResdepthError(f"--dataset must be one of {', '.join(DATASET_ARCH)}")
    device = choose_device(settings.device).type
    backend = make_backend(settings.backend, workers=settings.workers, address=settings.address)
    budget = budget_for(settings, device)
    grid = plan(settings.dataset, budget, settings.rules, seed=settings.seed,
                sweep=settings.sweep)
    store = _open_store(settings)
    try:
        finished = store.finished_keys()
        todo = sorted((spec for key, spec in grid.specs.items() if key not in finished),
                      key=lambda spec: _order(grid, spec))
        reused = len(grid.specs) - len(todo)
        if not settings.train:
            todo = []
        train = functools.partial(train_and_measure, probe_n=budget.probe_n,
                                  spectrum_n=budget.spectrum_n)
        errors = _train(todo, backend, device, train, store, settings)
        records = load_records(grid, store, errors)
    finally:
        store.close()
    result = analyse(settings, budget, device, grid, records, started, start)
    result.missing = missing_entries(grid, records)
    result.trained, result.reused = len(todo) - len(errors), reused
    result.errors = errors
    report.write_all(result)
    return result


def _order(grid, spec) -> tuple:
    """Training order: the main grid before the sweep, shallow before deep, so that an
    interrupted experiment (--report-only) has whole rows of the table."""
    entry = grid.entries[spec.key()][0]
    return (entry.group != "grid", entry.depth, entry.seed)


def _train(todo, backend, device, train, store, settings) -> dict[str, str]:
    """Train ``todo`` with the engine's one loop, committing each run as it finishes; errors by key."""
    from resdepth.engine.training import train_into_store

    return train_into_store(todo, backend, device, train, store, desc="depth-scaling",
                            progress=settings.progress,
                            resume_hint="the same command with --resume")


def load_records(grid, store, errors) -> list[dict]:
    """One record per grid entry whose run is in the store (see resdepth.experiment.analysis)."""
    from dataclasses import asdict

    records = []
    for key, spec in grid.specs.items():
        run = None if key in errors else store.load_run(key)
        if run is None:
            continue
        found = outcome(run.metrics["train"], spec.n_train, spec.train.batch_size, run.out_dim)
        for entry in grid.entries[key]:
            records.append({**asdict(entry), **found,
                            "measurements": run.metrics.get("measurements")})
    return records


def missing_entries(grid, records) -> dict[str, list]:
    """Rule -> the grid entries (depth, seed, lr) without a finished run (--report-only)."""
    done = {(r["rule"], r["a"], r["depth"], r["seed"], r["lr"], r["group"]) for r in records}
    missing: dict[str, list] = {}
    for entries in grid.entries.values():
        for e in entries:
            if (e.rule, e.a, e.depth, e.seed, e.lr, e.group) not in done:
                missing.setdefault(e.rule, []).append((e.depth, e.seed, e.lr))
    return missing


def analyse(settings, budget, device, grid, records, started, start) -> Result:
    """The table, tau, n_a and the rows of ``records``."""
    from resdepth.experiment.judge import judge

    if not records:
        raise ResdepthError("no run of the grid finished; nothing to analyse")
    j = judge(records, grid.dataset, budget, range(settings.seed, settings.seed + budget.seeds))
    return Result(settings, budget, device, records, j.table, j.rows, j.tau, j.ref, j.n_a,
                  j.energy, time.perf_counter() - start, started, j.classes)
