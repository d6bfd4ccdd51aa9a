"""Veit's lesions on a traced model, drawn sequentially, with the frozen-gate lesion as a control
variate (THEORY.md R2, real architectures; Veit, Wilber and Belongie 2016).

For a set D of m deleted blocks (their skips kept) let K(D) = <out'(D), out> / ||out||^2 be the
kept share with every gate recomputed (the measured lesion) and F(D) the same with every gate
held at its unlesioned value (the frozen lesion: the sum of the paths that avoid D,
:mod:`numerics.real.lesions`). A path through k blocks avoids C(n - m, k) of the C(n, m) sets,
so over all of them

.. math::

    \\operatorname{mean}_{|D| = m} F(D) = \\sum_k \\frac{\\binom{n-m}{k}}{\\binom{n}{k}} s_k
    =: P(m) \\qquad \\text{(exact, the signed shares } s_k \\text{ of the frozen spectrum)}.

The lesion row asks how far mean_D K(D) is from P(m). **Estimator**: draw D_1..D_N uniformly
without replacement and use F as a control variate whose mean P(m) is known exactly:

.. math::

    \\hat K(m) = \\bar K - \\beta (\\bar F - P(m)), \\qquad
    \\mathrm{SE} = \\frac{\\operatorname{sd}_j (K - \\beta F)}{\\sqrt N}
    \\sqrt{1 - N / \\tbinom{n}{m}}

(the finite-population correction: 0 once every set is measured), beta = cov(K, F) / var(F)
from the draws (the regression estimator, sd with N - 2 degrees of freedom; beta = 1 below 4
draws, N - 1). Unbiased to first order because E F(D) = P(m). Where the gates barely move
(a random Llama), K - F is their movement alone, whose spread is far smaller than K's (two
deletion sets remove very different amounts, the frozen lesion the same amounts), so a few
draws decide what the plain mean needs hundreds for; where recomputed gates undo what the
frozen lesion removes (LayerNorm after every block, BERT), K barely varies while F does, and
beta near 0 falls back to the plain mean instead of adding F's spread. The plain
mean, the frozen draws' mean against P(m) (a z-score: the identity's check) and every drawn set
stay in the result.

**Sequential design.** A first round of ``round_size`` sets per m (every C(n, m) set when there
are no more: exact, SE 0), all m in one batched pass; then ``undecided(curve)``, the caller's
stopping rule (the row's criterion: the statistic is decided when it sits far enough from its
threshold), names the m that need more draws; each gets another round, until none does, it has
``max_draws`` (the cap), or its draws would reach C(n, m) (then every set is measured, exactly).
Stopping when the verdict is decided keeps a clear verdict cheap and makes a borderline one draw
more; the draws come from one generator in a fixed order, so the same model and seed always give
the same sets.
"""

import itertools
import math

import torch

from numerics.probes.lesion import kept_share, survival
from numerics.real.frozen import TracedModel, frozen_spectrum
from numerics.real.lesions import lesioned_outputs

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


def _point(m: int, sets: list, population: int, values: dict, predicted: float,
           uniform: float) -> dict:
    """One m's estimates from its drawn sets, ``population`` = C(n, m) (module docstring)."""
    kept = [values[s][0] for s in sets]
    frozen = [values[s][1] for s in sets]
    n = len(sets)
    exhaustive = n == population
    mean_k, mean_f = math.fsum(kept) / n, math.fsum(frozen) / n
    beta, dof = 1.0, n - 1
    var_f = math.fsum((f - mean_f) ** 2 for f in frozen)
    if n >= 4 and var_f > 0:  # the regression coefficient cov(K, F) / var(F), one dof spent
        beta = math.fsum((k - mean_k) * (f - mean_f) for k, f in zip(kept, frozen)) / var_f
        dof = n - 2
    residuals = [k - beta * f for k, f in zip(kept, frozen)]
    if exhaustive:
        se = se_plain = se_frozen = 0.0
    else:
        fpc = math.sqrt(1 - n / population) / math.sqrt(n)
        mean_r = math.fsum(residuals) / n
        se = fpc * math.sqrt(math.fsum((r - mean_r) ** 2 for r in residuals) / dof)
        se_plain, se_frozen = fpc * _sd(kept), fpc * _sd(frozen)
    return {"m": m, "draws": n, "exhaustive": exhaustive, "sets": [list(s) for s in sets],
            "kept_measured": mean_k - beta * (mean_f - predicted), "kept_measured_se": se,
            "control_beta": beta, "dof": dof,
            "kept_measured_plain": mean_k, "kept_measured_plain_se": se_plain,
            "kept_frozen_draws": mean_f, "kept_frozen_draws_se": se_frozen,
            "frozen_identity_z": (mean_f - predicted) / se_frozen if se_frozen > 0 else None,
            "kept_predicted": predicted, "kept_uniform": uniform,
            "kept_each": kept, "frozen_each": frozen}


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
                 round_size: int = 4, max_draws: int = 64, spectrum=None,
                 singles: bool = False) -> dict:
    """The sequential lesion study of the module docstring.

    ``undecided(curve) -> list of m`` is the stopping rule (an empty list stops); ``curve`` has
    one point per m of ``ms`` (``kept_measured`` and its SE, ``kept_predicted``,
    ``kept_uniform``, ``draws``, ``exhaustive``, the plain and frozen means, every set).
    ``spectrum`` is the frozen-gate spectrum if already computed; ``singles`` adds every block
    deleted in turn (n more lesioned passes, reported, not judged). The result also holds
    ``rounds`` and ``block_applications`` (sum over measured sets of the blocks from the
    first deleted one on: the lesioned passes' cost, twice over for measured and frozen)."""
    if isinstance(round_size, bool) or not isinstance(round_size, int) or round_size < 2:
        raise ValueError(f"round_size must be an integer >= 2, got {round_size!r}")
    if isinstance(max_draws, bool) or not isinstance(max_draws, int) or max_draws < 2:
        raise ValueError(f"max_draws must be an integer >= 2 (a standard error needs two "
                         f"draws), got {max_draws!r}")
    n = len(traced.blocks)
    ms = list(ms)
    shares = (spectrum or frozen_spectrum(traced)).signed_shares()
    branches = [len(b.branches) for b in traced.blocks]
    predicted = {m: kept_share_prediction(shares, m) for m in ms}
    uniform = {m: uniform_kept_share(branches, m) for m in ms}
    drawn = {m: [] for m in ms}
    population = {m: math.comb(n, m) for m in ms}
    values: dict = {}
    full = traced.output
    rounds, applications = 0, 0
    todo = list(ms)
    while todo:
        for m in todo:  # one round: the sets of every open m, in the order of ms
            size = min(round_size, max_draws - len(drawn[m]))
            if len(drawn[m]) + size >= population[m]:
                drawn[m] = list(itertools.combinations(range(n), m))
            else:
                drawn[m] += _draw(n, m, size, set(drawn[m]), generator)
        new = list(dict.fromkeys(s for m in todo for s in drawn[m] if s not in values))
        if new:
            measured, frozen = lesioned_outputs(traced, new)
            for j, s in enumerate(new):
                values[s] = (kept_share(measured[j], full), kept_share(frozen[j], full))
        applications += sum(n - min(s) for s in new)
        rounds += 1
        curve = [_point(m, drawn[m], population[m], values, predicted[m], uniform[m])
                 for m in ms]
        todo = [m for m in undecided(curve)
                if population[m] > len(drawn[m]) < max_draws]
    return {"singles": _singles(traced) if singles else [], "curve": curve,
            "signed_shares": shares, "rounds": rounds, "round_size": round_size,
            "max_draws": max_draws, "block_applications": applications,
            "sets_measured": len(values)}
