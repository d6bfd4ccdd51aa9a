r"""R3 in several dimensions: vector elementary differentials against the tower's series.

THEORY.md, R3, for :math:`f_i : \mathbb{R}^d \to \mathbb{R}^d`. The components
:math:`f_i^a(x_1, \dots, x_d)` are SymPy undefined functions, and for a tree :math:`t` with root
label :math:`r` and root subtrees :math:`t_1, \dots, t_m`

.. math::

    F(t)^a = \sum_{b_1, \dots, b_m = 1}^{d}
        \frac{\partial^m f_r^a}{\partial x_{b_1} \cdots \partial x_{b_m}}(x)\,
        F(t_1)^{b_1} \cdots F(t_m)^{b_m},

the symmetric :math:`m`-linear derivative applied to the subtrees' differentials. In one
dimension distinct trees can give the same monomial (:mod:`theorems.trees`: ``4[1, 3[2]]`` and
``4[2, 3[1]]`` both give :math:`f_4'' f_3' f_2 f_1`), and products of derivatives commute, so a
scalar check cannot see a tree swapped for its twin, or a Jacobian applied transposed. For
:math:`d \ge 2` the index contractions keep every tree's differential distinct
(:func:`collisions` counts the coincidences), so the identity

.. math::

    [\lambda^k]\, x_n = \sum_{t \in T_k(n)} \frac{F(t)(x)}{\sigma(t)}

checked component by component (:func:`verify_r3_vector`) pins down each tree and its weight.
The series side is the multivariate Taylor expansion
:math:`f_i(x + \delta) = \sum_\alpha \partial^\alpha f_i(x)\, \delta^\alpha / \alpha!` with
:math:`\delta = x_{i-1} - x = O(\lambda)`, truncated after :math:`\lambda^{order}` (exact for
formal power series); it knows nothing of trees.

>>> verify_r3_vector(2, 2, 3)["differing"]
0
"""

import functools
import itertools
import math

import sympy as sp

from theorems._arguments import positive_int
from theorems.trees import automorphisms, elementary_differential, label_decreasing_trees

__all__ = ["collisions", "coordinates", "vector_elementary_differential", "vector_tower_series",
           "vector_tree_sum", "verify_r3_vector"]


def coordinates(d: int) -> tuple[sp.Symbol, ...]:
    """The real symbols ``x1..xd`` of the point x."""
    positive_int("d", d)
    return sp.symbols(f"x1:{d + 1}", real=True)


@functools.cache
def _component(label: int, a: int, d: int) -> sp.Expr:
    """f_label^a(x1..xd), an undefined function of the d coordinates."""
    return sp.Function(f"f{label}_{a}")(*coordinates(d))


def vector_elementary_differential(tree, d: int) -> tuple[sp.Expr, ...]:
    """F(t)^a for a = 1..d (module docstring), as a tuple of d SymPy expressions."""
    positive_int("d", d)
    return _differential(tree, d)


@functools.cache
def _differential(tree, d: int) -> tuple[sp.Expr, ...]:
    label, children = tree
    xs = coordinates(d)
    inner = [_differential(child, d) for child in children]
    out = []
    for a in range(1, d + 1):
        f = _component(label, a, d)
        terms = []
        for index in itertools.product(range(d), repeat=len(children)):
            head = f.diff(*(xs[b] for b in index)) if index else f
            terms.append(sp.Mul(head, *(vec[b] for vec, b in zip(inner, index))))
        out.append(sp.Add(*terms))
    return tuple(out)


def vector_tree_sum(n: int, k: int, d: int) -> tuple[sp.Expr, ...]:
    r""":math:`\sum_{t \in T_k(n)} F(t) / \sigma(t)` component by component (k >= 1)."""
    positive_int("k", k)
    trees = label_decreasing_trees(n, k)
    return tuple(sp.Add(*(vector_elementary_differential(t, d)[a] / automorphisms(t)
                          for t in trees)) for a in range(d))


def _times(p: list, q: list, order: int) -> list:
    """The product of two truncated series (coefficient lists), truncated after ``order``."""
    return [sp.Add(*(p[j] * q[m - j] for j in range(m + 1))) for m in range(order + 1)]


def _multi_indices(d: int, top: int):
    """Multi-indices alpha in N^d with |alpha| <= top, each with its alpha!."""
    for total in range(top + 1):
        for alpha in itertools.product(range(total + 1), repeat=d):
            if sum(alpha) == total:
                yield alpha, math.prod(math.factorial(a) for a in alpha)


def vector_tower_series(n: int, d: int, order: int) -> list[tuple[sp.Expr, ...]]:
    r"""[lambda^k] x_n for k = 0..order, each a d-tuple, by multivariate Taylor expansion.

    Block i maps delta = x_{i-1} - x to delta + lam sum_alpha d^alpha f_i(x) delta^alpha / alpha!
    with |alpha| <= order - 1 (higher powers of delta = O(lam) do not reach lam^order).
    """
    positive_int("n", n)
    positive_int("d", d)
    positive_int("order", order)
    xs = coordinates(d)
    zero = [sp.Integer(0)] * (order + 1)
    delta = [list(zero) for _ in range(d)]
    for i in range(1, n + 1):
        powers = {}
        for alpha, factorial in _multi_indices(d, order - 1):
            series = [sp.Integer(1)] + zero[1:]
            for b, power in enumerate(alpha):
                for _ in range(power):
                    series = _times(series, delta[b], order)
            powers[alpha] = (series, factorial)
        step = []
        for a in range(1, d + 1):
            f = _component(i, a, d)
            total = list(zero)
            for alpha, (series, factorial) in powers.items():
                derivative = f.diff(*[xs[b] for b, p in enumerate(alpha) for _ in range(p)]) \
                    if any(alpha) else f
                total = [t + derivative * s / factorial for t, s in zip(total, series)]
            step.append(total)
        delta = [[delta[a][0]] + [delta[a][k] + step[a][k - 1] for k in range(1, order + 1)]
                 for a in range(d)]
    return [tuple(x + delta[a][0] for a, x in enumerate(xs))] + [
        tuple(sp.expand(delta[a][k]) for a in range(d)) for k in range(1, order + 1)]


def collisions(n: int, k: int, d: int) -> int:
    """How many trees of T_k(n) share their elementary differential with another tree:
    in d = 1 the scalar F(t) of :mod:`theorems.trees`, else the vector F(t)."""
    positive_int("d", d)
    trees = label_decreasing_trees(n, k)
    if d == 1:
        keys = [sp.expand(elementary_differential(t)) for t in trees]
    else:
        keys = [tuple(sp.expand(c) for c in vector_elementary_differential(t, d)) for t in trees]
    counts: dict = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return sum(c for c in counts.values() if c > 1)


def verify_r3_vector(n: int, d: int, order: int) -> dict:
    r"""R3 in dimension ``d``: series coefficient minus tree sum, component by component.

    Returns ``differing`` (the pairs (k, a), k = 1..order, a = 1..d, whose difference is not
    identically 0), ``components`` (order * d, the pairs compared), ``trees`` (|T_k(n)|) and
    ``collisions`` (trees whose vector differential another tree shares, over all k).
    """
    series = vector_tower_series(n, d, order)
    differing = 0
    for k in range(1, order + 1):
        trees = vector_tree_sum(n, k, d)
        differing += sum(sp.expand(series[k][a] - trees[a]) != 0 for a in range(d))
    return {"differing": differing, "components": order * d,
            "trees": [len(label_decreasing_trees(n, k)) for k in range(1, order + 1)],
            "collisions": sum(collisions(n, k, d) for k in range(1, order + 1))}
