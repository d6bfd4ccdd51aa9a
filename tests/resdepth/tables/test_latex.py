"""Every ``resdepth tables KIND --format latex`` compiles with pdflatex in an article with 1-inch
margins and the one preamble line, without an overfull box (it fits the page: portrait, landscape
or split), and the LaTeX holds typeset math and escaped text, never Python or SymPy source."""

import argparse
import json
import pathlib
import re
import shutil
import subprocess

import pytest
import sympy as sp

from resdepth.cli import main
from resdepth.tables import guarantees
from resdepth.tables.formats import Pivot, Scientific, Table
from resdepth.tables.latex import PREAMBLE, cell, escape
from resdepth.tables.render import render
from theorems.trees import label_decreasing_trees

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex not found: install Debian's texlive-latex-base and "
    "texlive-latex-recommended (.ci/run does so when pdflatex is missing)")

DOCUMENT = r"""\documentclass{article}
\usepackage[margin=1in,a4paper]{geometry}
PREAMBLE
\begin{document}
\input{table.tex}
\end{document}
""".replace("PREAMBLE", PREAMBLE)

TABLES = {
    "paths": ["paths", "--max-depth", "9"],
    "paths-deep": ["paths", "--max-depth", "45"],
    "trees": ["trees", "--max-depth", "6", "--max-order", "5"],
    "signal": ["signal", "--max-depth", "12", "--lam", "inv-sqrt"],
    "signal-beyond-floats": ["signal", "--max-depth", "1100"],
    "signal-pre": ["signal", "--norm", "pre", "--max-depth", "8"],
    "scaling": ["scaling"],
    "schemes": ["schemes"],
    "guarantees": ["guarantees"],
}
RAW = [r"\boo\b", r"\*\*", r"\bexp\(", r"\bsqrt\(", r"\bTrue\b", r"\bFalse\b", r"\bNone\b",
       r"\de[+-]\d", r"sigma2"]


def latex_of(tmp_path, argv) -> str:
    out = tmp_path / "table.tex"
    assert main(["tables", *argv, "--format", "latex", "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def compile_pdf(folder) -> subprocess.CompletedProcess:
    (folder / "doc.tex").write_text(DOCUMENT, encoding="utf-8")
    return subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False)


def overfull(folder) -> list[str]:
    """The overfull-box lines of pdflatex's log (a table wider than the text is one)."""
    log = (folder / "doc.log").read_text(encoding="utf-8", errors="replace")
    return re.findall(r"Overfull \\[hv]box \([\d.]+pt too \w+\)", log)


@needs_pdflatex
@pytest.mark.parametrize("name", list(TABLES))
def test_table_latex_compiles_with_pdflatex(tmp_path, name):
    text = latex_of(tmp_path, TABLES[name])
    proc = compile_pdf(tmp_path)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("!")]
    assert proc.returncode == 0 and (tmp_path / "doc.pdf").stat().st_size > 0, errors
    assert overfull(tmp_path) == []
    assert r"\toprule" in text and r"\bottomrule" in text and r"\label{tab:resdepth-" in text
    assert r"\caption{" in text and r"\hline" not in text and PREAMBLE in text.splitlines()[0]


@needs_pdflatex
def test_the_overfull_check_has_teeth(tmp_path, monkeypatch):
    """With the layout told the page is 2000 pt wide, schemes is set in one portrait tabular and
    pdflatex reports it overfull (it was 412 pt too wide before tables fitted the page)."""
    import resdepth.tables.layout as layout

    monkeypatch.setattr(layout, "TEXT_WIDTH", 2000.0)
    latex_of(tmp_path, ["schemes"])
    assert compile_pdf(tmp_path).returncode == 0 and overfull(tmp_path) != []


@pytest.mark.parametrize("argv, kind", [(["schemes"], "split"), (["scaling"], "split"),
                                        (["guarantees"], "landscape"),
                                        (["trees", "--max-depth", "4"], "portrait")])
def test_wide_tables_are_turned_or_split_and_sources_keyed(tmp_path, argv, kind):
    text = latex_of(tmp_path, argv)
    assert text.startswith(f"% {kind},")
    if argv == ["schemes"]:
        assert "source \\\\" in text and "[8]" in text and r"\footnotesize" in text
        assert text.count(r"\begin{tabular}") == 2 and text.count(r"\caption{") == 1


@pytest.mark.parametrize("name", list(TABLES))
def test_table_latex_has_no_python_or_sympy_source(tmp_path, name):
    text = latex_of(tmp_path, TABLES[name])
    found = [pattern for pattern in RAW if re.search(pattern, text)]
    assert found == [], f"raw source text {found} in the {name} table"


@needs_pdflatex
def test_latex_compile_fails_on_an_unescaped_ampersand(tmp_path):
    """The compile test has teeth: the bug the issue reported (a raw & in a cell) fails it."""
    text = render(Table([{"source": "De & Smith", "n": 1}], caption="c", label="tab:x"), "latex")
    (tmp_path / "table.tex").write_text(text.replace(r"\&", "&"), encoding="utf-8")
    assert compile_pdf(tmp_path).returncode != 0


def test_schemes_latex_escapes_ampersands_in_sources(tmp_path):
    text = latex_of(tmp_path, ["schemes"])
    assert r"Dherin \& Munn" in text and r"De \& Smith" in text
    assert re.search(r"(?<!\\)&\s*Munn", text) is None


def test_scaling_latex_typesets_limits_and_powers_of_ten(tmp_path):
    text = latex_of(tmp_path, ["scaling"])
    assert r"$e^{a^{2} \sigma^{2}}$" in text and r"$\infty$" in text
    assert r"$1.995 \times 10^{3010}$" in text and r"$\frac{1}{4}$" in text


def guarantees_args():
    parser = argparse.ArgumentParser()
    guarantees.add_arguments(parser)
    return parser.parse_args([])


def test_guarantees_latex_moves_constant_columns_to_the_caption(tmp_path):
    text = latex_of(tmp_path, ["guarantees"])
    caption = re.search(r"\\caption\{(.*)\}\\label", text).group(1)
    assert r"$\delta$ = $0.05$" in caption and r"$\Delta$ = $0.05$" in caption
    assert r"least $m$, route P = $4\,698\,529\,695$" in caption
    rows = json.loads(render(guarantees.build(guarantees_args()), "json"))
    varying = [key for key in rows[0] if len({json.dumps(row[key]) for row in rows}) > 1]
    spec = re.search(r"\\begin\{tabular\}\{(\w+)\}", text).group(1)
    assert "m" in varying and spec == "r" * len(varying)  # only what varies with m


def test_paths_latex_is_depth_by_length(tmp_path):
    text = latex_of(tmp_path, ["paths", "--max-depth", "4"])
    assert r"\begin{tabular}{rrrrrr}" in text and r"\multicolumn{5}{c}{length $k$}" in text
    assert r"$4$ & $1$ & $4$ & $6$ & $4$ & $1$ \\" in text  # chains C(4, k)
    trees = [1, *(len(label_decreasing_trees(4, k)) for k in range(1, 5))]
    assert " & ".join(f"${v}$" for v in [4, *trees]) + r" \\" in text  # trees N(4, k)


def test_R4_paths_table_leaves_no_cell_blank(tmp_path):
    """N(n, k) > 0 beyond k = n (N(2, 3) = 1, N(3, 4) = 8): written, never a blank read as 0;
    C(n, k) = 0 there is written 0."""
    text = latex_of(tmp_path, ["paths", "--max-depth", "4"])
    lines = [line for line in text.splitlines() if line.startswith("$")]
    assert lines and all("&  &" not in line and not line.endswith("&  \\\\") for line in lines)
    assert r"$2$ & $1$ & $2$ & $1$ & $1$ & $1$ \\" in text  # N(2, k), k = 0..4
    assert r"$3$ & $1$ & $3$ & $3$ & $5$ & $8$ \\" in text  # N(3, 4) = 8
    assert r"$2$ & $1$ & $2$ & $1$ & $0$ & $0$ \\" in text  # C(2, 3) = C(2, 4) = 0


def test_long_tables_become_longtables(tmp_path):
    text = latex_of(tmp_path, ["signal", "--max-depth", "1100"])
    assert r"\begin{longtable}" in text and r"\endhead" in text
    assert "longtable" in text.splitlines()[0]


@pytest.mark.parametrize("value, tex", [
    (12345678, r"$12\,345\,678$"), (-1234, "$-1234$"), (0.5, "$0.5$"), (-2.5e-7,
     r"$-2.5 \times 10^{-7}$"), (Scientific("9.99996e+400"), r"$1 \times 10^{401}$"),
    (True, "yes"), (None, ""), (sp.oo, r"$\infty$"), (sp.Rational(7, 2), r"$\frac{7}{2}$"),
    ("50% of x_1 & #2 {a} ~ ^ \\", r"50\% of x\_1 \& \#2 \{a\} \textasciitilde{} "
     r"\textasciicircum{} \textbackslash{}"),
])
def test_latex_cells(value, tex):
    assert cell(value, {}) == tex


def test_escape_leaves_no_special_character_bare():
    text = escape("&%$#_{}~^\\")
    assert re.search(r"(?<!\\)[&%$#_{}]", text.replace(r"\textbackslash{}", "")
                     .replace(r"\textasciitilde{}", "").replace(r"\textasciicircum{}", "")) is None


def test_sympy_symbols_take_their_latex_names():
    sigma2 = sp.Symbol("sigma2")
    assert cell(sp.exp(sigma2), {"sigma2": r"\sigma^{2}"}) == r"$e^{\sigma^{2}}$"


def test_wide_layout_and_constants_in_md_and_latex():
    rows = [{"n": n, "k": k, "c": n * 10 + k, "fixed": 3.5} for n in (1, 2) for k in (0, 1)]
    table = Table(rows, caption="Counts.", label="tab:t", pivot=Pivot("n", "k", ("c",), "k"))
    md = render(table, "md")
    assert md.startswith("Table: Counts. In every row: fixed = 3.5.")
    assert "| n | $k = 0$ | $k = 1$ |" in md and "| 2 | 20 | 21 |" in md
    tex = render(table, "latex")
    assert r"$2$ & $20$ & $21$ \\" in tex and "fixed = $3.5$" in tex


def test_latex_refuses_a_table_too_wide_to_compile(capsys):
    """202 columns (paths at depth 200) ran pdflatex out of memory after 8 minutes: refused."""
    assert main(["tables", "paths", "--max-depth", "200", "--format", "latex"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "202 columns" in err and "at most 64" in err
    assert main(["tables", "paths", "--max-depth", "62", "--format", "latex"]) == 0


@needs_pdflatex
@pytest.mark.parametrize("arch", [["--arch", "tower", "--blocks", "12"],
                                  ["--arch", "parallel", "--blocks", "5", "--branches", "3"]])
def test_R4_paths_command_latex_compiles_with_pdflatex(tmp_path, capsys, arch):
    """`resdepth paths --format latex` (the DAG's counts by length) is a paper-ready table."""
    assert main(["paths", *arch, "--format", "latex"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "table.tex").write_text(text, encoding="utf-8")
    proc = compile_pdf(tmp_path)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("!")]
    assert proc.returncode == 0 and overfull(tmp_path) == [], errors
    assert r"\toprule" in text and r"\label{tab:resdepth-dag-paths}" in text


def test_R1_paths_command_csv_has_the_exact_counts(capsys):
    import csv
    import io
    from math import comb

    assert main(["paths", "--arch", "tower", "--blocks", "70", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["paths"]) for r in rows] == [comb(70, k) for k in range(71)]
    assert {"length", "paths", "share", "binomial"} <= set(rows[0])


def test_tables_help_prints_the_one_preamble_line(capsys):
    with pytest.raises(SystemExit):
        main(["tables", "--help"])
    assert PREAMBLE in capsys.readouterr().out
    assert PREAMBLE in (pathlib.Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
