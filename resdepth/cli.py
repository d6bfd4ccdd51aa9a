"""The ``resdepth`` command line: one sub-command per module in :mod:`resdepth.commands`.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the default; only the module of the command being run is imported.

Nothing ends in a traceback (set ``RESDEPTH_DEBUG=1`` to see one): bad input, a file or folder
that cannot be read or written, and a failed memory allocation end the program with a one-line
message naming what failed and exit code 2; an unexpected exception (a bug) with one line
saying so and exit code 70; an interrupted run exits 130. SIGTERM (``kill``, a batch scheduler's
time limit) is handled exactly like Ctrl-C: :func:`main` turns it into ``KeyboardInterrupt``, so
``train``, ``validate`` and ``experiment`` save what they finished and print how to continue.
"""

import argparse
import importlib
import os
import signal
import sys
import threading

from resdepth import __version__
from resdepth.engine.errors import ResdepthError

COMMANDS = {
    "validate": "run every check (R1-R5, S1-S7, D1-D5) on trained networks and write a report",
    "tables": "closed-form tables (path counts, signal growth, scaling regimes, guarantees)",
    "paths": "exact path counts by length of a residual architecture's DAG (R1, R4)",
    "train": "train one residual network (mlp, cnn, transformer) and save it",
    "spectrum": "exact path-length spectrum of a residual ReLU MLP (R2)",
    "lesion": "Veit's lesion study on a real model against its frozen-gate spectrum (R2)",
    "probe": "check the theory (R2, R4, R5, S2/S3, lesions, D1) on a real model",
    "expand": "D1/D2/D5: insert a block into a trained post-LN MLP and measure",
    "experiment": "paper 1's experiment: depth x scaling rule x normalisation, trained (S7)",
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


ALLOCATION_MESSAGES = ("not enough memory", "defaultcpuallocator", "out of memory",
                       "can't allocate memory", "cannot allocate memory")
"""Substrings (lower case) of torch's RuntimeError messages for a failed allocation."""
INTERNAL_ERROR = 70
"""Exit code of an unexpected exception (a bug): sysexits' EX_SOFTWARE."""


def is_allocation_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed memory allocation (MemoryError, or torch's RuntimeError)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(m in text for m in ALLOCATION_MESSAGES)


def _first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()),
                type(exc).__name__)


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code for an exception that ended a command.

    Bad input (ResdepthError, ValueError) and the environment (OSError: a file or folder that
    cannot be read or written; a failed allocation) exit 2 naming what failed; anything else is
    a bug: one line saying so and how to see its traceback, exit :data:`INTERNAL_ERROR`.
    """
    if isinstance(exc, (ResdepthError, ValueError)):
        return f"error: {_first_line(exc)}", 2
    if is_allocation_failure(exc):
        return (f"error: out of memory ({_first_line(exc)}); choose smaller sizes "
                "(depth, width, batch)"), 2
    if isinstance(exc, OSError):
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        what = exc.strerror or _first_line(exc)
        return f"error: {where + ': ' if where else ''}{what}", 2
    return (f"internal error: {type(exc).__name__}: {_first_line(exc)} (a bug in resdepth: "
            "rerun with RESDEPTH_DEBUG=1 to see the traceback, and report it)"), INTERNAL_ERROR


def _terminate_as_interrupt(signum, frame):
    """SIGTERM handler: raise KeyboardInterrupt, the path Ctrl-C takes (work saved, resume said)."""
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"resdepth {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure ends in one line; RESDEPTH_DEBUG=1 shows the traceback
        if os.environ.get("RESDEPTH_DEBUG"):
            raise
        message, code = error_line(exc)
        print(f"resdepth {args.command}: {message}", file=sys.stderr)
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
