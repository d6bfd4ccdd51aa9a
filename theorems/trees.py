r"""R3: the hierarchical (tree) expansion of a smooth residual tower (formal power series).

THEORY.md, R3. Indexing: :math:`x_0 = x`, :math:`x_i = x_{i-1} + \lambda f_i(x_{i-1})` for
:math:`i = 1, \dots, n`. As a formal power series in :math:`\lambda`,

.. math::

    x_n = x + \sum_{k \ge 1} \lambda^k \sum_{t \in T_k(n)} \frac{F(t)(x)}{\sigma(t)},

where :math:`T_k(n)` is the set of rooted trees on :math:`k` vertices labelled from
:math:`[n]`, every child's label strictly smaller than its parent's (siblings may share a
label); the elementary differential of the tree with root label :math:`r` and subtrees
:math:`t_1, \dots, t_m` is :math:`F(t) = f_r^{(m)}(x)[F(t_1), \dots, F(t_m)]`; and
:math:`\sigma(t)` is the number of label-preserving automorphisms of :math:`t`.

Here :math:`x` is a scalar and the :math:`f_i` are SymPy undefined functions, so
:math:`f^{(m)}[u_1, \dots, u_m] = f^{(m)}(x)\, u_1 \cdots u_m`. In one dimension distinct trees
can give equal monomials, so trees are counted by enumeration (:func:`label_decreasing_trees`)
and the identity is checked on whole expressions (:func:`verify_r3`).

A tree is the pair ``(label, children)`` with ``children`` a tuple of trees in canonical
order, so equal trees are equal tuples.

Examples
--------
>>> t = (3, ((1, ()), (1, ())))
>>> automorphisms(t), elementary_differential(t)
(2, f1(x)**2*Derivative(f3(x), (x, 2)))
>>> len(label_decreasing_trees(3, 3))
5
"""

import functools
import math
from collections import Counter

import sympy as sp

from theorems._arguments import nonnegative_int, positive_int

__all__ = [
    "X",
    "automorphisms",
    "branch_functions",
    "elementary_differential",
    "label_decreasing_trees",
    "tower_series",
    "tree_size",
    "tree_sum",
    "verify_r3",
]

X = sp.Symbol("x", real=True)


def _check(n, k, name_k: str = "k") -> None:
    positive_int("n", n)
    nonnegative_int(name_k, k)


def tree_size(tree) -> int:
    """Number of vertices of ``tree``."""
    return 1 + sum(tree_size(child) for child in tree[1])


@functools.cache
def _rooted(root: int, k: int) -> tuple:
    """All trees with root label ``root`` and ``k`` vertices."""
    if k == 1:
        return ((root, ()),)
    pool = [t for label in range(1, root) for size in range(1, k) for t in _rooted(label, size)]
    sizes = [tree_size(t) for t in pool]

    def multisets(start: int, remaining: int):
        if remaining == 0:
            yield ()
            return
        for i in range(start, len(pool)):
            if sizes[i] <= remaining:
                for rest in multisets(i, remaining - sizes[i]):
                    yield (pool[i],) + rest

    return tuple((root, children) for children in multisets(0, k - 1))


def label_decreasing_trees(n: int, k: int) -> list:
    r"""The set :math:`T_k(n)` (empty for :math:`k = 0`), each tree listed once.

    >>> label_decreasing_trees(2, 2)
    [(2, ((1, ()),))]
    """
    _check(n, k)
    return [t for root in range(1, n + 1) for t in _rooted(root, k)] if k else []


def automorphisms(tree) -> int:
    r""":math:`\sigma(t)`: label-preserving automorphisms; identical subtrees may be permuted.

    :math:`\sigma(t) = \prod_{c} m_c!\, \sigma(c)^{m_c}` over the distinct children :math:`c`
    of the root, :math:`m_c` their multiplicities.
    """
    result = 1
    for child, mult in Counter(tree[1]).items():
        result *= math.factorial(mult) * automorphisms(child) ** mult
    return result


def branch_functions(n: int) -> tuple[sp.Function, ...]:
    """Undefined scalar functions ``f1..fn``."""
    return tuple(sp.Function(f"f{i}") for i in range(1, n + 1))


def elementary_differential(tree, x: sp.Symbol = X) -> sp.Expr:
    r""":math:`F(t)(x) = f_r^{(m)}(x) \prod_j F(t_j)(x)` for scalar :math:`x`."""
    label, children = tree
    f = sp.Function(f"f{label}")(x)
    head = f.diff(x, len(children)) if children else f
    return sp.Mul(head, *(elementary_differential(c, x) for c in children))


def tree_sum(n: int, k: int, x: sp.Symbol = X) -> sp.Expr:
    r""":math:`\sum_{t \in T_k(n)} F(t)(x) / \sigma(t)` (the coefficient of :math:`\lambda^k`)."""
    if k == 0:
        _check(n, k)
        return x
    return sp.Add(*(elementary_differential(t, x) / automorphisms(t)
                    for t in label_decreasing_trees(n, k)))


def _truncated_product(p: list, q: list, order: int) -> list:
    return [sp.Add(*(p[j] * q[m - j] for j in range(m + 1))) for m in range(order + 1)]


def tower_series(n: int, order: int, x: sp.Symbol = X, functions=None) -> list[sp.Expr]:
    r"""Coefficients of :math:`\lambda^0, \dots, \lambda^{order}` in :math:`x_n`, by Taylor's theorem.

    With :math:`x_{i-1} = x + \delta_{i-1}` and :math:`\delta_{i-1} = O(\lambda)`,
    :math:`x_i = x + \delta_{i-1} + \lambda \sum_{m \ge 0} f_i^{(m)}(x)\, \delta_{i-1}^m / m!`,
    truncated after :math:`\lambda^{order}` (exact for formal power series). ``functions``
    (default: undefined ``f1..fn``) may be concrete SymPy functions of one argument.
    """
    _check(n, order, "order")
    functions = branch_functions(n) if functions is None else functions
    delta = [sp.Integer(0)] * (order + 1)
    for f in functions:
        fx = f(x)
        power = [sp.Integer(1)] + [sp.Integer(0)] * order
        taylor = [sp.Integer(0)] * (order + 1)
        for m in range(order):
            derivative = fx.diff(x, m) if m else fx
            taylor = [t + derivative * p / math.factorial(m) for t, p in zip(taylor, power)]
            power = _truncated_product(power, delta, order)
        delta = [delta[0]] + [delta[k] + taylor[k - 1] for k in range(1, order + 1)]
    return [x + delta[0]] + [sp.expand(d) for d in delta[1:]]


def verify_r3(n: int, order: int) -> dict:
    r"""Prove R3 for depth ``n`` up to ``order``: series coefficient minus tree sum is 0.

    Returns ``holds``, ``differing`` (the orders k = 0..order whose difference is not
    identically 0) and ``trees`` (:math:`|T_k(n)|` by enumeration, k = 1..order).

    >>> verify_r3(3, 3)
    {'holds': True, 'differing': 0, 'trees': [3, 3, 5]}
    """
    series = tower_series(n, order)
    differing = sum(sp.expand(series[k] - tree_sum(n, k)) != 0 for k in range(order + 1))
    return {"holds": differing == 0, "differing": differing,
            "trees": [len(label_decreasing_trees(n, k)) for k in range(1, order + 1)]}
