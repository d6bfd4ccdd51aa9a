"""The secant split of a smooth residual tower (R2, smooth branches with f(0) = 0).

For a C^1 branch with f(0) = 0 the secant Jacobian M_i = int_0^1 Df_i(s x_{i-1}) ds satisfies
M_i x_{i-1} = f_i(x_{i-1}) (fundamental theorem of calculus along the segment from 0), so
x_n = prod_i (I + lam_i M_i) x_0 = sum_S lam^S M_S x_0 exactly and the dynamic programme of
:mod:`numerics.probes.spectrum` applies with M_i in place of J~_i (no augmented coordinate). M_i v is
computed by Gauss-Legendre quadrature, so the split is exact up to the quadrature error, which
falls geometrically in the number of nodes for analytic branches such as GELU.
"""

import numpy as np
import torch

from numerics.probes.spectrum import Spectrum, _check_blocks, _jvp, flush_tiny

__all__ = ["SECANT_ROWS", "secant_spectrum"]

SECANT_ROWS = 1 << 16
"""Most rows per dual-number pass of :func:`secant_spectrum` (nodes are grouped to fit)."""


def _secant_apply(branch, x, stack, s, w):
    """M v = sum_q w_q Df(s_q x) v for every v of ``stack`` (K, B, ...), nodes batched.

    A group of G nodes gives G * B points s_q x, against which the K tangents are repeated:
    one dual-number forward pass of K * G * B rows (G as large as ``SECANT_ROWS`` allows, so
    usually all Q nodes at once).
    """
    k, b = stack.shape[0], x.shape[0]
    feature = (1,) * (x.dim() - 1)
    group = max(1, SECANT_ROWS // (k * b))
    total = torch.zeros_like(stack)
    for start in range(0, s.shape[0], group):
        sg, wg = s[start:start + group], w[start:start + group]
        g = sg.shape[0]
        points = (sg.view(g, 1, *feature) * x.unsqueeze(0)).reshape(g * b, *x.shape[1:])
        tangents = stack.unsqueeze(1).expand(k, g, *x.shape).reshape(k, g * b, *x.shape[1:])
        out = _jvp(branch, points, tangents).view(k, g, *x.shape)
        total += (wg.view(1, g, 1, *feature) * out).sum(1)
    return total


def _gauss_legendre(nodes: int, dtype, device):
    """Nodes and weights of the ``nodes``-point Gauss-Legendre rule on [0, 1]."""
    s, w = np.polynomial.legendre.leggauss(nodes)
    s = torch.tensor((s + 1) / 2, dtype=dtype, device=device)
    w = torch.tensor(w / 2, dtype=dtype, device=device)
    return s, w


def secant_spectrum(blocks, x0: torch.Tensor, *, nodes: int = 16) -> Spectrum:
    """The path-length spectrum of a smooth tower with f_i(0) = 0, via secant Jacobians (R2).

    M_i = int_0^1 Df_i(s x_{i-1}) ds satisfies M_i x_{i-1} = f_i(x_{i-1}) (fundamental
    theorem of calculus along the segment from 0, using f_i(0) = 0), hence
    x_n = prod (I + lam_i M_i) x_0 = sum_S lam^S M_S x_0 exactly. Here

    .. math:: M_i v \\approx \\sum_{q=1}^{Q} w_q \\, Df_i(s_q x_{i-1}) v

    with the Q = ``nodes`` point Gauss-Legendre rule on [0, 1]: sum_k y_k = x_n up to the
    quadrature error, which falls quickly with Q for analytic branches such as GELU. Block i
    takes all Q nodes and its i tangents in one forward-mode pass of i * Q * B rows.
    Raises ValueError when some f_i(0) != 0 (a branch with biases).
    """
    if not isinstance(nodes, int) or nodes < 1:
        raise ValueError(f"nodes must be a positive integer, got {nodes!r}")
    blocks = _check_blocks(blocks)
    s, w = _gauss_legendre(nodes, x0.dtype, x0.device)
    n = len(blocks)
    terms = torch.zeros((n + 1, *x0.shape), dtype=x0.dtype, device=x0.device)
    terms[0] = x0
    x, armed = x0, False
    with torch.no_grad():
        for i, block in enumerate(blocks, 1):
            at_zero = block.branch(torch.zeros_like(x0[:1]))
            if at_zero.abs().max().item() > 0:
                raise ValueError(f"block {i}'s branch has f(0) != 0 (biases?); the secant "
                                 "expansion needs f(0) = 0")
            step = _secant_apply(block.branch, x, terms[:i], s, w)
            terms[1:i + 1].add_(block.lam.to(x0.dtype) * step)
            armed = flush_tiny(terms, i, armed)
            x = block(x)
    return Spectrum(terms, x)
