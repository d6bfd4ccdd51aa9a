"""``resdepth validate``: train what the checks need, run every check, write the report.

The flow, for the registered checks of THEORY.md's labels in THEORY order (R1..R5, S1..S7,
D1..D5):

1. ask each check for its training runs (``Registered.specs(ctx)``) and deduplicate them by
   :meth:`RunSpec.key`;
2. train the runs not yet in ``DIR/results.sqlite`` on the chosen backend (local processes or
   Ray), committing each the moment it finishes (a run whose loss went non-finite is stored
   as ``diverged``);
3. run each check, inside :func:`numerics.device.exact_mode`, with a :class:`CheckContext`
   whose ``runner`` rebuilds the trained model from the store
   (:class:`resdepth.engine.runner.StoreRunner`), so a resumed validation sees exactly the models a
   fresh one would;
4. write ``results.json``, ``report.md``, the overview plot and the terminal summary.

Rules for rows: a check's rows stand as it computed them (a failing row is never relabelled).
A check that raises adds a ``fail`` row naming the check and the exception; a label with no
registered check is a ``skipped`` row; a check that used a training run stored as diverged
gets one more row, ``diverged``, naming the runs, unless it was registered with
``divergence_ok`` (divergence is then part of its prediction and it judges the runs itself).
Each check's rows are committed the moment it finishes, with the fingerprint they were computed
under (label, mode, seed, device, code version, torch version: :mod:`resdepth.engine.version`);
``--resume`` reuses the training runs and every finished check whose fingerprint is unchanged,
reruns only what did not finish, and says which checks it reruns because a setting or the code
changed. Exit code 0 means no row failed and no row is diverged; ``--strict`` also turns
inconclusive rows into exit code 1.
"""

import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tqdm import tqdm

from resdepth.engine import labels
from resdepth.engine.errors import check_out_dir, exception_text
from resdepth.engine.registry import LABELS, CheckContext, CheckResult, Registered
from resdepth.engine.rows import row_error
from resdepth.engine.runner import StoreRunner
from resdepth.engine.store import Store, open_store
from resdepth.engine.sweep import describe, make_backend, train_run
from resdepth.engine.training import train_into_store
from resdepth.engine.version import changes, fingerprint
from resdepth.settings import Settings, resume_command

BLOCKING = ("fail", "diverged")
"""Verdicts that make the exit code 1 (``--strict`` adds inconclusive)."""


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
    started: str = ""
    train_errors: dict = field(default_factory=dict)
    undeclared: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    reused_checks: list = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when no row failed or diverged (nor, with ``--strict``, is inconclusive); else 1."""
        blocking = BLOCKING + (("inconclusive",) if self.settings.strict else ())
        return 1 if any(row["verdict"] in blocking for row in self.rows) else 0


def collect(registry: dict[str, list[Registered]], only: tuple[str, ...]
            ) -> list[tuple[str, list[Registered]]]:
    """The chosen labels in THEORY order, each with its registered checks."""
    return [(label, list(registry.get(label, []))) for label in LABELS if label in only]


def check_name(registered: Registered) -> str:
    """``module.function`` of a registered check (how the report names it)."""
    check = registered.check
    return f"{check.__module__}.{getattr(check, '__qualname__', repr(check))}"


def validate(settings: Settings, registry: dict[str, list[Registered]] | None = None,
             train=train_run) -> Outcome:
    """Run the validation described by ``settings``; see the module docstring.

    ``registry`` defaults to the checks of :mod:`resdepth.checks`; ``train`` (a picklable
    ``(spec, device) -> TrainedRun``) to :func:`resdepth.engine.sweep.train_run`.
    """
    from numerics.device import choose_device
    from resdepth import report

    start = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    check_out_dir(settings.out_dir)
    device = choose_device(settings.device).type
    backend = make_backend(settings.backend, workers=settings.workers, address=settings.address)
    store = _open_store(settings)
    try:
        if registry is None:
            from resdepth.checks import load_checks

            registry = load_checks(settings.only)
        chosen = collect(registry, settings.only)
        errors: dict[str, str] = {}
        runner = StoreRunner(store, train, errors)
        ctx = CheckContext(quick=settings.quick, device=device, seed=settings.seed,
                           out_dir=settings.out_dir, runner=runner)
        specs, plan_errors = _plan(chosen, ctx)
        todo = [spec for key, spec in specs.items() if key not in store.finished_keys()]
        train_into_store(todo, backend, device, train, store, desc="training",
                         progress=settings.progress, resume_hint=resume_command(settings),
                         errors=errors)
        timings: dict[str, float] = {}
        reused: list[str] = []
        rows = _run_checks(chosen, ctx, runner, plan_errors, store, settings, timings, reused)
        statuses = [store.load_run(key).status for key in specs if key not in errors]
        outcome = Outcome(
            rows=rows, settings=settings, device=device,
            wall_time_s=time.perf_counter() - start, trained=len(todo) - len(errors),
            reused=len(specs) - len(todo), diverged=statuses.count("diverged"), started=started,
            train_errors={describe(specs[k]): v for k, v in errors.items()},
            undeclared=dict(runner.undeclared), timings=timings, reused_checks=reused,
        )
        report.write_all(outcome)
        return outcome
    finally:
        store.close()


def _open_store(settings: Settings) -> Store:
    return open_store(settings.out_dir, resume=settings.resume, fresh=settings.fresh,
                      holds="a validation")


def _plan(chosen, ctx: CheckContext) -> tuple[dict, dict[int, str]]:
    """Every training run the chosen checks declare, deduplicated by key in first-seen order."""
    specs: dict = {}
    errors: dict[int, str] = {}
    for _, registered in chosen:
        for reg in registered:
            try:
                for spec in reg.specs(ctx):
                    specs.setdefault(spec.key(), spec)
            except Exception as exc:
                errors[id(reg)] = f"listing its training runs raised {exception_text(exc)}"
    return specs, errors


def _run_checks(chosen, ctx, runner, plan_errors, store, settings, timings, reused
                ) -> list[dict]:
    """Run every chosen check, committing its rows as it finishes; rows in THEORY order.

    ``timings`` receives each check's wall time in seconds (training it did itself included;
    for a check reused on ``--resume``, the time it took when it ran), ``reused`` the names of
    the checks whose stored rows were reused.
    """
    store.clear_results()
    rows: list[dict] = []
    n_checks = sum(len(regs) for _, regs in chosen)
    bar = tqdm(total=n_checks, desc="checks", unit="check", disable=not settings.progress)
    finished = 0
    try:
        for label, registered in chosen:
            if not registered:
                rows += _commit(store, label, [_skipped(label)], settings.out_dir)
            for reg in registered:
                bar.set_postfix_str(label)
                name = runner.current = check_name(reg)
                now = fingerprint(reg.label, mode=ctx.mode, seed=ctx.seed, device=ctx.device)
                stored = _finished(store, name, now) if settings.resume else None
                if stored is not None:
                    found, timings[name] = stored.rows, stored.wall_time_s
                    reused.append(name)
                else:
                    begin = time.perf_counter()
                    result = _run_one(reg, ctx, runner, plan_errors.get(id(reg)))
                    timings[name] = time.perf_counter() - begin
                    found = [report_row(r, settings.out_dir) for r in result]
                    store.save_check(name, now, found, timings[name])
                rows += _commit_rows(store, name, found)
                finished += 1
                bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        tqdm.write(f"interrupted during the checks; the training runs and {finished} finished "
                   f"checks are saved: {resume_command(settings)}", file=sys.stderr)
        raise
    bar.close()
    return rows


def _finished(store: Store, name: str, now: dict):
    """The stored rows of check ``name`` (a :class:`~resdepth.engine.store.FinishedCheck`) when
    they were computed under the fingerprint ``now``; None when the check must run. A check
    stored under another fingerprint is rerun, and what changed is printed."""
    stored = store.load_check(name)
    if stored is not None and stored.fingerprint != now:
        tqdm.write(f"rerunning {name}: {changes(stored.fingerprint, now)}", file=sys.stderr)
        return None
    return stored


def _run_one(reg: Registered, ctx, runner: StoreRunner, plan_error: str | None
             ) -> list[CheckResult]:
    """The rows of one check, plus a fail row if it raised and a diverged row if a run it
    used diverged (see the module docstring)."""
    from numerics.device import exact_mode

    name = check_name(reg)
    kind = labels.KIND[reg.label]
    claim = f"{labels.TITLES[reg.label]}: check {name}"
    if plan_error is not None:
        return [row_error(reg.label, kind, claim, "fail", plan_error)]
    runner.used = {}
    try:
        with exact_mode():
            found = reg.check(ctx)
        if not isinstance(found, list) or not all(isinstance(r, CheckResult) for r in found):
            raise TypeError(f"returned {type(found).__name__}, not a list of CheckResult")
        error = None
    except Exception as exc:
        found, error = [], f"raised {exception_text(exc)}"
    if error is not None:
        found.append(row_error(reg.label, kind, claim, "fail", error))
    diverged = runner.diverged()
    if diverged and not reg.divergence_ok:
        found.append(row_error(
            reg.label, kind, claim, "diverged",
            "training diverged (non-finite loss) in: " + "; ".join(describe(s) for s in diverged)
            + "; the check's own rows stand as computed"))
    if not found:
        found.append(row_error(reg.label, kind, claim, "fail", "the check returned no rows"))
    return found


def _skipped(label: str):
    return row_error(label, labels.KIND[label], labels.TITLES[label], "skipped",
                     "no check registered for this label")


def _commit(store: Store, name: str, found: list[CheckResult], out_dir) -> list[dict]:
    return _commit_rows(store, name, [report_row(r, out_dir) for r in found])


def _commit_rows(store: Store, name: str, rows: list[dict]) -> list[dict]:
    for row in rows:
        store.add_result(name, row)
    return rows


def report_row(result: CheckResult, out_dir) -> dict:
    """``result`` as a strict-JSON dict, its plot path made relative to ``out_dir``."""
    from pathlib import Path

    row = result.as_dict()
    if row["plot"] is not None:
        plot = Path(str(row["plot"]))
        if plot.is_absolute() or plot.parts[: len(out_dir.parts)] == out_dir.parts:
            try:
                plot = plot.resolve().relative_to(out_dir.resolve())
            except ValueError:
                pass
        row["plot"] = plot.as_posix()
    return row
