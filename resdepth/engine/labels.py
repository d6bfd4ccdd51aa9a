"""THEORY.md's statements by label: the short title and the kind of each (R1..R5, S1..S7, D1..D5).

The report uses these for headings and for rows that no check wrote (a label with no check
registered, a check that raised before it could say what it measured).

>>> TITLES["S2"], KIND["S2"]
('signal growth at random initialisation', 'expectation')
"""

from resdepth.engine.registry import LABELS

TITLES = {
    "R1": "linear path expansion",
    "R2": "gated path expansion",
    "R3": "hierarchical (tree) expansion",
    "R4": "counting the implicit ensemble",
    "R5": "Jacobian expansion",
    "S1": "worst-case Lipschitz bound",
    "S2": "signal growth at random initialisation",
    "S3": "pre-normalisation: linear growth",
    "S4": "module scaling principle",
    "S5": "normalisation-free schemes",
    "S6": "capacity after training",
    "S7": "trained depth scaling",
    "D1": "function preservation under expansion",
    "D2": "first-order descent (jumpboard)",
    "D3": "norm-based Rademacher bound",
    "D4": "two test-risk guarantees",
    "D5": "joint scaling of expansion",
}

KIND = {
    "R1": "exact", "R2": "exact", "R3": "exact", "R4": "exact", "R5": "exact",
    "S1": "bound", "S2": "expectation", "S3": "expectation", "S4": "exact", "S5": "exact",
    "S6": "empirical", "S7": "empirical",
    "D1": "exact", "D2": "exact", "D3": "bound", "D4": "bound", "D5": "empirical",
}

assert tuple(TITLES) == LABELS and tuple(KIND) == LABELS


def select(text: str | None) -> tuple[str, ...]:
    """The labels named in ``text`` (comma-separated; R, S or D alone selects a family).

    >>> select("S2,R1,D")
    ('R1', 'S2', 'D1', 'D2', 'D3', 'D4', 'D5')
    """
    if text is None:
        return LABELS
    chosen = set()
    for part in (p.strip().upper() for p in text.split(",")):
        if part in ("R", "S", "D"):
            chosen |= {label for label in LABELS if label.startswith(part)}
        elif part in LABELS:
            chosen.add(part)
        else:
            raise ValueError(
                f"--only: unknown label {part!r}; use THEORY.md labels such as R1,S2 or a family R, S, D"
            )
    return tuple(label for label in LABELS if label in chosen)
