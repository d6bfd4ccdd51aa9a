"""Mutation score per module from mutmut's results (mutants/**/*.py.meta), with equivalents.

    python tools/mutation_score.py [TARGET ...] [--survivors] [--names FILE]

TARGET is a package (``theorems``) or a module (``theorems.counting``); none means every
mutated module. A survivor listed in docs/mutation.md's section "Equivalent mutants" (as
```theorems.m.x_f__mutmut_N```) is an *equivalent* mutant: it computes the same function, so
no test can kill it. The score is

    score = (killed + timeout) / (mutants - equivalent - unchecked),

a timeout (the mutant made the tests run 40 times longer, e.g. a loop that never ends) counting
as detected; "no tests" (no test calls the function) and "other" (mutmut's suspicious or
segfault) count as not detected; "unchecked" mutants (an interrupted or partial run) are left
out of the score and shown, so a partial measurement says so. ``--survivors`` lists the
survivors that are not listed as equivalent. ``--names FILE`` counts only the mutants named
in FILE (one per line, e.g. a uniform sample from ``tools/mutation_sample.py``) and adds the
score's 95% Wilson interval, the uncertainty of a sample's estimate of the whole score.
"""

import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "mutation.md"
NAME = re.compile(r"`((?:theorems|graphs|numerics)\.[^`\s]+__mutmut_\d+)`")
STATUS = {1: "killed", 3: "killed", 0: "survived", 33: "no tests", 5: "no tests",
          36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout"}
COLUMNS = ("mutants", "killed", "timeout", "survived", "equivalent", "no tests", "other",
           "unchecked")


def equivalents() -> set[str]:
    """Mutant names listed in docs/mutation.md's section "Equivalent mutants"."""
    if not DOC.exists():
        return set()
    section = DOC.read_text().partition("\n## Equivalent mutants")[2].partition("\n## ")[0]
    return set(NAME.findall(section))


def results() -> dict[str, dict[str, int | None]]:
    """module name -> {mutant name: mutmut exit code} for every mutated file."""
    out = {}
    for meta in sorted((ROOT / "mutants").glob("**/*.py.meta")):
        module = ".".join(meta.relative_to(ROOT / "mutants").with_suffix("").with_suffix("").parts)
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            out[module] = codes
    return out


def tally(codes: dict[str, int | None], equivalent: set[str]) -> tuple[Counter, list[str]]:
    """Counts by status (a survivor listed as equivalent counts as equivalent), live survivors."""
    counts, alive = Counter(mutants=len(codes)), []
    for name, code in codes.items():
        status = "unchecked" if code is None else STATUS.get(code, "other")
        if status == "survived" and name in equivalent:
            status = "equivalent"
        elif status == "survived":
            alive.append(name)
        counts[status] += 1
    return counts, alive


def score(counts: Counter) -> float:
    """(killed + timeout) / (mutants - equivalent - unchecked); NaN when nothing was checked."""
    live = counts["mutants"] - counts["equivalent"] - counts["unchecked"]
    return (counts["killed"] + counts["timeout"]) / live if live else float("nan")


def wilson(hits: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion hits/total (total > 0)."""
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def selected(module: str, targets: list[str]) -> bool:
    return not targets or any(module == t or module.startswith(t + ".") for t in targets)


def main(argv: list[str]) -> int:
    show = "--survivors" in argv
    argv = [a for a in argv if a != "--survivors"]
    names = None
    if "--names" in argv:
        at = argv.index("--names")
        names = set(Path(argv[at + 1]).read_text().split())
        argv = argv[:at] + argv[at + 2:]
    targets = argv
    if not (ROOT / "mutants").is_dir():
        print("error: no mutants/ folder: run tools/mutation.sh first", file=sys.stderr)
        return 2
    equivalent, by_package, survivors = equivalents(), {}, []
    print(f"{'module':28s}" + "".join(f"{c:>11s}" for c in COLUMNS) + f"{'score':>8s}")
    for module, codes in results().items():
        if not selected(module, targets):
            continue
        if names is not None:
            codes = {name: code for name, code in codes.items() if name in names}
            if not codes:
                continue
        counts, alive = tally(codes, equivalent)
        survivors += alive
        by_package.setdefault(module.split(".")[0], Counter()).update(counts)
        print(f"{module:28s}" + "".join(f"{counts[c]:11d}" for c in COLUMNS)
              + f"{score(counts):8.1%}")
    for package, counts in by_package.items():
        print(f"{package + ' (all)':28s}" + "".join(f"{counts[c]:11d}" for c in COLUMNS)
              + f"{score(counts):8.1%}")
        live = counts["mutants"] - counts["equivalent"] - counts["unchecked"]
        if names is not None and live:
            low, high = wilson(counts["killed"] + counts["timeout"], live)
            print(f"{package}: sample of {counts['mutants']} mutants, score {score(counts):.1%}, "
                  f"95% Wilson interval [{low:.1%}, {high:.1%}]")
    if show:
        print("\n".join(["", "survivors not listed as equivalent:"] + sorted(survivors)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
