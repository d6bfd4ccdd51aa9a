"""Render a table (a list of row dicts with the same keys) as md, csv, latex or json.

Exact integers stay exact in every format (JSON integers have no size limit); floats are
written with ``repr`` precision in csv/json and 6 significant digits in md/latex. JSON is an
array with one object per line (greppable, and quick to write for 20,000 rows). JSON never
holds NaN or infinity: a non-finite float is an error, since a table should not contain one.
"""

import csv
import io
import json
import math

FORMATS = ("md", "csv", "latex", "json")


def render(rows: list[dict], fmt: str = "md") -> str:
    """The rows as text in ``fmt`` (one of :data:`FORMATS`), ending with a newline.

    >>> print(render([{"depth": 1, "paths": 2}], "csv"), end="")
    depth,paths
    1,2
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return {"md": _markdown, "csv": _csv, "latex": _latex, "json": _json}[fmt](rows)


def _columns(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns


def _short(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _markdown(rows: list[dict]) -> str:
    columns = _columns(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_short(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def _latex(rows: list[dict]) -> str:
    columns = _columns(rows)
    body = [" & ".join(_latex_cell(row.get(c)) for c in columns) + r" \\" for row in rows]
    head = " & ".join(c.replace("_", r"\_") for c in columns) + r" \\"
    return "\n".join(
        [r"\begin{tabular}{" + "r" * len(columns) + "}", r"\hline", head, r"\hline", *body,
         r"\hline", r"\end{tabular}"]
    ) + "\n"


def _latex_cell(value) -> str:
    return _short(value).replace("_", r"\_").replace("%", r"\%")


def _json(rows: list[dict]) -> str:
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"column {key!r} holds {value}, which JSON cannot represent")
    encode = json.JSONEncoder(allow_nan=False).encode
    return "[\n" + ",\n".join(map(encode, rows)) + "\n]\n"


def write_or_print(text: str, out: str | None) -> None:
    """Write ``text`` to the file ``out``, or to stdout when ``out`` is None."""
    if out is None:
        print(text, end="")
        return
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(text)
