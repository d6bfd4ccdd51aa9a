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
:func:`measured_lesions` runs the measured half alone; :func:`frozen_single_effects` gives every
single frozen lesion exactly from one frozen pass and its backward (the lesion row's control
variate, :mod:`numerics.real.lesion_study`).
"""

import torch
from tqdm import tqdm

from numerics.real.frozen import TracedModel, _frozen_pieces, run_piece

__all__ = ["frozen_single_effects", "lesioned_outputs", "measured_lesions"]


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


def measured_lesions(traced: TracedModel, sets, *, chunk: int = 64) -> torch.Tensor:
    """The outputs with each deletion set of ``sets`` (0-based blocks), gates recomputed,
    stacked over the first axis: the measured lesions alone (half of :func:`lesioned_outputs`)."""
    sets = [set(s) for s in sets]
    with torch.no_grad():
        return torch.cat([_measured(traced, sets[start:start + chunk])
                          for start in range(0, len(sets), chunk)])


def frozen_single_effects(traced: TracedModel) -> list[float]:
    """a_i = dF/d delta_i at delta = 1, for every block i at once (one pass and its backward).

    F(delta) is the kept share <y(delta), out> / ||out||^2 of the frozen-gate chain whose block i
    adds delta_i times its branches. F is affine in each delta_i separately (each path passes
    block i once at most: a product of delta's over its blocks), so deleting block i alone gives
    exactly F({i}) = F(1) - a_i = 1 - a_i, and the first-order lesion 1 - sum_{i in D} a_i is
    F(D) without its terms of two or more deleted blocks. Summed, sum_i a_i = sum_k k s_k (a path
    of length k is counted by each of its k blocks): the first moment of the frozen spectrum."""
    pieces = _frozen_pieces(traced)
    full = traced.output
    delta = torch.ones(len(traced.blocks), dtype=full.dtype, device=full.device,
                       requires_grad=True)
    x, block = None, -1
    with torch.enable_grad():
        for index, piece in enumerate(traced.chain):
            if piece.kind == "block":
                block += 1
                if x is None:
                    x = traced.actual[piece.start.name]
            if x is None:
                continue
            outs = pieces[index].single(x, x.new_ones(()))  # one stream: no vmap needed
            x = outs[0] if piece.kind != "block" else sum(
                o if t.kind != "branch" else delta[block] * o for t, o in zip(piece.terms, outs))
        share = (x * full).sum() / full.pow(2).sum()
        (grad,) = torch.autograd.grad(share, delta)
    return grad.tolist()


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
