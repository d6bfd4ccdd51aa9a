"""``resdepth tables trees``: R4 tree counts and 1/sigma-weighted tree sums.

One row per depth n = 1..N and order k = 0..K with keys ``depth``, ``order``, ``trees``
(N(n, k), an exact integer; N(n, 0) = 1), ``weighted_sum`` (W(n, k) = sum over trees of
1/sigma(t), exact, written as the string ``"p/q"``, or ``"p"`` when it is an integer, so no
format rounds it) and ``weighted_sum_float`` (the same number as a float, for plotting).
"""

from resdepth.errors import nonnegative_int, positive_int
from theorems.counting import tree_counts, weighted_tree_sums

NAME = "trees"
HELP = "R4: tree counts N(n,k) and weighted sums sum 1/sigma(t) (exact rationals as 'p/q')"
MAX_DEPTH = 400
MAX_ORDER = 40


def add_arguments(parser) -> None:
    parser.add_argument("--max-depth", type=positive_int, default=6,
                        help=f"largest depth n (at most {MAX_DEPTH})")
    parser.add_argument("--max-order", type=nonnegative_int, default=4,
                        help=f"largest order k (at most {MAX_ORDER})")


def build(args) -> list[dict]:
    """The rows for depths 1..``args.max_depth`` and orders 0..``args.max_order``."""
    depth, order = args.max_depth, args.max_order
    if depth > MAX_DEPTH:
        raise ValueError(f"--max-depth must be at most {MAX_DEPTH}, got {depth}")
    if order > MAX_ORDER:
        raise ValueError(f"--max-order must be at most {MAX_ORDER}, got {order}")
    counts = tree_counts(depth, order)
    weights = weighted_tree_sums(depth, order)
    return [
        {"depth": n, "order": k, "trees": counts[n][k], "weighted_sum": str(weights[n][k]),
         "weighted_sum_float": float(weights[n][k])}
        for n in range(1, depth + 1)
        for k in range(order + 1)
    ]
