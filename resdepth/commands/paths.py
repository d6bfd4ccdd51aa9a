"""``resdepth paths``: count a residual architecture's input-to-output paths by length (R1, R4)."""

import argparse
import json
from fractions import Fraction

from graphs.builders import ARCHS, parallel, tower, transformer
from graphs.counting import MEASURES, count_paths
from graphs.export import write_dot, write_graphml
from graphs.plot import binomial_pmf, plot_path_lengths
from resdepth.engine.errors import ResdepthError, check_out_file, positive_int
from resdepth.real.models import RUNS_CODE, add_model_options
from resdepth.tables.formats import Table
from resdepth.tables.render import render

MAX_BLOCKS = 2000

DESCRIPTION = """\
Build the computation DAG of a residual architecture (or trace your own PyTorch model) and
count its input-to-output paths by length exactly, by a dynamic programme over the DAG (no
enumeration): a tower of n blocks has C(n, k) paths of length k, 2^n in all (THEORY.md R1,
R4); B parallel branches per block give C(n, k) B^k.

--model with --inputs traces with torch.export at those inputs (the way BERT, GPT-2 and ViT
from transformers trace; torch.fx's make_fx is the fallback); --model alone traces by
torch.fx symbolic tracing, module by module. Branch nodes are named after their modules
(attention, mlp, ...); only a shortcut that carries weights is a projection node.

""" + RUNS_CODE


def register(subparsers) -> None:
    """Add the ``paths`` sub-command."""
    parser = subparsers.add_parser(
        "paths", help="exact path counts by length of a residual architecture's DAG (R1, R4)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--arch", choices=ARCHS, help="a built-in architecture")
    add_model_options(parser)
    parser.add_argument("--blocks", type=positive_int, metavar="N",
                        help=f"residual blocks (layers for transformer), at most {MAX_BLOCKS}")
    parser.add_argument("--branches", type=positive_int, metavar="B",
                        help="parallel branches per block (only with --arch parallel; default 2)")
    parser.add_argument("--measure", choices=MEASURES, default="blocks",
                        help="path length in branches taken (blocks) or branch layers crossed "
                        "(by_length in the output follows it)")
    parser.add_argument("--format", choices=("md", "csv", "latex", "json"), default="md",
                        help="md (for reading, default), csv, latex (a booktabs table for "
                        "pdflatex) or json")
    parser.add_argument("--graphml", metavar="FILE", help="also write the DAG as GraphML")
    parser.add_argument("--dot", metavar="FILE", help="also write the DAG as Graphviz DOT")
    parser.add_argument("--plot", metavar="FILE",
                        help="also plot the length distribution against the binomial law")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build or trace the DAG, count its paths, write the requested outputs."""
    outputs = {flag: check_out_file(getattr(args, flag), f"--{flag}")
               for flag in ("graphml", "dot", "plot") if getattr(args, flag)}
    if args.plot and args.measure != "blocks":
        raise ResdepthError("--plot compares lengths in blocks with the binomial law; "
                            "drop --measure layers")
    graph, name, blocks, p = _graph(args)
    counts = count_paths(graph, args.measure)
    unit = "layers" if name == "transformer" else "blocks"
    if "graphml" in outputs:
        write_graphml(graph, outputs["graphml"])
    if "dot" in outputs:
        write_dot(graph, outputs["dot"])
    if "plot" in outputs:
        plot_path_lengths(counts.by_length, outputs["plot"], p=p,
                          title=f"{name}: {blocks} {unit}")
    if args.format == "json":
        payload = {"arch": name, "blocks": blocks, "total_paths": counts.total,
                   "by_length": list(counts.by_length)}
        print(json.dumps(payload))
        return 0
    head = f"{name}, {blocks} {unit}"
    if graph.graph.get("opaque"):
        head += f" (kept whole, not traced into: {graph.graph['opaque']})"
    if args.format == "md":
        print(_markdown(head, counts, p, args.measure), end="")
    else:
        print(render(_table(head, counts, p, args.measure), args.format), end="")
    return 0


def _graph(args):
    """(graph, arch name, block count as given, binomial p of the prediction)."""
    if (args.arch is None) == (args.model is None and args.checkpoint is None):
        raise ResdepthError("give exactly one of --arch or --model (or --checkpoint)")
    if args.model is not None or args.checkpoint is not None:
        if args.blocks is not None or args.branches is not None:
            raise ResdepthError("--blocks and --branches describe --arch; --model brings its own")
        return _traced(args)
    if args.blocks is None:
        raise ResdepthError(f"--arch {args.arch} needs --blocks N")
    if args.blocks > MAX_BLOCKS:
        raise ResdepthError(
            f"--blocks is at most {MAX_BLOCKS} (the DP is quadratic), got {args.blocks}"
        )
    if args.branches is not None and args.arch != "parallel":
        raise ResdepthError("--branches applies only to --arch parallel")
    if args.arch == "parallel":
        branches = 2 if args.branches is None else args.branches
        p = Fraction(branches, 1 + branches)
        return parallel(args.blocks, branches), "parallel", args.blocks, p
    build = tower if args.arch == "tower" else transformer
    return build(args.blocks), args.arch, args.blocks, Fraction(1, 2)


def _traced(args):
    """The traced DAG of --model/--checkpoint, its name, block count and p = B/(1 + B) (B
    branches in every block; 1/2 when blocks differ)."""
    from resdepth.real.models import load_source, trace_residual_dag

    source = load_source(args, need_inputs=False)
    try:
        graph = trace_residual_dag(source.model, source.args or None, source.kwargs or None)
    except ValueError as exc:
        raise ResdepthError(str(exc).splitlines()[0]) from None
    n = graph.graph["blocks"]
    branches = {sum(1 for _, _, k in graph.out_edges(f"x{i - 1}", data="kind") if k == "branch")
                for i in range(1, n + 1)}
    b = branches.pop() if len(branches) == 1 else 1
    return graph, args.model or args.checkpoint, n, Fraction(b, 1 + b)


def _summary(head: str, counts, measure: str) -> str:
    mean, var = counts.mean, counts.variance
    return (f"{head}: {counts.total} paths; length in {measure}: "
            f"mean {mean} ({float(mean):.6g}), variance {var} ({float(var):.6g})")


def _rows(counts, p: Fraction, measure: str) -> list[dict]:
    """One row per length k: exact count, share of all paths and (blocks) the binomial law."""
    rows = [{"length": k, "paths": c, "share": float(Fraction(c, counts.total))}
            for k, c in enumerate(counts.by_length)]
    if measure == "blocks":
        for row, q in zip(rows, binomial_pmf(len(rows) - 1, p)):
            row["binomial"] = float(q)
    return rows


def _markdown(head: str, counts, p: Fraction, measure: str) -> str:
    return _summary(head, counts, measure) + "\n\n" + render(_rows(counts, p, measure), "md")


def _table(head: str, counts, p: Fraction, measure: str) -> Table:
    """The csv/latex table: the summary line is the caption (R1, R4)."""
    caption = (_summary(head, counts, measure).replace(": ", ". ", 1)
               + (f"; binomial: the law Bin(n, p = {p}) (R1, R4)." if measure == "blocks" else "."))
    return Table(_rows(counts, p, measure), caption=caption, label="tab:resdepth-dag-paths",
                 headers={"length": "length $k$"}, fold_constants=False)
