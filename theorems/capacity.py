r"""S6: the Lipschitz bound's depth product :math:`\prod_i (1 + \lambda_i B_i)` (bound).

THEORY.md, S6. If branch :math:`i` is :math:`B_i`-Lipschitz, the tower
:math:`x_i = x_{i-1} + \lambda_i f_i(x_{i-1})` is Lipschitz with constant at most

.. math::

    \Pi_n = \prod_{i=1}^{n} (1 + \lambda_i B_i) = \sum_{S \subseteq [n]} \prod_{i \in S} \lambda_i B_i
    \le \exp\Big(\sum_i \lambda_i B_i\Big),

the path sum of R1 with every path weighted by its branches' Lipschitz constants; with
:math:`\lambda_i = \lambda`, :math:`B_i = c` it is S1's :math:`(1 + \lambda c)^n`. Depth
enters this Lipschitz bound only through :math:`\Pi_n`; under :math:`\lambda = a/n` and
:math:`B_i \le B`, :math:`\Pi_n \le e^{aB}` for every depth. (D3's whole-class bound is not of
this form: it has no lam, and grows with L through the parameter count and A^L.)

Examples
--------
>>> capacity_product([0.5, 0.5], [1.0, 3.0])
3.75
>>> inv_depth_product_limit()
exp(B*a)
"""

import math

import sympy as sp

__all__ = ["capacity_product", "capacity_product_expr", "inv_depth_product_limit",
           "log_capacity_product"]


def _check(lams, bounds) -> None:
    if len(lams) != len(bounds) or not lams:
        raise ValueError("lams and bounds must be non-empty and of the same length")
    for name, values in (("lams", lams), ("bounds", bounds)):
        if any(not math.isfinite(v) or v < 0 for v in values):
            raise ValueError(f"{name} must be finite and non-negative, got {list(values)!r}")


def log_capacity_product(lams, bounds) -> float:
    """log Pi_n = sum_i log1p(lam_i B_i), exact to rounding at any depth."""
    _check(lams, bounds)
    return math.fsum(math.log1p(lam * b) for lam, b in zip(lams, bounds, strict=True))


def capacity_product(lams, bounds) -> float:
    """Pi_n = prod_i (1 + lam_i B_i) (OverflowError past the float range: use the log)."""
    return math.exp(log_capacity_product(lams, bounds))


def capacity_product_expr(n: int) -> tuple[sp.Expr, tuple, tuple]:
    """Pi_n with symbolic positive lam_i and B_i; returns (expression, lams, bounds)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    lams = sp.symbols(f"lam1:{n + 1}", positive=True)
    bounds = sp.symbols(f"B1:{n + 1}", positive=True)
    return sp.Mul(*[1 + lam * b for lam, b in zip(lams, bounds, strict=True)]), lams, bounds


def inv_depth_product_limit() -> sp.Expr:
    r"""lim (1 + a B / n)^n = e^{aB}: the product under lam = a/n and B_i = B. With S1's lemma
    log(1 + u) <= u (:func:`theorems.lipschitz.log_lemma`), Pi_n <= e^{sum lam_i B_i}."""
    a, b = sp.symbols("a B", nonnegative=True)
    n = sp.Symbol("n", positive=True, integer=True)
    return sp.limit((1 + a * b / n) ** n, n, sp.oo)
