r"""D4's restricted class, measured: per-example constants of the class the jumpboard searches.

The class F_beta: the model expanded at j (:func:`numerics.probes.expansion.insert_block`) with the new
block's V in the ball ||V||_F <= beta and every other weight fixed. For an input x_i write
h_i = h_j(x_i), a_i = relu(U h_i) (the new block's features) and Phi = head o (downstream blocks)
o LN, so f_V(x_i) = Phi(h_i + lam V a_i). As V ranges over the ball, z = h_i + lam V a_i ranges
over the ball B(h_i, r_i), r_i = |lam| beta ||a_i|| (every vector of that norm is some V a_i).

:func:`restricted_constants` bounds, for each i, the Lipschitz constant L_i of Phi on B(h_i, r_i)
by propagating a ball through the network (proofs.md, D4):

- LayerNorm on B(c, r): ||D LN(z)|| <= sqrt(d) / sqrt(||Pz||^2 + d eps) and ||Pz|| >= ||Pc|| - r,
  so its Lipschitz constant there is at most k = sqrt(d) / sqrt(((||Pc|| - r)_+)^2 + d eps) and the
  image lies in B(LN(c), k r);
- a post-LN block's residual map w -> w + lam V_l relu(U_l w) on B(c, r): a ReLU unit k whose
  pre-activation satisfies |U_k c| > ||U_k|| r keeps its state on the ball; with D_c the active
  fixed units and S the units that may switch,
  ||J(w)|| <= ||I + lam V D_c U|| + |lam| ||V_{:,S}|| ||U_{S,:}|| =: l, image in B(c + g(c), l r);
- the head W: ||W||_op.

The loss l = min(||f - y||^2, M) is then Lipschitz on the reachable outputs ||f - f_0(x_i)|| <=
rho_i = L_i r_i with constant at most c_i = L_i min(2 sqrt(M), 2(||f_0(x_i) - y_i|| + rho_i)),
and c_i = 0 when ||f_0(x_i) - y_i|| - rho_i >= sqrt(M): every reachable output is then at least
sqrt(M) from y_i, so the clipped loss is M on the whole ball (a label far from every output).
The restricted Rademacher bound (theorems/guarantees.py) needs q = (mean_i c_i^2 ||a_i||^2)^(1/2).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from numerics.models.networks import LN_EPS
from numerics.probes.expansion import stream_at

__all__ = ["restricted_constants"]


def _ln_stage(c: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LN on the balls B(c_i, r_i): the centres' images and the Lipschitz bounds k_i."""
    d = c.shape[-1]
    pc = (c - c.mean(dim=-1, keepdim=True)).norm(dim=-1)
    k = math.sqrt(d) / torch.sqrt((pc - r).clamp_min(0) ** 2 + d * LN_EPS)
    return F.layer_norm(c, (d,), eps=LN_EPS), k


def _block_stage(block: nn.Module, c: torch.Tensor, r: torch.Tensor):
    """The residual map w -> w + lam g(w) of a post-LN block on B(c_i, r_i): image centres and
    Lipschitz bounds (module docstring)."""
    first, act, second = block.branch
    if not isinstance(act, nn.ReLU):
        raise ValueError("the restricted-class constants need ReLU branches")
    lam = float(block.lam)
    pre = first(c)
    uncertain = pre.abs() <= first.weight.norm(dim=1) * r[:, None]
    active = ((pre > 0) & ~uncertain).to(c.dtype)
    eye = torch.eye(c.shape[-1], dtype=c.dtype, device=c.device)
    jac = eye + lam * torch.einsum("ik,nk,kj->nij", second.weight, active, first.weight)
    unc = uncertain.to(c.dtype)
    v_unc = torch.linalg.matrix_norm(second.weight[None] * unc[:, None, :], ord=2)
    u_unc = torch.linalg.matrix_norm(first.weight[None] * unc[:, :, None], ord=2)
    lip = torch.linalg.matrix_norm(jac, ord=2) + abs(lam) * v_unc * u_unc
    return c + lam * second(act(pre)), lip


def restricted_constants(model: nn.Module, position: int, x: torch.Tensor, y: torch.Tensor,
                         *, beta: float, clip: float) -> dict:
    """Per-example constants of F_beta on the sample (x, y) (module docstring).

    ``model`` is the expanded post-LN MLP (new block at ``position``, V = 0). Returns tensors
    ``feature_norm`` ||a_i||, ``lipschitz`` L_i, ``loss_lipschitz`` c_i and the scalar ``q`` =
    (mean_i c_i^2 ||a_i||^2)^(1/2), plus ``lam`` and ``d``.
    """
    if not (math.isfinite(beta) and beta > 0) or not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"beta and clip must be finite numbers > 0, got {beta!r}, {clip!r}")
    new = model.blocks[position]
    lam = float(new.lam)
    with torch.no_grad():
        h = stream_at(model, position, x)
        features = torch.relu(new.branch[0](h))
        radius0 = abs(lam) * beta * features.norm(dim=1)
        centre, lip = _ln_stage(h, radius0)
        radius = lip * radius0
        for block in model.blocks[position + 1:]:
            centre, k = _block_stage(block, centre, radius)
            centre, k_ln = _ln_stage(centre, k * radius)
            lip, radius = lip * k * k_ln, k * k_ln * radius
        (head,) = model.head
        lip = lip * torch.linalg.matrix_norm(head.weight, ord=2)
        error = (head(centre) - y).norm(dim=1)
        loss_lip = lip * torch.clamp(2 * (error + lip * radius0), max=2 * math.sqrt(clip))
        # the output stays >= sqrt(M) from y on the whole ball: the loss is M there, constant
        loss_lip = torch.where(error - lip * radius0 >= math.sqrt(clip),
                               torch.zeros_like(loss_lip), loss_lip)
        q = float(((loss_lip * features.norm(dim=1)) ** 2).mean().sqrt())
    return {"feature_norm": features.norm(dim=1), "lipschitz": lip, "loss_lipschitz": loss_lip,
            "q": q, "lam": lam, "d": h.shape[1]}
