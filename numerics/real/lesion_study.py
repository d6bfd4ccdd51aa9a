"""Veit's lesions on a traced model, drawn sequentially, with the first-order frozen-gate lesion
as a control variate (THEORY.md R2, real architectures; Veit, Wilber and Belongie 2016).

For a set D of m deleted blocks (their skips kept) let K(D) = <out'(D), out> / ||out||^2 be the
kept share with every gate recomputed (the measured lesion) and F(D) the same with every gate
held at its unlesioned value (the frozen lesion: the sum of the paths that avoid D,
:mod:`numerics.real.lesions`). A path through k blocks avoids C(n - m, k) of the C(n, m) sets,
so over all of them

.. math::

    \\operatorname{mean}_{|D| = m} F(D) = \\sum_k \\frac{\\binom{n-m}{k}}{\\binom{n}{k}} s_k
    =: P(m) \\qquad \\text{(exact, the signed shares } s_k \\text{ of the frozen spectrum)}.

The lesion row asks how far mean_D K(D) is from P(m).

**Control variate.** F is affine in each block's branch scale delta_i, so one frozen pass and its
backward give every single frozen lesion exactly, F({i}) = 1 - a_i with a_i = dF/d delta_i
(:func:`numerics.real.lesions.frozen_single_effects`), and the first-order lesion
G(D) = 1 - sum_{i in D} a_i costs nothing per set. Its mean over all m-sets is exact,
E_m G = 1 - (m / n) sum_i a_i, and sum_i a_i = sum_k k s_k (the spectrum's first moment: a path
of length k is counted once by each of its k blocks), an identity the study reports. G is F
without its terms of two or more deleted blocks: equal to F at m = 1, and on a 60-sublayer
random Llama as good a control for K as F itself at m <= 3 (residual sd 0.014-0.021 both ways;
at m = 4 0.021 against F's 0.011), at half the cost per set (no frozen pass). **Estimator**:
draw D_1..D_N uniformly without replacement,

.. math::

    \\hat K(m) = \\bar K - \\beta (\\bar G - E_m G), \\qquad
    \\mathrm{SE} = \\frac{\\operatorname{sd}_j (K - \\beta G)}{\\sqrt N}
    \\sqrt{1 - N / \\tbinom{n}{m}}

(the finite-population correction: 0 once every set is measured), beta = cov(K, G) / var(G)
from the draws (the regression estimator, sd with N - 2 degrees of freedom; beta = 1 below 4
draws, N - 1). Unbiased to first order for any a_i, since E_m G is known exactly. Where the
gates barely move (a random Llama), K - G is their movement and the deleted blocks'
interactions, far smaller in spread than K (two deletion sets remove very different amounts);
where recomputed gates undo what a lesion removes (LayerNorm after every block, BERT), K barely
varies while G does, and beta near 0 falls back to the plain mean. The plain mean and every
drawn set stay in the result.

**Sequential design.** A first round of ``round_size`` sets per m (every C(n, m) set when there
are no more: exact, SE 0), all m in one batched pass; then ``undecided(curve)``, the caller's
stopping rule (the row's criterion: the statistic is decided when it sits far enough from its
threshold), names the m that need more draws, and ``more(point)`` how many (default
``round_size``: the caller may re-estimate the sample size from the standard error so far);
each gets that many, until none is undecided, it has ``max_draws`` (the cap), or its draws would
reach C(n, m) (then every set is measured, exactly). Each round's sets are drawn as nested
chains across m (:func:`_draw_nested`: each m's draws still a uniform sample without
replacement), so the one batched pass shares their streams up to where they differ. Stopping
when the verdict is decided keeps a clear verdict cheap and makes a borderline one draw more;
the draws come from one generator in a fixed order, so the same model and seed always give the
same sets.
"""

import itertools
import math

import torch

from numerics.probes.lesion import kept_share, survival
from numerics.real.frozen import TracedModel, frozen_spectrum
from numerics.real.lesions import (
    frozen_single_effects,
    lesioned_outputs,
    measured_lesions,
    shared_block_applications,
)

__all__ = ["kept_share_prediction", "lesion_study", "uniform_kept_share"]


def kept_share_prediction(signed_shares, m: int) -> float:
    """P(m) = sum_k C(n-m, k)/C(n, k) s_k: the mean kept share over all m-subsets, gates frozen."""
    rho = survival(len(signed_shares) - 1, m)
    return math.fsum(r * s for r, s in zip(rho, signed_shares))


def uniform_kept_share(branches, m: int) -> float:
    """The kept share a uniform law over paths predicts, averaged over all m-subsets exactly:
    deleting block i keeps 1/(1 + B_i) of the paths, so mean_D prod_{i in D} 1/(1 + B_i) =
    e_m(w) / C(n, m), e_m the elementary symmetric polynomial of w_i = 1/(1 + B_i).

    >>> uniform_kept_share([1, 1, 1], 2)  # three single-branch blocks: 1/4 for every pair
    0.25
    """
    e = [1.0] + [0.0] * m
    for b in branches:
        w = 1.0 / (1 + b)
        for j in range(m, 0, -1):
            e[j] += w * e[j - 1]
    return e[m] / math.comb(len(branches), m)


def _sd(values: list[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _point(m: int, sets: list, population: int, kept: dict, control, control_mean: float,
           predicted: float, uniform: float) -> dict:
    """One m's estimates from its drawn sets, ``population`` = C(n, m), ``kept`` the measured
    kept share of each set, ``control(set)`` the first-order frozen lesion G and
    ``control_mean`` its exact mean over every m-set (module docstring)."""
    values = [kept[s] for s in sets]
    controls = [control(s) for s in sets]
    n = len(sets)
    exhaustive = n == population
    mean_k, mean_c = math.fsum(values) / n, math.fsum(controls) / n
    beta, dof = 1.0, n - 1
    var_c = math.fsum((c - mean_c) ** 2 for c in controls)
    if n >= 4 and var_c > 0:  # the regression coefficient cov(K, G) / var(G), one dof spent
        beta = math.fsum((k - mean_k) * (c - mean_c) for k, c in zip(values, controls)) / var_c
        dof = n - 2
    residuals = [k - beta * c for k, c in zip(values, controls)]
    if exhaustive:
        se = se_plain = 0.0
    else:
        fpc = math.sqrt(1 - n / population) / math.sqrt(n)
        mean_r = math.fsum(residuals) / n
        se = fpc * math.sqrt(math.fsum((r - mean_r) ** 2 for r in residuals) / dof)
        se_plain = fpc * _sd(values)
    return {"m": m, "draws": n, "population": population, "exhaustive": exhaustive,
            "sets": [list(s) for s in sets],
            "kept_measured": mean_k - beta * (mean_c - control_mean), "kept_measured_se": se,
            "control_beta": beta, "dof": dof,
            "kept_measured_plain": mean_k, "kept_measured_plain_se": se_plain,
            "control_mean": control_mean, "control_mean_draws": mean_c,
            "kept_predicted": predicted, "kept_uniform": uniform,
            "kept_each": values, "control_each": controls}


def _draw(n: int, m: int, count: int, taken: set, generator: torch.Generator) -> list:
    """``count`` uniform m-subsets of range(n) (sorted tuples) not in ``taken`` and distinct:
    sampling without replacement by rejection (called only while fewer than C(n, m) are taken)."""
    sets = []
    while len(sets) < count:
        s = tuple(sorted(torch.randperm(n, generator=generator)[:m].tolist()))
        if s not in taken:
            taken.add(s)
            sets.append(s)
    return sets


def _draw_nested(n: int, sizes: dict, taken: dict, generator: torch.Generator) -> dict:
    """``sizes[m]`` new uniform m-subsets of range(n) per m, distinct from ``taken[m]``, drawn as
    nested chains so that one lesioned pass shares their streams: chain t takes a uniform
    subset of the largest m with t < sizes[m], then a uniform m-subset of that for each smaller
    such m in turn, so each chain's m-set is uniform over all m-sets and independent of the other
    chains (a uniform subset of a uniform set is uniform). A proposal already taken is replaced
    by a uniform draw among the untaken (:func:`_draw`), so each m's draws stay a uniform sample
    without replacement. Nested sets such as {7} within {7, 30} within {7, 21, 30} share blocks
    7..20 of the pass: about 27% fewer block applications for m = 1..4 at n = 60."""
    new = {m: [] for m in sizes}
    for t in range(max(sizes.values(), default=0)):
        parent = tuple(range(n))
        for m in sorted((m for m in sizes if t < sizes[m]), reverse=True):
            pick = torch.randperm(len(parent), generator=generator)[:m].tolist()
            proposal = parent = tuple(sorted(parent[i] for i in pick))
            if proposal in taken[m]:
                proposal = _draw(n, m, 1, taken[m], generator)[0]
            else:
                taken[m].add(proposal)
            new[m].append(proposal)
    return new


def _singles(traced: TracedModel) -> list[dict]:
    """Every block deleted in turn: measured and frozen change, and the unexplained part."""
    full = traced.output
    n = len(traced.blocks)
    measured, frozen = lesioned_outputs(traced, [[i] for i in range(n)])

    def rel(a, b):
        return float((a - b).norm() / b.norm().clamp_min(torch.finfo(b.dtype).tiny))

    return [{"block": i + 1, "measured_change": rel(measured[i], full),
             "frozen_change": rel(frozen[i], full),
             "unexplained": rel(measured[i], frozen[i]) * full.norm().item()
             / max((measured[i] - full).norm().item(), 1e-300)} for i in range(n)]


def lesion_study(traced: TracedModel, ms, generator: torch.Generator, *, undecided,
                 round_size: int = 5, max_draws: int = 64, spectrum=None,
                 singles: bool = False, more=None) -> dict:
    """The sequential lesion study of the module docstring.

    ``undecided(curve) -> list of m`` is the stopping rule (an empty list stops); ``curve`` has
    one point per m of ``ms`` (``kept_measured`` and its SE, ``kept_predicted``,
    ``kept_uniform``, ``draws``, ``population``, ``exhaustive``, the plain mean, the control's
    draws and exact mean, every set). ``more(point) -> int`` is how many further sets an
    undecided point gets (default ``round_size``). ``spectrum`` is the frozen-gate spectrum if
    already computed; ``singles`` adds every block deleted in turn (n more lesioned passes,
    measured and frozen, reported, not judged). The result also holds ``rounds``,
    ``single_effects`` (the a_i), ``first_moment`` (sum_i a_i against sum_k k s_k) and
    ``block_applications`` (the lesioned passes' cost: per pass, the distinct deletion prefixes
    alive after each block, :func:`numerics.real.lesions.shared_block_applications`)."""
    if isinstance(round_size, bool) or not isinstance(round_size, int) or round_size < 2:
        raise ValueError(f"round_size must be an integer >= 2, got {round_size!r}")
    if isinstance(max_draws, bool) or not isinstance(max_draws, int) or max_draws < 2:
        raise ValueError(f"max_draws must be an integer >= 2 (a standard error needs two "
                         f"draws), got {max_draws!r}")
    n = len(traced.blocks)
    ms = list(ms)
    shares = (spectrum or frozen_spectrum(traced)).signed_shares()
    branches = [len(b.branches) for b in traced.blocks]
    effects = frozen_single_effects(traced)
    total = math.fsum(effects)
    moment = math.fsum(k * s for k, s in enumerate(shares))

    def control(s) -> float:
        return 1.0 - math.fsum(effects[i] for i in s)

    predicted = {m: kept_share_prediction(shares, m) for m in ms}
    uniform = {m: uniform_kept_share(branches, m) for m in ms}
    drawn = {m: [] for m in ms}
    population = {m: math.comb(n, m) for m in ms}
    wanted = {m: round_size for m in ms}
    kept: dict = {}
    full = traced.output
    rounds, applications = 0, 0
    todo = list(ms)
    while todo:
        sizes = {}
        for m in todo:  # one round: the sets of every open m, nested across m
            size = min(max(2, wanted[m]), max_draws - len(drawn[m]))
            if len(drawn[m]) + size >= population[m]:
                drawn[m] = list(itertools.combinations(range(n), m))
            else:
                sizes[m] = size
        fresh = _draw_nested(n, sizes, {m: set(drawn[m]) for m in sizes}, generator)
        for m, sets in fresh.items():
            drawn[m] += sets
        new = list(dict.fromkeys(s for m in todo for s in drawn[m] if s not in kept))
        if new:
            measured = measured_lesions(traced, new)
            for j, s in enumerate(new):
                kept[s] = kept_share(measured[j], full)
        applications += shared_block_applications(new, n)
        rounds += 1
        curve = [_point(m, drawn[m], population[m], kept, control, 1.0 - m * total / n,
                        predicted[m], uniform[m]) for m in ms]
        todo = [m for m in undecided(curve)
                if population[m] > len(drawn[m]) < max_draws]
        for point in curve:
            if point["m"] in todo:
                wanted[point["m"]] = round_size if more is None else int(more(point))
    return {"singles": _singles(traced) if singles else [], "curve": curve,
            "signed_shares": shares, "single_effects": effects,
            "first_moment": {"sum_single_effects": total, "spectrum_first_moment": moment,
                             "abs_error": abs(total - moment)},
            "rounds": rounds, "round_size": round_size, "max_draws": max_draws,
            "block_applications": applications, "sets_measured": len(kept)}
