"""Every gated path of a residual tower separately: the 2^n test oracle of R2.

The dynamic programme of :mod:`numerics.probes.spectrum` sums the paths by length without listing
them; this module lists them, built block by block from the same linear pieces J~_i taken at
the actual x_{i-1}, so that the two can be compared for small n (and the R2 lesion can pick
the paths that avoid a set of deleted blocks).
"""

import torch
import torch.autograd.forward_ad as fwAD

from numerics.probes.spectrum import _check_blocks, _step

__all__ = ["enumerate_paths", "masked_path_sums", "sum_by_length"]

MASKED_MAX_DEPTH = 14
"""Deepest tower :func:`masked_path_sums` accepts (2^14 masked copies of the batch)."""


def enumerate_paths(blocks, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every gated path term lam^S J~_S x~_0 (x-part) separately: the 2^n-term test oracle.

    Returns ``(paths, lengths)``: ``paths[m]`` is the term of the subset S whose bit i - 1 of m
    is set iff i in S, shape (2^n, B, *feature_shape), and ``lengths[m] = |S|``. Built block by
    block with the same linear pieces as :func:`path_spectrum` (taken at the actual x_{i-1}):
    the paths through blocks 1..i are those through 1..i-1 followed or not by J~_i, and only
    the empty path carries the t-coordinate 1, so only it picks up the offset c_i.
    Exponential in n in time and memory: refuses n > 22.
    """
    blocks = _check_blocks(blocks)
    n = len(blocks)
    if n > 22:
        raise ValueError(f"enumerate_paths is a small-n oracle; depth {n} > 22 has 2^{n} paths")
    paths = x0.unsqueeze(0)
    lengths = torch.zeros(1, dtype=torch.long, device=x0.device)
    x = x0
    with torch.no_grad():
        for block in blocks:
            apply, x = _step(block, x, "auto")
            paths = torch.cat([paths, block.lam.to(x0.dtype) * apply(paths)])
            lengths = torch.cat([lengths, lengths + 1])
    return paths, lengths


def sum_by_length(paths: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Sum the enumerated path terms of each length: shape (n + 1, B, *feature_shape)."""
    n = int(lengths.max())
    out = torch.zeros((n + 1, *paths.shape[1:]), dtype=paths.dtype, device=paths.device)
    return out.index_add_(0, lengths, paths)


def _frozen_gates(blocks, x0: torch.Tensor) -> list[torch.Tensor]:
    """phi'(W_1 x_{i-1} + b_1) of each block at the actual forward pass, by forward-mode AD of
    the block's own activation module (tangent 1 at every pre-activation)."""
    gates, x = [], x0
    with torch.no_grad():
        for block in blocks:
            pre = block.branch[0](x)
            with fwAD.dual_level():
                dual = fwAD.make_dual(pre, torch.ones_like(pre))
                gates.append(fwAD.unpack_dual(block.branch[1](dual)).tangent)
            x = block(x)
    return gates


def masked_path_sums(blocks, x0: torch.Tensor) -> torch.Tensor:
    """R2's terms y_0..y_n by a second implementation: masked forward passes of the model itself.

    For every subset A of the blocks, F(A) is the tower's forward pass through the model's own
    layers (``branch[0]``, then the gate, then ``branch[2]``) with the gates frozen at the
    actual forward pass and the branches outside A switched off: the gated tower restricted to A,
    so F(A) = sum_{S subset of A} P(S), P(S) the term of the path through exactly the blocks S.
    The Moebius inversion P(S) = sum_{T subset of S} (-1)^{|S - T|} F(T) (n passes of
    differences over the subset axis) recovers every path, and y_k = sum_{|S| = k} P(S).
    Nothing here uses the DP's linear pieces (``_step``): it shares only the model's weights.

    Branches must be Sequential(Linear, elementwise piecewise-linear activation, Linear);
    2^n copies of the batch in memory: refuses n > :data:`MASKED_MAX_DEPTH`.
    Returns shape (n + 1, B, d).
    """
    blocks = _check_blocks(blocks)
    n = len(blocks)
    if n > MASKED_MAX_DEPTH:
        raise ValueError(f"masked_path_sums is a small-n oracle; depth {n} > {MASKED_MAX_DEPTH}")
    for i, block in enumerate(blocks, 1):
        branch = block.branch
        if not (isinstance(branch, torch.nn.Sequential) and len(branch) == 3
                and isinstance(branch[0], torch.nn.Linear)
                and isinstance(branch[2], torch.nn.Linear)):
            raise ValueError(f"block {i}'s branch is not Sequential(Linear, activation, Linear)")
    gates = _frozen_gates(blocks, x0)
    subsets = torch.arange(2**n, device=x0.device)
    states = x0.unsqueeze(0).repeat(2**n, *([1] * x0.dim()))
    with torch.no_grad():
        for i, (block, gate) in enumerate(zip(blocks, gates, strict=True)):
            on = ((subsets >> i) & 1).to(x0.dtype).view(-1, *([1] * x0.dim()))
            branch_out = block.branch[2](block.branch[0](states) * gate)
            states = states + on * block.lam.to(x0.dtype) * branch_out
        paths = states
        for i in range(n):
            view = paths.view(2 ** (n - i - 1), 2, 2**i, *x0.shape)
            view[:, 1] -= view[:, 0]
    lengths = torch.tensor([bin(m).count("1") for m in range(2**n)]).to(x0.device)
    return sum_by_length(paths, lengths)
