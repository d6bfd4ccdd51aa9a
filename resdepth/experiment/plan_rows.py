"""S7's rows (a)-(f) as docs/S7_plan.md registers them, Holm-corrected within each family.

Inputs: ``table`` ((rule, depth) -> cell: ``lr`` chosen on validation, ``censored``, ``test``
{seed: test accuracy of the chosen configuration}), the validation ``records``
(:mod:`resdepth.experiment.selection`), tau (halfway from chance to the best rule's mean
*validation* accuracy at the smallest depth: fixed before the test set is read) and n_a
(S7(a)'s depth, :mod:`theorems.trained_scaling`, from the initial embedding energy).

Families and comparators (all fixed in the plan): (a) lam = 1 trains (test accuracy > tau) at
every grid depth below n_a and fails (< tau) at every depth >= n_a; (b) each scaled rule trains
at every depth (one family over rules x depths); (c) inv-sqrt - inv > 0 at the largest depth,
paired by seed; (d) pre-ln and batch each non-inferior to inv-sqrt (1/sqrt(n), the comparator
fixed in advance) by DEFICIT = 2 points at every depth, refuted when significantly below it,
paired by seed (one family); (e) log10 GC after training against lam = n^(-beta), seven beta:
reading 1, a single peak (no interior point significantly below the best point on each side),
reading 2, a single dip (no interior point significantly above the lowest on each side), one
family; (f) spread over depths of log2 of the best sweep rate, constant lam = 1/2 minus
depth-muP, > 0, 95% BCa interval over seeds (a censored optimum makes it inconclusive).
"""

import math

import numpy as np

from resdepth.engine.rows import CheckResult, Criterion, Power, row_error
from resdepth.experiment.holm import Claim, family_row

__all__ = ["DEFICIT", "SCALED", "plan_rows"]

DEFICIT = 0.02
SCALED = ("inv-sqrt", "inv", "learnable", "fixup", "mup")
BASELINES = ("pre-ln", "batch")


def _test(table, rule, depth) -> list[float]:
    cell = table[rule, depth]
    return [cell["test"][s] for s in sorted(cell["test"])]


def _paired(table, first, second, depth) -> list[float]:
    a, b = table[first, depth]["test"], table[second, depth]["test"]
    return [a[s] - b[s] for s in sorted(set(a) & set(b))]


def row_a(table, tau: float, n_a: int) -> CheckResult:
    """(a) as a transition at n_a: every grid depth below n_a trains, every one at or beyond
    fails. A grid on one side of n_a tests that side only (details: ``bracketed``)."""
    depths = sorted(d for r, d in table if r == "none")
    claim = (f"S7(a) lam = 1, no normalisation, trains (test accuracy > tau = {tau:.3f}) at every "
             f"depth below n_a = {n_a} and fails at every depth >= n_a (S2's E||x_n||^2 = "
             f"2^n E||x_0||^2 leaves float32's range there); grid {depths}")
    if not depths:
        return row_error("S7", "empirical", claim, "skipped", "lam = 1 was not trained")
    claims = [Claim(f"depth {d}: {'fails' if d >= n_a else 'trains'}", _test(table, "none", d),
                    tau, "below" if d >= n_a else "above",
                    censored=table["none", d]["censored"]) for d in depths]
    return family_row(claim, claims, prediction=n_a, alternative=(
        "a transition away from n_a: lam = 1 failing below it or training beyond it"),
        details={"depths": depths, "bracketed": any(d < n_a for d in depths)
                 and any(d >= n_a for d in depths)})


def row_b(table, tau: float) -> list[CheckResult]:
    rules = [r for r in SCALED if any(k[0] == r for k in table)]
    family = {r: [Claim(f"depth {d}", _test(table, r, d), tau,
                        censored=table[r, d]["censored"])
                  for d in sorted(d for q, d in table if q == r)] for r in rules}
    flat = [c for claims in family.values() for c in claims]
    return [family_row(f"S7(b) {r} trains (test accuracy > tau = {tau:.3f}) at every depth",
                       claims, prediction=tau, family=flat, details={"rule": r},
                       alternative=f"{r} at or below tau at some depth")
            for r, claims in family.items()]


def row_c(table) -> CheckResult | None:
    depths = [d for r, d in table if r == "inv-sqrt" and ("inv", d) in table]
    if not depths:
        return None
    depth = max(depths)
    censored = table["inv-sqrt", depth]["censored"] or table["inv", depth]["censored"]
    claim = Claim(f"depth {depth}", _paired(table, "inv-sqrt", "inv", depth), 0.0,
                  censored=censored)
    return family_row(f"S7(c) at the largest depth n = {depth}, lam = 1/sqrt(n) reaches higher "
                      f"test accuracy than lam = 1/n (paired by seed)", [claim], prediction=0.0,
                      details={"depth": depth}, alternative="no difference, or 1/n ahead")


def row_d(table) -> list[CheckResult]:
    present = [b for b in BASELINES if any(k[0] == b for k in table)]
    family = {b: [Claim(f"depth {d}", _paired(table, b, "inv-sqrt", d), 0.0, margin=DEFICIT,
                        censored=table[b, d]["censored"] or table["inv-sqrt", d]["censored"])
                  for d in sorted(d for q, d in table if q == b and ("inv-sqrt", d) in table)]
              for b in present}
    flat = [c for claims in family.values() for c in claims]
    return [family_row(f"S7(d) {b} at least matches lam = 1/sqrt(n) at every depth (paired test "
                       f"accuracy difference: shown when above -{DEFICIT}, refuted when below 0)",
                       claims, prediction=0.0, family=flat, details={"baseline": b},
                       alternative=f"a deficit of {DEFICIT} or more against 1/sqrt(n)")
            for b, claims in family.items() if claims]


def gc_points(records, tau: float) -> dict[int, list[tuple[float, dict[int, float]]]]:
    """depth -> [(lam, {seed: log10 GC after training})] of the lam sweep's cells whose every
    seed trained (validation accuracy > tau) with a finite positive GC, sorted by lam."""
    cells: dict = {}
    for r in records:
        if r["group"] != "lam":
            continue
        gc = ((r.get("measurements") or {}).get("trained") or {}).get("gc")
        ok = gc is not None and gc > 0 and math.isfinite(gc) and r["val_acc"] > tau
        cell = cells.setdefault((r["depth"], r["lam"]), {})
        cell[r["seed"]] = math.log10(gc) if ok else None
    curves: dict = {}
    for (depth, lam), by_seed in sorted(cells.items()):
        if by_seed and all(v is not None for v in by_seed.values()):
            curves.setdefault(depth, []).append((lam, by_seed))
    return curves


def _extreme_claims(curve, depth: int, sign: float, what: str) -> list[Claim]:
    """Interior points j significantly below (sign 1: a dip) or above (-1: a peak) the most
    extreme point on each side, paired by seed: the claim "not so" is shown when either side's
    difference is significantly small."""
    seeds = sorted(set.intersection(*(set(v) for _, v in curve)))
    means = [float(np.mean([v[s] for s in seeds])) for _, v in curve]
    claims = []
    for j in range(1, len(curve) - 1):
        sides = []
        for side in (range(j), range(j + 1, len(curve))):
            i = max(side, key=lambda i: sign * means[i])
            sides.append([sign * (curve[i][1][s] - curve[j][1][s]) for s in seeds])
        # the smaller side decides whether j is a dip (peak); the claim is "j is not one"
        weak = min(sides, key=lambda diffs: float(np.mean(diffs)))
        claims.append(Claim(f"depth {depth}, lam {curve[j][0]:.3g}: no interior {what}", weak,
                            0.0, "below"))
    return claims


def row_e(records, tau: float) -> list[CheckResult]:
    curves = {d: c for d, c in gc_points(records, tau).items() if len(c) >= 3}
    claim = "S7(e) GC after training (log10, lam = n^(-beta), seven beta, runs that trained)"
    if not curves:
        return [row_error("S7", "empirical", f"{claim} is unimodal", "skipped",
                          "fewer than three lam values where every seed trained")]
    peak = [c for d, cv in curves.items() for c in _extreme_claims(cv, d, 1.0, "dip")]
    dip = [c for d, cv in curves.items() for c in _extreme_claims(cv, d, -1.0, "peak")]
    family = peak + dip
    details = {str(d): {"lam": [lam for lam, _ in cv],
                        "log10_gc_mean": [float(np.mean(list(v.values()))) for _, v in cv]}
               for d, cv in curves.items()}
    return [family_row(f"{claim} has a single peak (reading 1, registered as S7(e))", peak,
                       prediction=0.0, family=family, details=details,
                       alternative="an interior dip significantly below both sides"),
            family_row(f"{claim} has a single dip (reading 2, reported beside it)", dip,
                       prediction=0.0, family=family, details=details,
                       alternative="an interior peak significantly above both sides")]


def _spread(cube: np.ndarray, log2_lrs: np.ndarray) -> float:
    best = [log2_lrs[int(np.argmin(cube[d].mean(axis=1)))] for d in range(cube.shape[0])]
    return float(max(best) - min(best))


def row_f(records, censored: bool) -> CheckResult | None:
    sweep = [r for r in records if r["group"] == "sweep"]
    if not sweep:
        return None
    from scipy.stats import bootstrap

    depths = sorted({r["depth"] for r in sweep})
    lrs = sorted({r["lr"] for r in sweep})
    seeds = sorted({r["seed"] for r in sweep})
    cap = math.log(10)
    cubes = {rule: np.full((len(depths), len(lrs), len(seeds)), cap) for rule in SWEEP_RULES}
    for r in sweep:
        if r["train_loss"] is not None:
            cubes[r["rule"]][depths.index(r["depth"]), lrs.index(r["lr"]),
                             seeds.index(r["seed"])] = min(r["train_loss"], cap)
    log2 = np.log2(np.array(lrs))

    def statistic(index):
        index = np.asarray(index, dtype=int)
        return (_spread(cubes["constant"][:, :, index], log2)
                - _spread(cubes["mup"][:, :, index], log2))

    measured = statistic(np.arange(len(seeds)))
    import warnings

    with warnings.catch_warnings():  # BCa is undefined when every resample agrees: see below
        warnings.simplefilter("ignore")
        found = bootstrap((np.arange(len(seeds)),), statistic, vectorized=False, method="BCa",
                          n_resamples=999, random_state=0)
    low, high = float(found.confidence_interval.low), float(found.confidence_interval.high)
    if not math.isfinite(low):  # BCa is undefined when every resample agrees
        low = high = measured
    return CheckResult(
        "S7", f"S7(f) depth-muP's best learning rate (final training loss) moves less across "
              f"depths {depths} than constant lam = 1/2's (spread of log2 lr*; two-layer blocks: "
              f"the named deviation from depth-muP's one-layer statement)",
        "empirical", 0.0, measured, high,
        Criterion("upper 95% BCa bound of spread(constant) - spread(mup)", ">=", 0.0),
        Power("equal or worse transfer under depth-muP: the lower bound (value) must exceed 0 "
              "(none when an optimum is censored at the extended grid's edge)",
              None if censored else low, ">", 0.0),
        details={"depths": depths, "lrs": lrs, "censored": censored,
                 "bca": {"low": low, "high": high, "seeds": len(seeds)}})


SWEEP_RULES = ("mup", "constant")


def plan_rows(table, records, tau: float, n_a: int, *, sweep_censored: bool,
              parts: str = "abcdef") -> list[CheckResult]:
    """The rows ``parts`` asks for, in order (a part whose rules are absent is left out)."""
    rules = {r for r, _ in table}
    out = []
    if "a" in parts and "none" in rules:
        out.append(row_a(table, tau, n_a))
    if "b" in parts:
        out += row_b(table, tau)
    if "c" in parts and {"inv-sqrt", "inv"} <= rules:
        out += [r for r in (row_c(table),) if r is not None]
    if "d" in parts and "inv-sqrt" in rules:
        out += row_d(table)
    if "e" in parts and any(r["group"] == "lam" for r in records):
        out += row_e(records, tau)
    if "f" in parts:
        out += [r for r in (row_f(records, sweep_censored),) if r is not None]
    return out

