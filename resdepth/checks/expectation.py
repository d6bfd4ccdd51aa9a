"""Rows for statements checked by Monte Carlo (S2-S5): a z-score criterion and a power judged
against the effect, the z-score panel their plots share, and the t-interval over seeds of the
empirical rows (S6).

A Monte Carlo row compares a sample statistic with its prediction: it passes the criterion
when |z| < ``Z_MAX`` = 5, z = (measurement - prediction) / SE. Its power names the alternatives
the row must tell apart from the statement: the *baseline* that the statement's negation
predicts (1 for growth over the identity, ||x_0||^2 for no growth, a factor 1 for no decay)
and named wrong values (n - 1 in place of n in an exponent, a heuristic factor, the wrong power
of a formula). The row is informative when every alternative lies at least ``SEPARATION`` =
2 Z_MAX standard errors from the prediction: were one of them true, the measurement would sit
about that far from the prediction and the criterion would fail. So the standard error is
judged against the effect |prediction - baseline|, never against the prediction alone.
"""

import dataclasses
import math

from resdepth.engine.policy import Z_MAX
from resdepth.engine.rows import EXPLICIT, CheckResult, Criterion, Power

__all__ = ["SEPARATION", "Z_MAX", "by_construction", "t_interval", "with_plot", "z_panel",
           "z_row"]

SEPARATION = 2 * Z_MAX


def z_row(label: str, claim: str, prediction: float, measurement: float, se: float,
          alternatives: dict[str, float], *, kind: str = "expectation",
          details: dict | None = None, plot: str | None = None) -> CheckResult:
    """A row judged by z = (measurement - prediction) / se at |z| < Z_MAX, informative when each
    of ``alternatives`` (name -> the value it predicts) is >= SEPARATION SE from the prediction.

    ``details`` gets the SE and, per alternative, its value, its separation from the prediction
    in SE and the z-score the measurement has against it.
    """
    if not alternatives:
        raise ValueError("a Monte Carlo row needs at least one alternative to be powerful against")
    details = dict(details or {})
    ok_se = se is not None and math.isfinite(se) and se > 0
    separations = {name: abs(prediction - value) / se if ok_se else None
                   for name, value in alternatives.items()}
    details["se"] = se
    details["alternatives"] = {
        name: {"value": value, "separation_se": separations[name],
               "z_measured": (measurement - value) / se if ok_se else None}
        for name, value in alternatives.items()}
    names = "; ".join(alternatives)
    power = Power(f"{names} (each must lie >= {SEPARATION:g} SE from the prediction; value: "
                  "the smallest separation, in SE)",
                  min(separations.values()) if ok_se else None, ">=", SEPARATION)
    statistic = (measurement - prediction) / se if ok_se else None
    reason = None if ok_se else f"the standard error is {se!r}: no z-score"
    return CheckResult(label, claim, kind, prediction, measurement, statistic,
                       Criterion("z-score (measurement - prediction) / SE", "|x|<", Z_MAX),
                       power, reason=reason, details=details, plot=plot)


def by_construction(why: str) -> Power:
    """The power of a row whose statement holds by arithmetic or by construction (issue 21):
    no wrong formula of the theory could fail it, so it is never informative and the row reads
    ``inconclusive`` (a broken implementation still fails its criterion). ``why`` says what
    makes it hold."""
    return Power(f"none: {why}", None, ">=", 1)


def t_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean over seeds and the half-width of its two-sided Student-t ``confidence`` interval.

    >>> mean, half = t_interval([1.0, 2.0, 3.0])
    >>> mean, round(half, 4)
    (2.0, 2.4841)
    """
    from scipy import stats

    n = len(values)
    if n < 2:
        raise ValueError(f"a confidence interval needs at least 2 values, got {n}")
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)


def with_plot(rows: list[CheckResult], plot: str | None) -> list[CheckResult]:
    """The rows with ``plot`` set (a derived verdict is derived again, not copied; an explicit
    one, which comes with its reason, is kept)."""
    return [dataclasses.replace(row, plot=plot, verdict=row.verdict if (
        row.verdict in EXPLICIT and row.reason and row.criterion is None) else None)
        for row in rows]


MARKERS = {"pass": ("o", "C2"), "fail": ("X", "C3"), "inconclusive": ("o", "0.5")}


def z_panel(ax, rows: list[CheckResult], names: list[str]) -> None:
    """Each row's z-score against the |z| < Z_MAX band; hollow grey = inconclusive (the row's
    power rule failed), red cross = fail. Also marks, per row, the z-score its nearest
    alternative would have had (the separation), so the panel shows what the row could
    reject."""
    ax.axhspan(-Z_MAX, Z_MAX, color="C2", alpha=0.12, label=f"|z| < {Z_MAX:g}: pass band")
    ax.axhline(0.0, color="k", lw=0.6)
    for i, row in enumerate(rows):
        marker, colour = MARKERS.get(row.verdict, ("s", "k"))
        face = "none" if row.verdict == "inconclusive" else colour
        z = row.statistic if row.statistic is not None else 0.0
        ax.plot([i], [max(-3 * SEPARATION, min(3 * SEPARATION, z))], marker=marker, ls="none",
                mfc=face, mec=colour, ms=7)
        separation = row.power.value if row.power is not None else None
        if separation is not None and math.isfinite(separation):
            ax.plot([i], [min(separation, 3 * SEPARATION)], marker="_", color="C1", ms=12,
                    mew=2)
    ax.plot([], [], marker="_", color="C1", ls="none", ms=12, mew=2,
            label=f"nearest alternative (>= {SEPARATION:g} SE needed), clipped at "
                  f"{3 * SEPARATION:g}")
    ax.plot([], [], marker="o", ls="none", mfc="none", mec="0.5", label="inconclusive")
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize="x-small")
    ax.set_ylim(-3 * SEPARATION - 1, 3 * SEPARATION + 2)
    ax.set_ylabel("z = (MC - prediction) / SE")
    ax.legend(fontsize="x-small", loc="lower right")
