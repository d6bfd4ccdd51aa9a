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

import math
from fractions import Fraction

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


class _TreeSeries:
    r"""Cache of :math:`[z^m] (A_1 + \dots + A_r)` for all depths and orders computed so far.

    ``rows[r][m]`` is :math:`N(r, m)`. The series of every depth are extended together when a
    larger order is asked for. The Euler transform :math:`C = \mathrm{MSET}(B)` is computed
    with integers only: :math:`m c_m = \sum_{j=1}^{m} s_j c_{m-j}`, where
    :math:`s_j = \sum_{d \mid j} d\, b_d` is updated incrementally as trees are added.
    """

    def __init__(self) -> None:
        self.order = -1
        self.rows: list[list[int]] = []

    def ensure(self, n: int, k: int) -> None:
        if k > self.order or n >= len(self.rows):
            self._build(max(n, len(self.rows) - 1), max(k, self.order))

    def _build(self, depth: int, order: int) -> None:
        rows = [[1] + [0] * order]
        s = [0] * (order + 1)
        for _ in range(depth):
            c = [1] + [0] * order
            for m in range(1, order):
                c[m] = sum(map(int.__mul__, s[1 : m + 1], c[m - 1 :: -1])) // m
            a = [0] + c[:order]
            rows.append([x + y for x, y in zip(rows[-1], a)])
            for d in range(1, order + 1):
                if a[d]:
                    da = d * a[d]
                    for j in range(d, order + 1, d):
                        s[j] += da
        self.rows, self.order = rows, order


_TREES = _TreeSeries()


def tree_count(n: int, k: int) -> int:
    r"""Number :math:`N(n, k) = |T_k(n)|` of label-decreasing trees (R4); :math:`N(n, 0) = 1`.

    Exact integer from the generating functions (cached: later calls with smaller ``n`` and
    ``k`` are table look-ups).

    >>> tree_count(5, 3) == math.comb(5, 3) + math.comb(6, 3)
    True
    """
    _check_count_args(n, k)
    _TREES.ensure(n, k)
    return _TREES.rows[n][k]


def tree_counts(max_depth: int, max_order: int) -> list[list[int]]:
    r"""The table :math:`N(n, k)` for :math:`0 \le n \le` ``max_depth``, :math:`0 \le k \le`
    ``max_order`` as a list of rows (``result[n][k]``), computed in one pass.

    Cost: :math:`O(n K^2)` big-integer products for :math:`K` = ``max_order``.

    >>> tree_counts(2, 3)
    [[1, 0, 0, 0], [1, 1, 0, 0], [1, 2, 1, 1]]
    """
    _check_count_args(max_depth, max_order)
    _TREES.ensure(max_depth, max_order)
    return [row[: max_order + 1] for row in _TREES.rows[: max_depth + 1]]


def mset_coefficient(m: int, b) -> sp.Expr:
    r""":math:`[z^m]\,\mathrm{MSET}(B)(z)` as a polynomial in :math:`b_j = [z^j]B`.

    A multiset of total size :math:`m` picks, for each part of a partition of :math:`m` into
    parts :math:`j` with multiplicity :math:`e_j`, a multiset of :math:`e_j` objects of size
    :math:`j`: :math:`\sum_{\text{partitions}} \prod_j \binom{b_j + e_j - 1}{e_j}`.
    ``b`` maps ``j`` (1-based) to an expression.

    >>> x, y = sp.symbols("x y")
    >>> sp.expand(mset_coefficient(2, {1: x, 2: y}))
    x**2/2 + x/2 + y
    """
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

    >>> n = sp.Symbol("n", integer=True, nonnegative=True)
    >>> sp.factor(tree_count_polynomial(3, n))
    n*(n - 1)*(2*n - 1)/6
    """
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
    _check_count_args(n, k)
    _WEIGHTED.ensure(n, k)
    q = _WEIGHTED.rows[n][k]
    return sp.Rational(q.numerator, q.denominator)
