r"""R5: the Jacobian expansion of a residual tower (exact, any differentiable branches).

THEORY.md, R5. Indexing: :math:`x_0 = x`, :math:`x_i = x_{i-1} + \lambda f_i(x_{i-1})`, and
:math:`J_i = Df_i(x_{i-1})` is the true Jacobian of branch :math:`i` at the point it sees. By
the chain rule,

.. math::

    \frac{\partial x_n}{\partial x_0} = (I + \lambda J_n) \cdots (I + \lambda J_1)
    = \sum_{S \subseteq [n]} \lambda^{|S|} J_S, \qquad J_S = J_{s_k} \cdots J_{s_1}
    \ (s_1 < \dots < s_k).

The second equality is R1's algebra with non-commuting symbols :math:`J_i`
(:func:`verify_r5_symbolic`); the first is the chain rule, checked exactly on concrete smooth
towers with SymPy's own differentiation (:func:`verify_chain_rule`).

Examples
--------
>>> verify_r5_symbolic(3)["terms_by_order"]
[1, 3, 3, 1]
>>> verify_chain_rule(2, 2, seed=0)
True
"""

import random
from math import comb

import sympy as sp

from theorems.linear_paths import (
    difference,
    path_symbols,
    product_by_order,
    subset_sum_by_order,
    terms,
)

__all__ = ["chain_rule_residual", "jacobian_symbols", "tanh_tower", "verify_chain_rule",
           "verify_r5_symbolic"]


def jacobian_symbols(n: int) -> tuple[tuple[sp.Symbol, ...], sp.Symbol]:
    """Non-commuting Jacobian symbols ``J1..Jn`` and the positive scale ``lam``."""
    return path_symbols(n, name="J")


def verify_r5_symbolic(n: int) -> dict:
    r"""The product :math:`\prod_i (I + \lambda J_i)` (ordered :math:`J_n \cdots J_1`) expanded
    order by order equals :math:`\sum_S \lambda^{|S|} J_S`; term counts :math:`\binom{n}{k}`."""
    blocks, _ = jacobian_symbols(n)
    product = product_by_order(blocks)
    counts = [len(terms(c)) for c in product]
    return {
        "holds": all(difference(p, s) == 0
                     for p, s in zip(product, subset_sum_by_order(blocks))),
        "terms_by_order": counts,
        "expected": [comb(n, k) for k in range(n + 1)],
    }


def tanh_tower(n: int, d: int, seed: int) -> tuple[list[sp.Matrix], sp.Symbol]:
    r"""Weights of a smooth tower :math:`f_i(y) = \tanh(W_i y)` on :math:`\mathbb{R}^d`, with
    :math:`W_i` exact rationals drawn from ``seed``; returns ``(weights, lam)``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    rng = random.Random(seed)
    weights = [sp.Matrix(d, d, lambda *_: sp.Rational(rng.randint(-9, 9), rng.randint(1, 9)))
               for _ in range(n)]
    return weights, sp.Symbol("lam", positive=True)


def verify_chain_rule(n: int, d: int, seed: int) -> bool:
    r"""Exact check of :math:`\partial x_n / \partial x_0 = \prod_i (I + \lambda J_i(x_{i-1}))`
    (:func:`chain_rule_residual` is 0)."""
    return chain_rule_residual(n, d, seed) == 0


def chain_rule_residual(n: int, d: int, seed: int) -> int:
    r"""The number of the :math:`d^2` entries of
    :math:`\partial x_n / \partial x_0 - \prod_i (I + \lambda J_i(x_{i-1}))` that are not
    identically 0 (R5 says none).

    The left side is SymPy's Jacobian of the composed tower in the input symbols; the right
    side multiplies each branch's Jacobian :math:`\mathrm{diag}(1 - \tanh^2(W_i x_{i-1})) W_i`
    evaluated at the state it sees.
    """
    weights, lam = tanh_tower(n, d, seed)
    x0 = sp.Matrix(sp.symbols(f"x1:{d + 1}", real=True))
    state, product = x0, sp.eye(d)
    for w in weights:
        pre = w * state
        jac = sp.diag(*[1 - sp.tanh(p) ** 2 for p in pre]) * w
        product = (sp.eye(d) + lam * jac) * product
        state = state + lam * pre.applyfunc(sp.tanh)
    difference = state.jacobian(x0) - product
    return sum(sp.expand(entry) != 0 for entry in difference)
