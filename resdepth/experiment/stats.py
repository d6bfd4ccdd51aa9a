"""Confidence intervals over seeds and the three-way verdict rule of S7's rows.

Every S7 claim is a sign or a threshold on a mean over seeds. With K seeds, values v_1..v_K,
the two-sided 95% interval is mean +- t_{0.975, K-1} s / sqrt(K) (Student's t; s the sample
standard deviation; K = 1 gives an infinite half-width: one seed never decides a row). A claim
"mu >= c" is then

- refuted (fail) when the whole interval lies below c (``criterion``: upper bound >= c);
- shown (pass) when the whole interval lies at or above c (``power``: lower bound >= c);
- inconclusive when the interval straddles c (the seeds cannot tell the claim from its negation).

:func:`at_least` and :func:`below` build the Criterion and Power for the two directions.
"""

import math
from dataclasses import dataclass

from resdepth.engine.rows import Criterion, Power

__all__ = ["Interval", "at_least", "below", "interval"]

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """mean +- half over ``n`` values (half = inf when n < 2)."""

    mean: float
    half: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


def interval(values) -> Interval:
    """The 95% Student-t interval of the mean of ``values`` (finite numbers only).

    >>> i = interval([1.0, 2.0, 3.0])
    >>> round(i.mean, 6), round(i.half, 4)
    (2.0, 2.4841)
    """
    values = [float(v) for v in values]
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"interval needs finite values, got {values}")
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Interval(mean, math.inf, n)
    from scipy.stats import t

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return Interval(mean, float(t.ppf(0.5 + LEVEL / 2, n - 1)) * sd / math.sqrt(n), n)


def at_least(name: str, upper: float, lower: float, threshold: float, alternative: str
             ) -> tuple[Criterion, Power, float]:
    """Criterion (upper bound >= threshold), Power (lower bound >= threshold), the statistic."""
    return (Criterion(f"upper 95% bound of {name}", ">=", threshold),
            Power(alternative, _finite(lower), ">=", threshold), upper)


def below(name: str, lower: float, upper: float, threshold: float, alternative: str
          ) -> tuple[Criterion, Power, float]:
    """Criterion (lower bound < threshold), Power (upper bound < threshold), the statistic."""
    return (Criterion(f"lower 95% bound of {name}", "<", threshold),
            Power(alternative, _finite(upper), "<", threshold), lower)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
