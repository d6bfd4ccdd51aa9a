"""From run records to the Table-1 analogue and to S7's rows (a)-(f).

A *record* is one grid entry (:class:`resdepth.experiment.grid.Entry`) with its training
outcome (:func:`resdepth.experiment.measure.outcome`) and, where measured, ``measurements``
(``initial`` and ``trained``). Accuracy means final test accuracy, a diverged run counting at
chance (1/classes). "Trains" means a mean accuracy of at least tau = chance + (ref - chance)/2,
halfway from chance to ref, the best rule's mean at the grid's smallest depth: what this budget
can reach. The tuned rule takes, per depth, the a of TUNED_A with the lowest mean final training
loss (diverged runs count as infinite loss), never the best test accuracy.
"""

import math
from collections import defaultdict

from resdepth.experiment.grid import RULES, TUNED_A
from resdepth.experiment.stats import interval

__all__ = ["SCALED", "accuracy_table", "lam_of", "paired", "trains_threshold"]

SCALED = ("inv-sqrt", "inv", "learnable", "fixup", "mup")
"""The rules S7(b) says train at every depth (a/sqrt(n), a/n, learnable from zero, Fixup,
depth-muP's a/sqrt(n))."""
UNNORMALISED = ("none", "inv-sqrt", "inv", "tuned", "learnable", "fixup", "mup")
NORMALISED = ("pre-ln", "batch")


def lam_of(record: dict) -> float | None:
    """lam at initialisation of a fixed-lam unnormalised rule (none, inv-sqrt, tuned, inv)."""
    n, a = record["depth"], record["a"]
    return {"none": a, "inv-sqrt": a / math.sqrt(n), "tuned": a / math.sqrt(n),
            "inv": a / n}.get(record["rule"])


def _grid(records) -> list[dict]:
    return [r for r in records if r["group"] == "grid"]


def _by_seed(records, rule: str, depth: int, a: float | None = None) -> dict[int, dict]:
    return {r["seed"]: r for r in records if r["rule"] == rule and r["depth"] == depth
            and (a is None or r["a"] == a)}


def _mean_train_loss(runs: dict[int, dict]) -> float:
    losses = [r["final_train_loss"] for r in runs.values()]
    return math.inf if any(v is None for v in losses) else sum(losses) / len(losses)


def tuned_choice(records, depth: int) -> float | None:
    """The a of TUNED_A with the lowest mean final training loss at ``depth`` (None if absent)."""
    options = {a: _by_seed(records, "tuned", depth, a) for a in TUNED_A}
    options = {a: runs for a, runs in options.items() if runs}
    if not options:
        return None
    return min(options, key=lambda a: (_mean_train_loss(options[a]), a))


def runs_of(records, rule: str, depth: int) -> dict[int, dict]:
    """The grid runs of ``rule`` at ``depth`` by seed (tuned: its chosen a)."""
    grid = _grid(records)
    if rule == "tuned":
        a = tuned_choice(grid, depth)
        return {} if a is None else _by_seed(grid, "tuned", depth, a)
    return _by_seed(grid, rule, depth)


def accuracy_table(records) -> dict[tuple[str, int], dict]:
    """(rule, depth) -> accuracy interval, diverged count, runs, the seeds' values (and a)."""
    grid = _grid(records)
    table = {}
    for rule in RULES:
        for depth in sorted({r["depth"] for r in grid}):
            runs = runs_of(records, rule, depth)
            if not runs:
                continue
            values = {s: r["final_test_acc"] for s, r in runs.items()}
            table[rule, depth] = {
                "interval": interval(values.values()), "values": values,
                "diverged": sum(r["diverged"] for r in runs.values()), "runs": len(runs),
                "a": next(iter(runs.values()))["a"],
                "steps_to_target": [r["steps_to_target"] for r in runs.values()],
            }
    return table


def trains_threshold(table, chance: float) -> tuple[float, float]:
    """(tau, ref): ref the best mean accuracy at the smallest depth, tau halfway from chance."""
    smallest = min(depth for _, depth in table)
    ref = max(cell["interval"].mean for (_, depth), cell in table.items() if depth == smallest)
    return chance + (ref - chance) / 2, ref


def paired(table, first: str, second: str, depth: int) -> list[float]:
    """acc(first) - acc(second) per seed both have at ``depth``."""
    a, b = table[first, depth]["values"], table[second, depth]["values"]
    return [a[s] - b[s] for s in sorted(set(a) & set(b))]


def best_unnormalised(table, depth: int) -> str:
    """The unnormalised rule with the highest mean accuracy at ``depth``."""
    present = [r for r in UNNORMALISED if (r, depth) in table]
    return max(present, key=lambda r: table[r, depth]["interval"].mean)


def gc_curves(records, tau: float = -math.inf) -> dict[int, list[dict]]:
    """depth -> [{lam, values: log10 GC after training, one per seed}] sorted by lam, from the
    fixed-lam unnormalised rules' runs that trained (final test accuracy >= ``tau``; a run that
    never left its initialisation has no trained GC to speak of), diverged runs left out."""
    pooled = defaultdict(dict)
    for r in _grid(records):
        lam = lam_of(r)
        if r["final_test_acc"] < tau:
            continue
        trained = (r.get("measurements") or {}).get("trained") or {}
        gc = trained.get("gc")
        if lam is not None and gc is not None and gc > 0 and math.isfinite(gc):
            # one value per seed: equal lam and seed is the same network (inv-sqrt and tuned
            # a = 1 share a run; constant 1 and a = 4 at n = 16 train identical models)
            pooled[r["depth"], round(lam, 12)][r["seed"]] = math.log10(gc)
    curves = defaultdict(list)
    for (depth, lam), by_seed in sorted(pooled.items()):
        curves[depth].append({"lam": lam, "values": [by_seed[s] for s in sorted(by_seed)]})
    return dict(curves)
