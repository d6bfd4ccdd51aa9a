"""User-facing errors and the argument validators the command line shares.

The libraries (theorems, graphs, numerics) raise ``ValueError`` or ``TypeError`` with a message
that names the offending argument; the command line turns those and :class:`ResdepthError`
into a one-line message on stderr and a non-zero exit code, never a traceback.
"""

import math
import os


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


def check_out_dir(path, option: str = "--out"):
    """``path`` as an output folder that can be written, checked before any work starts.

    Refuses an existing file, a folder under a file, and a folder that cannot be created or
    written; returns the path. Raises :class:`ResdepthError` with one line naming ``option``.
    """
    from pathlib import Path

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ResdepthError(f"{option} {path}: exists and is not a folder")
    parent = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise ResdepthError(f"{option} {path}: {parent} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResdepthError(f"{option} {path}: cannot create the folder ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ResdepthError(f"{option} {path}: the folder is not writable")
    return path


def check_out_file(path, option: str = "--out"):
    """``path`` as an output file whose folder exists (or can be made) and can be written.

    Checked before any work starts, so a long computation never ends in a write error; the
    folder is created when missing. Returns the path.
    """
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise ResdepthError(f"{option} {path}: is a folder; name a file")
    blocker = next((p for p in path.parents if p.exists()), Path("."))
    if not blocker.is_dir():
        raise ResdepthError(f"{option} {path}: {blocker} is a file, not a folder")
    check_out_dir(path.parent, option)
    if path.exists() and not os.access(path, os.W_OK):
        raise ResdepthError(f"{option} {path}: the file is not writable")
    return path


def read_text(path, option: str) -> str:
    """The UTF-8 text of the file ``path`` given as ``option``, or a one-line error."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise ResdepthError(f"{option} {path}: is a folder, not a file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResdepthError(f"{option} {path}: no such file") from None
    except UnicodeDecodeError:
        raise ResdepthError(f"{option} {path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise ResdepthError(f"{option} {path}: cannot read it ({exc.strerror})") from None


def exception_text(exc: BaseException) -> str:
    """``Type: first line of the message`` (or the type alone): how rows and logs name an error.

    >>> exception_text(ValueError("bad width\\nmore detail"))
    'ValueError: bad width'
    >>> exception_text(KeyboardInterrupt())
    'KeyboardInterrupt'
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
