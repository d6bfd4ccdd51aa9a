r"""LaTeX for :func:`resdepth.tables.render.render`: booktabs tables that compile with pdflatex.

Math is SymPy's LaTeX printer in math mode (``$e^{a^{2} \sigma^{2}}$``, never ``exp(a**2*sigma2)``
or ``oo``); numbers are in math mode (a minus sign, not a hyphen), exact integers in full with
thin spaces between groups of three digits, floats as
:func:`~resdepth.tables.formats.mantissa_exponent` writes them (``m \times 10^{e}`` past 10^6); text has LaTeX's ten special characters escaped.
A table with a caption or a label is a ``table`` float, or a ``longtable`` (which breaks across
pages) past :data:`~resdepth.tables.formats.LONG_TABLE_ROWS` lines; one without either is a bare
``tabular``. Every table fits the text width of an article with 1-inch margins: set as is, on a
landscape page, or split into column groups, as :mod:`resdepth.tables.layout` chooses from the
estimated widths; long text (sources) becomes a short key listed under the table. An empty cell
means the value does not exist (a column that does not apply), never a number. Every table
needs the one preamble line :data:`PREAMBLE`, which its first line repeats.
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
from resdepth.tables.layout import keyed, plan, tex_width

PACKAGES = ("booktabs", "array", "amsmath", "longtable", "pdflscape")
"""The packages the output may use."""
PREAMBLE = rf"\usepackage{{{','.join(PACKAGES)}}}"
"""The one preamble line every table resdepth writes needs (its first line repeats it)."""
_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
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


def _spec(numeric: list[bool]) -> str:
    """Column types: numbers right, text left."""
    return "".join("r" if num else "l" for num in numeric)


def _head(heads: list[str], span: str | None) -> list[str]:
    n = len(heads)
    lines = [r"\toprule"]
    if span is not None and n > 1:
        lines += [f" & \\multicolumn{{{n - 1}}}{{c}}{{{span}}} \\\\",
                  f"\\cmidrule(l){{2-{n}}}"]
    return lines + [" & ".join(heads) + r" \\", r"\midrule"]


def _body(sections: list, n: int) -> list[str]:
    lines = []
    for title, rows in sections:
        if title is not None:
            if lines:
                lines.append(r"\midrule")
            lines.append(f"\\multicolumn{{{n}}}{{l}}{{{title}}} \\\\")
        lines += [" & ".join(row) + r" \\" for row in rows]
    return lines


def _typeset(found: Grid, symbols: dict) -> tuple[list, list[str]]:
    """The sections as LaTeX cells, long text replaced by keys; and the keyed texts."""
    n = len(found.heads)
    flat = [line for _, lines in found.sections for line in lines]
    columns, notes = [], []
    for i in range(n):
        column = [line[i] for line in flat]
        if not found.numeric[i]:
            column = keyed(column, LONG_TEXT, notes)
        columns.append([cell(v, symbols) for v in column])
    sections, k = [], 0
    for title, lines in found.sections:
        sections.append((title, [[columns[i][k + j] for i in range(n)] for j in range(len(lines))]))
        k += len(lines)
    return sections, [escape(note) for note in notes]


def _key(notes: list[str]) -> list[str]:
    if not notes:
        return []
    items = "; ".join(f"[{i}] {note}" for i, note in enumerate(notes, 1))
    return [r"\par\smallskip", f"{{\\footnotesize\\raggedright {items}.\\par}}"]


def latex(table: Table) -> str:
    """The table as LaTeX source (see the module docstring), ending with a newline."""
    found = grid(table)
    if len(found.heads) > MAX_COLUMNS:
        raise ValueError(f"--format latex: this table would have {len(found.heads)} columns; "
                         f"at most {MAX_COLUMNS} compile (choose smaller sizes, or csv/json)")
    sections, notes = _typeset(found, table.symbols)
    rows = [row for _, lines in sections for row in lines]
    widths = [max([tex_width(found.heads[i])] + [tex_width(row[i]) for row in rows])
              for i in range(len(found.heads))]
    if found.span is not None:  # the span header sits over columns 1..n-1
        widths[1] = max(widths[1], tex_width(found.span) - sum(widths[2:]))
    layout = plan(widths)
    caption = caption_text(table, found, cell)
    tag = (f"\\caption{{{caption}}}" if caption else "") + (
        f"\\label{{{table.label}}}" if table.label else "")
    tabulars = []
    for group in layout.groups:
        spec = _spec([found.numeric[i] for i in group])
        head = _head([found.heads[i] for i in group], found.span)
        body = _body([(title, [[row[i] for i in group] for row in lines])
                      for title, lines in sections], len(group))
        tabulars.append((spec, head, body))
    long = found.n_lines * len(layout.groups) > LONG_TABLE_ROWS
    if long:
        lines = []
        for k, (spec, head, body) in enumerate(tabulars):
            first = tag if k == 0 else (
                f"\\caption*{{Table~\\ref{{{table.label}}}, continued.}}" if table.label
                else r"\caption*{Continued.}")
            lines += [f"\\begin{{longtable}}{{{spec}}}", *([first + r"\\"] if first else []),
                      *head, r"\endfirsthead", *head, r"\endhead", r"\bottomrule",
                      r"\endfoot", *body, r"\end{longtable}"]
        lines += _key(notes)
    else:
        lines = []
        for k, (spec, head, body) in enumerate(tabulars):
            lines += ([r"\par\medskip"] if k else []) + [
                f"\\begin{{tabular}}{{{spec}}}", *head, *body, r"\bottomrule", r"\end{tabular}"]
        lines += _key(notes)
        if tag or len(tabulars) > 1 or notes:
            lines = [r"\begin{table}[htbp]", r"\centering", *([tag] if tag else []), *lines,
                     r"\end{table}"]
    if layout.landscape:
        lines = [r"\begin{landscape}", *lines, r"\end{landscape}"]
    text = "\n".join(lines)
    kind = layout.kind + (" landscape" if layout.landscape and layout.kind == "split" else "")
    return (f"% {kind}, {len(layout.groups)} column group(s); preamble (every resdepth "
            f"table): {PREAMBLE}\n{text}\n")
