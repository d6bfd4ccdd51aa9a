"""``resdepth validate``: train what the checks need, run every check, write the report.

The flow, for the registered checks of THEORY.md's labels in THEORY order (R1..R5, S1..S6,
D1..D5):

1. ask each check for its training runs (``Registered.specs(ctx)``) and deduplicate them by
   :meth:`RunSpec.key`;
2. train the runs not yet in ``DIR/results.sqlite`` on the chosen backend (local processes or
   Ray), committing each the moment it finishes (a run whose loss went non-finite is stored
   as ``diverged``);
3. run each check with a :class:`CheckContext` whose ``runner`` rebuilds the trained model from
   the store (``numerics.models.build_model`` + the stored state_dict, in eval mode), so a
   resumed validation sees exactly the models a fresh one would;
4. write ``results.json``, ``report.md``, the overview plot and the terminal summary.

Rules for rows: a check that raises becomes a ``fail`` row naming the check and the
exception; a label with no registered check is a ``skipped`` row; when a training run that a
check used diverged, the check's ``fail`` rows (or its exception) become ``diverged`` rows
naming the run, while ``pass``/``skipped`` rows it wrote itself stand. Check rows are
recomputed on every invocation (``--resume`` reuses training runs, never verdicts).
"""

import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from resdepth import labels
from resdepth.checks.base import LABELS, CheckContext, CheckResult, Registered, RunSpec
from resdepth.errors import ResdepthError
from resdepth.store import Store, TrainedRun, state_from_bytes
from resdepth.sweep import describe, make_backend, train_run

DB_NAME = "results.sqlite"
CONFIG_KEYS = {
    "seed": "base seed of every check (CheckContext.seed), an integer >= 0; default 0",
    "quick": "true for the quick budget (5 min on 2 CPU cores), false for the full one",
    "device": "auto | cpu | cuda",
    "backend": "local | ray",
    "address": "Ray cluster address (backend ray only)",
    "workers": "parallel training processes / Ray CPUs, an integer >= 1",
    "only": "labels to run: a list such as [\"R1\", \"S\"] or a string \"R1,S\"",
}


@dataclass(frozen=True)
class Settings:
    """Everything that shapes one validation (the command line and ``--config`` fill it)."""

    out_dir: Path = Path("validate-out")
    quick: bool = False
    device: str = "auto"
    backend: str = "local"
    address: str | None = None
    resume: bool = False
    fresh: bool = False
    only: tuple[str, ...] = LABELS
    workers: int = 1
    seed: int = 0
    config: Path | None = None
    progress: bool = True


@dataclass
class Outcome:
    """What a validation produced: the report rows and the figures the report states."""

    rows: list[dict]
    settings: Settings
    device: str
    wall_time_s: float
    trained: int
    reused: int
    diverged: int
    train_errors: dict = field(default_factory=dict)
    undeclared: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when no row failed, 1 otherwise."""
        return 1 if any(row["verdict"] == "fail" for row in self.rows) else 0


def load_config(path: Path) -> dict:
    """The settings in the JSON file ``path`` (keys: :data:`CONFIG_KEYS`), validated.

    JSON only: nothing in the file is ever evaluated.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"--config {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"--config {path}: expected a JSON object of settings")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"--config {path}: unknown keys {unknown}; known: {sorted(CONFIG_KEYS)}")
    checks = {
        "seed": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "quick": lambda v: isinstance(v, bool),
        "device": lambda v: v in ("auto", "cpu", "cuda"),
        "backend": lambda v: v in ("local", "ray"),
        "address": lambda v: isinstance(v, str) and v != "",
        "workers": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "only": lambda v: isinstance(v, str) or (
            isinstance(v, list) and all(isinstance(x, str) for x in v)),
    }
    for key, value in data.items():
        if not checks[key](value):
            raise ValueError(f"--config {path}: {key} = {value!r} is invalid ({CONFIG_KEYS[key]})")
    if "only" in data:
        only = data["only"]
        data["only"] = labels.select(only if isinstance(only, str) else ",".join(only))
    return data


def collect(registry: dict[str, list[Registered]], only: tuple[str, ...]
            ) -> list[tuple[str, list[Registered]]]:
    """The chosen labels in THEORY order, each with its registered checks."""
    return [(label, list(registry.get(label, []))) for label in LABELS if label in only]


def check_name(registered: Registered) -> str:
    """``module.function`` of a registered check (how the report names it)."""
    check = registered.check
    return f"{check.__module__}.{getattr(check, '__qualname__', repr(check))}"


class StoreRunner:
    """``CheckContext.runner`` backed by ``results.sqlite``.

    Returns ``(model, TrainResult)``; a run the sweep did not train (a check asked for a
    spec it had not declared) is trained here and committed. ``used`` records the runs the
    current check asked for, ``undeclared`` the runs trained here, per check name.
    """

    def __init__(self, store: Store, train=train_run, errors: dict | None = None) -> None:
        self.store = store
        self.train = train
        self.errors = {} if errors is None else errors
        self.used: dict[str, RunSpec] = {}
        self.current = ""
        self.undeclared: dict[str, int] = {}

    def __call__(self, spec: RunSpec, device: str):
        key = spec.key()
        self.used[key] = spec
        if key in self.errors:
            raise RuntimeError(f"training run {describe(spec)} failed: {self.errors[key]}")
        run = self.store.load_run(key)
        if run is None:
            run = self.train(spec, device)
            self.store.save_run(run)
            self.undeclared[self.current] = self.undeclared.get(self.current, 0) + 1
        return materialise(spec, run, device)

    def diverged(self) -> list[RunSpec]:
        """The runs used by the current check that are stored as diverged."""
        return [spec for key, spec in self.used.items()
                if (run := self.store.load_run(key)) is not None and run.status == "diverged"]


def materialise(spec: RunSpec, run: TrainedRun, device: str):
    """The stored run as ``(model, TrainResult)``: the model rebuilt, loaded, in eval mode."""
    from numerics.models import build_model

    model = build_model(spec.model, run.in_dim, run.out_dim)
    model.load_state_dict(state_from_bytes(run.state))
    return model.to(device).eval(), result_from_metrics(run.metrics)


def result_from_metrics(metrics: dict):
    """The :class:`numerics.train.TrainResult` whose fields ``metrics`` holds."""
    from numerics.train import TrainResult

    return TrainResult(**metrics)


def validate(settings: Settings, registry: dict[str, list[Registered]] | None = None,
             train=train_run) -> Outcome:
    """Run the validation described by ``settings``; see the module docstring.

    ``registry`` defaults to the checks of :mod:`resdepth.checks`; ``train`` (a picklable
    ``(spec, device) -> TrainedRun``) to :func:`resdepth.sweep.train_run`.
    """
    from numerics.device import choose_device
    from resdepth import report

    start = time.perf_counter()
    if registry is None:
        from resdepth.checks import load_checks

        registry = load_checks()
    device = choose_device(settings.device).type
    backend = make_backend(settings.backend, workers=settings.workers, address=settings.address)
    store = _open_store(settings)
    try:
        chosen = collect(registry, settings.only)
        errors: dict[str, str] = {}
        runner = StoreRunner(store, train, errors)
        ctx = CheckContext(quick=settings.quick, device=device, seed=settings.seed,
                           out_dir=settings.out_dir, runner=runner)
        specs, plan_errors = _plan(chosen, ctx)
        todo = [spec for key, spec in specs.items() if key not in store.finished_keys()]
        _train_all(todo, backend, device, train, store, errors, settings)
        timings: dict[str, float] = {}
        rows = _run_checks(chosen, ctx, runner, plan_errors, store, settings, timings)
        statuses = [store.load_run(key).status for key in specs if key not in errors]
        outcome = Outcome(
            rows=rows, settings=settings, device=device,
            wall_time_s=time.perf_counter() - start, trained=len(todo) - len(errors),
            reused=len(specs) - len(todo), diverged=statuses.count("diverged"),
            train_errors={describe(specs[k]): v for k, v in errors.items()},
            undeclared=dict(runner.undeclared), timings=timings,
        )
        report.write_all(outcome)
        return outcome
    finally:
        store.close()


def _open_store(settings: Settings) -> Store:
    path = settings.out_dir / DB_NAME
    if path.exists() and not (settings.resume or settings.fresh):
        raise ResdepthError(
            f"{path} already holds a validation: add --resume to continue it (finished "
            f"training runs are reused) or --fresh to delete it and start over"
        )
    if settings.fresh and path.exists():
        path.unlink()
    return Store(path)


def _plan(chosen, ctx: CheckContext) -> tuple[dict[str, RunSpec], dict[int, str]]:
    """Every training run the chosen checks declare, deduplicated by key in first-seen order."""
    specs: dict[str, RunSpec] = {}
    errors: dict[int, str] = {}
    for _, registered in chosen:
        for reg in registered:
            try:
                for spec in reg.specs(ctx):
                    specs.setdefault(spec.key(), spec)
            except Exception as exc:
                errors[id(reg)] = f"listing its training runs raised {_exc_text(exc)}"
    return specs, errors


def _train_all(todo, backend, device, train, store, errors, settings) -> None:
    """Train ``todo`` on ``backend``, committing each run to ``store`` as it finishes."""
    if not todo:
        return
    bar = tqdm(total=len(todo), desc="training", unit="run", disable=not settings.progress)
    runs = backend.run(todo, device, train)
    try:
        for spec, outcome in runs:
            if isinstance(outcome, BaseException):
                errors[spec.key()] = _exc_text(outcome)
                tqdm.write(f"training {describe(spec)} raised {errors[spec.key()]}", file=sys.stderr)
            else:
                store.save_run(outcome)
            bar.set_postfix_str(describe(spec), refresh=False)
            bar.update(1)
    except KeyboardInterrupt:
        runs.close()  # cancels what has not started, stops the workers
        bar.close()
        done = len(store.finished_keys())
        tqdm.write(
            f"interrupted: {done} finished training runs are saved in "
            f"{settings.out_dir / DB_NAME}; continue with: {resume_command(settings)}",
            file=sys.stderr,
        )
        raise
    bar.close()


def resume_command(settings: Settings) -> str:
    """The command line that continues the validation described by ``settings``."""
    parts = ["resdepth validate", "--out", str(settings.out_dir), "--resume"]
    if settings.config is not None:
        parts += ["--config", str(settings.config)]
    if settings.quick:
        parts.append("--quick")
    if settings.only != LABELS:
        parts += ["--only", ",".join(settings.only)]
    for option, value, default in (("--seed", settings.seed, 0), ("--device", settings.device, "auto"),
                                   ("--backend", settings.backend, "local"),
                                   ("--address", settings.address, None),
                                   ("--workers", settings.workers, 1)):
        if value != default:
            parts += [option, str(value)]
    return " ".join(parts)


def _run_checks(chosen, ctx, runner, plan_errors, store, settings, timings) -> list[dict]:
    """Run every chosen check, committing its rows as it finishes; rows in THEORY order.

    ``timings`` receives each check's wall time in seconds (training it did itself included).
    """
    store.clear_results()
    rows: list[dict] = []
    n_checks = sum(len(regs) for _, regs in chosen)
    bar = tqdm(total=n_checks, desc="checks", unit="check", disable=not settings.progress)
    try:
        for label, registered in chosen:
            if not registered:
                rows += _commit(store, label, [_skipped(label)], settings.out_dir)
            for reg in registered:
                bar.set_postfix_str(label)
                runner.current = check_name(reg)
                begin = time.perf_counter()
                found = _run_one(reg, ctx, runner, plan_errors.get(id(reg)))
                timings[runner.current] = time.perf_counter() - begin
                rows += _commit(store, runner.current, found, settings.out_dir)
                bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        tqdm.write(f"interrupted during the checks; the training runs are saved: "
                   f"{resume_command(settings)}", file=sys.stderr)
        raise
    bar.close()
    return rows


def _run_one(reg: Registered, ctx, runner: StoreRunner, plan_error: str | None
             ) -> list[CheckResult]:
    """The rows of one check, with raised exceptions and diverged runs turned into rows."""
    name = check_name(reg)
    kind = labels.KIND[reg.label]
    if plan_error is not None:
        return [_row(reg.label, kind, f"{name}: {plan_error}", "fail")]
    runner.used = {}
    try:
        found = reg.check(ctx)
        if not isinstance(found, list) or not all(isinstance(r, CheckResult) for r in found):
            raise TypeError(f"returned {type(found).__name__}, not a list of CheckResult")
        error = None
    except Exception as exc:
        found, error = [], f"{name} raised {_exc_text(exc)}"
    diverged = runner.diverged()
    if diverged:
        note = "training diverged: " + "; ".join(describe(s) for s in diverged)
        found = [replace(r, verdict="diverged", claim=f"{r.claim} [{note}]")
                 if r.verdict == "fail" else r for r in found]
        if error is not None:
            found.append(_row(reg.label, kind, f"{error} [{note}]", "diverged"))
    elif error is not None:
        found.append(_row(reg.label, kind, error, "fail"))
    if not found:
        found.append(_row(reg.label, kind, f"{name} returned no rows", "fail"))
    return found


def _row(label: str, kind: str, claim: str, verdict: str) -> CheckResult:
    return CheckResult(label, claim, kind, None, None, None, verdict)


def _skipped(label: str) -> CheckResult:
    return _row(label, labels.KIND[label], f"{labels.TITLES[label]}: no check registered",
                "skipped")


def _exc_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _commit(store: Store, name: str, found: list[CheckResult], out_dir: Path) -> list[dict]:
    rows = [jsonable_row(r, out_dir) for r in found]
    for row in rows:
        store.add_result(name, row)
    return rows


def jsonable_row(result: CheckResult, out_dir: Path) -> dict:
    """``result`` as a strict-JSON dict; the plot path relative to ``out_dir``.

    Non-finite floats become the strings "NaN", "Infinity", "-Infinity"; numpy/torch
    scalars and arrays become numbers and lists; exact rationals their text (e.g. "1/3").
    """
    row = {key: jsonable(value) for key, value in vars(result).items()}
    if row["plot"] is not None:
        plot = Path(str(row["plot"]))
        if plot.is_absolute() or plot.parts[: len(out_dir.parts)] == out_dir.parts:
            try:
                plot = plot.resolve().relative_to(out_dir.resolve())
            except ValueError:
                pass
        row["plot"] = plot.as_posix()
    return row


def jsonable(value):
    """``value`` as plain JSON data (see :func:`jsonable_row`).

    >>> jsonable([1.5, float("inf"), (2, None)])
    [1.5, 'Infinity', [2, None]]
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if getattr(value, "is_Rational", False):
        return int(value) if value.is_Integer else str(value)
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if hasattr(value, "item"):
        return jsonable(value.item())
    if getattr(value, "is_Number", False):
        return jsonable(float(value))
    return str(value)
