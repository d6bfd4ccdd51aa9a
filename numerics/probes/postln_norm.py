r"""S3's post-LN norm identity by a second route: the LayerNorm variance recomputed independently.

A post-LN tower (:func:`numerics.probes.montecarlo.signal_second_moments` with ``norm="post"``)
sets x_i = LN(z_i), z_i = x_{i-1} + lam f_i(x_{i-1}), LN(z) = P z / sqrt(v(z) + eps) with P the
centring and v(z) = ||P z||^2 / d the *biased* variance over the d features. Hence

.. math::

    \|x_i\|^2 = \frac{\|P z_i\|^2}{v_i + \varepsilon} = d\,\frac{v_i}{v_i + \varepsilon}
    \qquad (S3, post-LN).

The Monte Carlo measures ||x_i||^2 on the output of ``torch.nn.functional.layer_norm``. To test
that against the formula without reading v off the same tensor, :func:`replay_postln_variances`
replays the same towers from a generator seeded as the Monte Carlo's was (the same draws, in
the same order: x_0, the tangent u, then W_1 and W_2 of each layer), runs its *own* forward pass
with a LayerNorm written out here (no ``F.layer_norm``), and computes each v_i of its own
pre-normalisation input z_i by Welford's one-pass recurrence over the features, in float64:

    mean_k = mean_{k-1} + (z_k - mean_{k-1}) / k,
    M2_k = M2_{k-1} + (z_k - mean_{k-1}) (z_k - mean_k),  v = M2_d / d.

The two forward passes share no tensor; they agree to rounding as long as both compute the same
LayerNorm, so d v_i/(v_i + eps) from the replay predicts the Monte Carlo's ||x_i||^2. A tower
whose LayerNorm used another eps, the unbiased variance, or no eps moves ||x_i||^2 / d by about
|eps' - eps|/v, eps/(d v) or eps/v, far above float64 rounding.
"""

import math

import torch

from numerics.probes.montecarlo import LN_EPS, gaussian_weights

__all__ = ["replay_postln_variances", "welford_variance"]


def welford_variance(z: torch.Tensor) -> torch.Tensor:
    """Biased variance over the last dimension by Welford's recurrence (module docstring), in
    float64, one feature at a time (independent of ``torch.var``'s reduction).

    >>> welford_variance(torch.tensor([[1.0, 2.0, 3.0, 4.0]])).item()
    1.25
    """
    z = z.to(torch.float64)
    mean = torch.zeros(z.shape[:-1], dtype=torch.float64, device=z.device)
    m2 = torch.zeros_like(mean)
    for k in range(z.shape[-1]):
        value = z[..., k]
        delta = value - mean
        mean = mean + delta / (k + 1)
        m2 = m2 + delta * (value - mean)
    return m2 / z.shape[-1]


def _layer_norm(z: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """P z / sqrt(v + eps) on (n_nets, d), written out (no F.layer_norm)."""
    centred = z - z.sum(-1, keepdim=True) / z.shape[-1]
    return centred / torch.sqrt(var + LN_EPS)[:, None]


def replay_postln_variances(depth: int, width: int, hidden: int, lam: float, n_nets: int, *,
                            generator: torch.Generator) -> torch.Tensor:
    """The variances v_i (shape (depth, n_nets)) of the pre-normalisation inputs z_i of the
    post-LN towers that ``signal_second_moments(depth, width, hidden, lam, n_nets,
    norm="post", generator=g)`` draws when ``g`` starts in ``generator``'s state (float64; its
    own forward pass and LayerNorm, Welford's variance: module docstring)."""
    if width < 2:
        raise ValueError(f"width must be >= 2 for a LayerNorm, got {width!r}")
    kwargs = {"generator": generator, "dtype": torch.float64}
    x = torch.randn(n_nets, width, 1, **kwargs)[..., 0]
    x = x - x.sum(-1, keepdim=True) / width
    x = x * math.sqrt(width) / torch.sqrt((x * x).sum(-1, keepdim=True))
    torch.randn(n_nets, width, 1, **kwargs)  # the Monte Carlo's tangent u, drawn and unused
    variances = []
    for _ in range(depth):
        w1 = gaussian_weights((n_nets, hidden, width), math.sqrt(2.0 / width), **kwargs)
        w2 = gaussian_weights((n_nets, width, hidden), 1 / math.sqrt(hidden), **kwargs)
        pre = torch.einsum("nhd,nd->nh", w1, x)
        z = x + lam * torch.einsum("ndh,nh->nd", w2, torch.relu(pre))
        variances.append(welford_variance(z))
        x = _layer_norm(z, variances[-1])
    return torch.stack(variances)
