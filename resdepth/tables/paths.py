"""``resdepth tables paths``: R1/R4 path and tree counts per (depth, length).

One row per depth n = 1..N and length k = 0..N (every k, so no cell is left empty: C(n, k) = 0 for
k > n, while N(n, k) > 0 there, e.g. N(2, 3) = 1, N(3, 4) = 8) with keys ``depth``, ``length``, ``chains``
(R1/R4: the C(n, k) linear paths of order k) and ``trees`` (R4: N(n, k) label-decreasing trees
on k vertices, N(n, 0) = 1), both exact integers in every format. People (md, latex) see one line per depth and one column
per length, a panel for chains and one for trees. The tree counts of all depths
come from one pass of the generating functions (:func:`theorems.counting.tree_counts`), not
from a fresh computation per row.
"""

import math

from resdepth.engine.errors import positive_int
from resdepth.tables.formats import Pivot, Table
from theorems.counting import tree_counts

NAME = "paths"
HELP = "R1/R4: chains C(n,k) and trees N(n,k) of a depth-n tower, per length k"
MAX_DEPTH = 400
HEADERS = {"depth": "depth $n$", "length": "length $k$", "chains": r"chains $\binom{n}{k}$",
           "trees": "trees $N(n,k)$"}
CAPTION = (r"R1/R4: paths of a depth-$n$ residual tower by length $k$: the $\binom{n}{k}$ linear "
           r"paths (chains, $2^n$ in all) and the $N(n,k)$ label-decreasing trees on $k$ vertices "
           r"of the tower's Taylor expansion ($N(n,0) = 1$; trees exist beyond $k = n$, chains do not).")


def add_arguments(parser) -> None:
    parser.add_argument("--max-depth", type=positive_int, default=8,
                        help=f"largest depth n (at most {MAX_DEPTH})")


def build(args) -> Table:
    """The rows for depths 1..``args.max_depth`` (shown to people as depth x length)."""
    depth = args.max_depth
    if depth > MAX_DEPTH:
        raise ValueError(f"--max-depth must be at most {MAX_DEPTH}, got {depth}")
    counts = tree_counts(depth, depth)
    rows = [
        {"depth": n, "length": k, "chains": math.comb(n, k), "trees": counts[n][k]}
        for n in range(1, depth + 1)
        for k in range(depth + 1)
    ]
    return Table(rows, caption=CAPTION, label="tab:resdepth-paths", headers=HEADERS,
                 pivot=Pivot("depth", "length", ("chains", "trees"), "k"))
