"""Every gated path of a residual tower separately: the 2^n test oracle of R2.

The dynamic programme of :mod:`numerics.probes.spectrum` sums the paths by length without listing
them; this module lists them, built block by block from the same linear pieces J~_i taken at
the actual x_{i-1}, so that the two can be compared for small n (and the R2 lesion can pick
the paths that avoid a set of deleted blocks).
"""

import torch

from numerics.probes.spectrum import _check_blocks, _step

__all__ = ["enumerate_paths", "sum_by_length"]


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
