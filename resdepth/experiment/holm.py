"""One-sided t-tests over seeds, Holm's step-down correction, and the plan's verdict rule.

Every sub-claim of S7's plan (docs/S7_plan.md) is a one-sided statement about a mean over K >= 5
seeds (an accuracy, or a difference paired by seed) against a fixed comparator c. Two one-sided
Student-t p-values are formed (:func:`t_pvalues`): ``p_for`` (H0 "the claim is false" at its
boundary: small when the data show the claim) and ``p_against`` (H0 "the claim holds": small
when the data refute it). Within a family of sub-claims both lists are Holm-adjusted
(:func:`holm`: the i-th smallest of m p-values times m - i + 1, made monotone, capped at 1),
which keeps the family-wise error at ALPHA whatever the dependence. A row then

- fails when some sub-claim's adjusted ``p_against`` < ALPHA (criterion: min adjusted
  p_against >= ALPHA);
- passes when every sub-claim's adjusted ``p_for`` < ALPHA (power: max adjusted p_for < ALPHA);
- is inconclusive otherwise, and whenever a sub-claim rests on a censored cell.

>>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
[0.03, 0.06, 0.06]
"""

import math

from resdepth.engine.rows import CheckResult, Criterion, Power

__all__ = ["ALPHA", "Claim", "family_row", "holm", "t_pvalues"]

ALPHA = 0.05


def t_pvalues(values, c: float) -> tuple[float, float]:
    """(P(mean > c) one-sided p, P(mean < c) one-sided p) of Student's t over ``values``.

    With zero spread the sign of mean - c decides (p = 0 on its side, 1 on the other; both 1
    when mean == c); fewer than 2 values give (1, 1): one seed never decides.
    """
    values = [float(v) for v in values]
    n = len(values)
    if n < 2:
        return 1.0, 1.0
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    if sd == 0:
        return (0.0 if mean > c else 1.0), (0.0 if mean < c else 1.0)
    from scipy.stats import t

    stat = (mean - c) / (sd / math.sqrt(n))
    return float(t.sf(stat, n - 1)), float(t.cdf(stat, n - 1))


def holm(pvalues) -> list[float]:
    """Holm-adjusted p-values, in the input order."""
    p = list(pvalues)
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


class Claim:
    """One sub-claim: ``name``, the seeds' ``values``, comparator ``c``, direction (``"above"``:
    mean > c is the claim; ``"below"``: mean < c), an optional non-inferiority ``margin`` (the
    claim is shown when mean > c - margin, refuted when mean < c), ``censored``."""

    def __init__(self, name: str, values, c: float, direction: str = "above", *,
                 margin: float = 0.0, censored: bool = False):
        if direction not in ("above", "below"):
            raise ValueError(f"direction must be above or below, got {direction!r}")
        self.name, self.values, self.c = name, [float(v) for v in values], float(c)
        self.direction, self.margin, self.censored = direction, margin, censored
        if direction == "above":
            self.p_for = t_pvalues(self.values, self.c - margin)[0]
            self.p_against = t_pvalues(self.values, self.c)[1]
        else:
            self.p_for = t_pvalues(self.values, self.c + margin)[1]
            self.p_against = t_pvalues(self.values, self.c)[0]
        if censored:
            self.p_for = self.p_against = 1.0

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)


def family_row(claim: str, claims: list[Claim], *, prediction, details: dict,
               alternative: str, family: list[Claim] | None = None) -> CheckResult:
    """The row of ``claims`` with Holm applied over ``family`` (default: ``claims`` alone).

    The row's statistic is the smallest adjusted p_against among its claims, its power value
    the largest adjusted p_for; details list every sub-claim with both raw and adjusted p."""
    family = claims if family is None else family
    adj_for = dict(zip(map(id, family), holm([c.p_for for c in family])))
    adj_against = dict(zip(map(id, family), holm([c.p_against for c in family])))
    against = min(adj_against[id(c)] for c in claims)
    shown = max(adj_for[id(c)] for c in claims)
    subs = {c.name: {"mean": c.mean, "comparator": c.c, "direction": c.direction,
                     "margin": c.margin, "seeds": len(c.values), "censored": c.censored,
                     "p_for": c.p_for, "p_against": c.p_against,
                     "p_for_holm": adj_for[id(c)], "p_against_holm": adj_against[id(c)]}
            for c in claims}
    censored = any(c.censored for c in claims)
    return CheckResult(
        "S7", claim, "empirical", prediction, min(c.mean for c in claims), against,
        Criterion(f"smallest Holm-adjusted p against the claim (family of {len(family)})",
                  ">=", ALPHA),
        Power(alternative + f"; value: largest Holm-adjusted p for the claim, must be < {ALPHA}"
              + (" (none: a cell's chosen rate is censored at the grid's edge)"
                 if censored else ""),
              None if censored else shown, "<", ALPHA),
        details={**details, "claims": subs, "family_size": len(family)})
