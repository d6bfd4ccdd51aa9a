"""``resdepth probe``: run every applicable statement of the theory on one real model."""

import argparse
import json
import platform
import time

from resdepth.engine.errors import check_out_dir, nonnegative_int, positive_int
from resdepth.real.models import RUNS_CODE, add_model_options, load_source, trace

DESCRIPTION = f"""\
Trace a residual model (torch.export first, torch.fx's make_fx at the inputs as the fallback),
find its blocks x_i = G_i(s_i(x_{{i-1}}) + sum_b lam_ib f_ib(x_{{i-1}})) and check the theory on it,
in float64, at the given inputs:

  R4  path counts of the traced DAG = [z^k] prod_i (1 + B_i z) (DP and enumeration)
  R2  the output is exactly the sum of its frozen-gate paths (ReLU masks, max-pool argmaxes,
      BatchNorm in eval mode, LayerNorm's 1/sigma, softmax patterns, GELU's Phi frozen);
      the O(n^2) spectrum against enumeration; Veit's lesions against the spectrum
  R5  the product of block Jacobians against autograd
  S2/S3  the stream's energy against S2's orthogonal-branch law, effective lam_i, S4 regime
  D1  on post-LN models: a zero-initialised block inserted with a fresh LayerNorm

Writes report.md, results.json (the rows of `resdepth validate`, with criteria, power and
verdicts) and plots into --out. Exit code 1 when a row fails.

{RUNS_CODE}

examples:
  resdepth probe --model mymodels:make_bert --inputs mymodels:bert_inputs --out probe-bert
  resdepth probe --checkpoint runs/mlp16 --out probe-mlp16"""


DRAWS = 64
"""Default cap on the deletion sets drawn per m for ``probe`` and ``lesion`` (one shared
default): :data:`resdepth.real.rows.LESION_ROUND` sets per m first, then as many as
:func:`resdepth.real.rows.lesion_more` says the standard error needs, until the lesion row's
verdict is decided, so a clear verdict stops far below the cap."""

DRAWS_HELP = (f"cap on the random deletion sets per m (default {DRAWS}, at least 2): sets are "
              "drawn 5 per m, then as many more as the standard error so far says are needed, "
              "the first-order frozen-gate lesion of each as a control variate, until the "
              "verdict sits 5 standard errors from its threshold; the same sets as "
              "`resdepth {other}` at the same --seed")


def draws_cap(text: str) -> int:
    """argparse type of ``--draws``: an integer >= 2 (a standard error needs two draws)."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected at least 2 (a standard error needs two draws), got {value}")
    return value


def register(subparsers) -> None:
    """Add the ``probe`` sub-command."""
    parser = subparsers.add_parser(
        "probe", help="check the theory (R2, R4, R5, S2/S3, lesions, D1) on a real model",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(parser)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for report.md, results.json and the plots")
    parser.add_argument("--batch", type=positive_int, default=64,
                        help="use the first N examples of the inputs (default 64)")
    parser.add_argument("--draws", type=draws_cap, default=DRAWS,
                        help=DRAWS_HELP.format(other="lesion"))
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed (default 0)")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Trace, probe, write the report; 1 if a row fails."""
    out = check_out_dir(args.out)
    started = time.time()
    source = load_source(args, batch=args.batch)
    traced = trace(source, args.output)
    rows, plots, notes = probe(traced, source, seed=args.seed, draws=args.draws, out=out)
    payload = [row.as_dict() for row in rows]
    from resdepth.report import counts, probe_markdown, results_json

    meta = _meta(traced, source, args, started)
    meta.update(counts=counts(payload), labels=sorted({r["label"] for r in payload}))

    (out / "results.json").write_text(results_json(payload, meta), encoding="utf-8")
    (out / "report.md").write_text(probe_markdown(source.name, payload, meta, notes),
                                   encoding="utf-8")
    for row in payload:
        print(f"{row['label']:<3} {row['verdict']:<12} {row['claim'][:90]}")
    print(f"report: {out / 'report.md'}  rows: {out / 'results.json'}  plots: {len(plots)}")
    return 1 if any(r["verdict"] in ("fail", "diverged") for r in payload) else 0


def _meta(traced, source, args, started) -> dict:
    from datetime import datetime, timezone

    import torch

    from resdepth import __version__
    from resdepth.real.models import traced_description

    wall = round(time.time() - started, 3)
    return {"resdepth": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "mode": "full", "strict": False,
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(),
            "wall_time_s": wall, "check_wall_time_s": {"probe": wall}, "model": source.name,
            "inputs": source.inputs_text, "output": args.output or "first tensor output",
            "tracer": traced.captured.method, "blocks": len(traced.blocks),
            "dtype_islands": [i.describe() for i in traced.islands],
            "gates": traced.gates(), "device": str(traced.x0.device), "seed": args.seed,
            "description": json.loads(json.dumps(traced_description(traced), default=str))}


def probe(traced, source, *, seed: int, draws: int, out):
    """(rows, plot files, notes) of every applicable statement on ``traced``."""
    import torch

    from numerics.real.frozen import frozen_spectrum
    from numerics.real.gates import frozen_gate_summary, normalises
    from numerics.real.probes import (
        d1_insertion,
        jacobian_check,
        reinitialised,
        reweighted,
        signal_profile,
    )
    from resdepth.real import plots as real_plots
    from resdepth.real import rows as real_rows
    from resdepth.real.models import traced_description

    generator = torch.Generator().manual_seed(seed)
    name = source.name
    description = traced_description(traced)
    notes = list(traced.captured.notes) + island_notes(traced)
    degenerate = real_rows.degenerate_reason(source.model, traced.output)
    if degenerate is not None:
        notes.append(f"theory rows skipped: {degenerate}")
        signal_label = "S3" if normalises(traced) else "S2"
        return [real_rows.count_row(name, description)] + real_rows.skipped_rows(
            name, degenerate, [("R2", "exact", "the output is the sum of its frozen-gate paths"),
                               ("R5", "exact", "the product of block Jacobians = autograd"),
                               (signal_label, "empirical", "the orthogonal-branch signal law"),
                               ("R2", "empirical", "Veit lesions against the spectrum"),
                               ("D1", "exact", "a zero-initialised block preserves the output")
                               ]), [], notes
    spectrum = frozen_spectrum(traced, progress=len(traced.blocks) >= 32)
    gates = frozen_gate_summary(traced)
    tol = traced.exact_tol(real_rows.EXACT_TOL)
    rows = [real_rows.count_row(name, description),
            real_rows.sum_row(name, spectrum, gates, description, tol),
            real_rows.enumeration_row(name, traced, spectrum),
            real_rows.jacobian_row(name, jacobian_check(traced, generator), tol)]
    plots = [real_plots.plot_spectrum_shares(spectrum, out / "spectrum.png", name)]
    profile = signal_profile(traced)
    init_model = source.init_model or reinitialised(source.model, seed)
    try:  # the same graph with the initial weights: no second trace
        init_traced = reweighted(traced, init_model)
    except KeyError:
        init_traced = trace(type(source)(init_model, source.args, source.kwargs, name,
                                         source.inputs_text, float64=source.float64))
    init_profile = signal_profile(init_traced)
    label = "S3" if normalises(traced) else "S2"
    signal = real_rows.signal_row(name, profile, label, init_profile, "signal.png")
    plots.append(real_plots.plot_signal(profile, init_profile, out / "signal.png", name,
                                        signal.verdict))
    rows.append(signal)
    lesion = lesion_verdict(traced, name, seed=seed, draws=draws, max_m=4, spectrum=spectrum)
    plots.append(real_plots.plot_lesions(lesion.details, out / "lesions.png", name,
                                         lesion.verdict))
    rows.append(lesion)
    d1 = d1_insertion(traced, generator)
    if d1 is None:
        reason = "D1 does not apply: no block has a LayerNorm after its add (post-LN)"
        notes.append(reason)
        rows += real_rows.skipped_rows(name, reason, [
            ("D1", "exact", "a zero-initialised block preserves the output")])
    else:
        rows.append(real_rows.d1_row(name, d1))
    return rows, plots, notes


def island_notes(traced) -> list[str]:
    """One note per kind of dtype island: promoted to float64, or kept (and the tolerance)."""
    from numerics.real.dtypes import summarise

    notes = []
    promoted = [i for i in traced.islands if i.status == "promoted"]
    if promoted:
        notes.append(f"float64 end to end: {len(promoted)} place(s) that computed below "
                     f"float64 were promoted (eager output differs by {traced.eager_gap:.1e} "
                     "relative): " + "; ".join(summarise(promoted)))
    kept = traced.kept_islands()
    if kept:
        notes.append(f"dtype islands kept below float64 (exact rows' tolerance "
                     f"{traced.exact_tol(1e-10):.1e}): " + "; ".join(summarise(kept)))
    return notes


def lesion_verdict(traced, name: str, *, seed: int, draws: int, max_m: int,
                   spectrum=None, singles: bool = False):
    """The one lesion row of a model, shared by ``probe`` and ``lesion``: m = 1 .. min(n, max_m),
    deletion sets drawn sequentially (:func:`numerics.real.lesion_study.lesion_study`) from
    their own generator seeded ``seed``, :data:`~resdepth.real.rows.LESION_ROUND` per m and
    then rounds sized by :func:`~resdepth.real.rows.lesion_more`, each set's first-order frozen
    lesion the control variate, stopped by the row's own rule
    (:func:`~resdepth.real.rows.lesion_undecided`) or at
    ``draws`` per m, so both commands draw the same sets and reach the same verdict. The row's
    details hold the study, the draws per m and the statistic's standard error; ``singles``
    (``lesion``'s table) adds each block deleted in turn, after the draws, never judged."""
    import torch

    from numerics.real.lesion_study import lesion_study
    from resdepth.real import rows as real_rows

    n = len(traced.blocks)
    study = lesion_study(traced, list(range(1, min(n, max_m) + 1)),
                         torch.Generator().manual_seed(seed),
                         undecided=real_rows.lesion_undecided, round_size=real_rows.LESION_ROUND,
                         max_draws=draws, spectrum=spectrum, singles=singles,
                         more=real_rows.lesion_more)
    return real_rows.lesion_row(name, study, "lesions.png")
