"""User-facing errors and the argument validators the command line shares.

The libraries (theorems, graphs, numerics) raise ``ValueError`` or ``TypeError`` with a message
that names the offending argument; the command line turns those and :class:`ResdepthError`
into a one-line message on stderr and a non-zero exit code, never a traceback.
"""

import math


class ResdepthError(Exception):
    """An error caused by the user's input or environment, reported as one line."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (depths, widths, sample counts)."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise _arg_error(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise _arg_error(f"expected a positive integer, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0 (seeds, positions)."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise _arg_error(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise _arg_error(f"expected a non-negative integer, got {value}")
    return value


def finite_nonnegative(text: str) -> float:
    """argparse type: a finite float >= 0 (scales, variances)."""
    value = _finite(text)
    if value < 0:
        raise _arg_error(f"expected a non-negative number, got {value}")
    return value


def finite_positive(text: str) -> float:
    """argparse type: a finite float > 0 (learning rates, budgets)."""
    value = _finite(text)
    if value <= 0:
        raise _arg_error(f"expected a positive number, got {value}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise _arg_error(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise _arg_error(f"expected a finite number, got {text!r}")
    return value


def _arg_error(message: str) -> Exception:
    import argparse

    return argparse.ArgumentTypeError(message)
