r"""D2's observability test and D5's prediction: when a weak population gradient is seen.

The new block's per-example gradients g_i (at V = 0) are i.i.d. with mean mu = G_pop and
covariance Sigma. The *split directional test* takes u = -G_A/||G_A|| from m examples (the
training sample) and the held-out mean of <g_i, u> over m other examples, with its standard
error: z = mean_B <g_i, u> / (sd_B <g_i, u> / sqrt(m)); D2's condition is *observed* when
z < -z_alpha (it rejects <G_pop, u> >= 0 at level alpha).

**Expected z.** Write G_A = mu + xi, xi ~ (0, Sigma/m). Given u, the held-out mean is
<mu, u> + O(m^-1/2) with variance u^T Sigma u / m, and ||mu + xi|| cancels from the ratio:

.. math::

    z \approx -\sqrt m\,\frac{\|\mu\|^2 + \langle\mu,\xi\rangle}{\sqrt{(\mu+\xi)^\top\Sigma(\mu+\xi)}},
    \qquad \mathbb E z \approx -\sqrt m\,\frac{\|\mu\|^2}{\sqrt{\mu^\top\Sigma\mu + \mathrm{tr}(\Sigma^2)/m}}

(:data:`EXPECTED_Z`; E xi^T Sigma xi = tr(Sigma^2)/m). The test detects the signal half of the
time where E z = -z_alpha: the positive root of ||mu||^4 m^2 - z^2 mu^T Sigma mu m - z^2
tr(Sigma^2) = 0 (:data:`DETECTION_SAMPLE_SIZE`, solved by SymPy). At mu = 0 the statistic is
centred (size alpha). These are first-order approximations (Jensen on the denominator, Gaussian
sums); the check measures how close they come.

**Misalignment.** Two independent gradients G_A, G_B of m examples each have
E<G_A, G_B> = ||mu||^2 and Var <G_A, G_B> = 2 mu^T Sigma mu / m + tr(Sigma^2)/m^2 (exact for any
distribution with these moments, up to the fourth-moment term of xi_A^T xi_B, which is
tr(Sigma^2)/m^2 exactly), so in the Gaussian approximation

.. math::

    P(\langle G_A, G_B\rangle < 0) \approx \Phi\Bigl(-\frac{m\|\mu\|^2}
    {\sqrt{2m\,\mu^\top\Sigma\mu + (\mathrm{tr}\,\Sigma)^2/d_{\mathrm{eff}}}}\Bigr),
    \qquad d_{\mathrm{eff}} = \frac{(\mathrm{tr}\,\Sigma)^2}{\mathrm{tr}(\Sigma^2)},

the *effective alignment dimension* (participation ratio of Sigma). At fixed ||mu||^2/tr Sigma
(signal per unit of noise) a larger d_eff spreads the noise over more directions, so misalignment
falls: the follow-up's mechanism for width. Whether d_eff grows with width is measured (D2's rows).

**D5's prediction.** Where the condition is observed, the first-order decrease along u transfers
to the population (D2, population form), and expansion is predicted to beat training the old model
longer; where it is not, no first-order advantage is predicted.

>>> round(expected_split_z(100, mu2=0.01, mu_sigma_mu=0.001, tr_sigma2=0.01), 4)
-3.0151
>>> round(samples_to_detect(mu2=0.01, mu_sigma_mu=0.001, tr_sigma2=0.01, alpha=0.05), 2)
34.82
>>> misalignment_probability(64, mu2=0.0, mu_sigma_mu=0.0, tr_sigma2=1.0)
0.5
"""

import math
from statistics import NormalDist

import sympy as sp

from theorems._arguments import finite_nonnegative as _nonnegative
from theorems._arguments import finite_positive as _positive

__all__ = [
    "DETECTION_SAMPLE_SIZE",
    "EXPECTED_Z",
    "MISALIGNMENT_Z",
    "alignment_dimension",
    "critical_z",
    "detection_power",
    "expected_split_z",
    "misalignment_probability",
    "samples_to_detect",
]

M = sp.Symbol("m", positive=True)
MU2 = sp.Symbol("mu2", positive=True)
MSM = sp.Symbol("mu_Sigma_mu", positive=True)
TRS2 = sp.Symbol("tr_Sigma2", positive=True)
ZA = sp.Symbol("z_alpha", positive=True)

EXPECTED_Z = -sp.sqrt(M) * MU2 / sp.sqrt(MSM + TRS2 / M)
DETECTION_SAMPLE_SIZE = next(
    root for root in sp.solve(sp.Eq(MU2**2 * M**2 - ZA**2 * MSM * M - ZA**2 * TRS2, 0), M)
    if root.subs({MU2: 1, MSM: 1, TRS2: 1, ZA: 1}) > 0)
"""The sample size m at which E z = -z_alpha (the positive root; SymPy's solve)."""
MISALIGNMENT_Z = -M * MU2 / sp.sqrt(2 * M * MSM + TRS2)
"""P(<G_A, G_B> < 0) = Phi(MISALIGNMENT_Z) in the Gaussian approximation."""

_NORMAL = NormalDist()
_EXPECTED_Z = sp.lambdify((M, MU2, MSM, TRS2), EXPECTED_Z, "math")
_DETECT = sp.lambdify((MU2, MSM, TRS2, ZA), DETECTION_SAMPLE_SIZE, "math")


def critical_z(alpha: float) -> float:
    """z_alpha = Phi^{-1}(1 - alpha): the one-sided critical value at level alpha."""
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return _NORMAL.inv_cdf(1 - alpha)


def _moments(mu2, mu_sigma_mu, tr_sigma2):
    return (_nonnegative("mu2", mu2), _nonnegative("mu_sigma_mu", mu_sigma_mu),
            _positive("tr_sigma2", tr_sigma2))


def expected_split_z(m: float, *, mu2: float, mu_sigma_mu: float, tr_sigma2: float) -> float:
    """E z of the split directional test with m examples on each side (:data:`EXPECTED_Z`)."""
    mu2, msm, trs2 = _moments(mu2, mu_sigma_mu, tr_sigma2)
    return float(_EXPECTED_Z(_positive("m", m), mu2, msm, trs2))


def detection_power(m: float, *, mu2: float, mu_sigma_mu: float, tr_sigma2: float,
                    alpha: float) -> float:
    """P(z < -z_alpha) ~ Phi(-E z - z_alpha) (z taken with unit variance)."""
    z = expected_split_z(m, mu2=mu2, mu_sigma_mu=mu_sigma_mu, tr_sigma2=tr_sigma2)
    return _NORMAL.cdf(-z - critical_z(alpha))


def samples_to_detect(*, mu2: float, mu_sigma_mu: float, tr_sigma2: float,
                      alpha: float) -> float:
    """m_50: the sample size per side at which E z = -z_alpha (:data:`DETECTION_SAMPLE_SIZE`)."""
    mu2, msm, trs2 = _moments(mu2, mu_sigma_mu, tr_sigma2)
    return float(_DETECT(_positive("mu2", mu2), msm, trs2, critical_z(alpha)))


def misalignment_probability(m: float, *, mu2: float, mu_sigma_mu: float,
                             tr_sigma2: float) -> float:
    """P(<G_A, G_B> < 0) ~ Phi(-m ||mu||^2 / sqrt(2 m mu^T Sigma mu + tr(Sigma^2)))."""
    mu2, msm, trs2 = _moments(mu2, mu_sigma_mu, tr_sigma2)
    m = _positive("m", m)
    return _NORMAL.cdf(-m * mu2 / math.sqrt(2 * m * msm + trs2))


def alignment_dimension(tr_sigma: float, tr_sigma2: float) -> float:
    """d_eff = (tr Sigma)^2 / tr(Sigma^2), between 1 and the dimension of Sigma."""
    return _nonnegative("tr_sigma", tr_sigma) ** 2 / _positive("tr_sigma2", tr_sigma2)
