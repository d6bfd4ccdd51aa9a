r"""LaTeX for :func:`resdepth.tables.render.render`: booktabs tables that compile with pdflatex.

Math is SymPy's LaTeX printer in math mode (``$e^{a^{2} \sigma^{2}}$``, never ``exp(a**2*sigma2)``
or ``oo``); numbers are in math mode (a minus sign, not a hyphen), exact integers in full with
thin spaces between groups of three digits, floats as
:func:`~resdepth.tables.formats.mantissa_exponent` writes them (``m \times 10^{e}`` past 10^6); text has LaTeX's ten special characters escaped.
A table with a caption or a label is a ``table`` float, or a ``longtable`` (which breaks across
pages) past :data:`~resdepth.tables.formats.LONG_TABLE_ROWS` lines; one without either is a bare
``tabular``.
"""

import math

from resdepth.tables.formats import (
    LONG_TABLE_ROWS,
    LONG_TEXT,
    Grid,
    Scientific,
    Table,
    caption_text,
    grid,
    is_sympy,
    mantissa_exponent,
    sympy_latex,
)

PACKAGES = ("booktabs", "array", "amsmath", "longtable")
"""The packages the output may use (its first line names those it does use)."""
_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_WRAP = r">{\raggedright\arraybackslash}p{5cm}"
MAX_COLUMNS = 64
"""Widest table written: 202 columns (``tables paths --max-depth 200``) exhaust TeX's memory
after minutes; 64 compile in seconds (a page holds about 20 columns of short numbers)."""


def escape(text: str) -> str:
    r"""``text`` with LaTeX's special characters escaped.

    >>> escape("De & Smith, 100% of x_1 #2")
    'De \\& Smith, 100\\% of x\\_1 \\#2'
    """
    return "".join(_SPECIALS.get(ch, ch) for ch in text)


def _integer(value: int) -> str:
    digits = str(abs(value))
    if len(digits) > 4:
        head = len(digits) % 3 or 3
        digits = r"\,".join([digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)])
    return f"${'-' if value < 0 else ''}{digits}$"


def _float(value) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return r"$\infty$" if value > 0 else (r"$-\infty$" if value < 0 else "NaN")
    mantissa, exponent = mantissa_exponent(value)
    return f"${mantissa}$" if exponent is None else f"${mantissa} \\times 10^{{{exponent}}}$"


def cell(value, symbols: dict) -> str:
    """One value as LaTeX (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return _integer(value)
    if isinstance(value, (float, Scientific)):
        return _float(value)
    if is_sympy(value):
        return f"${sympy_latex(value, symbols)}$"
    if type(value).__name__ == "Fraction":
        return f"$\\frac{{{value.numerator}}}{{{value.denominator}}}$"
    return escape(str(value))


def _spec(found: Grid) -> str:
    """Column types: numbers right, text left, long text wrapped."""
    spec = []
    for i, numeric in enumerate(found.numeric):
        longest = max((len(str(line[i])) for _, lines in found.sections for line in lines),
                      default=0)
        spec.append("r" if numeric else (_WRAP if longest > LONG_TEXT else "l"))
    return "".join(spec)


def _head(found: Grid) -> list[str]:
    n = len(found.heads)
    lines = [r"\toprule"]
    if found.span is not None:
        lines += [f" & \\multicolumn{{{n - 1}}}{{c}}{{{found.span}}} \\\\",
                  f"\\cmidrule(l){{2-{n}}}"]
    return lines + [" & ".join(found.heads) + r" \\", r"\midrule"]


def _body(found: Grid, symbols: dict) -> list[str]:
    lines = []
    for title, rows in found.sections:
        if title is not None:
            if lines:
                lines.append(r"\midrule")
            lines.append(f"\\multicolumn{{{len(found.heads)}}}{{l}}{{{title}}} \\\\")
        lines += [" & ".join(cell(v, symbols) for v in row) + r" \\" for row in rows]
    return lines


def latex(table: Table) -> str:
    """The table as LaTeX source (see the module docstring), ending with a newline."""
    found = grid(table)
    if len(found.heads) > MAX_COLUMNS:
        raise ValueError(f"--format latex: this table would have {len(found.heads)} columns; "
                         f"at most {MAX_COLUMNS} compile (choose smaller sizes, or csv/json)")
    spec, head, body = _spec(found), _head(found), _body(found, table.symbols)
    caption = caption_text(table, found, cell)
    tag = (f"\\caption{{{caption}}}" if caption else "") + (
        f"\\label{{{table.label}}}" if table.label else "")
    if found.n_lines > LONG_TABLE_ROWS:
        lines = [f"\\begin{{longtable}}{{{spec}}}", *([tag + r"\\"] if tag else []), *head,
                 r"\endfirsthead", *head, r"\endhead", r"\bottomrule", r"\endfoot", *body,
                 r"\end{longtable}"]
    else:
        tabular = [f"\\begin{{tabular}}{{{spec}}}", *head, *body, r"\bottomrule",
                   r"\end{tabular}"]
        lines = tabular if not tag else [r"\begin{table}[htbp]", r"\centering", tag, *tabular,
                                         r"\end{table}"]
    text = "\n".join(lines)
    used = [p for p in PACKAGES if (p != "longtable" or r"\begin{longtable}" in text)
            and (p != "array" or _WRAP in spec)]
    return f"% needs \\usepackage{{{','.join(used)}}}\n{text}\n"
