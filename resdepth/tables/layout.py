r"""Fitting a LaTeX table to the page: width estimates, a short key for long text, landscape or split.

A table for a paper must fit the text width of an article with 1-inch margins (A4: 453 pt,
letter: 470 pt; :data:`TEXT_WIDTH` takes the smaller). :func:`plan` estimates each column's
natural width from the LaTeX of its cells (Computer Modern 10 pt: digits and lower-case letters
5 pt, capitals 7.5 pt, math operators with their spacing 13 pt, scripts at 85 %, fractions the
wider of numerator and denominator; every estimate errs on the wide side, and the tests compile
every table with pdflatex and check its log for overfull boxes) plus the 12 pt of ``\tabcolsep``
on either side, and chooses:

- **portrait**: the table fits :data:`TEXT_WIDTH`;
- **landscape**: it fits :data:`LANDSCAPE_WIDTH` (the text height, on a page turned by
  ``pdflscape``);
- **split**: the columns are dealt, in order, into groups that each fit :data:`TEXT_WIDTH`, the
  first column (the row's name) repeated in every group; the groups stack under one caption.

Long text (a cell over :data:`~resdepth.tables.formats.LONG_TEXT` characters, such as a source)
never runs off the page: it becomes a short key ``[1]``, ``[2]``, ... in the table and the texts
are listed under it (:func:`keyed`).

>>> round(tex_width("$1.072 \\times 10^{301}$"))  # pdflatex sets it 57 pt wide
60
>>> plan([40.0] * 5).kind, plan([40.0] * 11).kind, [len(g) for g in plan([80.0] * 12).groups]
('portrait', 'landscape', [4, 4, 4, 3])
"""

import re
from dataclasses import dataclass

TEXT_WIDTH = 440.0
"""Points a table may take: the text width of an article with 1-inch margins on A4, 453 (letter
gives 470), less 13 for the estimate's error."""
LANDSCAPE_WIDTH = 630.0
"""Points across a landscape page of that article (letter's text height, 650, less a margin)."""
PAD = 12.0
"""Points of ``\\tabcolsep`` (6 pt) on either side of a column."""
_CHAR = {"upper": 7.5, "lower": 5.0, "digit": 5.0, "space": 3.4, "other": 4.2}
_OPERATORS = {"+": 13.0, "-": 13.0, "=": 14.0, "<": 14.0, ">": 14.0}
_COMMANDS = {"times": 13.0, "cdot": 8.0, "infty": 10.0, "sim": 14.0, "le": 14.0, "ge": 14.0,
             "leq": 14.0, "geq": 14.0, ",": 1.7, ";": 2.8, "quad": 10.0, "lVert": 5.0,
             "rVert": 5.0, "lvert": 3.0, "rvert": 3.0, "left": 0.0, "right": 0.0}
_GROUPING = {"mathrm", "text", "mathit", "mathbf", "operatorname", "textrm"}
_OPERATOR_NAMES = {"lim", "log", "exp", "sin", "cos", "max", "min", "sup", "inf", "ln", "det"}
_SPECIAL_TEXT = {"textbackslash": 5.0, "textasciitilde": 5.0, "textasciicircum": 5.0}


def _char(ch: str, math: bool = False) -> float:
    if ch.isdigit():
        return _CHAR["digit"]
    if ch in "mwMW":
        return 9.0 if math else 8.4
    if ch.isupper():
        return _CHAR["upper"]
    if ch.isalpha():
        return 6.0 if math else _CHAR["lower"]
    return _CHAR["space"] if ch == " " else _CHAR["other"]


def _group(text: str, i: int) -> tuple[str, int]:
    """The braced group starting at ``text[i]`` (or the single character there) and the index
    after it."""
    if i >= len(text):
        return "", i
    if text[i] != "{":
        return text[i], i + 1
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j], j + 1
    return text[i + 1:], len(text)


def _math(text: str) -> float:
    """Estimated width in points of math-mode LaTeX ``text``."""
    width, i = 0.0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", text[i:])
            name, i = match.group(1), i + len(match.group(0))
            if name in ("frac", "binom", "tfrac", "dfrac"):
                top, i = _group(text, i)
                bottom, i = _group(text, i)
                width += 0.85 * max(_math(top), _math(bottom)) + (10.0 if name == "binom" else 3.0)
            elif name == "sqrt":
                inside, i = _group(text, i)
                width += _math(inside) + 9.0
            elif name in _GROUPING:
                inside, i = _group(text, i)
                width += _text(inside)
            elif name in _OPERATOR_NAMES:
                width += _text(name) + 3.0
            else:
                width += _COMMANDS.get(name, 6.5)
        elif ch in "^_":
            inside, i = _group(text, i + 1)
            width += 0.85 * _math(inside)
        elif ch in "{}":
            i += 1
        else:
            width += _OPERATORS.get(ch, _char(ch, math=True) if ch != " " else 0.0)
            i += 1
    return width


def _text(text: str) -> float:
    """Estimated width in points of text-mode LaTeX ``text`` (with ``$...$`` math inside)."""
    width = 0.0
    for k, part in enumerate(re.split(r"(?<!\\)\$", text)):
        if k % 2:
            width += _math(part)
            continue
        part = re.sub(r"\\(" + "|".join(_SPECIAL_TEXT) + r")\{\}", "~", part)
        part = re.sub(r"\\([&%$#_{}])", r"\1", part)
        width += sum(_char(ch) for ch in part)
    return width


def tex_width(text: str) -> float:
    """Estimated natural width in points of one cell's LaTeX (see the module docstring)."""
    return _text(text)


@dataclass(frozen=True)
class Plan:
    """How a table is set: ``kind`` (portrait, landscape or split), the column ``groups``
    (indices into the columns; one group unless split) and whether the page is turned (a split
    table whose widest column does not fit the portrait width with the first column beside it)."""

    kind: str
    groups: tuple[tuple[int, ...], ...]
    landscape: bool = False


def _deal(widths: list[float], room: float) -> tuple[tuple[int, ...], ...]:
    """Columns 1.. dealt in order into groups of at most ``room`` points, column 0 in each."""
    first = widths[0] + PAD
    groups, current, used = [], [0], first
    for i in range(1, len(widths)):
        if used + widths[i] + PAD > room and len(current) > 1:
            groups.append(tuple(current))
            current, used = [0], first
        current.append(i)
        used += widths[i] + PAD
    groups.append(tuple(current))
    return tuple(groups)


def plan(widths: list[float]) -> Plan:
    """The layout of a table whose columns have natural ``widths`` in points (padding
    excluded; see the module docstring)."""
    total = sum(w + PAD for w in widths)
    every = tuple(range(len(widths)))
    if total <= TEXT_WIDTH:
        return Plan("portrait", (every,))
    if total <= LANDSCAPE_WIDTH:
        return Plan("landscape", (every,), landscape=True)
    widest = widths[0] + max(widths[1:]) + 2 * PAD
    turned = widest > TEXT_WIDTH
    return Plan("split", _deal(widths, LANDSCAPE_WIDTH if turned else TEXT_WIDTH), turned)


def keyed(column: list, long: int, notes: list[str]) -> list:
    """``column`` with its text cells longer than ``long`` characters replaced by keys ``[1]``,
    ``[2]``, ...: one per distinct text, numbered by its place in ``notes`` (appended to)."""
    out = []
    for value in column:
        if isinstance(value, str) and len(value) > long:
            if value not in notes:
                notes.append(value)
            out.append(f"[{notes.index(value) + 1}]")
        else:
            out.append(value)
    return out
