"""Monte Carlo at initialisation (S2, S3): thousands of independent towers in one tensor op.

Every function here draws ``n_nets`` independent residual towers of depth n on R^d and runs
them side by side: the weights of layer i of all networks form one tensor of shape
``(n_nets, h, d)`` and each layer is a single batched matrix product (:func:`torch.bmm`), so
the Python loop runs over layers, never over networks.

Conventions (THEORY.md, "Notation"): x_0 is the residual stream's input, block i sees x_{i-1},

.. math::

    x_i = x_{i-1} + \\lambda f_i(\\cdot), \\qquad f_i(z) = W_2 \\,\\mathrm{ReLU}(W_1 z),

with no biases, W_1 entries N(0, 2/d) and W_2 entries N(0, 1/h), so that
sigma^2 = d s_2^2 h s_1^2 / 2 = 1. Each network gets its own input x_0: a Gaussian vector,
centred and rescaled so that ||x_0||^2 = d exactly (the scale of a LayerNorm output), which
makes the S3 prediction the same for every network. All randomness comes from the caller's
``generator``.

**Sampling.** Drawing the weights, not multiplying them, is most of the cost of these runs
(2000 networks of width 16: ~70% of the batched run with float64 draws), so the weights are
drawn by torch's float32 normal sampler, about 4x faster than its float64 one, and widened to
``dtype``; every product and sum runs in ``dtype``. Float32 uniforms bound the draws near
|z| = 5.8 (largest of 1e8 draws: 5.64; a Gaussian has 8e-9 of its mass beyond 5.77), which
moves E z^2 = 1 by about 1e-6 and E z^4 = 3 by about 1e-5 relative, far below the standard
error of any Monte Carlo here (checked in ``tests/numerics/probes/test_montecarlo.py``).
"""

import math

import torch
import torch.nn.functional as F

__all__ = [
    "CHUNK_ELEMENTS",
    "LN_EPS",
    "NORMS",
    "chunk_size",
    "gaussian_weights",
    "geometric_rate",
    "linear_path_energies",
    "mean_and_se",
    "median_and_se",
    "relu_path_energies",
    "signal_second_moments",
]

NORMS = ("none", "pre", "post")
LN_EPS = 1e-5


def mean_and_se(samples: torch.Tensor) -> tuple[float, float]:
    """The sample mean and its standard error s / sqrt(N) over the first dimension.

    >>> mean_and_se(torch.tensor([1.0, 3.0]))
    (2.0, 1.0)
    """
    n = samples.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 samples for a standard error, got {n}")
    mean = samples.mean(0)
    se = samples.std(0, unbiased=True) / math.sqrt(n)
    return _scalar(mean), _scalar(se)


def median_and_se(samples: torch.Tensor) -> tuple[float, float]:
    """The sample median of a 1-d sample and a distribution-free standard error.

    The SE is half the width of the order-statistic interval x_(N/2 - sqrt(N)/2) ..
    x_(N/2 + sqrt(N)/2), which covers the median with probability ~68% (the Binomial(N, 1/2)
    count of points below it has standard deviation sqrt(N)/2).

    >>> median_and_se(torch.arange(101, dtype=torch.float64))
    (50.0, 5.0)
    """
    n = samples.shape[0]
    if samples.dim() != 1 or n < 4:
        raise ValueError(f"need a 1-d sample of at least 4 values, got shape {tuple(samples.shape)}")
    ordered = samples.sort().values
    half = math.sqrt(n) / 2
    lo, hi = max(0, round((n - 1) / 2 - half)), min(n - 1, round((n - 1) / 2 + half))
    return ordered.median().item(), (ordered[hi] - ordered[lo]).item() / 2


def geometric_rate(samples: torch.Tensor) -> tuple[float, float]:
    """Least-squares slope b of log m_i = b i through the origin, i = 1..n, m_i the mean over
    networks of ``samples[i]`` (shape (n + 1, N), ``samples[0]`` the value 1 at i = 0), and its
    standard error by the delta method over networks (the m_i share networks, so their errors
    are correlated; the SE carries that covariance).

    exp(b) is the per-step decay factor of the means.

    >>> x = torch.tensor([[1.0, 1.0], [0.5, 0.5], [0.25, 0.25]], dtype=torch.float64)
    >>> b, se = geometric_rate(x)
    >>> round(math.exp(b), 12), se
    (0.5, 0.0)
    """
    n = samples.shape[0] - 1
    if samples.dim() != 2 or n < 1 or samples.shape[1] < 2:
        raise ValueError(f"samples must have shape (n + 1, N) with n >= 1, N >= 2, got "
                         f"{tuple(samples.shape)}")
    steps = torch.arange(1, n + 1, dtype=samples.dtype, device=samples.device)
    means = samples[1:].mean(1)
    weights = steps / steps.pow(2).sum()
    slope = (weights * means.log()).sum()
    influence = ((weights / means).unsqueeze(1) * (samples[1:] - means.unsqueeze(1))).sum(0)
    return slope.item(), influence.std().item() / math.sqrt(samples.shape[1])


def _scalar(value: torch.Tensor):
    return value.item() if value.dim() == 0 else value.tolist()


def _validate(depth, width, hidden, lam, n_nets) -> None:
    for name, value in (("depth", depth), ("width", width), ("hidden", hidden)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(n_nets, int) or n_nets < 2:
        raise ValueError(f"n_nets must be an integer >= 2, got {n_nets!r}")
    if not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")


def _inputs(n_nets, width, generator, dtype, device) -> torch.Tensor:
    """One x_0 per network, shape (n_nets, d, 1): centred, with ||x_0||^2 = d exactly."""
    x = torch.randn(n_nets, width, 1, generator=generator, dtype=dtype, device=device)
    if width > 1:
        x = x - x.mean(1, keepdim=True)
    return x * math.sqrt(width) / x.norm(dim=1, keepdim=True)


def gaussian_weights(shape, std: float, *, generator, dtype=torch.float64, device="cpu",
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """Entries N(0, std^2): float32 standard normals from ``generator``, widened to ``dtype``
    (into ``out`` when given, to save reallocating per layer) and scaled by ``std``.

    >>> w = gaussian_weights((2, 3), 0.5, generator=torch.Generator().manual_seed(0))
    >>> w.dtype, w.shape
    (torch.float64, torch.Size([2, 3]))
    """
    draws = torch.randn(shape, generator=generator, dtype=torch.float32, device=device)
    if out is None:
        out = torch.empty(shape, dtype=dtype, device=device)
    return out.copy_(draws).mul_(std)


def _relu_layer(n_nets, width, hidden, generator, dtype, device, out=None):
    """W_1 (n_nets, h, d) with variance 2/d and W_2 (n_nets, d, h) with variance 1/h.

    ``out``: a pair of tensors of those shapes to draw into (saves reallocating per layer).
    """
    out = out or (None, None)
    kwargs = {"generator": generator, "dtype": dtype, "device": device}
    return (gaussian_weights((n_nets, hidden, width), math.sqrt(2.0 / width), out=out[0], **kwargs),
            gaussian_weights((n_nets, width, hidden), 1 / math.sqrt(hidden), out=out[1], **kwargs))


def _layer_norm(x: torch.Tensor) -> torch.Tensor:
    """LayerNorm without affine parameters over the feature dimension of (n_nets, d, 1)."""
    return F.layer_norm(x.squeeze(-1), (x.shape[1],), eps=LN_EPS).unsqueeze(-1)


def signal_second_moments(depth, width, hidden, lam, n_nets, *, norm="none", generator,
                          dtype=torch.float64, device="cpu") -> dict:
    """Per-network signal energies of random ReLU towers at initialisation (S2, S3).

    Runs ``n_nets`` independent towers, each on its own x_0 with ||x_0||^2 = d, and records

    - ``ratio``: ||x_n||^2 / ||x_0||^2 per network (S2 predicts mean (1 + lam^2 sigma^2)^n
      for ``norm="none"``; S3 predicts 1 + n lam^2 sigma^2 for ``norm="pre"``, since
      ||x_0||^2 = d; for ``norm="post"`` it is d / d = 1 up to LayerNorm's eps);
    - ``jac_ratio``: ||(d x_n / d x_0) u||^2 / ||u||^2 for one random direction u per network
      (a forward-mode tangent through the frozen ReLU masks; S2 predicts the same mean as
      ``ratio``), only for ``norm="none"``;
    - ``layer_sq``: ||x_i||^2 for i = 0..n, shape (n + 1, n_nets);
    - ``identity_share`` (``norm="post"`` only): the identity path's share of x_i,
      c_i^2 ||x_0||^2 / ||x_i||^2, where LN(z) = P z / s(z) (P removes the mean) gives
      x_i = c_i x_0 + (branch terms) with c_i = prod_{j <= i} 1 / s_j for the centred x_0;
      shape (n + 1, n_nets): its mean is rho^i, rho = E 1/s^2 (S3;
      :func:`theorems.block_law.postln_factor`);
    - ``post_var`` (``norm="post"`` only): the variance v over features of x_{i-1} + lam f_i
      that LayerNorm divides by, shape (n, n_nets): ||x_i||^2 = d v / (v + eps) exactly.

    plus ``mean`` and ``se`` (standard error) of ``ratio``, ``x0_sq`` (= d) and the
    arguments. The branches have no biases, W_1 ~ N(0, 2/d), W_2 ~ N(0, 1/h): sigma^2 = 1.

    >>> g = torch.Generator().manual_seed(0)
    >>> out = signal_second_moments(3, 4, 4, 0.5, 1000, generator=g)
    >>> out["ratio"].shape, abs(out["mean"] - 1.25 ** 3) < 5 * out["se"]
    (torch.Size([1000]), True)
    """
    _validate(depth, width, hidden, lam, n_nets)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if norm != "none" and width < 2:
        raise ValueError(f"norm={norm!r} needs width >= 2 (LayerNorm of one feature is 0)")
    x = _inputs(n_nets, width, generator, dtype, device)
    x0_sq = x.pow(2).sum((1, 2))
    u = torch.randn(n_nets, width, 1, generator=generator, dtype=dtype, device=device)
    u = u / u.norm(dim=1, keepdim=True)
    scale = torch.ones(n_nets, dtype=dtype, device=device)
    layer_sq, shares, post_var = [x0_sq], [torch.ones_like(x0_sq)], []
    for _ in range(depth):
        w1, w2 = _relu_layer(n_nets, width, hidden, generator, dtype, device)
        z = _layer_norm(x) if norm == "pre" else x
        pre = torch.bmm(w1, z)
        branch = torch.bmm(w2, torch.relu(pre))
        if norm == "none":
            u = u + lam * torch.bmm(w2, (pre > 0).to(dtype) * torch.bmm(w1, u))
        x = x + lam * branch
        if norm == "post":
            centred = x - x.mean(1, keepdim=True)
            post_var.append(centred.pow(2).mean((1, 2)))
            s = torch.sqrt(post_var[-1] + LN_EPS)
            x = _layer_norm(x)
            scale = scale / s
        layer_sq.append(x.pow(2).sum((1, 2)))
        if norm == "post":
            shares.append(scale.pow(2) * x0_sq / layer_sq[-1])
    ratio = layer_sq[-1] / x0_sq
    mean, se = mean_and_se(ratio)
    out = {
        "depth": depth, "width": width, "hidden": hidden, "lam": float(lam), "norm": norm,
        "n_nets": n_nets, "x0_sq": float(width), "ratio": ratio, "mean": mean, "se": se,
        "layer_sq": torch.stack(layer_sq),
    }
    if norm == "none":
        out["jac_ratio"] = u.pow(2).sum((1, 2))
    if norm == "post":
        out["identity_share"] = torch.stack(shares)
        out["post_var"] = torch.stack(post_var)
    return out


def linear_path_energies(depth, width, lam, n_nets, *, sigma2=1.0, generator,
                         dtype=torch.float64, device="cpu") -> dict:
    """Energies of the path terms by length for random *linear* branches (S2, exact law).

    Branch i is f_i(x) = A_i x with entries N(0, sigma2 / d), so E[A^T A] = sigma2 I. The
    path-length terms y_k = sum_{|S| = k} lam^k A_S x_0 come from the dynamic programme
    y_k <- y_k + lam A_i y_{k-1} (R1/R2), batched over networks. S2 predicts
    E ||y_k||^2 / ||x_0||^2 = C(n, k) (lam^2 sigma2)^k exactly, at every width.

    Returns ``energy`` (n_nets, n + 1): ||y_k||^2 / ||x_0||^2 per network, its ``mean`` and
    ``se`` (lists over k), and ``sum_error``: max_nets ||sum_k y_k - x_n|| / ||x_n||.
    """
    _validate(depth, width, 1, lam, n_nets)
    if not (math.isfinite(sigma2) and sigma2 >= 0):
        raise ValueError(f"sigma2 must be a finite number >= 0, got {sigma2!r}")
    x0 = _inputs(n_nets, width, generator, dtype, device)
    y = torch.zeros(n_nets, width, depth + 1, dtype=dtype, device=device)
    y[:, :, :1] = x0
    x = x0
    for i in range(1, depth + 1):
        a = gaussian_weights((n_nets, width, width), math.sqrt(sigma2 / width),
                             generator=generator, dtype=dtype, device=device)
        y[:, :, 1:i + 1] += lam * torch.bmm(a, y[:, :, :i])
        x = x + lam * torch.bmm(a, x)
    return _merge([_energies(y, x, x0)])


def relu_path_energies(depth, width, hidden, lam, n_nets, *, generator,
                       dtype=torch.float64, device="cpu") -> dict:
    """Energies of the gated path terms by length for random ReLU towers (S2, measured).

    The R2 spectrum y_k at the actual ReLU masks (no biases, so no augmented coordinate is
    needed): y_k <- y_k + lam W_2 G_i W_1 y_{k-1}, G_i = diag(1[W_1 x_{i-1} > 0]). The energy
    split ||y_k||^2 is only approximately binomial: the masks depend on the weights. Returns
    the same keys as :func:`linear_path_energies`, measured, for the caller to compare with
    C(n, k) (lam^2 sigma^2)^k at several widths.

    The networks run in consecutive chunks of :func:`chunk_size` networks (at most
    ``CHUNK_ELEMENTS`` weights per layer tensor), all drawn from the one ``generator``, so the
    peak memory stays bounded at any ``n_nets`` and the result is fixed by the seed. The
    per-network energies of all chunks are kept, so ``mean`` and ``se`` are those of the
    whole sample.
    """
    _validate(depth, width, hidden, lam, n_nets)
    step = chunk_size(width, hidden, n_nets)
    parts = [_relu_path_chunk(depth, width, hidden, lam, min(step, n_nets - start), generator,
                              dtype, device) for start in range(0, n_nets, step)]
    return _merge(parts)


CHUNK_ELEMENTS = 2 ** 23
"""Weights per (n_nets, h, d) layer tensor in one chunk: 64 MiB in float64."""


def chunk_size(width: int, hidden: int, n_nets: int) -> int:
    """Networks per chunk: as many as keep one layer's W_1 within ``CHUNK_ELEMENTS`` entries.

    >>> chunk_size(4, 4, 1000), chunk_size(128, 128, 20000)
    (1000, 512)
    """
    return max(1, min(n_nets, CHUNK_ELEMENTS // (width * hidden)))


def _relu_path_chunk(depth, width, hidden, lam, n_nets, generator, dtype, device) -> dict:
    """:func:`relu_path_energies` for one chunk of networks (a single batched pass)."""
    x0 = _inputs(n_nets, width, generator, dtype, device)
    y = torch.zeros(n_nets, width, depth + 1, dtype=dtype, device=device)
    y[:, :, :1] = x0
    x = x0
    weights = None
    for i in range(1, depth + 1):
        weights = _relu_layer(n_nets, width, hidden, generator, dtype, device, out=weights)
        w1, w2 = weights
        pre = torch.bmm(w1, x)
        y[:, :, 1:i + 1] += lam * torch.bmm(w2, (pre > 0).to(dtype) * torch.bmm(w1, y[:, :, :i]))
        x = x + lam * torch.bmm(w2, torch.relu(pre))
    return _energies(y, x, x0)


def _merge(parts: list[dict]) -> dict:
    """Join the per-chunk results of :func:`_energies`: all samples, then their mean and SE."""
    energy = torch.cat([part["energy"] for part in parts])
    mean, se = mean_and_se(energy)
    return {"energy": energy, "mean": mean, "se": se,
            "sum_error": max(part["sum_error"] for part in parts)}


def _energies(y, x, x0) -> dict:
    """y: (n_nets, d, n + 1) path terms by length; x: x_n and x0: x_0, both (n_nets, d, 1)."""
    x0_sq = x0.pow(2).sum((1, 2))
    energy = y.pow(2).sum(1) / x0_sq.unsqueeze(1)
    err = (y.sum(2, keepdim=True) - x).norm(dim=(1, 2)) / x.norm(dim=(1, 2))
    return {"energy": energy, "sum_error": err.max().item()}
