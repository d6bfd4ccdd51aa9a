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
from matplotlib.ticker import MaxNLocator

__all__ = ["binomial_pmf", "branch_probability", "plot_path_lengths"]


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


def branch_probability(branches: int) -> Fraction:
    """p = B / (1 + B): the chance that a uniformly drawn path takes a branch of a block with
    B parallel branches (1/2 for the tower).

    >>> branch_probability(1), branch_probability(3)
    (Fraction(1, 2), Fraction(3, 4))
    """
    if isinstance(branches, bool) or not isinstance(branches, int) or branches < 1:
        raise ValueError(f"branches must be an integer >= 1, got {branches!r}")
    return Fraction(branches, 1 + branches)


def plot_path_lengths(by_length: Sequence[int], path, *, p: Fraction | None = None,
                      branches: int | None = None, title: str = "path-length distribution",
                      note: str | None = None) -> None:
    """Histogram of by_length / total against Binomial(len(by_length) - 1, p), saved to ``path``.

    The reference law is Binomial(n, B/(1 + B)) for ``branches`` = B parallel branches per
    block (:func:`branch_probability`; the tower, B = 1, gives p = 1/2); ``p`` sets it directly
    (give one of the two). The prediction is exact only for path lengths counted in blocks.
    Lengths are integers, so the length axis has integer ticks. ``note`` (e.g. the statistic a
    verdict was decided on) is written in the plot's corner.
    """
    total = sum(by_length)
    if total <= 0:
        raise ValueError("by_length must hold at least one path")
    if p is not None and branches is not None:
        raise ValueError("give p or branches, not both")
    n = len(by_length) - 1
    shares = [float(Fraction(c, total)) for c in by_length]
    p = branch_probability(branches or 1) if p is None else Fraction(p)
    prediction = [float(q) for q in binomial_pmf(n, p)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    edges = [k - 0.5 for k in range(n + 2)]
    ax.stairs(shares, edges, fill=True, color="tab:blue", alpha=0.6, label="DAG paths (exact DP)")
    marker = "o" if n <= 60 else "-"
    ax.plot(range(n + 1), prediction, marker, color="tab:red", ms=4,
            label=f"Binomial(n={n}, p={float(p):.3g})")
    ax.set_xlabel("path length k (branches taken)")
    ax.set_ylabel("share of paths")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    if note:
        ax.set_ylim(0, 1.2 * max(max(shares), max(prediction)))
        ax.text(0.02, 0.97, note, transform=ax.transAxes, va="top", fontsize=8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
