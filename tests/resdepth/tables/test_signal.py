"""``resdepth tables signal|scaling|schemes`` (S2, S3, S4, S5) against independent computation."""

import json
import math
from fractions import Fraction

import mpmath
import pytest
from hypothesis import given
from hypothesis import strategies as st

from resdepth.cli import main
from resdepth.tables import scaling as scaling_table
from resdepth.tables import schemes as schemes_table
from resdepth.tables import signal as signal_table

REL_TOL = 2e-13  # log-space evaluation: see tests/theorems/test_signal.py
rationals = st.fractions(min_value=0, max_value=3, max_denominator=12)


def ratio_value(cell) -> float:
    """log10 of a second_moment_ratio cell (a float, or a scientific-notation string)."""
    if isinstance(cell, str):
        mantissa, exponent = cell.split("e+")
        return math.log10(float(mantissa)) + int(exponent)
    return math.log10(cell)


def exact_log10(value: Fraction) -> float:
    return math.log10(value.numerator) - math.log10(value.denominator)


@given(max_depth=st.integers(1, 120), lam=rationals, sigma2=rationals)
def test_S2_signal_table_constant_lam(max_depth, lam, sigma2):
    """S2 rows against exact rationals: (1 + q)^n and the mean path length n q/(1+q)."""
    rows = signal_table.compute(float(lam), float(sigma2), "none", max_depth, 64)
    q = Fraction(float(lam)) ** 2 * Fraction(float(sigma2))
    assert [r["depth"] for r in rows] == list(range(1, max_depth + 1))
    for row in rows:
        n = row["depth"]
        exact = (1 + q) ** n
        assert row["lam"] == float(lam)
        assert row["log10_second_moment_ratio"] == pytest.approx(exact_log10(exact), rel=REL_TOL,
                                                                 abs=1e-15)
        assert row["second_moment_ratio"] == pytest.approx(float(exact), rel=REL_TOL)
        assert row["mean_path_length"] == pytest.approx(float(n * q / (1 + q)), rel=1e-14)


@pytest.mark.parametrize("rule, q_of_n", [("inv-sqrt", lambda n, s: s / n),
                                          ("inv", lambda n, s: s / n**2)])
@given(sigma2=rationals)
def test_S2_signal_table_depth_rules(rule, q_of_n, sigma2):
    """S2 with lam = 1/sqrt(n) or 1/n at each depth: q = sigma^2/n or sigma^2/n^2, exactly."""
    rows = signal_table.compute(rule, float(sigma2), "none", 60, 64)
    for row in rows:
        n = row["depth"]
        q = q_of_n(n, Fraction(float(sigma2)))
        assert row["second_moment_ratio"] == pytest.approx(float((1 + q) ** n), rel=REL_TOL)
        assert row["mean_path_length"] == pytest.approx(float(n * q / (1 + q)), rel=1e-13)


@given(max_depth=st.integers(1, 200), lam=rationals, sigma2=rationals, width=st.integers(1, 512))
def test_S3_signal_table_prenorm(max_depth, lam, sigma2, width):
    """S3 rows: (d + n q d) / d with ||x_0||^2 = d, by the recursion m_i = m_{i-1} + q d."""
    rows = signal_table.compute(float(lam), float(sigma2), "pre", max_depth, width)
    q = Fraction(float(lam)) ** 2 * Fraction(float(sigma2))
    moment = Fraction(width)
    for row in rows:
        moment += q * width
        assert row["second_moment_ratio"] == pytest.approx(float(moment / width), rel=1e-14)
        assert row["log10_second_moment_ratio"] == pytest.approx(
            exact_log10(moment / width), rel=1e-13, abs=1e-16)
        assert row["mean_path_length"] is None


def test_S2_signal_table_at_depth_10000_json(tmp_path):
    """Depth 10,000 through the CLI: valid JSON without inf/NaN, big ratios as exact strings."""
    out = tmp_path / "signal.json"
    code = main(["tables", "signal", "--max-depth", "10000", "--format", "json", "--out",
                 str(out)])
    assert code == 0

    def reject(constant):
        raise AssertionError(f"JSON holds {constant}")

    rows = json.loads(out.read_text(), parse_constant=reject)
    assert len(rows) == 10_000 and set(rows[0]) == {
        "depth", "lam", "second_moment_ratio", "log10_second_moment_ratio", "mean_path_length"}
    mpmath.mp.dps = 40
    for row in rows[::997] + rows[-1:]:
        expected = float(row["depth"] * mpmath.log10(2))
        assert row["log10_second_moment_ratio"] == pytest.approx(expected, rel=REL_TOL)
        assert ratio_value(row["second_moment_ratio"]) == pytest.approx(expected, rel=1e-11)
    assert rows[-1]["second_moment_ratio"] == "1.99506311688e+3010"
    assert rows[1022]["second_moment_ratio"] == pytest.approx(2.0**1023, rel=REL_TOL)
    assert rows[1023]["second_moment_ratio"] == "1.79769313486e+308"


@pytest.mark.parametrize("log10, text", [(3010.2999566398116, "1.99506311688e+3010"),
                                         (400.0, "1e+400"), (399.9999999999999, "1e+400"),
                                         (500 - 1e-13, "1e+500")])
def test_ratio_cell_scientific_notation(log10, text):
    assert signal_table.ratio_cell(log10, math.inf) == text


def test_S4_scaling_table_against_exact_values():
    """S4 rows: beta = 0 and 1 in exact rationals, limits and S1 boundedness per beta."""
    rows = scaling_table.compute(1.0, 2.0, [10, 100])
    by_beta = {str(row["beta"]): row for row in rows}
    assert list(by_beta) == ["0", "1/4", "1/2", "3/4", "1"]
    assert by_beta["0"]["ratio_n10"] == pytest.approx(3.0**10, rel=REL_TOL)
    exact = (1 + Fraction(2, 10000)) ** 100
    assert by_beta["1"]["ratio_n100"] == pytest.approx(float(exact), rel=REL_TOL)
    mpmath.mp.dps = 40
    quarter = (1 + 2 / mpmath.sqrt(100)) ** 100
    assert by_beta["1/4"]["ratio_n100"] == pytest.approx(float(quarter), rel=1e-12)
    assert [r["regime"] for r in rows] == ["explodes", "explodes", "critical", "collapses",
                                          "collapses"]
    assert str(by_beta["1/2"]["ratio_limit"]) == "exp(a**2*sigma2)"
    assert [r["s1_bounded"] for r in rows] == [False, False, False, False, True]
    assert by_beta["1/2"]["mean_path_length_n100"] == pytest.approx(2 / (1 + 2 / 100), rel=1e-14)


def test_S5_schemes_table():
    rows = schemes_table.compute(2.0, [16])
    by_name = {row["scheme"]: row for row in rows}
    assert by_name["inv-sqrt"]["lam_eff_L16"] == 0.5
    assert by_name["deepnorm"]["lam_eff_L16"] == pytest.approx(16 ** -0.75 / 2, rel=1e-14)
    assert by_name["rezero"]["lam_eff_L16"] == 0.0 and str(by_name["rezero"]["beta"]) == "oo"
    assert all(row["source"] for row in rows)


def test_S4_S5_json_keeps_sympy_text_and_md_typesets_it(capsys):
    """Machine formats hold SymPy's parseable text; md holds math and yes/no, never Python."""
    assert main(["tables", "scaling", "--depths", "10", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["beta"] for r in rows] == ["0", "1/4", "1/2", "3/4", "1"]
    assert rows[2]["ratio_limit"] == "exp(a**2*sigma2)" and rows[0]["ratio_limit"] == "oo"
    assert rows[-1]["s1_bounded"] is True
    for kind in ("scaling", "schemes"):
        assert main(["tables", kind, "--format", "md"]) == 0
        md = capsys.readouterr().out
        assert md.startswith("Table: S")
        for raw in ("oo", "**", "exp(", "True", "False", "sigma2", "e+"):
            assert raw not in md, (kind, raw)
    assert main(["tables", "scaling", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "$e^{a^{2} \\sigma^{2}}$" in md and "1.995×10³⁰¹⁰" in md and "| 1/4 |" in md


def test_S2_md_moves_a_constant_lam_into_the_caption(capsys):
    assert main(["tables", "signal", "--max-depth", "3"]) == 0
    md = capsys.readouterr().out
    assert "In every row: $\\lambda_n$ = 1." in md and "| 3 | 8 | 0.90309 | 1.5 |" in md
    assert main(["tables", "signal", "--max-depth", "3", "--lam", "inv"]) == 0
    assert "| 2 | 0.5 | 1.5625 |" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["signal", "--max-depth", "-1"], ["signal", "--max-depth", "0"],
    ["signal", "--max-depth", "2.5"], ["signal", "--max-depth", "ten"],
    ["signal", "--lam", "nan"], ["signal", "--lam", "-1"], ["signal", "--lam", "inf"],
    ["signal", "--lam", "sqrt"], ["signal", "--sigma2", "nan"], ["signal", "--sigma2", "-0.5"],
    ["signal", "--norm", "post"], ["signal", "--format", "xml"],
    ["signal", "--max-depth", "2000000"], ["signal", "--lam", "1e200"],
    ["signal", "--lam", "1e150", "--norm", "pre", "--sigma2", "1e10"], ["scaling", "--depths", "0"],
    ["scaling", "--a", "nan"], ["schemes", "--depths", "-3"], ["nosuchtable"],
])
def test_bad_inputs_exit_nonzero_with_one_line_message(argv, capsys):
    """Bad input: exit code 2, an error line on stderr, no traceback."""
    try:
        code = main(["tables", *argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("resdepth tables")
    assert "error:" in err.strip().splitlines()[-1]
