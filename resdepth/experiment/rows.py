"""S7's rows (a)-(f): each prediction against the grid, verdicts from 95% intervals over seeds.

Conventions (:mod:`resdepth.experiment.stats`): a claim about a mean is refuted (fail) when the
whole interval lies on the wrong side, shown (pass) when it lies on the right side, and
inconclusive when it straddles the boundary. A prediction whose condition the grid never meets
(no depth at or beyond S7(a)'s n_a; fewer than three lam values for S7(e)) is ``skipped`` with
the reason.
"""

import math

import numpy as np

from resdepth.engine.rows import CheckResult, Criterion, Power, row_error
from resdepth.experiment.analysis import (
    NORMALISED,
    SCALED,
    best_unnormalised,
    gc_curves,
    paired,
)
from resdepth.experiment.stats import at_least, below, interval

__all__ = ["DEFICIT", "Z_DIP", "row_a", "row_b", "row_c", "row_d", "row_e", "row_f"]

DEFICIT = 0.02
"""S7(d)'s power: a normalised baseline short of the best unnormalised rule by this much
accuracy would have been seen."""
Z_DIP = 3.0
"""S7(e): an interior minimum of GC(lam) deeper than Z_DIP standard errors on both sides
breaks unimodality."""
BOOTSTRAP = 2000


def _claim(letter: str, text: str) -> str:
    return f"S7({letter}) {text}"


def row_a(table, tau: float, n_a: int) -> CheckResult:
    """(a) lam = 1 without normalisation fails to train at every grid depth n >= n_a."""
    claim = _claim("a", f"lam = 1, no normalisation, fails to train (mean test accuracy below "
                        f"tau = {tau:.3f}, or diverged) at every depth n >= n_a = {n_a}, where "
                        f"S2's E||x_n||^2 = 2^n E||x_0||^2 leaves float32's range")
    deep = sorted(d for r, d in table if r == "none" and d >= n_a)
    if not deep:
        shallow = sorted(d for r, d in table if r == "none")
        return row_error("S7", "empirical", claim, "skipped",
                         f"no grid depth reaches n_a = {n_a} (depths {shallow})")
    cells = {d: table["none", d] for d in deep}
    criterion, power, statistic = below(
        "lam = 1 test accuracy (max over depths >= n_a)",
        max(c["interval"].low for c in cells.values()),
        max(c["interval"].high for c in cells.values()), tau,
        f"lam = 1 training to accuracy >= tau at a depth >= n_a: the intervals' upper bounds "
        f"(value) must fall below tau = {tau:.3f}")
    failed = [d for d, c in cells.items() if c["interval"].high < tau]
    reason = None if failed else "no depth >= n_a where lam = 1 significantly failed"
    return CheckResult("S7", claim, "empirical", n_a, failed[0] if failed else None, statistic,
                       criterion, power, reason=reason,
                       details=_cells(cells, "depth"))


def row_b(table, tau: float, rule: str) -> CheckResult:
    """(b) the scaled rule ``rule`` trains at every depth of the grid."""
    cells = {d: c for (r, d), c in table.items() if r == rule}
    claim = _claim("b", f"{rule} trains at every depth tried (mean test accuracy >= tau = "
                        f"{tau:.3f}, halfway from chance to the best rule at the smallest depth)")
    criterion, power, statistic = at_least(
        f"{rule} test accuracy (min over depths)", min(c["interval"].high for c in cells.values()),
        min(c["interval"].low for c in cells.values()), tau,
        f"{rule} staying below tau = {tau:.3f} at some depth: the intervals' lower bounds "
        f"(value) must clear tau")
    return CheckResult("S7", claim, "empirical", tau,
                       min(c["interval"].mean for c in cells.values()), statistic, criterion,
                       power, details=_cells(cells, "depth"))


def _difference_row(letter: str, claim: str, values: list[float], details: dict) -> CheckResult:
    """A claim "the paired difference is positive": refuted when the whole interval lies below
    0, shown when it lies above 0."""
    i = interval(values)
    criterion = Criterion("upper 95% bound of the paired difference", ">=", 0.0)
    power = Power("no difference or the reverse: the interval's lower bound (value) must "
                  "exceed 0", i.low if math.isfinite(i.low) else None, ">", 0.0)
    return CheckResult("S7", _claim(letter, claim), "empirical", 0.0, i.mean, i.high,
                       criterion, power, details={**details, "difference": i.as_dict(),
                                                  "per_seed": values})


def row_c(table) -> CheckResult:
    """(c) at the largest depth, a/sqrt(n) reaches higher test accuracy than a/n (a = 1)."""
    depth = max(d for r, d in table if r == "inv-sqrt" and ("inv", d) in table)
    values = paired(table, "inv-sqrt", "inv", depth)
    return _difference_row(
        "c", f"at the largest depth n = {depth}, lam = 1/sqrt(n) reaches higher test accuracy "
             f"than lam = 1/n (paired by seed)", values, {"depth": depth})


def row_d(table, baseline: str) -> CheckResult:
    """(d) the normalised ``baseline`` at least matches the best unnormalised rule at each depth."""
    depths = sorted(d for r, d in table if r == baseline)
    per_depth = {}
    for d in depths:
        best = best_unnormalised(table, d)
        per_depth[d] = {"best": best, **interval(paired(table, baseline, best, d)).as_dict()}
    claim = _claim("d", f"{baseline} at least matches the best unnormalised rule at every depth "
                        f"(paired test accuracy difference >= 0)")
    criterion = Criterion("upper 95% bound of the difference (min over depths)", ">=", 0.0)
    low = min(v["low"] for v in per_depth.values())
    power = Power(f"a deficit of {DEFICIT} accuracy: the intervals' lower bounds (value) must "
                  f"exclude it", low if math.isfinite(low) else None, ">=", -DEFICIT)
    return CheckResult("S7", claim, "empirical", 0.0, min(v["mean"] for v in per_depth.values()),
                       min(v["high"] for v in per_depth.values()), criterion, power,
                       details={"per_depth": per_depth})


def _dips(points) -> tuple[float, float]:
    """(largest interior-minimum z, the curve's half-range over its pooled SE) of one curve."""
    means = [float(np.mean(p["values"])) for p in points]
    ses = [max(float(np.std(p["values"], ddof=1)) / math.sqrt(len(p["values"])), 1e-12)
           for p in points]
    z = -math.inf
    for j in range(1, len(points) - 1):
        left = max((means[i] - means[j]) / math.hypot(ses[i], ses[j]) for i in range(j))
        right = max((means[k] - means[j]) / math.hypot(ses[k], ses[j])
                    for k in range(j + 1, len(points)))
        z = max(z, min(left, right))
    pooled = math.sqrt(2 * float(np.mean(np.square(ses))))
    return z, (max(means) - min(means)) / 2 / pooled


def row_e(records, tau: float) -> CheckResult:
    """(e) GC after training is unimodal in lam: no significant interior minimum, per depth."""
    claim = _claim("e", f"GC after training is unimodal in lam at each depth (lam = 1/n, "
                        f"a/sqrt(n), 1; runs that trained, accuracy >= tau = {tau:.3f}): no "
                        f"interior minimum deeper than {Z_DIP:g} standard errors on both sides")
    curves = {d: [p for p in pts if len(p["values"]) >= 2]
              for d, pts in gc_curves(records, tau).items()}
    curves = {d: pts for d, pts in curves.items() if len(pts) >= 3}
    if not curves:
        return row_error("S7", "empirical", claim, "skipped",
                         "fewer than three lam values with two finite GC runs at every depth")
    found = {d: _dips(pts) for d, pts in curves.items()}
    details = {str(d): {"lam": [p["lam"] for p in pts],
                        "log10_gc_mean": [float(np.mean(p["values"])) for p in pts],
                        "peak_interior": 0 < int(np.argmax([np.mean(p["values"]) for p in pts]))
                        < len(pts) - 1, "dip_z": found[d][0], "resolution": found[d][1]}
               for d, pts in curves.items()}
    statistic = max(z for z, _ in found.values())
    power = Power(f"an interior minimum half as deep as the curve's range: its z (value, the "
                  f"smallest over depths) must reach {Z_DIP:g}",
                  min(res for _, res in found.values()), ">=", Z_DIP)
    return CheckResult("S7", claim, "empirical", 0.0,
                       sum(z >= Z_DIP for z, _ in found.values()), statistic,
                       Criterion("largest interior-minimum z over depths", "<", Z_DIP), power,
                       details=details)


def _best_log2_lr(losses: np.ndarray, lrs: np.ndarray) -> float:
    """log2 of the minimising lr of mean ``losses`` over ``lrs``, refined by a parabola in log2 lr
    through the minimum and its neighbours (the grid end when the minimum sits there)."""
    x = np.log2(lrs)
    j = int(np.argmin(losses))
    if j in (0, len(x) - 1):
        return float(x[j])
    (x0, x1, x2), (y0, y1, y2) = x[j - 1:j + 2], losses[j - 1:j + 2]
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    if den == 0:
        return float(x1)
    vertex = x1 - 0.5 * ((x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)) / den
    return float(np.clip(vertex, x0, x2))


def _spread(cube: np.ndarray, lrs: np.ndarray) -> float:
    """max - min over depths of log2 best lr; ``cube`` is (depth, lr, seed) of losses."""
    best = [_best_log2_lr(cube[d].mean(axis=1), lrs) for d in range(cube.shape[0])]
    return max(best) - min(best)


def row_f(records, classes: int, seed: int = 0) -> CheckResult:
    """(f) depth-muP's best learning rate moves less across depths than constant lam's."""
    sweep = [r for r in records if r["group"] == "sweep"]
    depths = sorted({r["depth"] for r in sweep})
    lrs = np.array(sorted({r["lr"] for r in sweep}))
    seeds = sorted({r["seed"] for r in sweep})
    claim = _claim("f", f"depth-muP's best learning rate (final training loss) moves less "
                        f"across depths {depths} than constant lam = 1/2's (spread of log2 lr*)")
    cap = math.log(classes)
    cubes = {}
    for rule in ("mup", "constant"):
        cube = np.full((len(depths), len(lrs), len(seeds)), cap)
        for r in sweep:
            if r["rule"] == rule and r["final_train_loss"] is not None:
                cube[depths.index(r["depth"]), int(np.searchsorted(lrs, r["lr"])),
                     seeds.index(r["seed"])] = min(r["final_train_loss"], cap)
        cubes[rule] = cube
    generator = np.random.default_rng(seed)
    boot = [_spread(cubes["constant"][:, :, idx], lrs) - _spread(cubes["mup"][:, :, idx], lrs)
            for idx in generator.integers(0, len(seeds), (BOOTSTRAP, len(seeds)))]
    low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
    measured = _spread(cubes["constant"], lrs) - _spread(cubes["mup"], lrs)
    best = {rule: [_best_log2_lr(cube[d].mean(axis=1), lrs) for d in range(len(depths))]
            for rule, cube in cubes.items()}
    edges = (float(np.log2(lrs[0])), float(np.log2(lrs[-1])))
    censored = any(b in edges for values in best.values() for b in values)
    return CheckResult(
        "S7", claim, "empirical", 0.0, measured, high,
        Criterion("upper 95% bootstrap bound of spread(constant) - spread(mup)", ">=", 0.0),
        Power("equal or worse transfer under depth-muP: the lower bound (value) must exceed 0 "
              "(none when a best rate sits at the grid's edge: the grid does not bracket it)",
              None if censored else low, ">", 0.0),
        details={"depths": depths, "lrs": lrs.tolist(), "best_log2_lr": best,
                 "censored": censored,
                 "bootstrap": {"low": low, "high": high, "resamples": BOOTSTRAP,
                               "seeds": len(seeds)}})


def rows(table, records, tau: float, n_a: int, classes: int, parts: str = "abcdef"
         ) -> list[CheckResult]:
    """The S7 rows ``parts`` asks for, in order; a part whose rules are absent is skipped."""
    present = {r for r, _ in table}
    out = []
    if "a" in parts and "none" in present:
        out.append(row_a(table, tau, n_a))
    if "b" in parts:
        out += [row_b(table, tau, rule) for rule in SCALED if rule in present]
    if "c" in parts and {"inv-sqrt", "inv"} <= present:
        out.append(row_c(table))
    if "d" in parts:
        out += [row_d(table, b) for b in NORMALISED if b in present]
    if "e" in parts:
        out.append(row_e(records, tau))
    if "f" in parts and any(r["group"] == "sweep" for r in records):
        out.append(row_f(records, classes))
    return out


def _cells(cells: dict, key: str) -> dict:
    return {str(k): {**c["interval"].as_dict(), "diverged": c["diverged"], "runs": c["runs"]}
            for k, c in cells.items()}
