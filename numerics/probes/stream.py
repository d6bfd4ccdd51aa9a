"""S2, S3, S5, S7: the residual stream of a (trained) model, block by block: signal ratio, effective lam, shares.

For a ResidualNetwork and a batch x, the stream is x_0 = embed(x), x_i = B_i(x_{i-1}). This
module reads off it

- the **signal ratio** R = sum_b ||x_n||^2 / sum_b ||x_0||^2 (S2 predicts (1 + lam^2 sigma^2)^n
  in expectation at initialisation, S3 1 + n lam^2 sigma^2 for pre-LN);
- each block's **realised scale** r_i = (sum_b ||x_i - x_{i-1}||^2 / sum_b ||x_{i-1}||^2)^(1/2),
  what S5's effective lam measures (||lam f(z)|| / ||z|| with sigma^2 = 1) on the actual stream;
- each block's **multiplier** lam_i times Fixup's scalar multiplier where there is one;
- the **signed path-length shares** s_k = <y_k, x_n> / ||x_n||^2 of R2's spectrum
  (:class:`numerics.probes.spectrum.Spectrum`), for towers without normalisation; Fixup branches are
  folded into plain ones first (:func:`numerics.models.fixup.fold_fixup`).
"""

import torch
from torch import nn

from numerics.models.fixup import FixupBranch, fold_fixup
from numerics.probes.spectrum import path_spectrum

__all__ = ["block_multipliers", "path_shares", "stream_summary", "stream_states"]


@torch.no_grad()
def stream_states(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """[x_0, x_1, ..., x_n] of ``model`` (eval mode) on the batch ``x``."""
    states = [model.embed(x)]
    for block in model.blocks:
        states.append(block(states[-1]))
    return states


def _sq(t: torch.Tensor) -> float:
    return float(t.flatten(1).pow(2).sum())


def block_multipliers(model: nn.Module) -> list[float]:
    """lam_i of each block, times the scalar multiplier of a Fixup branch."""
    out = []
    for block in model.blocks:
        scale = float(block.branch.scale.detach()) if isinstance(block.branch, FixupBranch) else 1.0
        out.append(float(block.lam.detach()) * scale)
    return out


def stream_summary(model: nn.Module, x: torch.Tensor) -> dict:
    """``signal_ratio``, ``realised_scales`` (r_i) and ``multipliers`` of ``model`` on ``x``."""
    states = stream_states(model, x)
    with torch.no_grad():  # a shape-changing block (resnet) keeps P x_{i-1}, not x_{i-1}
        kept = [getattr(block, "skip", lambda v: v)(a) for block, a in zip(model.blocks, states)]
    scales = [(_sq(b - a) / _sq(a)) ** 0.5 if _sq(a) > 0 else float("nan")
              for a, b in zip(kept, states[1:])]
    return {"signal_ratio": _sq(states[-1]) / _sq(states[0]), "realised_scales": scales,
            "multipliers": block_multipliers(model)}


def path_shares(model: nn.Module, x: torch.Tensor) -> dict:
    """Signed shares s_0..s_n, mean path length and the split's error, for norm == "none".

    Raises ``ValueError`` for normalised towers (the spectrum needs piecewise-linear blocks).
    """
    if model.config.norm != "none":
        raise ValueError(f"path shares need a tower without normalisation, got "
                         f"norm={model.config.norm!r}")
    plain = fold_fixup(model)
    with torch.no_grad():
        spectrum = path_spectrum(list(plain.blocks), plain.embed(x))
    return {"signed_shares": spectrum.signed_shares(), "mean_length": spectrum.mean_length(),
            "max_rel_error": spectrum.max_rel_error()}
