"""Veit's lesions, batched: many deletion sets in one pass through the chain (R2).

A lesion deletes the branches of some blocks and keeps their skips. :func:`lesioned_outputs`
evaluates L deletion sets at once, the stream stacked over a leading axis of size L:

- *measured*: every piece run on the whole stack by :func:`torch.func.vmap` over
  :func:`numerics.real.frozen.run_piece` (gates recomputed at the lesioned stream), and after
  block i the stack takes the skip where set j deletes i and the sum otherwise;
- *frozen*: the frozen-gate maps (gates held at their unlesioned values) on the same stack,
  branches multiplied by 0 or 1 per set: the sum of the paths that avoid the deleted blocks.

One pass costs about L / (n + 1) of the spectrum's dynamic programme (which stacks up to n + 1
vectors), instead of 2 L separate passes; ``chunk`` bounds the stack (memory).
"""

import torch

from numerics.real.frozen import TracedModel, _frozen_pieces, run_piece

__all__ = ["lesioned_outputs"]


def _mask(sets: list, block: int, like: torch.Tensor) -> torch.Tensor:
    keep = torch.tensor([block not in s for s in sets], dtype=like.dtype, device=like.device)
    return keep.reshape(-1, *([1] * (like.dim() - 1)))


def _measured(traced: TracedModel, sets: list) -> torch.Tensor:
    x = traced.x0.unsqueeze(0).expand(len(sets), *traced.x0.shape).clone()
    block = -1
    for piece in traced.chain:
        names = [piece.end.name] + ([piece.skip.node.name] if piece.kind == "block" else [])

        def outputs(z, piece=piece, names=names):
            env = run_piece(piece, z, traced.actual)
            return tuple(env[n] for n in names)

        outs = torch.func.vmap(outputs)(x)
        if piece.kind == "block":
            block += 1
            keep = _mask(sets, block, outs[0])
            x = keep * outs[0] + (1 - keep) * outs[1]
        else:
            x = outs[0]
    return x


def _frozen(traced: TracedModel, sets: list) -> torch.Tensor:
    x = traced.x0.unsqueeze(0).expand(len(sets), *traced.x0.shape).clone()
    flags = traced.x0.new_ones(len(sets))
    block = -1
    for fp in _frozen_pieces(traced):
        outs = fp.apply(x, flags)
        if fp.piece.kind == "plain":
            x = outs[0]
            continue
        block += 1
        keep = _mask(sets, block, outs[0])
        x = sum(o if t.kind != "branch" else keep * o for t, o in zip(fp.piece.terms, outs))
    return x


def lesioned_outputs(traced: TracedModel, sets, *, chunk: int = 64
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(measured, frozen): the outputs with each deletion set of ``sets`` (0-based blocks),
    stacked over the first axis, gates recomputed and gates frozen."""
    sets = [set(s) for s in sets]
    measured, frozen = [], []
    with torch.no_grad():
        for start in range(0, len(sets), chunk):
            part = sets[start:start + chunk]
            measured.append(_measured(traced, part))
            frozen.append(_frozen(traced, part))
    return torch.cat(measured), torch.cat(frozen)
