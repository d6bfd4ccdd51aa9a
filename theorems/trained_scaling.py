"""S7 (trained depth scaling, empirical): S7(a)'s number, stated before training from S2 — the
depth at which lam = 1 leaves float32's range.

S2: at initialisation, E||x_n||^2 = (1 + lam^2 sigma^2)^n E||x_0||^2 for the unnormalised tower,
and by S2's Jacobian statement every gradient that flows back through the stream carries the
same factor in its second moment. Training in float32 handles those squares (the stream's
energy, the squared logits, AdamW's second-moment estimate of the gradients) only while they
stay below FLT_MAX = 3.40e38. The predicted failure depth is the smallest n with

.. math::

    n \\log_{10}(1 + \\lambda^2\\sigma^2) + \\log_{10} \\mathbb E\\|x_0\\|^2 \\ge \\log_{10} \\mathrm{FLT\\_MAX},

i.e. n_a = ceil((log10 FLT_MAX - log10 E||x_0||^2) / log10(1 + lam^2 sigma^2)); for lam = 1,
sigma^2 = 1 (numerics' initialisation) and E||x_0||^2 of order 1 to 10, n_a is about 124-128.
Beyond it the squares overflow to inf and AdamW's steps become 0 or NaN: the network stays at
chance or diverges. Below it S2 makes no prediction about training.

>>> overflow_depth(1.0, 1.0, 1.0)
128
"""

import math

from theorems.signal import s2_log10_ratio

__all__ = ["FLOAT32_MAX", "overflow_depth"]

FLOAT32_MAX = 3.4028234663852886e38


def overflow_depth(lam: float, sigma2: float, x0_energy: float, limit: float = FLOAT32_MAX
                   ) -> int:
    """The smallest n with (1 + lam^2 sigma^2)^n * x0_energy >= limit (S2's expectation).

    ``x0_energy`` is E||x_0||^2 measured at initialisation (before training).
    """
    if not (lam > 0 and sigma2 > 0 and x0_energy > 0 and limit > x0_energy):
        raise ValueError(f"need lam, sigma2, x0_energy > 0 and limit > x0_energy, got "
                         f"{lam}, {sigma2}, {x0_energy}, {limit}")
    gap = math.log10(limit) - math.log10(x0_energy)
    n = max(1, math.ceil(gap / s2_log10_ratio(1, lam, sigma2)))
    while n > 1 and s2_log10_ratio(n - 1, lam, sigma2) >= gap:
        n -= 1
    while s2_log10_ratio(n, lam, sigma2) < gap:
        n += 1
    return n
