"""The ``resdepth`` command line: one sub-command per module in :mod:`resdepth.commands`.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the default; only the module of the command being run is imported. Errors caused by the user's input end the program with a
one-line message and exit code 2 (set ``RESDEPTH_DEBUG=1`` for the traceback); an
interrupted run exits 130.
"""

import argparse
import importlib
import os
import sys

from resdepth import __version__
from resdepth.errors import ResdepthError

COMMANDS = {
    "validate": "run every check (R1-R5, S1-S7, D1-D5) on trained networks and write a report",
    "tables": "closed-form tables (path counts, signal growth, scaling regimes, guarantees)",
    "paths": "exact path counts by length of a residual architecture's DAG (R1, R4)",
    "train": "train one residual network (mlp, cnn, transformer) and save it",
    "spectrum": "exact path-length spectrum of a residual ReLU MLP (R2)",
    "lesion": "Veit's lesion study on a real model against its frozen-gate spectrum (R2)",
    "probe": "check the theory (R2, R4, R5, S2/S3, lesions, D1) on a real model",
    "expand": "D1/D2/D5: insert a block into a trained post-LN MLP and measure",
}

DESCRIPTION = """\
Verify the theory of residual-network depth (THEORY.md labels R1..R5, S1..S7, D1..D5):
closed-form tables, exact path counts, probes of real PyTorch networks and the full
validation report. Run `resdepth COMMAND --help` for each command's options."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only ``command``'s module is imported and given its full parser.

    The other sub-commands get a bare entry carrying their one-line help, so that
    ``resdepth --help`` and every command start without importing torch or SymPy needlessly.
    """
    parser = argparse.ArgumentParser(
        prog="resdepth",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"resdepth {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        if name == command:
            importlib.import_module(f"resdepth.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (its first word that is a command), if any."""
    return next((word for word in argv if word in COMMANDS), None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command_in(argv))
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
