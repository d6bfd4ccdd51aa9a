r"""D4 measured: the raw numbers behind a frequentist coverage check of the two guarantees.

On a teacher-student population (a sampler ``sample(n, generator) -> (x, y)``) and an old model
trained on data independent of what follows, :func:`coverage_runs`

1. inserts a new block at ``position`` (D1) and builds a *fixed* jumpboard f_J = (V = t_J u_pop)
   from the population gradient (estimated on ``n_pop`` fresh samples; step t_J from a line
   search on them over ``steps``);
2. estimates population risks R(f_0), R(f_J) on another ``n_pop`` fresh samples (the margin
   Delta = R(f_0) - R(f_J));
3. repeats ``reps`` times: draw a training sample S of size m, compute the empirical jumpboard
   direction u_S, select f^ = argmin R_S over {f_0, f_J, t u_S for t in ``steps``} (every
   candidate has ||V|| <= beta = max(steps), so it lies in the restricted class F_beta), and
   record R_S(f_0), R_S(f_J), R_S(f^), R(f^) and q_S, the sample's constant of the restricted
   Rademacher bound (:func:`numerics.probes.restricted_class.restricted_constants`).

The loss is the clipped squared error min(||f - y||^2, M) (bounded by M). :func:`far_label_noise`
turns a population into one whose loss has nearly the largest variance a [0, M] loss can have
(the label moved far away with probability 1/2), where the guarantees' deviation terms are
closest to the realised deviations: D4's power experiment. The guarantees' slacks
come from theorems/ (the check joins the two); :func:`clopper_pearson` gives the exact binomial
interval for an observed coverage.
"""

import torch
from scipy.stats import beta as beta_dist

from numerics.probes.expansion import (
    block_inputs,
    insert_block,
    make_loss,
    risk_from_inputs,
    v_name,
)
from numerics.probes.restricted_class import restricted_constants

__all__ = ["clopper_pearson", "coverage_runs", "far_label_noise"]


def clopper_pearson(successes: int, trials: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact two-sided (1 - alpha) Clopper-Pearson interval for a binomial proportion.

    >>> clopper_pearson(10, 10, 0.05)[0] > 0.69
    True
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= trials:
        raise ValueError(f"successes must be an integer in [0, {trials}], got {successes!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    lo = 0.0 if successes == 0 else float(beta_dist.ppf(alpha / 2, successes,
                                                        trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta_dist.ppf(1 - alpha / 2, successes + 1,
                                                             trials - successes))
    return lo, hi


def _risks(model, position, vs, inputs, y, loss) -> list[float]:
    with torch.no_grad():
        return [float(risk_from_inputs(model, position, v, *inputs, y, loss)) for v in vs]


def _gradient(model, position, zero, inputs, y, loss) -> torch.Tensor:
    v = zero.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(risk_from_inputs(model, position, v, *inputs, y, loss), v)
    return g


def _check_sizes(**sizes) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def far_label_noise(sample, shift: torch.Tensor, p: float = 0.5):
    """The population ``sample`` with its label moved by ``shift`` with probability ``p``.

    When ||shift|| exceeds every output's distance to the clean label by sqrt(M), the clipped
    loss of a moved example is M for every model of the class, so the loss is M x Bernoulli(1/2)
    plus the clean part: its variance is close to the largest a [0, M] loss can have, M^2/4,
    where Hoeffding's bound is tightest (D4's power experiment). Returns ``(noisy, population)``:
    ``noisy(n, g)`` draws the training samples; ``population(n, g)`` stratifies the coin: of n
    clean draws exactly round(p n) get the moved label (the coin's share is exact, only the clean
    part is sampled).
    """
    if not 0 < p < 1:
        raise ValueError(f"p must lie in (0, 1), got {p!r}")

    def noisy(n, generator):
        x, y = sample(n, generator)
        coin = torch.rand(n, generator=generator, dtype=y.dtype, device=y.device) < p
        return x, y + coin[:, None].to(y.dtype) * shift.to(y)

    def population(n, generator):
        x, y = sample(n, generator)
        moved = (torch.arange(n, device=y.device) < round(p * n))[:, None].to(y.dtype)
        return x, y + moved * shift.to(y)

    return noisy, population


def coverage_runs(old, sample, *, position: int, m: int, reps: int, clip: float, steps,
                  n_pop: int, generator: torch.Generator, population=None,
                  output_jump: torch.Tensor | None = None) -> dict:
    """:func:`_coverage_runs` on one torch thread (its tensors are small: a second thread only
    adds synchronisation, 200x slower per LayerNorm on a loaded 2-core machine), restoring the
    caller's thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _coverage_runs(old, sample, position=position, m=m, reps=reps, clip=clip,
                              steps=steps, n_pop=n_pop, generator=generator,
                              population=population, output_jump=output_jump)
    finally:
        torch.set_num_threads(threads)


def _coverage_runs(old, sample, *, position: int, m: int, reps: int, clip: float, steps,
                   n_pop: int, generator: torch.Generator, population=None,
                   output_jump: torch.Tensor | None = None) -> dict:
    """Run the D4 coverage experiment (module docstring); all draws come from ``generator``.
    ``population`` (default ``sample``) draws the samples behind the population risks.
    ``output_jump``: the jumpboard is f_J = f_0 + output_jump (fixed before S, outside F_beta:
    route P's proof uses f_J only through Hoeffding) instead of the population-gradient step;
    its risks are the old model's on the labels y - output_jump.
    Training samples are drawn a few repetitions at a time (about 2^16 examples a draw).

    Returns the population numbers (``pop_old``, ``pop_jump``, ``t_jump``), ``beta``, the
    expanded ``model`` and ``runs``: one dict per repetition.
    """
    _check_sizes(m=m, reps=reps, n_pop=n_pop)
    population = sample if population is None else population
    steps = sorted(float(t) for t in steps)
    if not steps or steps[0] <= 0:
        raise ValueError("steps must be a non-empty list of positive numbers")
    loss = make_loss("regression", clip=clip)
    model = insert_block(old, position, generator=generator)
    zero = torch.zeros_like(dict(model.named_parameters())[v_name(position)])
    x1, y1 = population(n_pop, generator)
    inputs1 = block_inputs(model, position, x1)
    g_pop = _gradient(model, position, zero, inputs1, y1, loss)
    u_pop = -g_pop / g_pop.norm()
    pop_risks = _risks(model, position, [t * u_pop for t in steps], inputs1, y1, loss)
    t_jump = steps[min(range(len(steps)), key=pop_risks.__getitem__)]
    v_jump = t_jump * u_pop
    x2, y2 = population(n_pop, generator)
    inputs2 = block_inputs(model, position, x2)
    pop_old, pop_jump = _risks(model, position, [zero, v_jump], inputs2, y2, loss)
    if output_jump is not None:
        (pop_jump,) = _risks(model, position, [zero], inputs2, y2 - output_jump, loss)
    runs, batch = [], max(1, 2**16 // m)
    for rep in range(reps):
        if rep % batch == 0:
            x_all, y_all = sample(m * min(batch, reps - rep), generator)
        k = rep % batch
        xs, ys = x_all[k * m:(k + 1) * m], y_all[k * m:(k + 1) * m]
        inputs = block_inputs(model, position, xs)
        g = _gradient(model, position, zero, inputs, ys, loss)
        u = -g / g.norm() if float(g.norm()) > 0 else torch.zeros_like(g)
        candidates = [zero, v_jump] + [t * u for t in steps]
        train = _risks(model, position, candidates, inputs, ys, loss)
        if output_jump is not None:
            (train[1],) = _risks(model, position, [zero], inputs, ys - output_jump, loss)
        best = min(range(len(candidates)), key=train.__getitem__)
        pop_sel = ((pop_old, pop_jump)[best] if best < 2 else
                   _risks(model, position, [candidates[best]], inputs2, y2, loss)[0])
        q = restricted_constants(model, position, xs, ys, beta=steps[-1], clip=clip)["q"]
        runs.append({"train_old": train[0], "train_jump": train[1], "train_sel": train[best],
                     "pop_sel": pop_sel, "selected": best, "q": q})
    return {"pop_old": pop_old, "pop_jump": pop_jump, "t_jump": t_jump, "beta": steps[-1],
            "model": model, "runs": runs, "m": m}
