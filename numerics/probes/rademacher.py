r"""D3 measured: Rademacher averages of post-LN networks, at the head and for the whole class.

**Head level.** For fixed features h_i = h_L(x_i) (rows of H, ||h_i|| <= sqrt(d) after LN)

.. math::

    \sup_{\|w\| \le B} \frac1m \sum_i \sigma_i\, w\cdot h_i = \frac{B}{m}\|\sigma^\top H\|,
    \qquad \mathbb{E}\|\sigma^\top H\|^2 = \sum_i \|h_i\|^2 ,

so a batched Monte Carlo over sign vectors estimates the head-level Rademacher average, which
must stay below B sqrt(d/m) (:func:`head_rademacher_mc`).

**Whole class (falsification attempt).** For one sign vector sigma, :func:`correlate_random_signs`
trains the inner weights (E, U_l, V_l, projected onto their Frobenius budgets after every step)
to maximise (B/m)||sigma^T H||, the best correlation with the head chosen optimally. What it
reaches is a lower estimate of sup_f (1/m) sum_i sigma_i f(x_i), so its mean over sign vectors
must stay below D3's whole-class bound; it typically exceeds the head-level B sqrt(d/m), which
therefore does not bound the whole class.
"""

import math

import torch

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model

__all__ = ["correlate_random_signs", "head_rademacher_mc", "project_budgets"]


def head_rademacher_mc(features: torch.Tensor, head_norm: float, n_sigma: int, *,
                       generator: torch.Generator) -> dict:
    """Monte Carlo of E_sigma (B/m)||sigma^T H|| over ``n_sigma`` sign vectors in one matmul.

    Returns ``mean``, ``se`` (standard error), ``second_moment`` of ||sigma^T H||^2 with its
    ``second_moment_se`` and the exact ``second_moment_exact`` = sum_i ||h_i||^2.
    """
    if features.ndim != 2:
        raise ValueError(f"features must have shape (m, d), got {tuple(features.shape)}")
    if not (math.isfinite(head_norm) and head_norm > 0):
        raise ValueError(f"head_norm must be a finite number > 0, got {head_norm!r}")
    if isinstance(n_sigma, bool) or not isinstance(n_sigma, int) or n_sigma < 2:
        raise ValueError(f"n_sigma must be an integer >= 2, got {n_sigma!r}")
    m = features.shape[0]
    signs = torch.randint(0, 2, (n_sigma, m), generator=generator).to(features) * 2 - 1
    norms = (signs @ features).norm(dim=1)
    values = head_norm * norms / m
    sq = norms**2
    return {
        "mean": float(values.mean()), "se": float(values.std() / math.sqrt(n_sigma)),
        "second_moment": float(sq.mean()), "second_moment_se": float(sq.std() / math.sqrt(n_sigma)),
        "second_moment_exact": float((features**2).sum()), "m": m, "d": features.shape[1],
    }


def project_budgets(model, *, embed_norm: float, u_norm: float, v_norm: float) -> None:
    """Scale E, every U_l and every V_l down onto their Frobenius balls (in place)."""
    with torch.no_grad():
        pairs = [(model.embed[0].weight, embed_norm)]
        for block in model.blocks:
            pairs += [(block.branch[0].weight, u_norm), (block.branch[2].weight, v_norm)]
        for weight, budget in pairs:
            norm = float(weight.norm())
            if norm > budget:
                weight.mul_(budget / norm)


def correlate_random_signs(x: torch.Tensor, signs: torch.Tensor, *, depth: int, width: int,
                           hidden: int, head_norm: float, embed_norm: float, u_norm: float,
                           v_norm: float, steps: int, lr: float = 0.05,
                           generator: torch.Generator) -> dict:
    """Train a post-LN MLP's inner weights to correlate with ``signs``; the achieved correlation.

    Maximises (B/m)||sum_i sigma_i h_L(x_i)|| by Adam with projection onto the budgets; the head
    w = B s/||s||, s = sum_i sigma_i h_L(x_i), is optimal for given features. Returns the best
    ``correlation`` seen and the ``initial`` one (random inner weights, also within budget).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if signs.shape != (x.shape[0],):
        raise ValueError(f"signs must have shape ({x.shape[0]},), got {tuple(signs.shape)}")
    cfg = ModelConfig(arch="mlp", depth=depth, width=width, hidden=hidden, norm="post",
                      bias=False)
    model = build_model(cfg, x.shape[1], 1, generator=generator).to(x.dtype)
    budgets = {"embed_norm": embed_norm, "u_norm": u_norm, "v_norm": v_norm}
    project_budgets(model, **budgets)
    params = [model.embed[0].weight]
    for block in model.blocks:
        params += [block.branch[0].weight, block.branch[2].weight]
    optimiser = torch.optim.Adam(params, lr=lr)
    m = x.shape[0]

    def correlation() -> torch.Tensor:
        return head_norm * (signs.to(x) @ model.run_blocks(model.embed(x))).norm() / m

    with torch.no_grad():
        initial = best = float(correlation())
    for _ in range(steps):
        optimiser.zero_grad()
        (-correlation()).backward()
        optimiser.step()
        project_budgets(model, **budgets)
        with torch.no_grad():
            best = max(best, float(correlation()))
    return {"correlation": best, "initial": initial}
