"""``resdepth tables KIND``: closed-form tables of THEORY.md's statements, ready for a paper."""

import argparse
import importlib

from resdepth.formats import FORMATS, render, write_or_print
from resdepth.tables import KINDS


def register(subparsers) -> None:
    """Add ``tables`` and one sub-command per table kind."""
    parser = subparsers.add_parser(
        "tables",
        help="closed-form tables (path counts, signal growth, scaling regimes, ...)",
        description="Print a closed-form table computed from theorems/ (SymPy, exact "
        "integers where possible). Each KIND has its own options: `resdepth tables KIND --help`.",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name in KINDS:
        module = importlib.import_module(f"resdepth.tables.{name}")
        sub = kinds.add_parser(
            module.NAME, help=module.HELP, description=module.HELP,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(sub)
        sub.add_argument("--format", choices=FORMATS, default="md", help="output format")
        sub.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
        sub.set_defaults(func=lambda args, build=module.build: _run(build, args))


def _run(build, args) -> int:
    write_or_print(render(build(args), args.format), args.out)
    return 0
