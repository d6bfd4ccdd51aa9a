r"""R2: the gated path expansion in augmented coordinates, and its path-length spectrum (exact).

THEORY.md, R2. At a fixed input every continuous piecewise-linear branch acts on its actual
activation pattern as an affine map :math:`f_i(x) = D_i x + c_i` (the gated weights
:math:`D_i` and offset :math:`c_i`). In augmented coordinates :math:`\tilde x = (x, 1)` this is
linear, :math:`f_i(x) = J_i \tilde x` with

.. math::

    J_i = \begin{pmatrix} D_i & c_i \\ 0 & 0 \end{pmatrix}, \qquad
    \tilde x_i = (I + \lambda J_i)\,\tilde x_{i-1}
    \;\Rightarrow\; \tilde x_n = \sum_{S \subseteq [n]} \lambda^{|S|} J_S\, \tilde x_0,

which is R1 with :math:`A_i = J_i`. The path-length spectrum
:math:`y_k = \sum_{|S| = k} \lambda^k J_S \tilde x_0` obeys the dynamic programme over layers

.. math::

    y^{(i)}_k = y^{(i-1)}_k + \lambda J_i\, y^{(i-1)}_{k-1}, \qquad y^{(0)}_0 = \tilde x_0,

(:math:`n(n+1)/2` block applications instead of :math:`n 2^{n-1}` for enumeration), and
:math:`\sum_k y_k = \tilde x_n`. Since the last row of :math:`J_i` is zero, the augmented
coordinate of :math:`y_0` is 1 and that of every :math:`y_k`, :math:`k \ge 1`, is 0: a bias enters a
path only at the path's first block. Equivalently :math:`y_k` is the coefficient of :math:`t^k` in
:math:`P(t) = \prod_i (I + t\lambda J_i)\,\tilde x_0`, so :math:`n + 1` evaluations at the roots of
unity :math:`\omega^j`, :math:`\omega = e^{2\pi i/(n+1)}`, give
:math:`y_k = \frac{1}{n+1}\sum_{j=0}^{n} \omega^{-jk} P(\omega^j)`.

Examples
--------
>>> dp_block_applications(20), enumeration_block_applications(20)
(210, 10485760)
>>> verify_r2(3, 1)["holds"]
True
"""

import cmath
import math

import sympy as sp

from theorems._arguments import positive_int

__all__ = [
    "augmented_tower",
    "coefficients_by_roots_of_unity",
    "dp_block_applications",
    "enumeration_block_applications",
    "spectrum_by_dp",
    "verify_r2",
]


def augmented_tower(n: int, d: int):
    r"""Symbolic gated weights :math:`D_i` (d x d), offsets :math:`c_i`, input :math:`x_0` and
    :math:`\lambda`; returns ``(J, x0_aug, lam, x_n_aug)`` with the tower run on the affine maps."""
    positive_int("n", n)
    positive_int("d", d)
    lam = sp.Symbol("lam", positive=True)
    x0 = sp.Matrix(sp.symbols(f"x1:{d + 1}"))
    blocks, x = [], x0
    for i in range(1, n + 1):
        D = sp.Matrix(d, d, lambda r, c, i=i: sp.Symbol(f"D{i}_{r}{c}"))
        c = sp.Matrix(sp.symbols(f"c{i}_1:{d + 1}"))
        blocks.append(sp.Matrix(sp.BlockMatrix([[D, c], [sp.zeros(1, d), sp.zeros(1, 1)]])))
        x = x + lam * (D * x + c)
    return blocks, x0.col_join(sp.Matrix([1])), lam, x.col_join(sp.Matrix([1]))


def spectrum_by_dp(blocks, x0_aug, lam) -> list[sp.Matrix]:
    r"""The spectrum :math:`y_0..y_n` by the layer recursion
    :math:`y^{(i)}_k = y^{(i-1)}_k + \lambda J_i y^{(i-1)}_{k-1}`."""
    ys = [x0_aug]
    for J in blocks:
        step = [lam * (J * y) for y in ys]
        ys = [ys[0]] + [ys[k] + step[k - 1] for k in range(1, len(ys))] + [step[-1]]
    return ys


def verify_r2(n: int, d: int) -> dict:
    """R2 for symbolic gated weights: the DP spectrum sums to the tower, term k is homogeneous of
    degree k in lam, and the augmented coordinate is 1 for k = 0 and 0 otherwise."""
    blocks, x0_aug, lam, xn_aug = augmented_tower(n, d)
    ys = spectrum_by_dp(blocks, x0_aug, lam)
    total = sp.expand(sum(ys, sp.zeros(d + 1, 1)) - xn_aug)
    expanded = [[sp.expand(entry) for entry in y] for y in ys]
    degrees = all(sp.expand(entry - entry.coeff(lam, k) * lam**k) == 0
                  for k, y in enumerate(expanded) for entry in y)
    last = [y[d] for y in ys]
    holds = total == sp.zeros(d + 1, 1) and degrees and last == [1] + [0] * n
    return {"n": n, "d": d, "holds": bool(holds), "augmented_coordinates": last}


def coefficients_by_roots_of_unity(values: list[complex]) -> list[complex]:
    r"""Coefficients :math:`a_0..a_n` of a degree-:math:`n` polynomial from its values at
    :math:`\omega^j`, :math:`j = 0..n`: :math:`a_k = \frac{1}{n+1}\sum_j \omega^{-jk} P(\omega^j)`.

    >>> [round(a.real, 12) for a in coefficients_by_roots_of_unity(
    ...     [1 + 2 * w + 3 * w * w for w in (cmath.exp(2j * cmath.pi * j / 3) for j in range(3))])]
    [1.0, 2.0, 3.0]
    """
    size = len(values)
    if size < 1:
        raise ValueError("values must hold at least one evaluation")
    roots = [cmath.exp(-2j * cmath.pi * j / size) for j in range(size)]
    return [sum(v * roots[(j * k) % size] for j, v in enumerate(values)) / size
            for k in range(size)]


def dp_block_applications(n: int) -> int:
    """Block applications of the layer DP: block i acts on y_0..y_{i-1}, n(n+1)/2 in all."""
    positive_int("n", n)
    return n * (n + 1) // 2


def enumeration_block_applications(n: int) -> int:
    """Block applications when every one of the 2^n paths is run: sum_k k C(n,k) = n 2^(n-1)."""
    positive_int("n", n)
    return sum(k * math.comb(n, k) for k in range(n + 1))
