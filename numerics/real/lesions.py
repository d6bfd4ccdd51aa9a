"""Veit's lesions, batched: many deletion sets in one pass through the chain (R2).

A lesion deletes the branches of some blocks and keeps their skips. :func:`lesioned_outputs`
evaluates L deletion sets at once, the stream stacked over a leading axis of size L:

- *measured*: every piece run on the whole stack by :func:`torch.func.vmap` over
  :func:`numerics.real.frozen.run_piece` (gates recomputed at the lesioned stream), and after
  block i the stack takes the skip where set j deletes i and the sum otherwise;
- *frozen*: the frozen-gate maps (gates held at their unlesioned values) on the same stack,
  branches multiplied by 0 or 1 per set: the sum of the paths that avoid the deleted blocks.

A deletion set joins the stack at its first deleted block (before it, its stream is the actual
one): the pass costs sum_j (n - min D_j) block applications, about n^2/2 for the n single
lesions, as much as the spectrum's dynamic programme; ``chunk`` bounds the stack (memory).
"""

import torch
from tqdm import tqdm

from numerics.real.frozen import TracedModel, _frozen_pieces, run_piece

__all__ = ["lesioned_outputs"]


def _run(traced: TracedModel, sets: list, step, desc: str = "") -> torch.Tensor:
    """Run the chain on the deletion sets, each joining the stack at its first deleted block
    (before it the lesioned stream is the actual one): sum_j (n - min D_j) block applications.
    ``step(index, piece, stack, keep)`` applies one piece to the active stack."""
    firsts = [min(s) if s else None for s in sets]
    out: list = [traced.output if f is None else None for f in firsts]
    active: list = []
    stack = None
    block = -1
    bar = tqdm(traced.chain, desc=desc, disable=len(traced.blocks) < 32 or not desc)
    for index, piece in enumerate(bar):
        if piece.kind == "block":
            block += 1
            joining = [j for j, f in enumerate(firsts) if f == block]
            if joining:
                start = traced.actual[piece.start.name]
                fresh = start.unsqueeze(0).expand(len(joining), *start.shape)
                stack = fresh.clone() if stack is None else torch.cat([stack, fresh])
                active += joining
        if stack is None:
            continue
        keep = None
        if piece.kind == "block":
            keep = torch.tensor([block not in sets[j] for j in active], dtype=stack.dtype,
                                device=stack.device).reshape(-1, *([1] * (stack.dim() - 1)))
        stack = step(index, piece, stack, keep)
    for row, j in enumerate(active):
        out[j] = stack[row]
    return torch.stack(out)


def _measured(traced: TracedModel, sets: list) -> torch.Tensor:
    def step(index, piece, x, keep):
        names = [piece.end.name] + ([piece.skip.node.name] if piece.kind == "block" else [])

        def outputs(z):
            env = run_piece(piece, z, traced.actual)
            return tuple(env[n] for n in names)

        outs = torch.func.vmap(outputs)(x)
        return outs[0] if keep is None else keep * outs[0] + (1 - keep) * outs[1]

    return _run(traced, sets, step, "lesions (gates recomputed)")


def _frozen(traced: TracedModel, sets: list) -> torch.Tensor:
    pieces = _frozen_pieces(traced)

    def step(index, piece, x, keep):
        fp = pieces[index]
        outs = fp.apply(x, x.new_ones(x.shape[0]))
        if keep is None:
            return outs[0]
        return sum(o if t.kind != "branch" else keep * o for t, o in zip(piece.terms, outs))

    return _run(traced, sets, step, "lesions (gates frozen)")


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
