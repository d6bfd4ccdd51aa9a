r"""R1: the linear path expansion of a residual tower (exact).

THEORY.md, R1. Indexing: :math:`x_0 = x` is the tower's input and block :math:`i` sees
:math:`x_{i-1}`, so :math:`x_i = x_{i-1} + \lambda A_i x_{i-1}`. For a subset
:math:`S = \{s_1 < \dots < s_k\} \subseteq [n]` write :math:`A_S = A_{s_k} \cdots A_{s_1}`
(later blocks on the left; :math:`A_\emptyset = I`). Then

.. math::

    T_n = (I + \lambda A_n) \cdots (I + \lambda A_1) = \sum_{S \subseteq [n]} \lambda^{|S|} A_S,

with :math:`\binom{n}{k}` terms of order :math:`k` and :math:`2^n` terms in all.

The :math:`A_i` are SymPy non-commuting symbols, so no step assumes commutativity, and
:math:`\lambda` is a positive commuting symbol. The product is expanded factor by factor by
the distributive law, order by order in :math:`\lambda`:
:math:`P_i^{(k)} = P_{i-1}^{(k)} + A_i P_{i-1}^{(k-1)}` (cost :math:`O(2^n)` terms, which is the
size of the answer), and compared with the explicit subset sum; for small :math:`n` SymPy's own
``expand`` and ``collect`` give a third route (:func:`expanded_by_sympy`).

Examples
--------
>>> A, lam = path_symbols(2)
>>> product_by_order(A)
[1, A1 + A2, A2*A1]
>>> [len(terms(c)) for c in product_by_order(path_symbols(4)[0])]
[1, 4, 6, 4, 1]
"""

import itertools
from math import comb

import numpy as np
import sympy as sp

from theorems._arguments import positive_int

__all__ = [
    "difference",
    "expanded_by_sympy",
    "numeric_product",
    "numeric_subset_sum",
    "path_symbols",
    "product_by_order",
    "subset_sum_by_order",
    "terms",
    "tower_product",
    "verify_r1",
]


def path_symbols(n: int, name: str = "A") -> tuple[tuple[sp.Symbol, ...], sp.Symbol]:
    """Non-commuting branch symbols ``A1..An`` and the positive scale ``lam``."""
    positive_int("n", n)
    blocks = sp.symbols(f"{name}1:{n + 1}", commutative=False)
    return tuple(blocks), sp.Symbol("lam", positive=True)


def terms(expr: sp.Expr) -> tuple[sp.Expr, ...]:
    """The summands of ``expr`` (none for 0)."""
    return () if expr == 0 else sp.Add.make_args(expr)


def difference(p: sp.Expr, q: sp.Expr) -> sp.Expr:
    """``p - q`` as one flat sum, so equal non-commutative monomials cancel (0 iff p == q).

    >>> A, _ = path_symbols(2)
    >>> difference(A[0] + A[1] * A[0], A[1] * A[0])
    A1
    """
    return sp.Add(*terms(p), *(-t for t in terms(q)))


def product_by_order(blocks) -> list[sp.Expr]:
    r"""Coefficients :math:`[\lambda^k] (I + \lambda A_n) \cdots (I + \lambda A_1)`, k = 0..n.

    Multiplies one factor at a time on the left:
    :math:`P_i^{(k)} = P_{i-1}^{(k)} + A_i P_{i-1}^{(k-1)}`.
    """
    n = len(blocks)
    coeffs = [sp.Integer(1)] + [sp.Integer(0)] * n
    for i, block in enumerate(blocks, start=1):
        coeffs = [coeffs[0]] + [
            sp.Add(coeffs[k], *(sp.Mul(block, t) for t in terms(coeffs[k - 1])))
            for k in range(1, i + 1)
        ] + coeffs[i + 1 :]
    return coeffs


def subset_sum_by_order(blocks) -> list[sp.Expr]:
    r"""Coefficients :math:`\sum_{|S| = k} A_S` by explicit enumeration of the subsets."""
    n = len(blocks)
    return [
        sp.Add(*(sp.Mul(*(blocks[i] for i in reversed(S))) for S in
                 itertools.combinations(range(n), k)))
        for k in range(n + 1)
    ]


def tower_product(blocks, lam: sp.Symbol) -> sp.Expr:
    r"""The unexpanded product :math:`(1 + \lambda A_n) \cdots (1 + \lambda A_1)`."""
    return sp.Mul(*(1 + lam * a for a in reversed(blocks)))


def expanded_by_sympy(blocks, lam: sp.Symbol) -> list[sp.Expr]:
    r"""Coefficients of :math:`\lambda^k` from SymPy's ``expand`` and ``collect``.

    Slow beyond :math:`n \approx 9` (SymPy expands all :math:`2^n` products at once); a
    cross-check of :func:`product_by_order` for small ``n``.
    """
    collected = sp.collect(sp.expand(tower_product(blocks, lam)), lam, evaluate=False)
    return [collected.get(lam**k if k else sp.Integer(1), sp.Integer(0))
            for k in range(len(blocks) + 1)]


def verify_r1(n: int) -> dict:
    r"""Prove R1 for depth ``n``: the expanded product equals the subset sum order by order.

    Returns ``holds`` (every difference :math:`P^{(k)} - \sum_{|S|=k} A_S` is identically 0),
    ``terms_by_order`` (counted summands of :math:`P^{(k)}`), ``expected`` (:math:`\binom{n}{k}`)
    and ``total`` (all summands; :math:`2^n`).

    >>> verify_r1(3)["terms_by_order"]
    [1, 3, 3, 1]
    """
    blocks, _ = path_symbols(n)
    product = product_by_order(blocks)
    subsets = subset_sum_by_order(blocks)
    counts = [len(terms(c)) for c in product]
    return {
        "holds": all(difference(p, s) == 0 for p, s in zip(product, subsets)),
        "terms_by_order": counts,
        "expected": [comb(n, k) for k in range(n + 1)],
        "total": sum(counts),
    }


def numeric_product(matrices: np.ndarray, lam: float) -> np.ndarray:
    r""":math:`(I + \lambda A_n) \cdots (I + \lambda A_1)` for a stack ``matrices[i-1] = A_i``."""
    d = matrices.shape[-1]
    out = np.eye(d)
    for a in matrices:
        out = (np.eye(d) + lam * a) @ out
    return out


def numeric_subset_sum(matrices: np.ndarray, lam: float) -> np.ndarray:
    r""":math:`\sum_S \lambda^{|S|} A_S` by enumerating all :math:`2^n` subsets (small-n oracle)."""
    n, d = matrices.shape[0], matrices.shape[-1]
    total = np.zeros((d, d))
    for k in range(n + 1):
        for S in itertools.combinations(range(n), k):
            term = np.eye(d)
            for i in S:
                term = matrices[i] @ term
            total += lam**k * term
    return total
