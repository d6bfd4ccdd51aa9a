r"""Taylor coefficients in :math:`\lambda` of a smooth residual tower, by nested forward mode (R3).

THEORY.md, R3. Indexing: :math:`x_0 = x`, :math:`x_i = x_{i-1} + \lambda f_i(x_{i-1})` for
:math:`i = 1, \dots, n`. The Taylor coefficients at :math:`\lambda = 0`,

.. math::

    c_k = \frac{1}{k!} \left.\frac{d^k x_n}{d\lambda^k}\right|_{\lambda = 0}
        = \sum_{t \in T_k(n)} \frac{F(t)(x)}{\sigma(t)} \quad (k \ge 1), \qquad c_0 = x,

are computed here numerically: the map :math:`\lambda \mapsto x_n(\lambda)` is differentiated
:math:`k` times by nesting :func:`torch.func.jvp` with tangent 1 (exact derivatives up to float64
rounding, no finite differences). Nesting costs :math:`2^k` tower evaluations, so ``order`` is
capped at :data:`MAX_ORDER`. This module knows nothing of trees: the tree sum is the symbolic side
(``theorems.trees``), joined to this one in ``resdepth.checks``.

Example: one linear branch :math:`f_1(x) = 2x` gives :math:`x_1 = (1 + 2\lambda) x`.

>>> import torch
>>> x = torch.tensor([3.0], dtype=torch.float64)
>>> [round(float(c), 12) for c in taylor_coefficients([lambda u: 2 * u], x, 2)]
[3.0, 6.0, 0.0]
"""

import math
from collections.abc import Callable, Sequence

import torch
from torch.func import jvp

__all__ = [
    "MAX_ORDER",
    "lam_derivative",
    "random_tanh_branches",
    "taylor_coefficients",
    "taylor_polynomial",
    "tanh_branch",
    "tower",
]

MAX_ORDER = 6

Branch = Callable[[torch.Tensor], torch.Tensor]


def tower(branches: Sequence[Branch], x: torch.Tensor, lam) -> torch.Tensor:
    r""":math:`x_n` of :math:`x_i = x_{i-1} + \lambda f_i(x_{i-1})`, :math:`x_0 = x`."""
    for f in branches:
        x = x + lam * f(x)
    return x


def lam_derivative(fn: Callable[[torch.Tensor], torch.Tensor], k: int):
    r"""The map :math:`\lambda \mapsto d^k fn / d\lambda^k` (``k`` nested forward-mode JVPs)."""
    if k == 0:
        return fn
    inner = lam_derivative(fn, k - 1)

    def derivative(lam: torch.Tensor) -> torch.Tensor:
        return jvp(inner, (lam,), (torch.ones_like(lam),))[1]

    return derivative


def _check_inputs(branches, x, order) -> None:
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= MAX_ORDER:
        raise ValueError(f"order must be an integer in [0, {MAX_ORDER}], got {order!r}")
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x):
        raise ValueError("x must be a floating-point torch tensor")
    if not torch.isfinite(x).all():
        raise ValueError("x must be finite")
    if len(branches) == 0:
        raise ValueError("branches must hold at least one branch function")


def taylor_coefficients(branches: Sequence[Branch], x: torch.Tensor, order: int) -> list:
    r""":math:`c_0, \dots, c_{order}` with :math:`c_k = \frac{1}{k!} d^k x_n/d\lambda^k` at 0.

    Each :math:`c_k` has the shape of ``x``; ``c_0`` equals ``x``.
    """
    _check_inputs(branches, x, order)
    lam0 = torch.zeros((), dtype=x.dtype, device=x.device)

    def x_n(lam: torch.Tensor) -> torch.Tensor:
        return tower(branches, x, lam)

    return [lam_derivative(x_n, k)(lam0) / math.factorial(k) for k in range(order + 1)]


def taylor_polynomial(coefficients: Sequence[torch.Tensor], lam: float) -> torch.Tensor:
    r"""The truncated series :math:`\sum_{k \le K} c_k \lambda^k` (Horner's rule)."""
    result = torch.zeros_like(coefficients[-1])
    for c in reversed(coefficients):
        result = result * lam + c
    return result


def tanh_branch(w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor) -> Branch:
    r"""The smooth branch :math:`f(x) = W_2 \tanh(W_1 x + b_1) + b_2` (x of shape (d,))."""

    def f(x: torch.Tensor) -> torch.Tensor:
        return w2 @ torch.tanh(w1 @ x + b1) + b2

    return f


def random_tanh_branches(n: int, d: int, hidden: int, *, generator: torch.Generator,
                         dtype=torch.float64) -> list:
    r""":math:`n` tanh branches with :math:`W_1 \sim N(0, 1/d)`, :math:`W_2 \sim N(0, 1/h)`,
    biases :math:`N(0, 1/4)`, drawn from ``generator``."""
    for name, value in (("n", n), ("d", d), ("hidden", hidden)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def normal(*shape, scale):
        return torch.randn(*shape, generator=generator, dtype=dtype) * scale

    return [tanh_branch(normal(hidden, d, scale=d ** -0.5), normal(hidden, scale=0.5),
                        normal(d, hidden, scale=hidden ** -0.5), normal(d, scale=0.5))
            for _ in range(n)]
