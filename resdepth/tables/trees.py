"""``resdepth tables trees``: R4 tree counts and 1/sigma-weighted tree sums.

One row per depth n = 1..N and order k = 0..K with keys ``depth``, ``order``, ``trees``
(N(n, k), an exact integer; N(n, 0) = 1), ``weighted_sum`` (W(n, k) = sum over trees of
1/sigma(t), an exact SymPy rational: the string ``"p/q"``, or ``"p"`` when it is an integer, in
csv and json, so no format rounds it; a fraction in md and latex) and ``weighted_sum_float``
(the same number as a float, for plotting; csv and json only). People see one line per depth
and one column per order, a panel for the counts and one for the sums.
"""

from resdepth.engine.errors import nonnegative_int, positive_int
from resdepth.tables.formats import Pivot, Table
from theorems.counting import tree_counts, weighted_tree_sums

NAME = "trees"
HELP = "R4: tree counts N(n,k) and weighted sums sum 1/sigma(t) (exact rationals as 'p/q')"
MAX_DEPTH = 400
MAX_ORDER = 40
HEADERS = {"depth": "depth $n$", "order": "order $k$", "trees": "trees $N(n,k)$",
           "weighted_sum": r"weighted sums $W(n,k) = \sum_t 1/\sigma(t)$"}
CAPTION = (r"R4: the $N(n,k)$ label-decreasing trees on $k$ vertices of a depth-$n$ tower's Taylor "
           r"expansion and their sums $W(n,k)$ of $1/\sigma(t)$, $\sigma(t)$ its number of "
           r"label-preserving automorphisms (exact rationals).")


def add_arguments(parser) -> None:
    parser.add_argument("--max-depth", type=positive_int, default=6,
                        help=f"largest depth n (at most {MAX_DEPTH})")
    parser.add_argument("--max-order", type=nonnegative_int, default=4,
                        help=f"largest order k (at most {MAX_ORDER})")


def build(args) -> Table:
    """The rows for depths 1..``args.max_depth`` and orders 0..``args.max_order``."""
    depth, order = args.max_depth, args.max_order
    if depth > MAX_DEPTH:
        raise ValueError(f"--max-depth must be at most {MAX_DEPTH}, got {depth}")
    if order > MAX_ORDER:
        raise ValueError(f"--max-order must be at most {MAX_ORDER}, got {order}")
    counts = tree_counts(depth, order)
    weights = weighted_tree_sums(depth, order)
    rows = [
        {"depth": n, "order": k, "trees": counts[n][k], "weighted_sum": weights[n][k],
         "weighted_sum_float": float(weights[n][k])}
        for n in range(1, depth + 1)
        for k in range(order + 1)
    ]
    return Table(rows, caption=CAPTION, label="tab:resdepth-trees", headers=HEADERS,
                 pivot=Pivot("depth", "order", ("trees", "weighted_sum"), "k"),
                 machine_only=("weighted_sum_float",))
