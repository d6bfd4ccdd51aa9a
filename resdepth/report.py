"""The outputs of ``resdepth validate``: ``results.json``, ``report.md``, the terminal summary.

``results.json`` is ``{"schema_version", "meta", "rows"}`` (docs/results.md, validated against
docs/results.schema.json): ``rows`` in THEORY order, each ``{label, claim, kind, prediction,
measurement, statistic, criterion, power, verdict, reason, details, plot}``, hold nothing that
varies between two runs of the same configuration, so they are byte-identical on CPU for the
same settings and seeds; ``meta`` records versions, settings, device, start and wall times.
``report.md`` adds the settings, the timing and the plots.
"""

import json
import platform
from pathlib import Path

from resdepth.engine import labels
from resdepth.engine.registry import LABELS, VERDICTS

SCHEMA_VERSION = 2

VERDICT_MEANING = {
    "pass": "the statement's criterion holds and the check had the power to see a violation "
            "(an identity to rounding, |z| < 5 with a standard error small against the "
            "effect, a bound that is not vacuous and not violated, a predicted trend with "
            "confidence intervals)",
    "fail": "the criterion does not hold, or the check itself raised (the reason names "
            "the exception); either way, someone must look",
    "inconclusive": "the check ran, but at the sizes used it cannot tell the statement from "
                    "its negation: a bound looser than the trivial one, a conditional claim "
                    "whose condition was never met, a Monte Carlo error larger than the "
                    "effect; the power column says which",
    "diverged": "a training run behind the check produced a non-finite loss (the reason "
                "names it); the check's own rows stand beside it",
    "skipped": "the check could not run here (no GPU, no check registered yet); the reason "
               "says why",
}


SIGNAL_CAPTION = (
    "Signal growth at initialisation (S2, S3, S4): lines are the predictions, points Monte "
    "Carlo means with two standard errors. For lam = 1 at large depth the ratio is "
    "heavy-tailed, so a finite sample's mean tends to fall below the expectation and its "
    "standard error understates the spread; the S2 rows test depths where it does not."
)


def write_all(outcome) -> None:
    """Write ``results.json``, the overview plots and ``report.md`` into the output folder.

    The signal-growth plot (S2/S3/S4) is drawn here when one of those labels was run and no
    check wrote a plot with "signal" in its name.
    """
    from resdepth import plots

    out = outcome.settings.out_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(results_json(outcome.rows, meta(outcome)),
                                      encoding="utf-8")
    plots.verdict_overview(outcome.rows, out / plots.OVERVIEW)
    wanted = {"S2", "S3", "S4"} & set(outcome.settings.only)
    if wanted and not any("signal" in png.name.lower() for png in out.glob("*.png")):
        plots.signal_growth(out / plots.SIGNAL, seed=outcome.settings.seed,
                            mode=outcome.settings.mode)
    (out / "report.md").write_text(markdown(outcome), encoding="utf-8")


def results_json(rows: list[dict], meta: dict) -> str:
    """``{"schema_version", "meta", "rows"}`` as strict JSON (no NaN), ending with a newline."""
    document = {"schema_version": SCHEMA_VERSION, "meta": meta, "rows": rows}
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def meta(outcome) -> dict:
    """The run's metadata: versions, settings, device, start time, wall times per check."""
    import numpy
    import torch

    from resdepth import __version__

    s = outcome.settings
    return {
        "resdepth": __version__, "python": platform.python_version(),
        "torch": torch.__version__, "numpy": numpy.__version__,
        "platform": platform.platform(),
        "mode": s.mode, "seed": s.seed, "device": outcome.device, "strict": s.strict,
        "labels": list(s.only), "backend": s.backend, "workers": s.workers,
        "config": None if s.config is None else str(s.config),
        "started": outcome.started, "wall_time_s": round(outcome.wall_time_s, 3),
        "check_wall_time_s": {name: round(sec, 3) for name, sec in outcome.timings.items()},
        "training_runs": {"trained": outcome.trained, "reused": outcome.reused,
                          "diverged": outcome.diverged},
        "checks_reused": list(outcome.reused_checks),
        "counts": counts(outcome.rows),
    }


def label_verdict(rows: list[dict]) -> str:
    """One verdict for a label: fail beats diverged beats inconclusive beats pass beats skipped."""
    verdicts = {row["verdict"] for row in rows}
    for verdict in ("fail", "diverged", "inconclusive", "pass"):
        if verdict in verdicts:
            return verdict
    return "skipped"


def counts(rows: list[dict]) -> dict[str, int]:
    """Rows per verdict, in :data:`VERDICTS` order."""
    return {v: sum(row["verdict"] == v for row in rows) for v in VERDICTS}


def markdown(outcome) -> str:
    """``report.md``: overview, settings, the verdict table in THEORY order, the verdicts' meaning."""
    from resdepth import plots

    settings = outcome.settings
    rows = outcome.rows
    tally = ", ".join(f"{n} {v}" for v, n in counts(rows).items())
    lines = [
        "# resdepth validate: report",
        "",
        f"{len(rows)} rows: {tally}. Exit code {outcome.exit_code} (1 when any row fails or "
        f"diverged{', or is inconclusive (--strict)' if settings.strict else ''}).",
        "",
        f"![verdicts per label]({plots.OVERVIEW})",
        "",
        *_overview_plots(settings.out_dir),
        "## Verdicts (THEORY.md order)",
        "",
        "| label | statement | kind | claim | prediction | measurement | statistic | criterion "
        "| power | verdict | plot |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_table_row(row) for row in rows]
    lines += ["", "## What the verdicts mean", ""]
    lines += [f"- **{v}**: {meaning}." for v, meaning in VERDICT_MEANING.items()]
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _settings_table(outcome).items()]
    if outcome.undeclared:
        lines += ["", "## Training runs that checks did not declare", "",
                  ("Trained while the check ran (not in its `needs`, so neither parallel "
                   "nor counted in the progress bar):"), ""]
        lines += [f"- {name}: {n} run{'s' if n > 1 else ''}"
                  for name, n in outcome.undeclared.items()]
    if outcome.timings:
        lines += ["", "## Time per check", "", "| check | seconds |", "|---|---|"]
        lines += [f"| {name} | {sec:.1f} |" for name, sec in
                  sorted(outcome.timings.items(), key=lambda item: -item[1])]
    if outcome.train_errors:
        lines += ["", "## Training runs that raised", ""]
        lines += [f"- {run}: {error}" for run, error in outcome.train_errors.items()]
    extra = _unlinked_plots(rows, settings.out_dir)
    if extra:
        lines += ["", "## Further plots", ""]
        lines += [f"- [{name}]({name})" for name in extra]
    return "\n".join(lines) + "\n"


def _overview_plots(out_dir: Path) -> list[str]:
    from resdepth import plots

    if not (out_dir / plots.SIGNAL).exists():
        return []
    return [
        f"![signal growth against depth per scaling]({plots.SIGNAL})",
        "",
        SIGNAL_CAPTION,
        "",
    ]


def _table_row(row: dict) -> str:
    label = row["label"]
    plot = f"[plot]({row['plot']})" if row.get("plot") else ""
    claim = row["claim"] + (f" ({row['reason']})" if row.get("reason") else "")
    cells = [label, labels.TITLES[label], row["kind"], _cell(claim, 400),
             _cell(row["prediction"]), _cell(row["measurement"]), _cell(row["statistic"]),
             _cell(criterion_text(row.get("criterion")), 120),
             _cell(power_text(row.get("power")), 200), f"**{row['verdict']}**", plot]
    return "| " + " | ".join(cells) + " |"


def criterion_text(criterion: dict | None) -> str:
    """``statistic op threshold`` of a row's criterion, for reading."""
    if not criterion:
        return ""
    return f"{criterion['statistic']} {_op(criterion['op'])} {_number(criterion['threshold'])}"


def power_text(power: dict | None) -> str:
    """A row's power: what it could reject and the number that measured it."""
    if not power:
        return ""
    value = "n/a" if power["value"] is None else _number(power["value"])
    return (f"{power['alternative']}: {value} (informative when {_op(power['op'])} "
            f"{_number(power['threshold'])})")


def _op(op: str) -> str:
    return op.replace("|x|", "|.| ")


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(value, limit: int = 60) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, list | dict):
        text = json.dumps(value)
    else:
        text = str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _settings_table(outcome) -> dict[str, str]:
    import torch

    s = outcome.settings
    chosen = "all" if s.only == LABELS else ",".join(s.only)
    return {
        "mode": s.mode,
        "device": outcome.device,
        "base seed": str(s.seed),
        "labels": chosen,
        "backend": f"{s.backend} ({s.workers} worker{'s' if s.workers > 1 else ''})"
                   + (f" at {s.address}" if s.address else ""),
        "training runs": f"{outcome.trained} trained now, {outcome.reused} reused from "
                         f"results.sqlite, {outcome.diverged} diverged",
        "strict": "yes (inconclusive rows fail the exit code)" if s.strict else "no",
        "started": outcome.started,
        "wall time": f"{outcome.wall_time_s:.1f} s",
        "config file": str(s.config) if s.config else "none",
        "software": f"python {platform.python_version()}, torch {torch.__version__}",
    }


def _unlinked_plots(rows: list[dict], out_dir: Path) -> list[str]:
    from resdepth import plots

    linked = {row["plot"] for row in rows if row.get("plot")} | {plots.OVERVIEW, plots.SIGNAL}
    return sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.png")
                  if p.relative_to(out_dir).as_posix() not in linked)


def summary(outcome, width: int = 100) -> str:
    """The one-screen terminal summary: one line per label, the failures, the totals."""
    s = outcome.settings
    by_label: dict[str, list[dict]] = {}
    for row in outcome.rows:
        by_label.setdefault(row["label"], []).append(row)
    mode = s.mode
    lines = [f"resdepth validate ({mode}, {outcome.device}, seed {s.seed}): "
             + f"{outcome.wall_time_s:.0f} s"]
    for label in (lb for lb in LABELS if lb in by_label):
        rows = by_label[label]
        tally = " ".join(f"{n} {v}" for v, n in counts(rows).items() if n)
        lines.append(f"  {label:<3} {labels.TITLES[label]:<40} "
                     f"{label_verdict(rows).upper():<9} {tally}")
    bad = [row for row in outcome.rows if row["verdict"] in ("fail", "diverged", "inconclusive")]
    if bad:
        lines.append("not passing:")
        for row in bad[:8]:
            why = f" ({row['reason']})" if row.get("reason") else ""
            lines.append(_clip(f"  {row['label']} {row['verdict']}: {row['claim']}{why}", width))
        if len(bad) > 8:
            lines.append(f"  ... and {len(bad) - 8} more in report.md")
    tally = ", ".join(f"{n} {v}" for v, n in counts(outcome.rows).items())
    lines.append(f"{len(outcome.rows)} rows: {tally}")
    reused = outcome.reused_checks
    if reused:
        lines.append(f"--resume: reused the rows of {len(reused)} finished checks "
                     f"(unchanged settings and code); ran the other "
                     f"{len(outcome.timings) - len(reused)}")
    if outcome.undeclared:
        names = ", ".join(outcome.undeclared)
        lines.append(_clip(f"note: trained runs their checks did not declare in needs: {names}",
                           width))
    lines.append(f"report: {s.out_dir / 'report.md'}  rows: {s.out_dir / 'results.json'}  "
                 f"runs: {s.out_dir / 'results.sqlite'}")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def probe_markdown(title: str, rows: list[dict], meta: dict, notes: list[str]) -> str:
    """``report.md`` of ``resdepth probe``: the verdict table in validate's row format, the
    model's description, what does not apply to it, and the verdicts' meaning."""
    tally = ", ".join(f"{n} {v}" for v, n in counts(rows).items())
    lines = [f"# resdepth probe: {title}", "", f"{len(rows)} rows: {tally}.", "",
             "| label | statement | kind | claim | prediction | measurement | statistic "
             "| criterion | power | verdict | plot |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [_table_row(row) for row in rows]
    lines += ["", "## Model", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {_cell(v, 200)} |" for k, v in meta.items() if k != "description"]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    lines += ["", "## What the verdicts mean", ""]
    lines += [f"- **{v}**: {meaning}." for v, meaning in VERDICT_MEANING.items()]
    return "\n".join(lines) + "\n"
