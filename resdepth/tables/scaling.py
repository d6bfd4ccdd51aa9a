"""``resdepth tables scaling``: S4's regimes for lam_n = a n^(-beta), beta in {0, 1/4, 1/2, 3/4, 1}.

One row per beta: the regime, the symbolic limit of E||x_n||^2/||x_0||^2 = (1 + a^2 sigma^2
n^(-2 beta))^n (SymPy, symbolic a and sigma^2), its value at the chosen depths for the given a and
sigma^2 (``ratio_n<N>``; beyond the float range a scientific-notation string from its log10, as
in ``tables signal``), the mean path length n p (limit and values), and whether S1's worst-case
bound (1 + a c n^(-beta))^n stays bounded (beta >= 1) with its symbolic limit.
"""

import numpy as np

from resdepth.errors import finite_nonnegative, positive_int
from resdepth.tables.signal import ratio_cell

NAME = "scaling"
HELP = "S4: regimes of lam = a n^-beta (limits proved by SymPy, values at finite depths)"
DEFAULT_DEPTHS = (10, 100, 1000, 10000)


def add_arguments(parser) -> None:
    parser.add_argument("--a", type=finite_nonnegative, default=1.0, help="the constant a")
    parser.add_argument("--sigma2", type=finite_nonnegative, default=1.0,
                        help="branch variance sigma^2")
    parser.add_argument("--depths", type=positive_int, nargs="+", default=list(DEFAULT_DEPTHS),
                        metavar="N", help="depths at which to evaluate the closed forms")


def compute(a: float, sigma2: float, depths) -> list[dict]:
    """The table's rows (see the module docstring)."""
    from theorems import scaling
    from theorems.signal import mean_path_length, s2_log10_ratio

    rows = []
    for beta in scaling.BETAS:
        row = {"beta": str(beta), "regime": scaling.regime(beta),
               "ratio_limit": str(scaling.ratio_limit(beta))}
        for n in depths:
            lam = a * float(n) ** (-float(beta))
            log10 = s2_log10_ratio(n, lam, sigma2)
            direct = 10.0**log10 if log10 < 308 else np.inf
            row[f"ratio_n{n}"] = ratio_cell(log10, direct)
        row["mean_path_length_limit"] = str(scaling.mean_path_length_limit(beta))
        for n in depths:
            lam = a * float(n) ** (-float(beta))
            row[f"mean_path_length_n{n}"] = mean_path_length(n, lam, sigma2)
        row["s1_bounded"] = scaling.s1_bounded(beta)
        row["s1_bound_limit"] = str(scaling.s1_bound_limit(beta))
        rows.append(row)
    return rows


def build(args) -> list[dict]:
    return compute(args.a, args.sigma2, sorted(set(args.depths)))
