"""``resdepth lesion``: Veit et al.'s lesion study on a real model against its frozen-gate spectrum."""

import argparse
import json

from resdepth.commands.probe import DRAWS, DRAWS_HELP, draws_cap, lesion_verdict
from resdepth.engine.errors import check_out_file, nonnegative_int, positive_int
from resdepth.real.models import RUNS_CODE, add_model_options, load_source, trace

DESCRIPTION = f"""\
Delete each residual block of a real model in turn (its skip kept: x_i = G_i(s_i(x_{{i-1}})))
and then m random blocks, and compare the output's change with what the frozen-gate path
spectrum predicts (THEORY.md R2, real architectures): with every gate held at its value on the
inputs, deleting block i removes exactly the paths through i, and the mean kept share
<out', out>/||out||^2 over all m-subsets is sum_k C(n-m, k)/C(n, k) s_k with the signed shares
s_k. The measured lesion recomputes every gate; the difference is the gates' movement.

{RUNS_CODE}"""


def register(subparsers) -> None:
    """Add the ``lesion`` sub-command."""
    parser = subparsers.add_parser(
        "lesion", help="Veit's lesion study on a real model against its frozen-gate spectrum",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(parser)
    parser.add_argument("--batch", type=positive_int, default=64,
                        help="use the first N examples of the inputs (default 64)")
    parser.add_argument("--max-m", type=positive_int, default=4, metavar="M",
                        help="delete up to M random blocks (default 4)")
    parser.add_argument("--draws", type=draws_cap, default=DRAWS,
                        help=DRAWS_HELP.format(other="probe"))
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed (default 0)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--plot", metavar="FILE", help="also plot the lesions")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Trace, lesion, print (and plot); 1 when the lesion row fails (as ``probe``)."""
    from resdepth.real import plots as real_plots
    from resdepth.real import rows as real_rows

    plot = check_out_file(args.plot, "--plot") if args.plot else None
    source = load_source(args, batch=args.batch)
    traced = trace(source, args.output)
    n = len(traced.blocks)
    degenerate = real_rows.degenerate_reason(source.model, traced.output)
    if degenerate is not None:
        row = real_rows.skipped_rows(source.name, degenerate, [
            ("R2", "empirical", "Veit lesions against the spectrum")])[0]
        study = {"singles": [], "curve": [], "signed_shares": []}
    else:
        row = lesion_verdict(traced, source.name, seed=args.seed, draws=args.draws,
                             max_m=args.max_m, singles=True)
        study = row.details
    if plot is not None and study["curve"]:
        real_plots.plot_lesions(study, plot, source.name, row.verdict)
    code = 1 if row.verdict == "fail" else 0
    payload = {"model": source.name, "inputs": source.inputs_text, "blocks": n,
               "singles": study["singles"], "curve": study["curve"],
               "signed_shares": study["signed_shares"], "verdict": row.verdict,
               "statistic": row.statistic, "statistic_se": study.get("statistic_se"),
               "reason": row.reason, "draws": row.details.get("draws"),
               "draws_cap": args.draws, "decided": row.details.get("decided"),
               "seed": args.seed}
    if args.format == "json":
        print(json.dumps(payload))
        return code
    lines = [f"# Lesions of {source.name} ({n} blocks; inputs: {source.inputs_text})", "",
             "| deleted block | measured change | frozen-gate change | unexplained |",
             "|---|---|---|---|"]
    lines += [f"| {s['block']} | {s['measured_change']:.4g} | {s['frozen_change']:.4g} | "
              f"{s['unexplained']:.3g} |" for s in study["singles"]]
    lines += ["", "| m | draws | kept share measured (SE) | spectrum prediction | "
              "uniform over paths |", "|---|---|---|---|---|"]
    lines += [f"| {c['m']} | {'all ' if c['exhaustive'] else ''}{c['draws']} | "
              f"{c['kept_measured']:.6g} ({c['kept_measured_se']:.2g}) | "
              f"{c['kept_predicted']:.6g} | {c['kept_uniform']:.4f} |" for c in study["curve"]]
    if row.criterion is None:
        lines += ["", f"verdict: {row.verdict} ({row.reason})"]
    else:
        lines += ["", f"verdict ({row.criterion.statistic} {row.criterion.op} "
                  f"{row.criterion.threshold}): {row.verdict}, statistic {row.statistic:.3g} "
                  f"(standard error {study['statistic_se']:.2g} at m = {study['deciding_m']}; "
                  f"{'decided' if study['decided'] else 'undecided at the cap'} after "
                  f"{study['rounds']} round(s), {study['sets_measured']} sets)"]
    print("\n".join(lines))
    return code
