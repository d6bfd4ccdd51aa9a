"""``resdepth tables signal``: S2/S3 second-moment growth per depth, vectorised over depths.

One row per depth n = 1..N with keys ``depth``, ``lam`` (lam at that depth: the constant, or
1/sqrt(n), 1/n), ``second_moment_ratio`` (E||x_n||^2 / ||x_0||^2: S2's (1 + lam^2 sigma^2)^n for
``--norm none``, S3's 1 + n lam^2 sigma^2 for ``--norm pre`` with ||x_0||^2 = d),
``log10_second_moment_ratio`` and ``mean_path_length`` (S2's n p for ``none``, null for ``pre``).

A ratio of 1e308 or more (near or beyond the float range, e.g. lam = sigma^2 = 1 from depth
1024 on) is written as a string in scientific notation, 12 significant digits, computed from its
log10 (``"1.99506311688e+3010"``, a :class:`~resdepth.tables.formats.Scientific`: people see
1.995 x 10^3010); every other value is a finite float, so JSON never holds inf
or NaN. Everything is computed in log space with ``log1p``, so small lam^2 sigma^2 at large depth
loses no precision.
"""

import math

import numpy as np

from resdepth.engine.errors import finite_nonnegative, positive_int
from resdepth.tables.formats import Scientific, Table

NAME = "signal"
HELP = "S2/S3: E||x_n||^2/||x_0||^2 per depth at random initialisation (no norm or pre-LN)"
LAM_RULES = ("inv-sqrt", "inv")
NORMS = ("none", "pre")
MAX_DEPTH = 1_000_000
_LOG10_AS_STRING = 308.0
HEADERS = {"depth": "depth $n$", "lam": r"$\lambda_n$",
           "second_moment_ratio": r"$\mathrm{E}\lVert x_n\rVert^2/\lVert x_0\rVert^2$",
           "log10_second_moment_ratio": r"$\log_{10}$ of the ratio",
           "mean_path_length": "mean path length $np$"}
LAM_TEXT = {"inv-sqrt": r"$\lambda_n = 1/\sqrt{n}$", "inv": r"$\lambda_n = 1/n$"}


def lam_argument(text: str):
    """argparse type: ``inv-sqrt``, ``inv`` or a finite number >= 0."""
    return text if text in LAM_RULES else finite_nonnegative(text)


def add_arguments(parser) -> None:
    parser.add_argument("--lam", type=lam_argument, default=1.0, metavar="VALUE|inv-sqrt|inv",
                        help="branch scale: a constant, or 1/sqrt(n) or 1/n at depth n")
    parser.add_argument("--sigma2", type=finite_nonnegative, default=1.0,
                        help="branch variance sigma^2 = d s2^2 h s1^2 / 2")
    parser.add_argument("--norm", choices=NORMS, default="none",
                        help="none (S2) or pre-normalisation (S3)")
    parser.add_argument("--max-depth", type=positive_int, default=16, help="largest depth n")
    parser.add_argument("--width", type=positive_int, default=64,
                        help="d, with ||x_0||^2 = d for --norm pre (the ratio does not depend on "
                        "it: S3's growth d n lam^2 sigma^2 is relative to ||x_0||^2 = d)")


def lam_at_depths(rule, depths: np.ndarray) -> np.ndarray:
    """lam at each depth: the constant ``rule``, or 1/sqrt(n) (``inv-sqrt``), 1/n (``inv``)."""
    if rule == "inv-sqrt":
        return 1.0 / np.sqrt(depths)
    if rule == "inv":
        return 1.0 / depths
    return np.full(depths.shape, float(rule))


def ratio_cell(log10: float, direct: float):
    """The ratio as a float below 1e308, else a :class:`~resdepth.tables.formats.Scientific` string
    from its log10 (12 significant digits)."""
    if log10 < _LOG10_AS_STRING and math.isfinite(direct):
        return float(direct)
    exponent = math.floor(log10)
    mantissa = 10.0 ** (log10 - exponent)
    text = f"{mantissa:.11f}"
    if text.startswith("10"):
        exponent, text = exponent + 1, f"{mantissa / 10:.11f}"
    return Scientific(f"{text.rstrip('0').rstrip('.')}e+{exponent}")


def compute(lam, sigma2: float, norm: str, max_depth: int, width: int) -> list[dict]:
    """The table's rows (see the module docstring)."""
    from theorems.signal import s2_log10_ratio_array

    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    if max_depth > MAX_DEPTH:
        raise ValueError(f"--max-depth must be at most {MAX_DEPTH}, got {max_depth}")
    depths = np.arange(1, max_depth + 1, dtype=np.float64)
    lam_n = lam_at_depths(lam, depths)
    with np.errstate(over="ignore"):
        q = lam_n * lam_n * sigma2
    if norm == "none":
        log10 = s2_log10_ratio_array(depths, lam_n, sigma2)
        with np.errstate(over="ignore"):
            direct = np.where(log10 < _LOG10_AS_STRING, np.exp(log10 * math.log(10.0)), np.inf)
        mean_length = depths * q / (1.0 + q)
    else:
        x0_sq = float(width)
        growth = depths * q * width / x0_sq
        direct, log10 = 1.0 + growth, np.log1p(growth) / math.log(10.0)
        mean_length = None
    if not np.all(np.isfinite(log10)):
        raise ValueError("lam^2 sigma^2 n exceeds the float range; choose a smaller --lam or "
                         "--sigma2")
    return [
        {
            "depth": int(n),
            "lam": float(lam_n[i]),
            "second_moment_ratio": ratio_cell(float(log10[i]), float(direct[i])),
            "log10_second_moment_ratio": float(log10[i]),
            "mean_path_length": None if mean_length is None else float(mean_length[i]),
        }
        for i, n in enumerate(depths)
    ]


def caption(lam, sigma2: float, norm: str) -> str:
    """What the table shows, for people: the statement, the law and the parameters."""
    given = f"$\\sigma^2 = {sigma2:g}$" + (f", {LAM_TEXT[lam]}" if lam in LAM_TEXT else "")
    if norm == "none":
        return (r"S2: second moment of a residual tower without normalisation at random "
                r"initialisation, $(1 + \lambda_n^2\sigma^2)^n$, and the mean path length $np$, "
                rf"$p = \lambda_n^2\sigma^2/(1 + \lambda_n^2\sigma^2)$; {given}.")
    return (r"S3: second moment of a pre-normalised residual tower at random initialisation, "
            rf"$1 + n\lambda_n^2\sigma^2$ with $\lVert x_0\rVert^2 = d$; {given}.")


def build(args) -> Table:
    rows = compute(args.lam, args.sigma2, args.norm, args.max_depth, args.width)
    return Table(rows, caption=caption(args.lam, args.sigma2, args.norm),
                 label=f"tab:resdepth-signal-{args.norm}", headers=HEADERS)
