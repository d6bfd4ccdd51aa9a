r"""The table model (Table, Pivot, Grid, number formats) and its md, csv and json writers.

:func:`resdepth.tables.render.render` picks the writer by format (LaTeX lives in
:mod:`resdepth.tables.latex`, which builds on this module).

A table is a list of row dicts with the same keys. :class:`Table` is such a list that also says
how a person should read it: a caption, a label, column headers (text with ``$...$`` math, valid
in Markdown and LaTeX alike), LaTeX names for SymPy symbols, an optional wide layout
(:class:`Pivot`) and machine-only columns.

- **csv, json** (machine formats) write every column of every row, one row per record. Exact
  integers stay exact (JSON integers have no size limit); floats keep ``repr`` precision; a
  SymPy value is written as its ``str`` (SymPy parses it back: ``exp(a**2*sigma2)``, ``1/6``,
  ``oo``); a :class:`Scientific` number stays its string. JSON is an array with one object per
  line (greppable, and quick to write for 20,000 rows) and never holds NaN or infinity: a
  non-finite float is an error, since a table should not contain one.
- **md, latex** (for people) follow the layout, drop columns that are empty in every row and
  move those that are the same in every row into the caption. Values are typeset: exact
  integers in full (LaTeX groups digits with thin spaces), floats to 6 significant digits, or
  past 10^6 and below 10^-4 as a 4-digit mantissa times a power of ten (``1.268×10³⁰``,
  ``$1.268 \times 10^{30}$``), SymPy values by SymPy's LaTeX printer in math mode (md shows rationals as
  ``p/q``), booleans as yes/no, text with LaTeX's specials escaped (``De \& Smith``) or md's
  ``|`` escaped. The LaTeX is a ``table`` float (a ``longtable`` past
  :data:`LONG_TABLE_ROWS` lines) with booktabs rules, a caption and a label, fitted to the
  page by :mod:`resdepth.tables.layout`; it needs the one preamble line
  :data:`resdepth.tables.latex.PREAMBLE`, as its first line says.
"""

import csv
import io
import json
import math
from dataclasses import dataclass, field

FORMATS = ("md", "csv", "latex", "json")
DIGITS = 6
"""Significant digits of a float people read without a power of ten (md and latex)."""
SCI_DIGITS = 4
"""Significant digits of the mantissa where a power of ten is written (1.995 x 10^3010)."""
LONG_TABLE_ROWS = 40
"""Body lines beyond which the LaTeX is a ``longtable`` (it breaks across pages)."""
LONG_TEXT = 40
"""Text cells longer than this get a wrapping LaTeX column."""


class Scientific(str):
    """A positive number beyond the float range written ``"m.mmme+E"`` (from its log10).

    It stays this string in csv and json; people see ``m × 10^E``.

    >>> Scientific("1.99506311688e+3010").parts(4)
    ('1.995', 3010)
    """

    def parts(self, digits: int = 4) -> tuple[str, int]:
        """Mantissa to ``digits`` significant digits, and the exponent of ten."""
        mantissa, exponent = self.split("e")
        return _mantissa(float(mantissa), int(exponent), digits)


def _mantissa(mantissa: float, exponent: int, digits: int) -> tuple[str, int]:
    """``mantissa`` in [1, 10) to ``digits`` significant digits, carrying a rounding to 10."""
    text = f"{mantissa:.{digits}g}"
    if abs(float(text)) >= 10:
        text, exponent = f"{float(text) / 10:.{digits}g}", exponent + 1
    return text, exponent


@dataclass(frozen=True)
class Pivot:
    """Wide layout for people: one line per value of ``row``, one column per value of
    ``column`` (headed ``symbol = value`` in md, under a spanning header in LaTeX), one panel
    per key of ``values``."""

    row: str
    column: str
    values: tuple[str, ...]
    symbol: str


class Table(list):
    """A list of row dicts that also carries its caption, label, headers and layout."""

    def __init__(self, rows=(), *, caption: str = "", label: str = "", headers=None,
                 symbols=None, pivot: Pivot | None = None, machine_only=(),
                 fold_constants: bool = True):
        super().__init__(rows)
        self.caption, self.label, self.pivot = caption, label, pivot
        self.headers = dict(headers or {})
        self.symbols = dict(symbols or {})
        self.machine_only = tuple(machine_only)
        self.fold_constants = fold_constants

    def header(self, key: str) -> str:
        """The header people see for column ``key`` (default: the key with spaces)."""
        return self.headers.get(key, key.replace("_", " "))


def sympy_latex(value, symbols: dict) -> str:
    """SymPy's LaTeX for ``value``, symbols renamed by ``symbols`` (name -> LaTeX)."""
    import sympy as sp

    names = {s: symbols[s.name] for s in getattr(value, "free_symbols", ()) if s.name in symbols}
    return sp.latex(value, symbol_names=names, fold_frac_powers=True)


def columns(rows: list[dict]) -> list[str]:
    """Every key of the rows, in first-seen order."""
    names: list[str] = []
    for row in rows:
        names.extend(key for key in row if key not in names)
    return names


def is_sympy(value) -> bool:
    """Whether ``value`` is a SymPy object (checked without importing SymPy)."""
    return type(value).__module__.startswith("sympy")


def _plain(value):
    """A SymPy value (or Fraction) as the text SymPy parses back; for csv and json."""
    if is_sympy(value) or type(value).__name__ == "Fraction":
        return str(value)
    raise TypeError(f"a table cell holds {type(value).__name__}, which JSON cannot represent")


def csv_text(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(table), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in table)
    return buffer.getvalue()


def json_text(table: Table) -> str:
    for row in table:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"column {key!r} holds {value}, which JSON cannot represent")
    encode = json.JSONEncoder(allow_nan=False, default=_plain).encode
    return "[\n" + ",\n".join(map(encode, table)) + "\n]\n"


@dataclass
class Grid:
    """What people see of a table: headers, panels of lines of raw values, caption constants.

    ``heads`` are the column headers (under ``span`` when there is one: the wide layout's
    header over every column but the first); ``flat_heads`` the same, each standing alone.
    """

    heads: list[str]
    flat_heads: list[str]
    numeric: list[bool]
    span: str | None = None
    sections: list[tuple[str | None, list[list]]] = field(default_factory=list)
    constants: list[tuple[str, object]] = field(default_factory=list)

    @property
    def n_lines(self) -> int:
        return sum(len(lines) + (title is not None) for title, lines in self.sections)


def grid(table: Table) -> Grid:
    """The layout people see (see :class:`Grid`), shared by md and latex."""
    shown = [c for c in columns(table) if c not in table.machine_only
             and any(row.get(c) is not None for row in table)]
    constants = _constants(table, shown)
    folded = [(table.header(c), table[0][c]) for c in constants]
    if table.pivot is not None:
        return _wide(table, folded)
    keep = [c for c in shown if c not in constants]
    body = [[row.get(c) for c in keep] for row in table]
    heads = [table.header(c) for c in keep]
    numeric = [_numeric([line[i] for line in body]) for i in range(len(keep))]
    return Grid(heads, heads, numeric, sections=[(None, body)], constants=folded)


def _constants(table: Table, shown: list[str]) -> list[str]:
    """Columns with one value (of one type) in every row, when the table folds them."""
    if not table.fold_constants or len(table) < 2:
        return []
    pivot = table.pivot
    fixed = set() if pivot is None else {pivot.row, pivot.column, *pivot.values}
    first = table[0]
    return [c for c in shown if c not in fixed and all(
        c in row and type(row[c]) is type(first.get(c)) and row[c] == first.get(c)
        for row in table)]


def _wide(table: Table, folded) -> Grid:
    pivot = table.pivot
    lines = list(dict.fromkeys(row[pivot.row] for row in table))
    across = list(dict.fromkeys(row[pivot.column] for row in table))
    cells = {(row[pivot.row], row[pivot.column]): row for row in table}
    sections = [(table.header(key), [[line, *(cells.get((line, c), {}).get(key) for c in across)]
                                     for line in lines]) for key in pivot.values]
    heads = [table.header(pivot.row), *map(str, across)]
    flat = [table.header(pivot.row), *(f"${pivot.symbol} = {c}$" for c in across)]
    return Grid(heads, flat, [True] * len(heads), table.header(pivot.column), sections, folded)


def _numeric(values: list) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(is_number(v) for v in present)


def is_number(value) -> bool:
    """Whether a cell is a number (typeset right-aligned): int, float, Scientific, rational."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, Scientific)) or type(value).__name__ == "Fraction":
        return True
    return is_sympy(value) and bool(getattr(value, "is_number", False))


def mantissa_exponent(value) -> tuple[str, int | None]:
    """A finite float or Scientific for people: :data:`DIGITS` significant digits, or a
    mantissa of :data:`SCI_DIGITS` and the exponent of ten (None when written without one).

    >>> mantissa_exponent(13780.61), mantissa_exponent(1.2676506e30), mantissa_exponent(9.99996e-9)
    (('13780.6', None), ('1.268', 30), ('1', -8))
    """
    if isinstance(value, Scientific):
        return value.parts(SCI_DIGITS)
    text = f"{value:.{DIGITS}g}"
    if "e" not in text:
        return text, None
    mantissa, exponent = text.split("e")
    return _mantissa(float(mantissa), int(exponent), SCI_DIGITS)


def caption_text(table: Table, found: Grid, cell) -> str:
    """The caption, with the folded constant columns appended as ``header = value``."""
    if not found.constants:
        return table.caption
    given = "; ".join(f"{head} = {cell(value, table.symbols)}" for head, value in found.constants)
    return f"{table.caption} In every row: {given}.".strip()


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def md_cell(value, symbols: dict) -> str:
    """One value as Markdown text (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (float, Scientific)):
        if isinstance(value, float) and not math.isfinite(value):
            return "∞" if value > 0 else ("−∞" if value < 0 else "NaN")
        mantissa, exponent = mantissa_exponent(value)
        return mantissa if exponent is None else f"{mantissa}×10{str(exponent).translate(_SUPERSCRIPT)}"
    if is_sympy(value):
        if getattr(value, "is_Rational", False):
            return str(value)
        return f"${sympy_latex(value, symbols)}$"
    return str(value).replace("|", r"\|")


def markdown(table: Table) -> str:
    found = grid(table)
    out = []
    caption = caption_text(table, found, md_cell)
    if caption:
        out += [f"Table: {caption}", ""]
    rule = "|" + "|".join("---:" if num else ":---" for num in found.numeric) + "|"
    for title, lines in found.sections:
        if title is not None:
            out += [f"**{title}**", ""]
        out += ["| " + " | ".join(found.flat_heads) + " |", rule]
        out += ["| " + " | ".join(md_cell(v, table.symbols) for v in line) + " |" for line in lines]
        out.append("")
    return "\n".join(out[:-1]) + "\n"


def write_or_print(text: str, out: str | None) -> None:
    """Write ``text`` to the file ``out``, or to stdout when ``out`` is None."""
    if out is None:
        print(text, end="")
        return
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(text)
