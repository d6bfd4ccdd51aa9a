"""Row mutants: does each row of ``validate --quick`` notice a wrong formula (issue 21)?

A row mutant (``tools/row_mutants.toml``) is one deliberately wrong formula: a file, its exact
original text (it must occur exactly once), the replacement, the label whose checks must catch
it and the row (a substring of its claim) that must turn ``fail``. For each mutant this runner

1. copies the repository's tracked files (``git ls-files``) to a fresh temporary folder (the
   working tree is never edited),
2. applies the replacement there,
3. runs ``python -m resdepth validate --quick --only LABEL --out OUT`` in the copy (PYTHONPATH
   the copy; without ``--quick`` for a mutant whose ``mode`` is ``full``), and
4. reads ``OUT/results.json``: the verdicts of the rows whose claim contains the mutant's row
   substring (``killed`` when one of them is ``fail``; ``error`` when no row matches).

``--baseline`` also runs each label once unmutated (the verdicts the mutants are read against).
``--write`` puts the kill matrix into docs/mutation.md between the markers
``<!-- row-mutants:begin -->`` and ``<!-- row-mutants:end -->`` and the raw verdicts into
``tools/row_mutants_results.json``.

    python tools/row_mutants.py --list
    python tools/row_mutants.py --baseline --write          # every mutant (about 1 h on 2 cores)
    python tools/row_mutants.py --only d4-route-e-slack-0.2 --write   # rerun one, keep the rest
    python tools/row_mutants.py --baseline-only --write     # the unmutated column only
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "tools" / "row_mutants.toml"
RESULTS = ROOT / "tools" / "row_mutants_results.json"
DOC = ROOT / "docs" / "mutation.md"
BEGIN, END = "<!-- row-mutants:begin -->", "<!-- row-mutants:end -->"
FIELDS = ("id", "label", "file", "original", "replacement", "row", "why")


def load(path: pathlib.Path = CATALOGUE) -> list[dict]:
    """The catalogue's mutants, each a dict with :data:`FIELDS` (``expect`` optional)."""
    mutants = tomllib.loads(path.read_text())["mutant"]
    ids = set()
    for m in mutants:
        missing = [f for f in FIELDS if not m.get(f)]
        if missing:
            raise ValueError(f"mutant {m.get('id')!r} lacks {missing}")
        if m["id"] in ids:
            raise ValueError(f"duplicate mutant id {m['id']!r}")
        ids.add(m["id"])
        mode_of(m)
    return mutants


def occurrences(mutant: dict, root: pathlib.Path = ROOT) -> int:
    """How often the mutant's original text occurs in its file under ``root``."""
    return (root / mutant["file"]).read_text().count(mutant["original"])


def copy_tree(dest: pathlib.Path) -> None:
    """The tracked files (and untracked, not ignored ones) of the repository, copied to dest."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def apply(mutant: dict, root: pathlib.Path) -> None:
    path = root / mutant["file"]
    text = path.read_text()
    if text.count(mutant["original"]) != 1:
        raise ValueError(f"{mutant['id']}: the original text occurs "
                         f"{text.count(mutant['original'])} times in {mutant['file']}")
    path.write_text(text.replace(mutant["original"], mutant["replacement"]))


MODES = ("quick", "full")


def mode_of(mutant: dict) -> str:
    """The validate budget a mutant is judged at: ``quick`` (default) or ``full`` (for a row
    that has no power at the quick budget, e.g. D5's summary, which judges only points whose
    gain the seeds resolve)."""
    mode = mutant.get("mode", "quick")
    if mode not in MODES:
        raise ValueError(f"mutant {mutant['id']!r}: mode {mode!r} is not one of {MODES}")
    return mode


def baseline_key(label: str, mode: str) -> str:
    """Where the unmutated run of ``label`` at ``mode`` is recorded."""
    return label if mode == "quick" else f"{label} (full)"


def run_label(label: str, mutant: dict | None, timeout: int, mode: str = "quick") -> dict:
    """validate [--quick] --only label in a fresh copy (mutated when ``mutant``): its rows."""
    with tempfile.TemporaryDirectory(prefix="row-mutant-") as tmp:
        root = pathlib.Path(tmp) / "repo"
        copy_tree(root)
        if mutant is not None:
            apply(mutant, root)
        out = pathlib.Path(tmp) / "out"
        env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
        start = time.time()
        try:
            budget = ["--quick"] if mode == "quick" else []
            proc = subprocess.run([sys.executable, "-m", "resdepth", "validate", *budget,
                                   "--only", label, "--out", str(out)], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=timeout)
            code = proc.returncode
            tail = (proc.stderr or proc.stdout)[-400:]
        except subprocess.TimeoutExpired:
            code, tail = None, f"timed out after {timeout} s"
        seconds = time.time() - start
        results = out / "results.json"
        rows = json.loads(results.read_text())["rows"] if results.exists() else []
    return {"exit": code, "seconds": round(seconds, 1), "rows": rows,
            "tail": tail if not rows else ""}


def verdicts(rows: list[dict], substring: str) -> list[str]:
    return [r["verdict"] for r in rows if substring in r["claim"]]


def outcome(found: list[str]) -> str:
    if not found:
        return "error (no such row)"
    return "killed" if "fail" in found else "survived"


def _short(row: dict) -> dict:
    keep = ("claim", "verdict", "statistic", "reason")
    return {k: row[k] for k in keep} | {"power": (row.get("power") or {}).get("value")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated mutant ids")
    parser.add_argument("--baseline", action="store_true",
                        help="also run each label unmutated")
    parser.add_argument("--baseline-only", action="store_true",
                        help="run only the unmutated labels (keep the recorded mutants)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--write", action="store_true",
                        help="write docs/mutation.md's matrix and tools/row_mutants_results.json")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per validate run")
    args = parser.parse_args(argv)
    mutants = load()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m["id"] for m in mutants}
        if unknown:
            parser.error(f"unknown mutant ids {sorted(unknown)}")
        mutants = [m for m in mutants if m["id"] in wanted]
    if args.list:
        for m in mutants:
            print(f"{m['id']:28s} {m['label']:3s} {m['file']}: {m['why']}")
        return 0
    keep = RESULTS.exists() and (args.only or args.baseline_only)
    record = json.loads(RESULTS.read_text()) if keep else {"baseline": {}, "mutants": {}}
    if args.baseline or args.baseline_only:
        for label, mode in sorted({(m["label"], mode_of(m)) for m in mutants}):
            print(f"baseline {label} ({mode}) ...", flush=True)
            res = run_label(label, None, args.timeout, mode)
            record["baseline"][baseline_key(label, mode)] = {"seconds": res["seconds"], "exit": res["exit"],
                                         "rows": [_short(r) for r in res["rows"]]}
    for m in [] if args.baseline_only else mutants:
        print(f"mutant {m['id']} ({m['label']}) ...", flush=True)
        res = run_label(m["label"], m, args.timeout, mode_of(m))
        found = verdicts(res["rows"], m["row"])
        matched = [_short(r) for r in res["rows"] if m["row"] in r["claim"]]
        record["mutants"][m["id"]] = {"label": m["label"], "row": m["row"],
                                      "verdicts": found, "outcome": outcome(found),
                                      "seconds": res["seconds"], "exit": res["exit"],
                                      "matched": matched, "tail": res["tail"]}
        print(f"  {outcome(found)}: {found} ({res['seconds']} s)", flush=True)
    table = matrix(load(), record)
    print(table)
    if args.write:
        RESULTS.write_text(json.dumps(record, indent=1) + "\n")
        write_doc(table)
    return 0


def _cell(text: str) -> str:
    """``text`` inside a Markdown table cell (its pipes escaped)."""
    return text.replace("|", "\\|")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)


def matrix(mutants: list[dict], record: dict) -> str:
    """The kill matrix as Markdown: one line per mutant, its row's verdicts unmutated and
    mutated (every row whose claim contains the substring), and the statistic and power value
    of the row that decided it (the first failing one, else the first)."""
    lines = ["| mutant | label | row (claim contains) | unmutated | mutated | statistic | "
             "power value | outcome | s |", "|---|---|---|---|---|---|---|---|---|"]
    for m in mutants:
        res = record["mutants"].get(m["id"])
        key = baseline_key(m["label"], mode_of(m))
        base = [r["verdict"] for r in record["baseline"].get(key, {}).get("rows", [])
                if m["row"] in r["claim"]]
        if res is None:
            lines.append(f"| `{m['id']}` | {m['label']} | {_cell(m['row'])} | "
                         f"{', '.join(base) or '-'}"
                         " | not run | | | | |")
            continue
        outcome_text = res["outcome"]
        if "fail" in base and outcome_text == "killed":
            outcome_text = "uninformative (fails unmutated)"
        failed = [r for r in res["matched"] if r["verdict"] == "fail"]
        first = (failed or res["matched"] or [{}])[0]
        lines.append(
            f"| `{m['id']}` | {m['label']}{' (full)' if mode_of(m) == 'full' else ''} | {_cell(m['row'])} | {', '.join(base) or '-'} | "
            f"{', '.join(res['verdicts']) or '-'} | {_fmt(first.get('statistic'))} | "
            f"{_fmt(first.get('power'))} | **{outcome_text}** | {res['seconds']:.0f} |")
    def unmutated_fails(m):
        return any(r["verdict"] == "fail" and m["row"] in r["claim"]
                   for r in record["baseline"].get(baseline_key(m["label"], mode_of(m)),
                                                   {}).get("rows", []))

    killed = sum(1 for m in mutants if record["mutants"].get(m["id"], {}).get("outcome")
                 == "killed" and not unmutated_fails(m))
    ran = sum(1 for m in mutants if m["id"] in record["mutants"])
    lines.append("")
    lines.append(f"Killed {killed} of {ran} mutants run ({len(mutants)} in the catalogue); a "
                 "mutant whose row already fails unmutated is not counted as killed.")
    return "\n".join(lines)


def write_doc(table: str) -> None:
    text = DOC.read_text()
    block = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
