"""Tables as text in one of :data:`~resdepth.tables.formats.FORMATS`: Markdown, CSV and JSON from
:mod:`resdepth.tables.formats`, LaTeX (booktabs) from :mod:`resdepth.tables.latex`.

This module sits above both, so that neither imports the other's renderer (no import cycle).
"""

from resdepth.tables.formats import FORMATS, Table, csv_text, json_text, markdown
from resdepth.tables.latex import latex

__all__ = ["render"]


def render(rows, fmt: str = "md") -> str:
    """The rows (a list of dicts or a :class:`Table`) as text in ``fmt``, ending with a newline.

    >>> print(render([{"depth": 1, "paths": 2}], "csv"), end="")
    depth,paths
    1,2
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    table = rows if isinstance(rows, Table) else Table(rows, fold_constants=False)
    writers = {"md": markdown, "csv": csv_text, "json": json_text, "latex": latex}
    return writers[fmt](table)
