"""``resdepth tables paths`` and ``resdepth tables trees`` (R1, R4) against independent
computations, in every format, and their bad inputs (one-line message, exit 2, no traceback)."""

import csv
import io
import itertools
import json
import math
import pathlib
import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resdepth.cli import main
from theorems.trees import automorphisms, label_decreasing_trees


def run_table(capsys, *argv) -> str:
    """Run ``resdepth tables ARGV`` in-process; capsys is read after each call, so reuse is safe."""
    assert main(["tables", *argv]) == 0
    return capsys.readouterr().out


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(min_value=1, max_value=5))
def test_R4_paths_table_against_enumeration(capsys, depth):
    rows = json.loads(run_table(capsys, "paths", "--max-depth", str(depth), "--format", "json"))
    assert [(r["depth"], r["length"]) for r in rows] == [
        (n, k) for n in range(1, depth + 1) for k in range(depth + 1)]
    for row in rows:
        n, k = row["depth"], row["length"]
        assert set(row) == {"depth", "length", "chains", "trees"}
        assert row["chains"] == sum(1 for _ in itertools.combinations(range(n), k))
        assert row["trees"] == (len(label_decreasing_trees(n, k)) if k else 1)


def test_R4_paths_table_at_depth_60_against_math_comb(capsys):
    rows = json.loads(run_table(capsys, "paths", "--max-depth", "60", "--format", "json"))
    assert len(rows) == 60 * 61
    for row in rows:
        n, k = row["depth"], row["length"]
        assert row["chains"] == math.comb(n, k)
        if k <= 3:
            assert row["trees"] == [1, n, math.comb(n, 2),
                                    math.comb(n, 3) + math.comb(n + 1, 3)][k]
    assert sum(r["chains"] for r in rows if r["depth"] == 60) == 2**60


def test_R4_paths_table_keeps_big_integers_exact_in_csv(capsys):
    text = run_table(capsys, "paths", "--max-depth", "40", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    big = next(r for r in rows if r["depth"] == "40" and r["length"] == "20")
    assert int(big["chains"]) == math.comb(40, 20)
    assert int(rows[-1]["trees"]) > 2**53


@pytest.mark.parametrize("fmt", ["md", "latex"])
def test_R4_paths_table_renders(capsys, fmt):
    text = run_table(capsys, "paths", "--max-depth", "3", "--format", fmt)
    assert "chains" in text and "trees" in text and len(text.splitlines()) >= 9


def test_R4_paths_md_is_depth_by_length(capsys):
    """People read one line per depth: chains C(3, k) and trees N(3, k) = 1, 3, 3, 5."""
    text = run_table(capsys, "paths", "--max-depth", "3")
    assert text.startswith("Table: R1/R4")
    chains, trees = text.split("**trees $N(n,k)$**")
    assert "| depth $n$ | $k = 0$ | $k = 1$ | $k = 2$ | $k = 3$ |" in chains
    assert "| 2 | 1 | 2 | 1 | 0 |" in chains and "| 3 | 1 | 3 | 3 | 1 |" in chains
    assert "| 3 | 1 | 3 | 3 | 5 |" in trees and "| 2 | 1 | 2 | 1 | 1 |" in trees  # N(2, 3) = 1


def test_R4_trees_md_shows_fractions_and_csv_keeps_every_column(capsys):
    md = run_table(capsys, "trees", "--max-depth", "2", "--max-order", "3")
    assert "| 2 | 1 | 2 | 1 | 1/2 |" in md and "float" not in md
    rows = list(csv.DictReader(io.StringIO(run_table(
        capsys, "trees", "--max-depth", "2", "--max-order", "3", "--format", "csv"))))
    assert rows[-1] == {"depth": "2", "order": "3", "trees": "1", "weighted_sum": "1/2",
                        "weighted_sum_float": "0.5"}


@pytest.mark.parametrize("depth,order", [(1, 0), (4, 5), (5, 3)])
def test_R4_trees_table_against_enumeration(capsys, depth, order):
    rows = json.loads(run_table(capsys, "trees", "--max-depth", str(depth), "--max-order",
                                str(order), "--format", "json"))
    assert len(rows) == depth * (order + 1)
    for row in rows:
        n, k = row["depth"], row["order"]
        trees = label_decreasing_trees(n, k)
        assert row["trees"] == (len(trees) if k else 1)
        exact = sum((Fraction(1, automorphisms(t)) for t in trees), Fraction(0)) if k else 1
        assert Fraction(row["weighted_sum"]) == exact
        assert row["weighted_sum_float"] == pytest.approx(float(exact), rel=1e-15)


def test_R4_tables_write_to_out(tmp_path, capsys):
    out = tmp_path / "paths.json"
    assert main(["tables", "paths", "--max-depth", "2", "--format", "json", "--out",
                 str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text())[-1] == {"depth": 2, "length": 2, "chains": 1, "trees": 1}


BAD = [
    ["paths", "--max-depth", "-1"],
    ["paths", "--max-depth", "0"],
    ["paths", "--max-depth", "2.5"],
    ["paths", "--max-depth", "ten"],
    ["paths", "--format", "xml"],
    ["trees", "--max-order", "-2"],
    ["trees", "--max-depth", "0"],
    ["nosuchtable"],
]


@pytest.mark.parametrize("argv", BAD)
def test_R4_bad_table_arguments_exit_2_with_one_line(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["tables", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].count("error:") == 1


@pytest.mark.parametrize("argv", [["paths", "--max-depth", "100000"],
                                  ["trees", "--max-order", "1000"]])
def test_R4_oversized_tables_are_refused_in_one_line(capsys, argv):
    assert main(["tables", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "at most" in err


def test_R4_console_script_rejects_bad_depth():
    script = pathlib.Path(sys.executable).with_name("resdepth")
    proc = subprocess.run([str(script), "tables", "paths", "--max-depth", "-3"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "positive integer" in proc.stderr


def test_R4_paths_table_starts_without_sympy_or_torch():
    """The integer tables load numpy only: SymPy (and test_risk's solve at import) would cost
    most of the 1 s the paths table at depth 200 is allowed."""
    code = ("import sys; from resdepth.cli import main; "
            "assert main(['tables', 'paths', '--max-depth', '3', '--out', sys.argv[1]]) == 0; "
            "print(sorted(m for m in ('sympy', 'torch') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, "/dev/null"], capture_output=True,
                          text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]"
