"""The row schema: verdicts follow from a row's criterion and power, numbers stay numbers."""

import json
import math
from pathlib import Path

import jsonschema
import pytest

from resdepth.engine.rows import (
    CheckResult,
    Criterion,
    Power,
    count_power,
    decide,
    exact_power,
    jsonable,
    row_error,
)

SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "results.schema.json").read_text())


def row(statistic, power_value=1e-9, **kw):
    return CheckResult("R2", "a claim", "exact", 0.0, statistic, statistic,
                       Criterion("relative error", "<=", 1e-9), exact_power(power_value), **kw)


def test_verdict_follows_from_criterion_then_power():
    assert row(1e-12).verdict == "pass"
    assert row(1e-3).verdict == "fail"
    assert row(float("nan")).verdict == "fail"
    assert row(1e-12, power_value=0.1).verdict == "inconclusive"
    # a failing criterion is a fail whatever the power
    assert row(1e-3, power_value=0.1).verdict == "fail"


@pytest.mark.parametrize(("op", "value", "threshold", "holds"), [
    ("<=", 1, 1, True), ("<", 1, 1, False), (">=", 1, 1, True), (">", 1, 1, False),
    ("==", 0, 0, True), ("|x|<", -4.9, 5, True), ("|x|<", -5, 5, False),
    ("|x|<=", -5, 5, True), ("|x|>", -5.1, 5, True), ("|x|>=", 4.9, 5, False),
])
def test_every_op_compares_as_documented(op, value, threshold, holds):
    assert Criterion("s", op, threshold).holds(value) is holds
    assert Power("alt", value, op, threshold).informative() is holds


def test_power_without_a_value_is_never_informative():
    assert not Power("a condition never met", None, ">=", 1).informative()
    assert decide(Criterion("s", "<=", 1), Power("p", None, ">=", 1), 0) == "inconclusive"


def test_rows_refuse_what_the_schema_does_not_allow():
    with pytest.raises(ValueError, match="pass and inconclusive follow"):
        row(0.0, verdict="pass", reason="because")
    with pytest.raises(ValueError, match="needs a reason"):
        row(0.0, verdict="skipped")
    with pytest.raises(ValueError, match="say why in reason"):
        CheckResult("R1", "c", "exact", None, 1, 0, Criterion("s", "<=", 0), count_power(1, "x"))
    with pytest.raises(TypeError, match="details"):
        CheckResult("R1", "c", "exact", [1, 2], 1, 0, Criterion("s", "<=", 0), count_power(1, "x"))
    with pytest.raises(TypeError, match="int, a float"):
        CheckResult("R1", "c", "exact", 1, True, 0, Criterion("s", "<=", 0), count_power(1, "x"))
    with pytest.raises(ValueError, match="op must be"):
        Criterion("s", "~", 1)
    with pytest.raises(ValueError, match="criterion and a power"):
        CheckResult("R1", "c", "exact", 1, 1, 0)
    with pytest.raises(ValueError, match="label"):
        CheckResult("S8", "c", "exact", 1, 1, 0, Criterion("s", "<=", 0), count_power(1, "x"))


def test_large_integers_become_decimal_strings_and_non_finite_floats_strings():
    assert jsonable([2**53, 2**53 + 1, -(2**60)]) == [2**53, str(2**53 + 1), str(-(2**60))]
    assert jsonable({"a": math.inf, "b": -math.inf, "c": math.nan}) == {
        "a": "Infinity", "b": "-Infinity", "c": "NaN"}


def test_rows_validate_against_the_published_schema():
    rows = [row(1e-12, details={"per_depth": [1.0, 2.0]}).as_dict(),
            row(1e-12, power_value=0.5).as_dict(),
            row_error("S7", "empirical", "a check", "diverged", "run x diverged").as_dict(),
            CheckResult("R4", "2^64 paths", "exact", 2**64, 2**64, 0,
                        Criterion("lengths that differ", "==", 0),
                        count_power(65, "count")).as_dict()]
    document = {"schema_version": 2, "rows": rows, "meta": {
        "resdepth": "0", "python": "3", "torch": "2", "mode": "quick", "seed": 0,
        "device": "cpu", "strict": False, "labels": ["R2"], "started": "2026-01-01T00:00:00+00:00",
        "wall_time_s": 1.0, "check_wall_time_s": {},
        "counts": {"pass": 2, "fail": 0, "inconclusive": 1, "diverged": 1, "skipped": 0}}}
    jsonschema.validate(document, SCHEMA)
    assert rows[3]["prediction"] == str(2**64)
    broken = json.loads(json.dumps(document))
    broken["rows"][0]["power"] = None  # a pass without its power rule
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
