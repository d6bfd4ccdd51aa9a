"""``resdepth validate``: every THEORY.md statement checked against trained models, one report.

Writes ``results.json``, ``report.md``, plots and ``results.sqlite`` into ``--out`` and prints a
one-screen summary with the rows per verdict (pass, fail, inconclusive, diverged, skipped);
exits 0 when no row fails or diverged (with --strict: nor is inconclusive) and 1 otherwise (2
for bad input, 130 when interrupted, after saying how to resume).
"""

import argparse
import shutil
from pathlib import Path

from resdepth.engine import labels
from resdepth.engine.errors import check_out_dir, nonnegative_int, positive_int
from resdepth.settings import CONFIG_KEYS, Settings, load_config

EPILOG = "--config FILE is a JSON object with any of these keys (command-line flags win):\n" + \
    "\n".join(f"  {key}: {meaning}" for key, meaning in CONFIG_KEYS.items()) + """

--figures FIG copies the report's plots into FIG after the run (each row's plot and the
signal-growth plot; the verdict overview verdicts.png only from a run of every label, since a
partial run's overview is not the suite's). The README's figures come from
  resdepth validate --figures docs/figures            (verdicts.png and every plot)
  resdepth validate --only R2 --figures docs/figures  (R2_trained_spectrum.png only)
--figures has no default: without it nothing is copied.

An existing DIR/results.sqlite is never overwritten silently: --resume continues it (finished
training runs are reused, every check runs again), --fresh deletes it first.

Verdicts: pass (the criterion holds and the check had the power to see a violation), fail,
inconclusive (it ran, but at these sizes it cannot tell the statement from its negation: a
vacuous bound, a condition never met, Monte Carlo error larger than the effect), diverged (a
training run behind the row went non-finite), skipped. Each row of results.json states its
criterion and its power. Exit code 0: nothing failed or diverged; 1 otherwise (--strict: also
when a row is inconclusive); 2 for bad input; 130 when interrupted."""


def register(subparsers) -> None:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate",
        help="run every check (R1-R5, S1-S7, D1-D5) on trained networks and write a report",
        description="Train the networks the checks need (resumable, locally or on Ray), run "
        "every registered check of THEORY.md's statements and write results.json, report.md, "
        "plots and results.sqlite.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", default=None,
                        help="the quick budget: smaller models and samples (about 0.75 x the "
                        "test suite's time: 127 s on 2 idle CPU cores, 397 s on 2 shared ones)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("validate-out"),
                        help="output folder (default: validate-out)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                        help="compute device (default: auto)")
    parser.add_argument("--backend", choices=("local", "ray"), default=None,
                        help="where training runs (default: local processes)")
    parser.add_argument("--address", metavar="ADDR", default=None,
                        help="Ray cluster address (default: start a local Ray instance)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="parallel training processes or Ray CPUs (default: 1)")
    parser.add_argument("--seed", type=nonnegative_int, default=None,
                        help="base seed of every check (default: 0)")
    parser.add_argument("--only", metavar="LABELS", default=None,
                        help="comma-separated labels or families, e.g. R1,S2 or D")
    parser.add_argument("--config", metavar="FILE", type=Path, default=None,
                        help="JSON settings file (keys below)")
    parser.add_argument("--figures", metavar="FIG", type=Path, default=None,
                        help="also copy the report's plots into the folder FIG (see below)")
    parser.add_argument("--strict", action="store_true", default=None,
                        help="exit 1 on inconclusive rows too (default: only fail or diverged)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue DIR/results.sqlite, skipping finished training runs")
    again.add_argument("--fresh", action="store_true",
                       help="delete DIR/results.sqlite first and start over")
    parser.set_defaults(func=run)


def settings_from_args(args) -> Settings:
    """Merge ``--config`` (if any) and the flags given on the command line into Settings."""
    values = load_config(args.config) if args.config is not None else {}
    if args.only is not None:
        values["only"] = labels.select(args.only)
    for name in ("quick", "device", "backend", "address", "workers", "seed", "strict"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if values.get("address") and values.get("backend", "local") != "ray":
        raise ValueError("--address needs --backend ray")
    if args.figures is not None:
        check_out_dir(args.figures, "--figures")
    return Settings(out_dir=args.out, resume=args.resume, fresh=args.fresh,
                    config=args.config, figures=args.figures, **values)


def run(args) -> int:
    from resdepth.report import summary
    from resdepth.validate import validate

    outcome = validate(settings_from_args(args))
    print(summary(outcome))
    if outcome.settings.figures is not None:
        print(copy_figures(outcome, outcome.settings.figures))
    return outcome.exit_code


def report_plots(outcome) -> list[str]:
    """The plots the report shows, relative to its folder: each row's plot, the signal-growth
    plot when drawn, and the verdict overview when every label ran."""
    from resdepth import plots

    out = outcome.settings.out_dir
    names = [row["plot"] for row in outcome.rows if row.get("plot")] + [plots.SIGNAL]
    if _every_label(outcome):
        names.append(plots.OVERVIEW)
    return [name for name in dict.fromkeys(names) if (out / name).is_file()]


def _every_label(outcome) -> bool:
    from resdepth.engine.registry import LABELS

    return set(outcome.settings.only) >= set(LABELS)


def copy_figures(outcome, folder: Path) -> str:
    """Copy :func:`report_plots` into ``folder`` (overwriting); a line saying what was copied."""
    names = report_plots(outcome)
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(outcome.settings.out_dir / name, target)
    partial = "" if _every_label(outcome) else (
        "; verdicts.png not copied: only a run of every label draws the suite's overview")
    plural = "" if len(names) == 1 else "s"
    return f"figures: copied {len(names)} plot{plural} into {folder}: {', '.join(names)}{partial}"
