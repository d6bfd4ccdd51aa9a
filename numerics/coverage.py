r"""D4 measured: the raw numbers behind a frequentist coverage check of the two guarantees.

On a teacher-student task (population samples from ``task.sample``) with an old model f_0
trained on data independent of what follows, :func:`coverage_runs`

1. inserts a new block (D1) and builds a *fixed* jumpboard f_J = (V = t_J u_pop) from the
   population gradient (estimated on ``n_pop`` fresh samples; step t_J from a line search on them);
2. estimates population risks R(f_0), R(f_J) on another ``n_pop`` fresh samples (the margin
   Delta = R(f_0) - R(f_J));
3. repeats ``reps`` times: draw a training sample S of size m, compute the empirical jumpboard
   direction, and select f^ = argmin R_S over the candidates {f_0, f_J, t u_S for t in
   ``steps``}; record R_S(f_0), R_S(f_J), R_S(f^), R(f^).

The loss is the clipped squared error min(||f - y||^2, M) (bounded by M, 2 sqrt(M)-Lipschitz).
The guarantees' slacks come from theorems/ (the check joins the two);
:func:`clopper_pearson` gives the exact binomial interval for an observed coverage.
"""


import torch
from scipy.stats import beta

from numerics.expansion import block_gradient, insert_block, make_loss, risk_at, v_name

__all__ = ["clopper_pearson", "coverage_runs"]


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
    lo = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1,
                                                        trials - successes))
    return lo, hi


def _risks(model, position, vs, x, y, loss) -> list[float]:
    with torch.no_grad():
        return [float(risk_at(model, position, v, x, y, loss)) for v in vs]


def coverage_runs(old, task, *, position: int, m: int, reps: int, clip: float, steps,
                  n_pop: int, generator: torch.Generator) -> dict:
    """Run the D4 coverage experiment (module docstring); all draws come from ``generator``.

    Returns the population numbers (``pop_old``, ``pop_jump``, ``t_jump``), the largest input
    norm and V norm met, and ``runs``: one dict per repetition.
    """
    for name, value in (("m", m), ("reps", reps), ("n_pop", n_pop)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    steps = [float(t) for t in steps]
    if not steps or min(steps) <= 0:
        raise ValueError("steps must be a non-empty list of positive numbers")
    dtype = next(old.parameters()).dtype
    loss = make_loss("regression", clip=clip)
    model = insert_block(old, position, generator=generator)
    zero = torch.zeros_like(dict(model.named_parameters())[v_name(position)])

    def sample(n):
        x, y = task.sample(n, generator)
        return x.to(dtype), y.to(dtype)

    x1, y1 = sample(n_pop)
    g_pop = block_gradient(model, position, x1, y1, loss)
    u_pop = -g_pop / g_pop.norm()
    t_jump = steps[min(range(len(steps)), key=_risks(model, position,
                                                      [t * u_pop for t in steps], x1, y1,
                                                      loss).__getitem__)]
    v_jump = t_jump * u_pop
    x2, y2 = sample(n_pop)
    pop_old, pop_jump = _risks(model, position, [zero, v_jump], x2, y2, loss)
    max_input = float(max(x1.norm(dim=1).max(), x2.norm(dim=1).max()))
    runs = []
    for _ in range(reps):
        xs, ys = sample(m)
        max_input = max(max_input, float(xs.norm(dim=1).max()))
        g = block_gradient(model, position, xs, ys, loss)
        u = -g / g.norm() if float(g.norm()) > 0 else torch.zeros_like(g)
        candidates = [zero, v_jump] + [t * u for t in steps]
        train = _risks(model, position, candidates, xs, ys, loss)
        best = min(range(len(candidates)), key=train.__getitem__)
        (pop_sel,) = _risks(model, position, [candidates[best]], x2, y2, loss)
        runs.append({"train_old": train[0], "train_jump": train[1], "train_sel": train[best],
                     "pop_sel": pop_sel, "selected": best, "grad_norm": float(g.norm())})
    return {"pop_old": pop_old, "pop_jump": pop_jump, "t_jump": t_jump, "max_input_norm": max_input,
            "max_v_norm": max(steps), "model": model, "runs": runs}
