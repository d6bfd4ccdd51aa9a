r"""D2's observability test, measured: the split directional test, its calibration, misalignment.

Per-example gradients g_i of the new block's V (:func:`numerics.probes.expansion.per_example_gradients`)
are the raw material:

- :func:`directional_test`: u = -G_A/||G_A|| from one sample, then on an independent sample the
  mean of d_i = <g_i, u> and its standard error s_d/sqrt(m_B) give z = mean/SE; *observed* when
  z < -z_alpha, i.e. the test rejects <G_pop, u> >= 0 at level alpha (one-sided).
- :func:`gradient_moments`: the population constants of theorems/joint_scaling.py from a large
  sample: ||mu||^2 (unbiased: ||g bar||^2 - tr Sigma/n), mu^T Sigma mu, tr Sigma, tr(Sigma^2)
  and the effective alignment dimension (tr Sigma)^2 / tr(Sigma^2).
- :func:`split_test_runs` and :func:`misalignment_runs`: repeated fresh samples from a
  population sampler ``sample(n, generator) -> (x, y)``; the rejection rate of the split test
  (its size when G_pop = 0, its power otherwise) and P(<G_A, G_B> < 0).
- :func:`population_decrease`: the population risk's decrease along t u by paired per-example
  differences l_i(0) - l_i(t u) on fresh samples, with its z-score (D2's population jumpboard).
"""

import math
from statistics import NormalDist

import torch
from torch.func import functional_call

from numerics.probes.expansion import per_example_gradients, v_name

__all__ = ["directional_test", "gradient_moments", "half_split_misalignment", "misalignment_runs",
           "population_decrease", "split_test_runs"]


def _critical(alpha: float) -> float:
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return NormalDist().inv_cdf(1 - alpha)


def directional_test(train_grads: torch.Tensor, held_grads: torch.Tensor,
                     alpha: float = 0.05) -> dict:
    """The split directional test: direction from ``train_grads``, z from ``held_grads``.

    Both are (m, p) per-example gradients. Returns ``z``, the held-out ``mean`` of <g_i, u>, its
    standard error ``se`` (sample standard deviation with m - 1, over sqrt(m)), ``observed``
    (z < -z_alpha) and ``u`` (the unit direction -G_A/||G_A||).
    """
    if train_grads.ndim != 2 or held_grads.ndim != 2 or held_grads.shape[0] < 2:
        raise ValueError("train_grads and held_grads must be (m, p) with m >= 2 held-out rows")
    g = train_grads.mean(dim=0)
    if float(g.norm()) == 0:
        raise ValueError("the training gradient is exactly zero: no direction to test")
    u = -g / g.norm()
    d = held_grads @ u
    se = float(d.std()) / math.sqrt(d.shape[0])
    mean = float(d.mean())
    z = mean / se if se > 0 else math.copysign(math.inf, mean) if mean else 0.0
    return {"z": z, "mean": mean, "se": se, "observed": z < -_critical(alpha), "u": u}


def gradient_moments(grads: torch.Tensor) -> dict:
    """Population constants from n per-example gradients (rows of ``grads``).

    ``mu2`` = ||g bar||^2 - tr Sigma / n (unbiased for ||mu||^2), ``mu_sigma_mu`` = g bar^T
    Sigma g bar, ``tr_sigma``, ``tr_sigma2`` = tr(Sigma^2) (Sigma the covariance with 1/n,
    computed as a p x p matrix or through the n x n Gram matrix, whichever is smaller),
    ``d_eff`` = (tr Sigma)^2 / tr(Sigma^2) and ``grad_norm`` = ||g bar||.
    """
    n, p = grads.shape
    if n < 2:
        raise ValueError("need at least two per-example gradients")
    mean = grads.mean(dim=0)
    centred = grads - mean
    small = centred.T @ centred if p <= n else centred @ centred.T
    tr_sigma = float((centred**2).sum()) / n
    tr_sigma2 = float((small**2).sum()) / n**2
    return {
        "mu2": float(mean @ mean) - tr_sigma / n,
        "mu_sigma_mu": float(((centred @ mean) ** 2).mean()),
        "tr_sigma": tr_sigma, "tr_sigma2": tr_sigma2,
        "d_eff": tr_sigma**2 / tr_sigma2 if tr_sigma2 > 0 else math.nan,
        "grad_norm": float(mean.norm()), "n": n,
    }


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"{name} must be an integer >= 2, got {value!r}")
    return value


CHUNK = 2**23
"""Per-example gradient entries computed in one batch (repetitions are drawn in chunks)."""


def _batched_pairs(model, position, sample, loss, m, reps, generator):
    """Yield (k, 2m, p) per-example gradients for consecutive chunks of the ``reps``
    repetitions, each repetition a fresh sample of 2m (drawn in one call per chunk)."""
    p = dict(model.named_parameters())[v_name(position)].numel()
    per_chunk = max(1, CHUNK // (2 * m * p))
    done = 0
    while done < reps:
        k = min(per_chunk, reps - done)
        x, y = sample(2 * m * k, generator)
        yield per_example_gradients(model, position, x, y, loss).reshape(k, 2 * m, p)
        done += k


def split_test_runs(model, position: int, sample, loss, *, m: int, reps: int, alpha: float,
                    generator: torch.Generator) -> dict:
    """``reps`` split tests, each on 2m fresh samples (the first m give the direction, the
    other m the z-score, exactly as :func:`directional_test`), batched.

    Returns the z-scores and ``rejections`` (how many were observed).
    """
    _positive_int("m", m)
    _positive_int("reps", reps)
    zs = []
    for grads in _batched_pairs(model, position, sample, loss, m, reps, generator):
        g = grads[:, :m].mean(dim=1)
        u = -g / g.norm(dim=1, keepdim=True)
        d = torch.einsum("rip,rp->ri", grads[:, m:], u)
        zs += (d.mean(dim=1) / (d.std(dim=1) / math.sqrt(m))).tolist()
    crit = _critical(alpha)
    return {"z": zs, "rejections": sum(z < -crit for z in zs), "reps": reps, "m": m}


def misalignment_runs(model, position: int, sample, loss, *, m: int, reps: int,
                      generator: torch.Generator) -> dict:
    """``reps`` pairs of independent samples of size m: how often <G_A, G_B> < 0 (batched)."""
    _positive_int("m", m)
    _positive_int("reps", reps)
    inner = []
    for grads in _batched_pairs(model, position, sample, loss, m, reps, generator):
        inner += (grads[:, :m].mean(dim=1) * grads[:, m:].mean(dim=1)).sum(dim=1).tolist()
    return {"inner": inner, "misaligned": sum(v < 0 for v in inner), "reps": reps, "m": m}


def half_split_misalignment(grads: torch.Tensor, reps: int, generator: torch.Generator) -> dict:
    """P(<G_A, G_B> < 0) over ``reps`` random half-splits A, B of one sample's per-example
    gradients (rows of ``grads``): the misalignment a user can measure without a population
    sampler (the halves are resampled from one sample, not drawn fresh)."""
    _positive_int("reps", reps)
    n = grads.shape[0]
    if n < 4:
        raise ValueError(f"need at least 4 per-example gradients, got {n}")
    half = n // 2
    masks = torch.stack([torch.randperm(n, generator=generator) for _ in range(reps)])
    left = grads[masks[:, :half].to(grads.device)].mean(dim=1)
    right = grads[masks[:, half:2 * half].to(grads.device)].mean(dim=1)
    inner = (left * right).sum(dim=1)
    return {"misaligned": int((inner < 0).sum()), "reps": reps, "m": half}


def population_decrease(model, position: int, direction: torch.Tensor, step: float, sample,
                        loss, *, n: int, generator: torch.Generator) -> dict:
    """R(0) - R(t u) on ``n`` fresh samples by paired differences: ``mean``, ``se``, ``z``."""
    _positive_int("n", n)
    x, y = sample(n, generator)
    v0 = dict(model.named_parameters())[v_name(position)].detach()
    with torch.no_grad():
        base = loss(functional_call(model, {v_name(position): v0}, (x,)), y)
        moved = loss(functional_call(model, {v_name(position): v0 + step * direction}, (x,)), y)
    diff = base - moved
    se = float(diff.std()) / math.sqrt(n)
    mean = float(diff.mean())
    return {"mean": mean, "se": se, "z": mean / se if se > 0 else math.nan, "n": n,
            "risk_old": float(base.mean()), "risk_moved": float(moved.mean())}

