"""``resdepth paths``: count a residual architecture's input-to-output paths by length (R1, R4)."""

import argparse
import importlib
import json
import os
import sys
from fractions import Fraction

from graphs.builders import ARCHS, parallel, tower, transformer
from graphs.counting import MEASURES, count_paths
from graphs.export import write_dot, write_graphml
from graphs.plot import binomial_pmf, plot_path_lengths
from resdepth.errors import ResdepthError, positive_int
from resdepth.formats import render

MAX_BLOCKS = 2000

DESCRIPTION = """\
Build the computation DAG of a residual architecture (or trace your own PyTorch model with
torch.fx) and count its input-to-output paths by length exactly, by a dynamic programme
over the DAG (no enumeration): a tower of n blocks has C(n, k) paths of length k, 2^n in all
(THEORY.md R1, R4); B parallel branches per block give C(n, k) B^k.

--model MODULE:FACTORY imports the Python module MODULE (from the current directory or the
installed packages) and calls FACTORY() to get an nn.Module: this RUNS THAT CODE, so only
name modules you trust."""


def register(subparsers) -> None:
    """Add the ``paths`` sub-command."""
    parser = subparsers.add_parser(
        "paths", help="exact path counts by length of a residual architecture's DAG (R1, R4)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--arch", choices=ARCHS, help="a built-in architecture")
    source.add_argument("--model", metavar="MODULE:FACTORY",
                        help="trace FACTORY() from the Python module MODULE (runs that code)")
    parser.add_argument("--blocks", type=positive_int, metavar="N",
                        help=f"residual blocks (layers for transformer), at most {MAX_BLOCKS}")
    parser.add_argument("--branches", type=positive_int, metavar="B",
                        help="parallel branches per block (only with --arch parallel; default 2)")
    parser.add_argument("--measure", choices=MEASURES, default="blocks",
                        help="path length in branches taken (blocks) or branch layers crossed "
                        "(by_length in the output follows it)")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="output format")
    parser.add_argument("--graphml", metavar="FILE", help="also write the DAG as GraphML")
    parser.add_argument("--dot", metavar="FILE", help="also write the DAG as Graphviz DOT")
    parser.add_argument("--plot", metavar="FILE",
                        help="also plot the length distribution against the binomial law")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build or trace the DAG, count its paths, write the requested outputs."""
    graph, name, blocks, p = _graph(args)
    counts = count_paths(graph, args.measure)
    unit = "layers" if name == "transformer" else "blocks"
    if args.graphml:
        write_graphml(graph, args.graphml)
    if args.dot:
        write_dot(graph, args.dot)
    if args.plot:
        if args.measure != "blocks":
            raise ResdepthError("--plot compares lengths in blocks with the binomial law; "
                                "drop --measure layers")
        plot_path_lengths(counts.by_length, args.plot, p=p, title=f"{name}: {blocks} {unit}")
    if args.format == "json":
        payload = {"arch": name, "blocks": blocks, "total_paths": counts.total,
                   "by_length": list(counts.by_length)}
        print(json.dumps(payload))
    else:
        head = f"{name}, {blocks} {unit}"
        if graph.graph.get("opaque"):
            head += f" (kept whole, not traced into: {graph.graph['opaque']})"
        print(_markdown(head, counts, p, args.measure), end="")
    return 0


def _graph(args):
    """(graph, arch name, block count as given, binomial p of the prediction)."""
    if args.model is not None:
        if args.blocks is not None or args.branches is not None:
            raise ResdepthError("--blocks and --branches describe --arch; --model brings its own")
        from graphs.trace import trace_residual_dag

        graph = trace_residual_dag(_load_model(args.model))
        return graph, args.model, graph.graph["blocks"], Fraction(1, 2)
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


def _load_model(text: str):
    """Import MODULE and call FACTORY() from ``text`` = "MODULE:FACTORY"; runs the user's code."""
    from torch import nn

    module_name, sep, factory_name = text.partition(":")
    if not sep or not module_name or not factory_name:
        raise ResdepthError(f"--model expects MODULE:FACTORY, got {text!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ResdepthError(f"--model: cannot import {module_name!r}: {exc}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ResdepthError(f"--model: {module_name} has no callable {factory_name!r}")
    try:
        model = factory()
    except Exception as exc:  # the user's factory: report any failure on one line
        raise ResdepthError(f"--model: {text}() raised {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise ResdepthError(f"--model: {text}() returned {type(model).__name__}, not an nn.Module")
    return model


def _markdown(head: str, counts, p: Fraction, measure: str) -> str:
    mean, var = counts.mean, counts.variance
    head += (f": {counts.total} paths; length in {measure}: "
             f"mean {mean} ({float(mean):.6g}), variance {var} ({float(var):.6g})\n\n")
    rows = [{"length": k, "paths": c, "share": float(Fraction(c, counts.total))}
            for k, c in enumerate(counts.by_length)]
    if measure == "blocks":
        for row, q in zip(rows, binomial_pmf(len(rows) - 1, p)):
            row["binomial"] = float(q)
    return head + render(rows, "md")
