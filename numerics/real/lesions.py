"""Veit's lesions, batched: many deletion sets in one pass through the chain (R2).

A lesion deletes the branches of some blocks and keeps their skips. :func:`lesioned_outputs`
evaluates L deletion sets at once, the stream stacked over a leading axis of size L:

- *measured*: every piece run on the whole stack by :func:`torch.func.vmap` over
  :func:`numerics.real.frozen.run_piece` (gates recomputed at the lesioned stream), and after
  block i a stream takes the skip where its sets delete i and the sum otherwise;
- *frozen*: the frozen-gate maps (gates held at their unlesioned values) on the same stack,
  a deleted block's branches dropped: the sum of the paths that avoid the deleted blocks.

A deletion set joins the stack at its first deleted block (before it, its stream is the actual
one), and sets that agree on every block up to b share one stream until b (the stack after
block b holds one row per distinct non-empty D & {0..b}): the pass costs
:func:`shared_block_applications`, at most sum_j (n - min D_j) block applications (about n^2/2
for the n single lesions, as much as the spectrum's dynamic programme) and less for nested
sets, which the lesion study draws for that reason; ``chunk`` bounds the stack (memory).
:func:`measured_lesions` runs the measured half alone; :func:`frozen_single_effects` gives every
single frozen lesion exactly from one frozen pass and its backward (the lesion row's control
variate, :mod:`numerics.real.lesion_study`).
"""

import torch
from tqdm import tqdm

from numerics.real.frozen import TracedModel, _frozen_pieces, frozen_output, run_piece

__all__ = ["frozen_single_effects", "lesioned_outputs", "measured_lesions",
           "shared_block_applications"]


def _prefixes(sets: list, block: int) -> list:
    """The distinct deletion prefixes D & {0..block} of ``sets`` that are not empty, sorted:
    the lesioned streams alive after ``block`` (two sets that agree up to it share one)."""
    return sorted({tuple(i for i in s if i <= block) for s in sets} - {()})


def shared_block_applications(sets, n: int) -> int:
    """Block applications of one lesioned pass over ``sets`` with shared prefixes: sum over
    blocks b of the distinct non-empty prefixes D & {0..b} (at most sum_j (n - min D_j), the
    cost without sharing; nested sets such as {3} within {3, 7} share blocks 3..6)."""
    sets = [tuple(sorted(s)) for s in sets if s]
    return sum(len(_prefixes(sets, b)) for b in range(n))


def _run(traced: TracedModel, sets: list, step, desc: str = "") -> torch.Tensor:
    """Run the chain on the deletion sets with shared prefixes: after block b the stack holds
    one lesioned stream per distinct non-empty D & {0..b} (a set joins at its first deleted
    block, before which its stream is the actual one; sets that agree up to b share a row), so
    the pass costs :func:`shared_block_applications` block applications, at most
    sum_j (n - min D_j). ``step(index, piece, stack)`` returns the piece's output on the stack,
    for a block the pair (its output, its skip: the output with the block deleted)."""
    sets = [tuple(sorted(s)) for s in sets]
    joins = {s[0] for s in sets if s}
    rows: list = []
    stack = None
    block = -1
    bar = tqdm(traced.chain, desc=desc, disable=len(traced.blocks) < 32 or not desc)
    for index, piece in enumerate(bar):
        if piece.kind == "block":
            block += 1
            if block in joins:  # the actual stream, one row, for the sets that start here
                start = traced.actual[piece.start.name].unsqueeze(0)
                stack = start.clone() if stack is None else torch.cat([stack, start])
                rows.append(())
        if stack is None:
            continue
        if piece.kind != "block":
            stack = step(index, piece, stack)[0]
            continue
        kept, deleted = step(index, piece, stack)
        after = _prefixes(sets, block)
        where = {p: r for r, p in enumerate(rows)}
        source = torch.tensor([where[tuple(i for i in q if i != block)] for q in after],
                              device=stack.device)
        drop = torch.tensor([block in q for q in after], device=stack.device).reshape(
            -1, *([1] * (stack.dim() - 1)))
        stack = torch.where(drop, deleted[source], kept[source])
        rows = after
    where = {p: r for r, p in enumerate(rows)}
    return torch.stack([stack[where[s]] if s else traced.output for s in sets])


def _measured(traced: TracedModel, sets: list) -> torch.Tensor:
    def step(index, piece, x):
        names = [piece.end.name] + ([piece.skip.node.name] if piece.kind == "block" else [])

        def outputs(z):
            env = run_piece(piece, z, traced.actual)
            return tuple(env[n] for n in names)

        return torch.func.vmap(outputs)(x)

    return _run(traced, sets, step, "lesions (gates recomputed)")


def _frozen(traced: TracedModel, sets: list) -> torch.Tensor:
    pieces = _frozen_pieces(traced)

    def step(index, piece, x):
        outs = pieces[index].apply(x, x.new_ones(x.shape[0]))
        if piece.kind != "block":
            return outs[:1]
        return sum(outs), sum(o for t, o in zip(piece.terms, outs) if t.kind != "branch")

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
    full = traced.output
    delta = torch.ones(len(traced.blocks), dtype=full.dtype, device=full.device,
                       requires_grad=True)
    with torch.enable_grad():
        share = (frozen_output(traced, branch_scale=delta) * full).sum() / full.pow(2).sum()
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
