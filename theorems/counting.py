r"""R4: counting the implicit ensemble of a residual tower (exact combinatorics).

THEORY.md, R4. A tower of depth :math:`n` has blocks labelled :math:`1, \dots, n` (block
:math:`i` maps :math:`x_{i-1}` to :math:`x_i`). Its order-:math:`k` chains (linear paths, R1)
are the :math:`k`-subsets of :math:`[n]`, and its order-:math:`k` trees (R3) are the rooted
trees :math:`T_k(n)` on :math:`k` vertices labelled from :math:`[n]` in which every child's label is
strictly smaller than its parent's (siblings may share a label):

.. math::

    \#\{\text{chains}\} = \binom{n}{k}, \qquad
    N(n, k) = |T_k(n)| = [z^k] \sum_{r=1}^{n} A_r(z), \qquad
    A_r(z) = z \,\mathrm{MSET}(A_1 + \dots + A_{r-1})(z),

where :math:`A_r` counts the trees whose root has label :math:`r` and
:math:`\mathrm{MSET}(B)(z) = \prod_{j \ge 1} (1 - z^j)^{-[z^j]B}` (the children of a root form a
multiset of trees with smaller root labels). By convention :math:`N(n, 0) = 1` (the identity
term :math:`x` of R3). The weighted sum :math:`W(n, k) = \sum_{t \in T_k(n)} 1/\sigma(t)`,
with :math:`\sigma(t)` the number of label-preserving automorphisms, obeys

.. math::

    W(n, k) = [z^k] \sum_{r=1}^{n} B_r(z), \qquad B_r(z) = z \exp(B_1 + \dots + B_{r-1})(z),

and :math:`W(n, 0) = 1`. Closed forms (proved by SymPy summation in :func:`tree_count_polynomial`):
:math:`N(n,1) = n`, :math:`N(n,2) = \binom{n}{2}`,
:math:`N(n,3) = \binom{n}{3} + \binom{n+1}{3}`.

Examples
--------
>>> [tree_count(3, k) for k in range(5)]
[1, 3, 3, 5, 8]
>>> weighted_tree_sum(3, 3)
7/2
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from theorems.residues import lane_prime_bits, primes_for_bits, reconstruct

if TYPE_CHECKING:  # SymPy is imported where it is used: integer counts start without it
    import sympy as sp

__all__ = [
    "chain_count",
    "mset_coefficient",
    "tree_count",
    "tree_count_polynomial",
    "tree_counts",
    "weighted_tree_sum",
    "weighted_tree_sums",
]


def _check_count_args(n, k) -> None:
    for name, value in (("n", n), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


def chain_count(n: int, k: int) -> int:
    r"""Number of order-``k`` chains (linear paths) in a depth-``n`` tower: :math:`\binom{n}{k}`.

    >>> chain_count(12, 3)
    220
    """
    _check_count_args(n, k)
    return math.comb(n, k)


class _ModularLanes:
    """Arithmetic modulo several primes at once: every array ends in an axis of primes."""

    dtype, zero, one = np.int64, 0, 1

    def __init__(self, primes) -> None:
        self.primes = np.array(primes, dtype=np.int64)
        self.width = len(primes)

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        return np.cumsum(values, axis=0) % self.primes

    def add_multiple(self, total: np.ndarray, m: int, values: np.ndarray) -> np.ndarray:
        """``total + m * values``, left unreduced (a few such terms stay far below 2**63)."""
        return total + m * values

    def reduce(self, values: np.ndarray) -> np.ndarray:
        return values % self.primes

    def convolve(self, s: np.ndarray, c: np.ndarray, m: int) -> np.ndarray:
        r""":math:`m^{-1} \sum_j s_j c_j` modulo each prime (``s`` and ``c`` reduced)."""
        inverse = np.array([pow(m, -1, int(p)) for p in self.primes])
        return np.einsum("jrl,jrl->rl", s, c) % self.primes * inverse % self.primes


class _Log2Lanes:
    r"""The same recurrence on :math:`\log_2` of the (positive) counts, to bound their sizes."""

    dtype, zero, one, width = np.float64, -np.inf, 0.0, 1

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        return np.logaddexp2.accumulate(values, axis=0)

    def add_multiple(self, total: np.ndarray, m: int, values: np.ndarray) -> np.ndarray:
        return np.logaddexp2(total, math.log2(m) + values)

    def reduce(self, values: np.ndarray) -> np.ndarray:
        return values

    def convolve(self, s: np.ndarray, c: np.ndarray, m: int) -> np.ndarray:
        terms = s + c
        top = terms.max(axis=0)
        finite = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            return np.log2(np.exp2(terms - finite).sum(axis=0)) + finite - math.log2(m)


def _tower_counts(depth: int, order: int, lanes) -> np.ndarray:
    r"""All :math:`N(r, k)`, :math:`r \le` ``depth``, :math:`k \le` ``order``, in ``lanes``'
    arithmetic, as an array indexed ``[r, k, lane]``.

    Order by order, all depths at once: with :math:`S_r = A_1 + \dots + A_r` and
    :math:`C_r = \mathrm{MSET}(S_r)`, :math:`A_{r+1} = z C_r` gives
    :math:`N(r+1, m) = N(r, m) + [z^{m-1}] C_r`, and the Euler transform
    :math:`m [z^m] C_r = \sum_{j=1}^{m} s_r(j) [z^{m-j}] C_r` with
    :math:`s_r(j) = \sum_{d \mid j} d N(r, d)` (complete once :math:`N(r, j)` is known).
    ``series[order - i]`` holds :math:`[z^i] C_r`, so the coefficients
    :math:`i = m-1, \dots, 0` the convolution needs form one slice.
    """
    shape = (order + 1, depth, lanes.width)
    counts = np.full((order + 1, depth + 1, lanes.width), lanes.zero, dtype=lanes.dtype)
    counts[0] = lanes.one
    series = np.full(shape, lanes.zero, dtype=lanes.dtype)
    series[order] = lanes.one
    sums = np.full(shape, lanes.zero, dtype=lanes.dtype)
    for m in range(1, order + 1):
        counts[m, 1:] = lanes.cumsum(series[order - m + 1])
        if m == order:
            break
        sums[m::m] = lanes.add_multiple(sums[m::m], m, counts[m, :depth])
        sums[m] = lanes.reduce(sums[m])
        series[order - m] = lanes.convolve(sums[1 : m + 1], series[order - m + 1 :], m)
    return counts.transpose(1, 0, 2)


def _modular_passes(depth: int, order: int, primes) -> list[np.ndarray]:
    """:func:`_tower_counts` modulo ``primes``, split into one chunk of primes per CPU core;
    the chunks run in threads (numpy releases the GIL inside its loops)."""
    size = max(8, -(-len(primes) // (os.cpu_count() or 1)))
    chunks = [primes[i : i + size] for i in range(0, len(primes), size)]
    if len(chunks) == 1:
        return [_tower_counts(depth, order, _ModularLanes(primes))]
    with ThreadPoolExecutor(len(chunks)) as pool:
        return list(pool.map(lambda chunk: _tower_counts(depth, order, _ModularLanes(chunk)),
                             chunks))


class _TreeTable:
    r"""Residues of :math:`N(n, k)` for the largest table computed so far, grown on demand;
    the integers are rebuilt (:func:`theorems.residues.reconstruct`) for the entries asked for.

    The recurrence of :func:`_tower_counts` runs first on :math:`\log_2` of the counts (all
    terms are positive, so rounding moves each logarithm by far less than the one bit of margin
    added): that bounds every count and so fixes how many primes each one needs. It then runs
    modulo those primes, a chunk of primes per CPU core.
    """

    def __init__(self) -> None:
        self.depth = self.order = -1

    def ensure(self, n: int, k: int) -> None:
        if n > self.depth or k > self.order:
            depth, order = max(n, self.depth), max(k, self.order)
            self.log2_bounds = _tower_counts(depth, order, _Log2Lanes())[..., 0] + 1.0
            primes = primes_for_bits(float(self.log2_bounds.max()), lane_prime_bits(order))
            self.residues = np.concatenate(_modular_passes(depth, order, primes), axis=2)
            self.primes, self.depth, self.order = primes, depth, order

    def values(self, depths: np.ndarray, orders: np.ndarray) -> list[int]:
        """:math:`N(n, k)` for each pair of ``depths`` and ``orders`` (equal-length arrays)."""
        self.ensure(int(depths.max()), int(orders.max()))
        return reconstruct(self.residues[depths, orders], self.primes,
                           self.log2_bounds[depths, orders]).tolist()


_TREES = _TreeTable()


def tree_count(n: int, k: int) -> int:
    r"""Number :math:`N(n, k) = |T_k(n)|` of label-decreasing trees (R4); :math:`N(n, 0) = 1`.

    Exact integer from the generating functions (the residues are cached: later calls with
    smaller ``n`` and ``k`` only rebuild one integer).

    >>> tree_count(5, 3) == math.comb(5, 3) + math.comb(6, 3)
    True
    """
    _check_count_args(n, k)
    return _TREES.values(np.array([n]), np.array([k]))[0]


def tree_counts(max_depth: int, max_order: int | None = None) -> list[list[int]]:
    r"""The table :math:`N(n, k)` for :math:`0 \le n \le` ``max_depth``, :math:`0 \le k \le`
    ``max_order`` as a list of rows (``result[n][k]``), computed in one pass; with
    ``max_order=None``, the triangle :math:`k \le n` (row ``n`` has ``n + 1`` entries).

    Cost: :math:`O(n K^2)` word products per prime for :math:`K` = ``max_order`` (a count of
    :math:`b` bits needs about :math:`b / 27` primes); the integers are rebuilt only for the
    entries returned.

    >>> tree_counts(2, 3)
    [[1, 0, 0, 0], [1, 1, 0, 0], [1, 2, 1, 1]]
    >>> tree_counts(2)
    [[1], [1, 1], [1, 2, 1]]
    """
    triangle = max_order is None
    _check_count_args(max_depth, max_depth if triangle else max_order)
    widths = [n + 1 if triangle else max_order + 1 for n in range(max_depth + 1)]
    depths = np.repeat(np.arange(max_depth + 1), widths)
    orders = np.concatenate([np.arange(width) for width in widths])
    flat = _TREES.values(depths, orders)
    starts = np.cumsum([0] + widths)
    return [flat[starts[n] : starts[n + 1]] for n in range(max_depth + 1)]


def mset_coefficient(m: int, b) -> sp.Expr:
    r""":math:`[z^m]\,\mathrm{MSET}(B)(z)` as a polynomial in :math:`b_j = [z^j]B`.

    A multiset of total size :math:`m` picks, for each part of a partition of :math:`m` into
    parts :math:`j` with multiplicity :math:`e_j`, a multiset of :math:`e_j` objects of size
    :math:`j`: :math:`\sum_{\text{partitions}} \prod_j \binom{b_j + e_j - 1}{e_j}`.
    ``b`` maps ``j`` (1-based) to an expression.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> sp.expand(mset_coefficient(2, {1: x, 2: y}))
    x**2/2 + x/2 + y
    """
    import sympy as sp

    total = sp.Integer(0)
    for partition in sp.utilities.iterables.partitions(m):
        term = sp.Integer(1)
        for j, e in partition.items():
            term *= sp.expand_func(sp.binomial(b[j] + e - 1, e))
        total += term
    return sp.expand(total)


def tree_count_polynomial(k: int, n: sp.Symbol | None = None) -> sp.Expr:
    r"""Closed form of :math:`N(n, k)` as a polynomial in ``n``, by SymPy summation (R4).

    With :math:`a_j(r) = [z^j] A_r(z)`: :math:`a_1 = 1` and
    :math:`a_j(r) = [z^{j-1}]\,\mathrm{MSET}` with :math:`b_i = N(r-1, i)`, and
    :math:`N(n, j) = \sum_{r=1}^{n} a_j(r)` is summed symbolically.

    >>> import sympy as sp
    >>> n = sp.Symbol("n", integer=True, nonnegative=True)
    >>> sp.factor(tree_count_polynomial(3, n))
    n*(n - 1)*(2*n - 1)/6
    """
    import sympy as sp

    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    n = sp.Symbol("n", integer=True, nonnegative=True) if n is None else n
    if k == 0:
        return sp.Integer(1)
    r = sp.Symbol("r", integer=True, positive=True)
    closed: dict[int, sp.Expr] = {}
    for j in range(1, k + 1):
        b = {i: closed[i].subs(n, r - 1) for i in range(1, j)}
        a_j = mset_coefficient(j - 1, b) if j > 1 else sp.Integer(1)
        closed[j] = sp.expand(sp.summation(a_j, (r, 1, n)))
    return closed[k]


class _WeightedSeries:
    r"""Cache of :math:`[z^m] (B_1 + \dots + B_r)`, :math:`B_r = z \exp(B_1 + \dots + B_{r-1})`,
    as exact fractions; :math:`\exp` by :math:`m e_m = \sum_{j=1}^{m} j\, s_j e_{m-j}`."""

    def __init__(self) -> None:
        self.order = -1
        self.rows: list[list[Fraction]] = []

    def ensure(self, n: int, k: int) -> None:
        if k > self.order or n >= len(self.rows):
            self._build(max(n, len(self.rows) - 1), max(k, self.order))

    def _build(self, depth: int, order: int) -> None:
        rows = [[Fraction(1)] + [Fraction(0)] * order]
        for _ in range(depth):
            s = rows[-1]
            e = [Fraction(1)] + [Fraction(0)] * order
            for m in range(1, order + 1):
                e[m] = sum(j * s[j] * e[m - j] for j in range(1, m + 1)) / m
            rows.append([s[0]] + [s[m] + e[m - 1] for m in range(1, order + 1)])
        self.rows, self.order = rows, order


_WEIGHTED = _WeightedSeries()


def weighted_tree_sums(max_depth: int, max_order: int) -> list[list[sp.Rational]]:
    r"""The table :math:`W(n, k) = \sum_{t \in T_k(n)} 1/\sigma(t)` for
    :math:`0 \le n \le` ``max_depth``, :math:`0 \le k \le` ``max_order`` (``result[n][k]``).

    >>> weighted_tree_sums(2, 2)
    [[1, 0, 0], [1, 1, 0], [1, 2, 1]]
    """
    import sympy as sp

    _check_count_args(max_depth, max_order)
    _WEIGHTED.ensure(max_depth, max_order)
    return [[sp.Rational(q.numerator, q.denominator) for q in row[: max_order + 1]]
            for row in _WEIGHTED.rows[: max_depth + 1]]


def weighted_tree_sum(n: int, k: int) -> sp.Rational:
    r""":math:`W(n, k) = \sum_{t \in T_k(n)} 1/\sigma(t)` as an exact ``sympy.Rational`` (R4).

    It is the coefficient of :math:`\lambda^k` in the tower with every :math:`f_i = \exp`
    at :math:`x = 0`, since then every elementary differential equals 1 (R3).

    >>> weighted_tree_sum(2, 3)
    1/2
    """
    import sympy as sp

    _check_count_args(n, k)
    _WEIGHTED.ensure(n, k)
    q = _WEIGHTED.rows[n][k]
    return sp.Rational(q.numerator, q.denominator)
