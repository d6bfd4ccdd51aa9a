"""Plot the path-length distribution of a DAG against the binomial prediction (R1, S2).

For n blocks with B branches each, a path drawn uniformly among the (1 + B)^n paths has
length k with probability

.. math::

    \\frac{C(n, k) B^k}{(1 + B)^n}, \\qquad \\text{i.e. Binomial}(n, p = B / (1 + B)),

so the tower (B = 1) gives Binomial(n, 1/2).
"""

import math
from collections.abc import Sequence
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["binomial_pmf", "plot_path_lengths"]


def binomial_pmf(n: int, p: Fraction) -> list[Fraction]:
    """The exact Binomial(n, p) probabilities for k = 0..n.

    >>> binomial_pmf(2, Fraction(1, 2))
    [Fraction(1, 4), Fraction(1, 2), Fraction(1, 4)]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    p = Fraction(p)
    if not 0 <= p <= 1:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    return [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]


def plot_path_lengths(by_length: Sequence[int], path, *, p: Fraction | None = None,
                      title: str = "path-length distribution") -> None:
    """Histogram of by_length / total against Binomial(len(by_length) - 1, p), saved to ``path``.

    ``p`` defaults to 1/2 (the tower); pass B/(1 + B) for B parallel branches per block.
    The prediction is exact only for path lengths counted in blocks.
    """
    total = sum(by_length)
    if total <= 0:
        raise ValueError("by_length must hold at least one path")
    n = len(by_length) - 1
    shares = [float(Fraction(c, total)) for c in by_length]
    p = Fraction(1, 2) if p is None else Fraction(p)
    prediction = [float(q) for q in binomial_pmf(n, p)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    edges = [k - 0.5 for k in range(n + 2)]
    ax.stairs(shares, edges, fill=True, color="tab:blue", alpha=0.6, label="DAG paths (exact DP)")
    marker = "o" if n <= 60 else "-"
    ax.plot(range(n + 1), prediction, marker, color="tab:red", ms=4,
            label=f"Binomial(n={n}, p={float(p):.3g})")
    ax.set_xlabel("path length k (branches taken)")
    ax.set_ylabel("share of paths")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
