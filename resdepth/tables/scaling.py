"""``resdepth tables scaling``: S4's regimes for lam_n = a n^(-beta), beta in {0, 1/4, 1/2, 3/4, 1}.

One row per beta (a SymPy rational): the regime, the symbolic limit of E||x_n||^2/||x_0||^2 = (1 + a^2 sigma^2
n^(-2 beta))^n (SymPy, symbolic a and sigma^2), its value at the chosen depths for the given a and
sigma^2 (``ratio_n<N>``; beyond the float range a scientific-notation string from its log10, as
in ``tables signal``), the mean path length n p (limit and values), and whether S1's worst-case
bound (1 + a c n^(-beta))^n stays bounded (beta >= 1) with its symbolic limit. The limits are
SymPy expressions: their ``str`` in csv/json (``exp(a**2*sigma2)``), SymPy's LaTeX for people.
"""

import numpy as np

from resdepth.engine.errors import finite_nonnegative, positive_int
from resdepth.tables.formats import Table
from resdepth.tables.signal import ratio_cell

NAME = "scaling"
HELP = "S4: regimes of lam = a n^-beta (limits proved by SymPy, values at finite depths)"
DEFAULT_DEPTHS = (10, 100, 1000, 10000)
SYMBOLS = {"sigma2": r"\sigma^{2}"}


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
        row = {"beta": beta, "regime": scaling.regime(beta),
               "ratio_limit": scaling.ratio_limit(beta)}
        for n in depths:
            lam = a * float(n) ** (-float(beta))
            log10 = s2_log10_ratio(n, lam, sigma2)
            direct = 10.0**log10 if log10 < 308 else np.inf
            row[f"ratio_n{n}"] = ratio_cell(log10, direct)
        row["mean_path_length_limit"] = scaling.mean_path_length_limit(beta)
        for n in depths:
            lam = a * float(n) ** (-float(beta))
            row[f"mean_path_length_n{n}"] = mean_path_length(n, lam, sigma2)
        row["s1_bounded"] = scaling.s1_bounded(beta)
        row["s1_bound_limit"] = scaling.s1_bound_limit(beta)
        rows.append(row)
    return rows


def headers(depths) -> dict:
    """Column headers for people: R_n and np at each depth, their limits, S1's bound."""
    names = {"beta": r"$\beta$", "ratio_limit": r"$\lim R_n$",
             "mean_path_length_limit": r"$\lim np$", "s1_bounded": "S1 bounded",
             "s1_bound_limit": "S1 bound limit"}
    for n in depths:
        names[f"ratio_n{n}"] = f"$R_{{{n}}}$"
        names[f"mean_path_length_n{n}"] = f"$np$, $n = {n}$"
    return names


def caption(a: float, sigma2: float) -> str:
    return (r"S4: the regimes of $\lambda_n = a n^{-\beta}$: the second-moment ratio "
            r"$R_n = \mathrm{E}\lVert x_n\rVert^2/\lVert x_0\rVert^2 = "
            r"(1 + a^2\sigma^2 n^{-2\beta})^n$ and the mean path length $np$ at depth $n$ "
            rf"($a = {a:g}$, $\sigma^2 = {sigma2:g}$), their limits in symbolic $a$ and "
            r"$\sigma^2$ (SymPy), and whether S1's worst-case bound $(1 + ac\,n^{-\beta})^n$ "
            r"stays bounded.")


def build(args) -> Table:
    depths = sorted(set(args.depths))
    return Table(compute(args.a, args.sigma2, depths), caption=caption(args.a, args.sigma2),
                 label="tab:resdepth-scaling", headers=headers(depths), symbols=SYMBOLS)
