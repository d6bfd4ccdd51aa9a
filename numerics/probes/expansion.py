r"""Depth expansion of a trained post-LN MLP (THEORY.md D1, D2).

Model (``ModelConfig(arch="mlp", norm="post")``): h_0 = LN(E x), h_l = LN(h_{l-1} + g_l(h_{l-1}))
for l = 1..L, output W_out h_L, g_l(h) = V_l phi(U_l h). Blocks are indexed from 0 in
``model.blocks``; inserting at position j (0 <= j <= L) puts the new block right after h_j, so
it reads h_j and the old block j (if any) reads its output.

**D1.** With V_new = 0 (and zero bias) the new block maps h_j to LN(h_j). Since h_j = LN(z) is
centred with variance s = v/(v + eps), v = var z,

.. math::

    \mathrm{LN}(\mathrm{LN}(z)) = c\, \mathrm{LN}(z), \qquad c = (s + \varepsilon)^{-1/2},
    \qquad |c - 1| \approx \tfrac{\varepsilon}{2}\,\frac{|v + \varepsilon - 1|}{v + \varepsilon},

so the expanded model computes the old one evaluated on c h_j instead of h_j: the output moves by
(c - 1) J h_j + O((c - 1)^2), J the Jacobian of the rest of the network at h_j
(:func:`first_order_deviation`).

**D2.** R(V) is the risk as a function of the new block's V; G = grad R(0) by autograd
(:func:`block_gradient`), per-sample gradients by ``torch.func`` (:func:`gradient_noise`), and
the jumpboard line search R(t u), u = -G/||G|| (:func:`line_search`); per-example gradients
(:func:`per_example_gradients`) feed D2's observability test (:mod:`numerics.probes.observability`).
"""

import copy
import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from numerics.models.networks import LN_EPS, ResidualBlock, mlp_branch

__all__ = [
    "LN_EPS",
    "block_gradient",
    "directional_fd",
    "first_order_deviation",
    "first_order_ratio_fit",
    "gradient_noise",
    "insert_block",
    "line_search",
    "ln_twice_factor",
    "make_loss",
    "per_example_gradients",
    "block_inputs",
    "risk_from_inputs",
    "rest_of_network",
    "risk_at",
    "stream_at",
    "v_name",
]


def _check_post_mlp(model: nn.Module) -> None:
    cfg = getattr(model, "config", None)
    if cfg is None or cfg.arch != "mlp" or cfg.norm != "post":
        raise ValueError("depth expansion needs a post-LN MLP (ModelConfig(arch='mlp', "
                         "norm='post')); got " + (repr(cfg) if cfg is not None else "no config"))


def _check_position(model: nn.Module, position: int, *, inserted: bool = False) -> None:
    top = len(model.blocks) - (1 if inserted else 0)
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= top:
        raise ValueError(f"position must be an integer in [0, {top}], got {position!r}")


def insert_block(model: nn.Module, position: int, *, generator: torch.Generator,
                 hidden: int | None = None) -> nn.Module:
    """A copy of ``model`` with a new block at ``position``: U ~ N(0, 2/d), V = 0 (D1).

    The new block has the same lam, activation and bias setting as the old ones (biases 0), so
    its branch output is exactly 0 and the block maps h_j to LN(h_j).
    """
    _check_post_mlp(model)
    _check_position(model, position)
    cfg = model.config
    hidden = cfg.branch_hidden() if hidden is None else hidden
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
    new = copy.deepcopy(model)
    param = next(model.parameters())
    branch = mlp_branch(cfg.width, hidden, cfg.activation, cfg.bias, generator=generator)
    with torch.no_grad():
        branch[2].weight.zero_()
    branch.to(dtype=param.dtype, device=param.device)
    lam = model.blocks[0].lam.detach().clone() if len(model.blocks) else cfg.block_lam()
    block = ResidualBlock(branch, lam, "post").to(dtype=param.dtype, device=param.device)
    new.blocks.insert(position, block)
    new.config = dataclasses.replace(cfg, depth=cfg.depth + 1, hidden=cfg.hidden)
    return new


def v_name(position: int) -> str:
    """The parameter name of block ``position``'s V (the branch's second linear layer)."""
    return f"blocks.{position}.branch.2.weight"


def stream_at(model: nn.Module, position: int, x: torch.Tensor) -> torch.Tensor:
    """h_position: the residual stream after ``position`` blocks (h_0 = LN(E x))."""
    _check_position(model, position)
    h = model.embed(x)
    for block in model.blocks[:position]:
        h = block(h)
    return h


def rest_of_network(model: nn.Module, position: int, h: torch.Tensor) -> torch.Tensor:
    """The output when the stream h enters block ``position``: head(B_L(...B_position(h)))."""
    _check_position(model, position)
    for block in model.blocks[position:]:
        h = block(h)
    return model.head(h)


def ln_twice_factor(h: torch.Tensor, eps: float = LN_EPS) -> torch.Tensor:
    """c = (var h + eps)^(-1/2) per row, so that LN(h) = c (h - mean h) (D1's factor)."""
    var = h.var(dim=-1, unbiased=False, keepdim=True)
    return torch.rsqrt(var + eps)


def first_order_deviation(old: nn.Module, expanded: nn.Module, position: int,
                          x: torch.Tensor) -> dict:
    """D1 on the batch x: the output change of the expansion at ``position`` and its prediction.

    Returns ``measured`` = expanded(x) - old(x), ``predicted`` = (c - 1) J h_j (a Jacobian-vector
    product of the old model's rest at h_j) and ``c_minus_1`` per row.
    """
    _check_post_mlp(old)
    with torch.no_grad():
        h = stream_at(old, position, x)
        c = ln_twice_factor(h)
        measured = expanded(x) - old(x)
    direction = (c - 1) * (h - h.mean(dim=-1, keepdim=True))
    _, predicted = jvp(lambda s: rest_of_network(old, position, s), (h,), (direction,))
    return {"measured": measured, "predicted": predicted.detach(),
            "c_minus_1": (c - 1).squeeze(-1)}


def make_loss(task: str, clip: float | None = None):
    """Per-example loss: cross-entropy (classification) or squared error ||f - y||^2
    (regression), optionally clipped to min(., clip) (bounded, 2 sqrt(clip)-Lipschitz, D4)."""
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be classification or regression, got {task!r}")
    if clip is not None and not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"clip must be a finite number > 0, got {clip!r}")
    if task == "classification":
        if clip is not None:
            raise ValueError("clip applies to the regression loss only")
        return lambda out, y: F.cross_entropy(out, y, reduction="none")

    def squared(out, y):
        loss = ((out - y) ** 2).sum(dim=-1)
        return loss if clip is None else torch.clamp(loss, max=clip)

    return squared


def risk_at(model: nn.Module, position: int, v: torch.Tensor, x, y, loss) -> torch.Tensor:
    """R(V = v) = mean_i loss(f_v(x_i), y_i) with the new block's V replaced by ``v``."""
    out = functional_call(model, {v_name(position): v}, (x,))
    return loss(out, y).mean()


def block_inputs(model: nn.Module, position: int, x) -> tuple[torch.Tensor, torch.Tensor]:
    """(h_j, a) with a = phi(U h_j + b_1): what the new block at ``position`` reads, computed once
    so that many values of V can be evaluated from it (:func:`risk_from_inputs`)."""
    with torch.no_grad():
        h = stream_at(model, position, x)
        branch = model.blocks[position].branch
        return h, branch[1](branch[0](h))


def risk_from_inputs(model: nn.Module, position: int, v: torch.Tensor, h, a, y, loss
                     ) -> torch.Tensor:
    """R(V = v) from the new block's inputs (h_j, a) of :func:`block_inputs`: the same number
    as :func:`risk_at` without recomputing the network below the block (differentiable in v)."""
    block = model.blocks[position]
    bias = block.branch[2].bias
    update = a @ v.T + (0 if bias is None else bias)
    return loss(rest_of_network(model, position + 1, block.normalise(h + block.lam * update)),
                y).mean()


def _v(model: nn.Module, position: int) -> torch.Tensor:
    return dict(model.named_parameters())[v_name(position)].detach()


def block_gradient(model: nn.Module, position: int, x, y, loss) -> torch.Tensor:
    """G = dR/dV at the model's current V (0 right after :func:`insert_block`), by autograd."""
    v = _v(model, position).clone().requires_grad_(True)
    (g,) = torch.autograd.grad(risk_at(model, position, v, x, y, loss), v)
    return g


def directional_fd(model: nn.Module, position: int, x, y, loss, directions: torch.Tensor,
                   step: float) -> torch.Tensor:
    """Central differences (R(V + s D) - R(V - s D)) / (2 s) for each direction D (k, d, h)."""
    v = _v(model, position)
    with torch.no_grad():
        return torch.stack([
            (risk_at(model, position, v + step * dv, x, y, loss)
             - risk_at(model, position, v - step * dv, x, y, loss)) / (2 * step)
            for dv in directions
        ])


def per_example_gradients(model: nn.Module, position: int, x, y, loss) -> torch.Tensor:
    """The per-example gradients g_i = d loss(f_V(x_i), y_i)/dV at the model's current V, one
    flattened row per example (shape (m, d h)), by ``torch.func.vmap(grad(...))``."""
    v = _v(model, position)

    def one(vv, xi, yi):
        return risk_at(model, position, vv, xi[None], yi[None], loss)

    return vmap(grad(one), in_dims=(None, 0, 0))(v, x, y).reshape(x.shape[0], -1).detach()


def gradient_noise(model: nn.Module, position: int, x, y, loss) -> dict:
    """||G|| against its sampling noise in Frobenius norm, from per-example gradients g_i.

    ``noise`` = sqrt(tr Cov(g_i) / m) (unbiased covariance), the standard error of
    G = mean_i g_i spread over all d h coordinates; ``snr`` = ||G|| / noise. This ratio is kept
    as a diagnostic only: it has almost no power against a weak but non-zero G_pop (it stays
    near 1 while a directional test rejects; :mod:`numerics.probes.observability`).
    """
    per = per_example_gradients(model, position, x, y, loss)
    g = per.mean(dim=0)
    m = per.shape[0]
    trace_cov = float(((per - g) ** 2).sum()) / max(m - 1, 1)
    noise = math.sqrt(trace_cov / m)
    norm = float(g.norm())
    return {"grad_norm": norm, "noise": noise, "snr": norm / noise if noise > 0 else math.inf,
            "m": m}


def line_search(model: nn.Module, position: int, direction: torch.Tensor, steps, data) -> dict:
    """R(V + t u) for t in ``steps`` on each (name, x, y, loss) in ``data``: {name: [risks]}."""
    v = _v(model, position)
    out = {}
    with torch.no_grad():
        for name, x, y, loss in data:
            out[name] = [float(risk_at(model, position, v + t * direction, x, y, loss))
                         for t in steps]
    return out


def first_order_ratio_fit(r0: float, risks, steps, grad_norm: float) -> dict:
    """Ratios rho(t) = (R(0) - R(t u)) / (t ||G||) and the log-log slope of |1 - rho| on t.

    D2 predicts rho -> 1 with |1 - rho| = O(t): slope 1 (exactly 1 when r''(0) != 0).
    """
    steps = torch.as_tensor(list(steps), dtype=torch.float64)
    ratios = (r0 - torch.as_tensor(list(risks), dtype=torch.float64)) / (steps * grad_norm)
    dev = (1 - ratios).abs()
    keep = dev > 0
    if int(keep.sum()) < 2:
        raise ValueError("need at least two steps with a nonzero deviation to fit a slope")
    lx, ly = steps[keep].log(), dev[keep].log()
    slope = float(((lx - lx.mean()) * (ly - ly.mean())).sum() / ((lx - lx.mean()) ** 2).sum())
    return {"ratios": ratios.tolist(), "slope": slope}
