"""The ``resdepth`` command line: one sub-command per module in :mod:`resdepth.commands`.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the default. Errors caused by the user's input end the program with a
one-line message and exit code 2 (set ``RESDEPTH_DEBUG=1`` for the traceback); an
interrupted run exits 130.
"""

import argparse
import importlib
import os
import sys

from resdepth import __version__
from resdepth.errors import ResdepthError

COMMANDS = ("validate", "paths", "tables", "spectrum", "expand", "train")

DESCRIPTION = """\
Verify the theory of residual-network depth (THEORY.md labels R1..R5, S1..S6, D1..D5):
closed-form tables, exact path counts, probes of real PyTorch networks and the full
validation report. Run `resdepth COMMAND --help` for each command's options."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="resdepth",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"resdepth {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"resdepth.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ResdepthError, ValueError, FileNotFoundError) as exc:
        if os.environ.get("RESDEPTH_DEBUG"):
            raise
        print(f"resdepth {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"resdepth {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
