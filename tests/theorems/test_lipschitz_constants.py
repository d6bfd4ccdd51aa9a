r"""S1 (theorems.lipschitz): the bound (1 + lam c)^n at hand-computed values and at the edge of
the float range.

(1 + 0.5 * 3)^2 = 2.5^2 = 6.25 and log10 6.25 = 2 log10 2.5. The float range ends just below
10^308.25: (1 + 1 * 9)^308 = 10^308 is returned, while (1 + 1)^1025 = 10^308.56 raises the
module's own OverflowError (not ``math.exp``'s).
"""

import math

import pytest

from theorems.lipschitz import s1_bound, s1_log10_bound


def test_S1_bound_is_one_plus_lam_c_to_the_n():
    assert s1_bound(2, 0.5, 3.0) == pytest.approx(6.25, rel=1e-14)
    assert s1_log10_bound(2, 0.5, 3.0) == pytest.approx(2 * math.log10(2.5), rel=1e-15)
    assert s1_bound(0, 0.5, 3.0) == 1.0  # the empty tower is the identity


def test_S1_bound_at_the_float_limit():
    assert s1_bound(308, 1.0, 9.0) == pytest.approx(1e308, rel=1e-12)
    with pytest.raises(OverflowError, match="exceeds the float range"):
        s1_bound(1025, 1.0, 1.0)
