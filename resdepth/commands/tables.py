"""``resdepth tables KIND``: closed-form tables of THEORY.md's statements, ready for a paper."""

import argparse
import importlib

from resdepth.engine.errors import check_out_file
from resdepth.tables import KINDS
from resdepth.tables.formats import FORMATS, write_or_print
from resdepth.tables.latex import PREAMBLE
from resdepth.tables.render import render

FORMAT_HELP = """\
Formats: md (for reading; math as $...$, which GitHub renders), csv and json (every column of
every row, exact integers exact, formulas as SymPy text), latex (a booktabs table with caption
and label for pdflatex that fits an article with 1-inch margins: set as is, on a landscape page,
or split into column groups, chosen from its width; long text such as sources as a short key
under the table; columns that are the same in every row move into the caption, paths and trees
are laid out depth x length; an empty cell means "does not apply", never a number).

Every LaTeX table needs this one preamble line:
  {preamble}""".format(preamble=PREAMBLE)


def register(subparsers) -> None:
    """Add ``tables`` and one sub-command per table kind."""
    parser = subparsers.add_parser(
        "tables",
        help="closed-form tables (path counts, signal growth, scaling regimes, ...)",
        description="Print a closed-form table computed from theorems/ (SymPy, exact "
        "integers where possible). Each KIND has its own options: `resdepth tables KIND --help`.",
        epilog=FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name in KINDS:
        module = importlib.import_module(f"resdepth.tables.{name}")
        sub = kinds.add_parser(
            module.NAME, help=module.HELP, description=module.HELP, epilog=FORMAT_HELP,
            formatter_class=_Formatter,
        )
        module.add_arguments(sub)
        sub.add_argument("--format", choices=FORMATS, default="md", help="output format")
        sub.add_argument("--out", metavar="FILE",
                         help="write to FILE instead of stdout (checked before any work)")
        sub.set_defaults(func=lambda args, build=module.build: _run(build, args))


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the option help (none shown for options without one), the epilog as written."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def _run(build, args) -> int:
    if args.out is not None:
        check_out_file(args.out, "--out")
    write_or_print(render(build(args), args.format), args.out)
    return 0
