"""One row of the validation report: the schema every check returns (docs/results.md).

A row states a measurement against a prediction and the rule that judged it:

- ``prediction``, ``measurement``, ``statistic``: numbers (int or float), or None with the
  row's ``reason`` saying why; anything richer goes into ``details``;
- ``criterion``: ``statistic op threshold``, the test the statistic must pass
  (:class:`Criterion`);
- ``power``: what the check could reject (:class:`Power`): the number that measures it (the
  smallest violation it would have detected, a bound's slack against the trivial bound, the
  z-score a named wrong value would have produced) and the rule under which that number makes
  the row informative.

The verdict follows from those two rules (:func:`decide`): ``fail`` when the criterion does not
hold (or the statistic is not a finite number), ``inconclusive`` when it holds but the power
rule does not (the measurement could not tell the statement from its negation: a vacuous bound,
a condition never met, a Monte Carlo error larger than the effect), ``pass`` otherwise.
``skipped`` and ``diverged`` rows, and ``fail`` rows for a check that raised, are written with
an explicit verdict and a ``reason``.

>>> row = CheckResult("R1", "2 + 2 = 4", "exact", 4, 4, 0.0,
...                   Criterion("absolute error", "<=", 0.0),
...                   Power("any error at all", 0.0, "<=", 0.0))
>>> row.verdict
'pass'
"""

import math
import operator
from dataclasses import dataclass, field, fields
from typing import Any

KINDS = ("exact", "expectation", "bound", "empirical")
VERDICTS = ("pass", "fail", "inconclusive", "diverged", "skipped")
EXPLICIT = ("fail", "diverged", "skipped")
"""Verdicts a row may be given without a measurement (a check that raised, a diverged training
run, a check that cannot run here); pass and inconclusive only ever follow from the rules."""
LABELS = (tuple(f"R{i}" for i in range(1, 6)) + tuple(f"S{i}" for i in range(1, 8))
          + tuple(f"D{i}" for i in range(1, 6)))

OPS = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "|x|<": lambda x, t: abs(x) < t,
    "|x|<=": lambda x, t: abs(x) <= t,
    "|x|>": lambda x, t: abs(x) > t,
    "|x|>=": lambda x, t: abs(x) >= t,
}
"""The comparisons a criterion or a power rule may use: ``value op threshold``."""

EXACT_INT_LIMIT = 2**53
"""Integers up to this size are JSON integers in results.json; larger ones decimal strings
(a JSON reader in double precision, JavaScript's, would round them)."""


def _number(name: str, value) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be an int, a float or None, got {type(value).__name__} "
                        f"{value!r}; put structured values in details")


def _compare(op: str, value, threshold) -> bool:
    if op not in OPS:
        raise ValueError(f"op must be one of {list(OPS)}, got {op!r}")
    return bool(OPS[op](value, threshold))


@dataclass(frozen=True)
class Criterion:
    """The test that decides a row: the row's statistic ``op`` ``threshold``.

    ``statistic`` names the number (``"relative error"``, ``"z-score"``, ``"log10 slack"``).

    >>> Criterion("z-score", "|x|<", 5).holds(-4.2)
    True
    """

    statistic: str
    op: str
    threshold: int | float

    def __post_init__(self) -> None:
        _compare(self.op, 0, 0)
        _number("criterion threshold", self.threshold)

    def holds(self, value) -> bool:
        """Whether ``value op threshold``; False for None or a non-finite value."""
        if value is None or not math.isfinite(value):
            return False
        return _compare(self.op, value, self.threshold)


@dataclass(frozen=True)
class Power:
    """What a row could reject, as a number, and when that number makes the row informative.

    ``alternative`` says in words what the check would have caught (``"n - 1 in place of n in
    S2's exponent"``, ``"a slack below the loss range M = 4"``); ``value`` is the number that
    measures it (the z-score that wrong value would have produced, the slack over the trivial
    bound, the smallest relative violation detected); the row is informative when
    ``value op threshold``. A value of None (the number could not be formed, e.g. a conditional
    claim whose condition never occurred) is never informative.

    >>> Power("n - 1 in the exponent", 12.5, "|x|>=", 5).informative()
    True
    """

    alternative: str
    value: int | float | None
    op: str
    threshold: int | float

    def __post_init__(self) -> None:
        _compare(self.op, 0, 0)
        _number("power value", self.value)
        _number("power threshold", self.threshold)
        if not self.alternative:
            raise ValueError("power.alternative must say what the check would have caught")

    def informative(self) -> bool:
        if self.value is None or not math.isfinite(self.value):
            return False
        return _compare(self.op, self.value, self.threshold)


def exact_power(tolerance: float, what: str = "relative discrepancy") -> Power:
    """The power of an identity checked at ``tolerance``: any ``what`` above it is caught;
    informative while the tolerance is below 1e-6 (far looser would no longer test float64
    exactness)."""
    return Power(f"any {what} above the tolerance {tolerance:.3g}", tolerance, "<=", 1e-6)


def count_power(n_cases: int, what: str) -> Power:
    """The power of an exact count or symbolic identity over ``n_cases`` cases: a single wrong
    ``what`` in any of them is caught (informative when at least one case ran)."""
    return Power(f"a single wrong {what} in any of the {n_cases} cases", n_cases, ">=", 1)


def decide(criterion: Criterion | None, power: Power | None, statistic) -> str:
    """The verdict the two rules give: fail, inconclusive or pass (see the module docstring)."""
    if criterion is None or power is None:
        raise ValueError("a row without an explicit verdict needs a criterion and a power")
    if not criterion.holds(statistic):
        return "fail"
    return "pass" if power.informative() else "inconclusive"


@dataclass(frozen=True)
class CheckResult:
    """One row of the validation report (see the module docstring for the fields' rules).

    ``verdict`` is derived from ``criterion``, ``power`` and ``statistic`` unless given; an
    explicit verdict (one of :data:`EXPLICIT`) needs a ``reason``: why the row was skipped,
    which run diverged, what raised. ``plot`` is a file name relative to the report folder,
    or None.
    """

    label: str
    claim: str
    kind: str
    prediction: int | float | None
    measurement: int | float | None
    statistic: int | float | None
    criterion: Criterion | None = None
    power: Power | None = None
    verdict: str | None = None
    reason: str | None = None
    details: dict = field(default_factory=dict)
    plot: str | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown THEORY.md label {self.label!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("prediction", "measurement", "statistic"):
            _number(name, getattr(self, name))
        if not isinstance(self.details, dict):
            raise TypeError("details must be a dict")
        if self.verdict is None:
            object.__setattr__(self, "verdict", decide(self.criterion, self.power,
                                                       self.statistic))
        elif self.verdict not in EXPLICIT:
            raise ValueError(f"an explicit verdict must be one of {EXPLICIT}, got "
                             f"{self.verdict!r}; pass and inconclusive follow from the rules")
        elif not self.reason:
            raise ValueError(f"an explicit verdict ({self.verdict}) needs a reason")
        nulls = [n for n in ("prediction", "measurement", "statistic") if getattr(self, n) is None]
        if nulls and not self.reason:
            raise ValueError(f"{', '.join(nulls)} is None: say why in reason")

    def as_dict(self) -> dict:
        """The row as plain JSON data, keys in results.json's order (see :func:`jsonable`)."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("criterion", "power"):
            value = row[name]
            row[name] = None if value is None else {f.name: getattr(value, f.name)
                                                    for f in fields(value)}
        return {key: jsonable(value) for key, value in row.items()}


def by_construction(row: CheckResult) -> bool:
    """Whether ``row`` is true by construction or arithmetic (THEORY.md's verdict rule): its
    criterion holds, its power is ``none: ...`` (no alternative it could reject), so its verdict
    is inconclusive, never pass."""
    return (row.verdict == "inconclusive" and row.power is not None and row.power.value is None
            and row.power.alternative.startswith("none:") and row.criterion is not None
            and row.criterion.holds(row.statistic))


def passes_or_by_construction(rows: list[CheckResult]) -> bool:
    """Every row passes, or is inconclusive only because it is true by construction."""
    return bool(rows) and all(row.verdict == "pass" or by_construction(row) for row in rows)


def row_error(label: str, kind: str, claim: str, verdict: str, reason: str) -> CheckResult:
    """A row with no measurement: a check that raised (fail), was skipped, or diverged."""
    return CheckResult(label, claim, kind, None, None, None, verdict=verdict, reason=reason)


def jsonable(value: Any):
    """``value`` as strict JSON data.

    Non-finite floats become the strings "NaN", "Infinity", "-Infinity"; integers beyond
    2^53 decimal strings (:data:`EXACT_INT_LIMIT`); numpy/torch scalars and arrays numbers and
    lists; exact SymPy rationals an integer or their text ("1/3").

    >>> jsonable([1.5, float("inf"), (2, None), 2**64])
    [1.5, 'Infinity', [2, None], '18446744073709551616']
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= EXACT_INT_LIMIT else str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if getattr(value, "is_Rational", False):
        return jsonable(int(value)) if value.is_Integer else str(value)
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if hasattr(value, "item"):
        return jsonable(value.item())
    if getattr(value, "is_Number", False):
        return jsonable(float(value))
    return str(value)

