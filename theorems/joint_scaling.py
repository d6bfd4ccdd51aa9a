r"""D5: when depth expansion is predicted to help, from D2's observability and D4's cost.

THEORY.md, D5 (the prediction the joint-scaling experiment measures). D2 guarantees a decrease of
the training risk of at least :math:`\|G\|^2 / (2b)` along :math:`-G/\|G\|`, but the condition
:math:`G \ne 0` is observable only when :math:`\|G\|` beats its sampling noise. With a nonzero
population gradient the signal-to-noise ratio grows like :math:`\sqrt m` in the sample size and
does not depend on the branch width (proofs.md, D2), so from a measurement
:math:`\mathrm{snr}_0` at :math:`m_0`

.. math::

    \mathrm{snr}(m) = \mathrm{snr}_0 \sqrt{m/m_0}, \qquad
    m_z = m_0\,(z/\mathrm{snr}_0)^2

is the sample size at which the condition is observable at :math:`z` standard errors. Expansion
is predicted to help when the condition is observable and the guaranteed decrease exceeds the
statistical cost (a test-risk slack of D4), :math:`\|G\|^2/(2b) > \text{slack}`, with the
decrease of :func:`theorems.expansion_descent.d2_guaranteed_decrease`.

Examples
--------
>>> samples_to_observe(snr0=0.5, m0=256, z=3.0)
9216.0
>>> predicted_to_help(grad_norm=0.2, smoothness=1.0, snr=4.0, slack=0.01, z=3.0)
True
"""

import math

import sympy as sp

from theorems._arguments import finite_nonnegative as _nonnegative
from theorems._arguments import finite_positive as _positive
from theorems.expansion_descent import d2_guaranteed_decrease

__all__ = ["predicted_to_help", "samples_to_observe", "snr_at",
           "samples_to_observe_expr"]


def snr_at(m: float, *, snr0: float, m0: float) -> float:
    """snr(m) = snr0 sqrt(m / m0): the sqrt(m) growth of D2's signal-to-noise ratio."""
    return snr0 * math.sqrt(_positive("m", m) / _positive("m0", m0))


def samples_to_observe(*, snr0: float, m0: float, z: float) -> float:
    """m_z = m0 (z / snr0)^2: the sample size at which ||G|| is z standard errors above noise."""
    return _positive("m0", m0) * (_positive("z", z) / _positive("snr0", snr0)) ** 2


def samples_to_observe_expr() -> sp.Expr:
    """m_z solved by SymPy from snr0 sqrt(m/m0) = z (a second route to :func:`samples_to_observe`)."""
    m, m0, z, snr0 = sp.symbols("m m0 z snr0", positive=True)
    (solution,) = sp.solve(sp.Eq(snr0 * sp.sqrt(m / m0), z), m)
    return solution


def predicted_to_help(*, grad_norm: float, smoothness: float, snr: float, slack: float,
                      z: float = 3.0) -> bool:
    """D5's prediction: the condition is observable (snr > z) and the decrease beats the slack."""
    slack = _nonnegative("slack", slack)
    return snr > _positive("z", z) and d2_guaranteed_decrease(grad_norm, smoothness) > slack
