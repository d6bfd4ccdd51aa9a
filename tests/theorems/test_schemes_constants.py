r"""S5 (theorems.schemes): each scheme's effective lam at depths where it is a round number.

none: a; inv: a/L; inv-sqrt and depth-muP: a/sqrt(L); zero-initialised schemes: 0; DeepNorm:
gain^2/alpha with alpha = (2N)^{1/4}, gain = (8N)^{-1/4}, N = L/2, i.e. (4L)^{-1/2} L^{-1/4} =
L^{-3/4}/2, so L = 81 gives (1/27)/2 = 1/54. Fixup's trained scale (L^{-1/(2m-2)})^{m-1} is
L^{-1/2} for every branch depth m. The exponents beta = -lim log lam_eff / log L:
0, 1, 1/2, 1/2, 3/4, and oo for the zero schemes.
"""

import pytest
import sympy as sp

from theorems.schemes import SCHEMES, L, effective_lam, fixup_trained_scale, scheme

EFFECTIVE = [("none", 5, 0.7, 0.7), ("inv", 8, 2.0, 0.25), ("inv-sqrt", 16, 3.0, 0.75),
             ("depth-mup", 9, 1.5, 0.5), ("deepnorm", 81, 1.0, 1 / 54), ("skipinit", 7, 1.0, 0.0),
             ("rezero", 7, 1.0, 0.0), ("fixup", 7, 1.0, 0.0)]


@pytest.mark.parametrize("name, depth, a, expected", EFFECTIVE)
def test_S5_effective_lam_at_round_depths(name, depth, a, expected):
    assert effective_lam(name, depth, a) == pytest.approx(expected, rel=1e-14, abs=0.0)


def test_S5_exponents_and_regimes():
    betas = {s.name: s.beta for s in SCHEMES}
    assert betas == {"none": 0, "inv": 1, "inv-sqrt": sp.Rational(1, 2), "skipinit": sp.oo,
                     "rezero": sp.oo, "fixup": sp.oo, "deepnorm": sp.Rational(3, 4),
                     "depth-mup": sp.Rational(1, 2)}
    assert [s.name for s in SCHEMES if s.s1_bounded] == ["inv", "skipinit", "rezero", "fixup"]
    assert scheme("none").regime == "explodes" and scheme("deepnorm").regime == "collapses"


@pytest.mark.parametrize("m", [2, 3, 5])
def test_S5_fixup_trained_scale_is_inverse_sqrt_depth(m):
    assert fixup_trained_scale(m) == L ** sp.Rational(-1, 2)
    assert scheme("fixup").trained_scale == sp.Symbol("a", positive=True) / sp.sqrt(L)
