"""The path-length spectrum of a residual tower (R2): its output split exactly by path length.

Tower (THEORY.md): x_0 = embed(x), x_i = x_{i-1} + lam_i f_i(x_{i-1}) for i = 1..n, no
normalisation. Augmented coordinates x~ = (x, 1). At the actual activations the i-th block's
*linear piece* is

.. math::

    \\tilde J_i (v, t) = \\bigl(D_i v + t\\, c_i,\\; 0\\bigr), \\qquad
    D_i = Df_i(x_{i-1}), \\quad c_i = f_i(x_{i-1}) - D_i x_{i-1},

so that J~_i x~_{i-1} = (f_i(x_{i-1}), 0) and x~_i = (I + lam_i J~_i) x~_{i-1}. Hence

.. math::

    \\tilde x_n = \\prod_{i=n}^{1} (I + \\lambda_i \\tilde J_i)\\, \\tilde x_0
    = \\sum_{S \\subseteq [n]} \\lambda^S \\tilde J_S \\tilde x_0, \\qquad
    y_k = \\sum_{|S| = k} \\lambda^S \\tilde J_S \\tilde x_0, \\qquad \\sum_k y_k = \\tilde x_n .

For continuous piecewise-linear branches (ReLU, leaky ReLU, abs = LeakyReLU(-1), max-pooling,
with biases) J~_i is the affine map the branch actually applies on its linear region: for
f(x) = W_2 phi(W_1 x + b_1) + b_2 with gate G = diag(phi'(W_1 x + b_1)),
D = W_2 G W_1 and c = W_2 G b_1 + b_2, so every y_k is a sum of gated linear paths.

**The augmented coordinate.** J~ has a zero last row, so the t-coordinate of y_0 = x~_0 is 1
and stays 1 (no path of length 0 goes through a branch), and the t-coordinate of y_k is 0 for
k >= 1. The bias offset c_i therefore enters a path only at its first block s_1: for k >= 1,
J~_{s_k} ... J~_{s_1} x~_0 = D_{s_k} ... D_{s_2} (D_{s_1} x_0 + c_{s_1}). The arrays returned
here hold the x-part of y_k; the t-parts are (1, 0, ..., 0).

**The dynamic programme.** y^{(0)} = (x~_0, 0, ..., 0) and
y^{(i)}_k = y^{(i-1)}_k + lam_i J~_i y^{(i-1)}_{k-1}, so y^{(n)}_k = y_k. Block i applies D_i to
the i vectors y_0..y_{i-1} (y_k = 0 for k >= i): n(n + 1)/2 Jacobian-vector products in all,
batched into one call per block, against 2^n terms for the enumeration
(:func:`enumerate_paths`, a small-n test oracle only).

**Smooth branches** with f(0) = 0 (GELU, no biases): the secant Jacobian
M_i = int_0^1 Df_i(s x_{i-1}) ds satisfies M_i x_{i-1} = f_i(x_{i-1}) exactly, so the same
programme with M_i in place of J~_i splits x_n exactly; :func:`secant_spectrum` computes M_i v
by Gauss-Legendre quadrature, exact up to the quadrature error.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

__all__ = [
    "PIECEWISE_LINEAR",
    "Spectrum",
    "block_scales",
    "enumerate_paths",
    "path_spectrum",
    "secant_spectrum",
    "sum_by_length",
    "tower_forward",
]

PIECEWISE_LINEAR = (
    nn.Linear, nn.Conv1d, nn.Conv2d, nn.ReLU, nn.LeakyReLU, nn.MaxPool1d, nn.MaxPool2d,
    nn.AvgPool1d, nn.AvgPool2d, nn.Flatten, nn.Unflatten, nn.Identity, nn.Sequential,
    nn.Dropout,
)
"""Module types whose composition is continuous piecewise linear (Dropout only in eval mode)."""


CHUNK_ROWS = 4096
"""Rows per matrix product in the MLP route (larger products fall out of the CPU caches)."""


@dataclass
class Spectrum:
    """The path-length terms of a tower on a batch of inputs.

    ``terms`` has shape (n + 1, B, *feature_shape): ``terms[k]`` is the x-part of y_k for each
    input of the batch; ``output`` is x_n from the tower's own forward pass.
    """

    terms: torch.Tensor
    output: torch.Tensor

    @property
    def depth(self) -> int:
        return self.terms.shape[0] - 1

    def rel_errors(self) -> torch.Tensor:
        """||sum_k y_k - x_n|| / ||x_n|| per input (R2 predicts rounding error only)."""
        diff = (self.terms.sum(0) - self.output).flatten(1).norm(dim=1)
        return diff / self.output.flatten(1).norm(dim=1)

    def max_rel_error(self) -> float:
        """The largest relative error over the batch."""
        return self.rel_errors().max().item()

    def norms_by_length(self) -> list[float]:
        """Root-mean-square over the batch of ||y_k||, for k = 0..n."""
        sq = self.terms.flatten(2).pow(2).sum(2).mean(1)
        return sq.sqrt().tolist()

    def signed_shares(self) -> list[float]:
        """s_k = sum_b <y_k, x_n> / sum_b ||x_n||^2 over the batch b, k = 0..n (R2).

        Since sum_k y_k = x_n, the shares sum to 1 up to rounding: they decompose ||x_n||^2
        exactly, where the energy shares do not (paths of different lengths interfere).
        """
        out = self.output.flatten(1)
        inner = (self.terms.flatten(2) * out).sum(2).sum(1)
        return (inner / out.pow(2).sum()).tolist()

    def energy_fractions(self) -> list[float]:
        """||y_k||^2 / sum_j ||y_j||^2 (batch-summed numerator and denominator), k = 0..n.

        Not a decomposition of ||x_n||^2: see :meth:`cross_term_fraction`.
        """
        sq = self.terms.flatten(2).pow(2).sum(2).mean(1)
        return (sq / sq.sum()).tolist()

    def cross_term_fraction(self) -> float:
        """(||x_n||^2 - sum_k ||y_k||^2) / ||x_n||^2, batch-summed: the interference
        sum_{j != k} <y_j, y_k> between path lengths, as a share of the output's energy."""
        out_sq = self.output.flatten(1).pow(2).sum()
        return float((out_sq - self.terms.flatten(2).pow(2).sum()) / out_sq)

    def mean_length(self) -> float:
        """The mean path length sum_k k s_k from the signed shares (:meth:`signed_shares`)."""
        shares = torch.tensor(self.signed_shares(), dtype=torch.float64)
        return float((shares * torch.arange(len(shares), dtype=torch.float64)).sum())

    def mean_length_energy(self) -> float:
        """The energy-weighted mean path length sum_k k ||y_k||^2 / sum_k ||y_k||^2."""
        frac = torch.tensor(self.energy_fractions(), dtype=torch.float64)
        return float((frac * torch.arange(len(frac), dtype=torch.float64)).sum())


def block_scales(blocks) -> list[float]:
    """The effective lam_i of each block, as Python floats."""
    return [float(block.lam) for block in blocks]


def tower_forward(blocks, x0: torch.Tensor) -> torch.Tensor:
    """x_n = blocks applied in order to x_0 (the model's own forward, no embed or head)."""
    x = x0
    for block in blocks:
        x = block(x)
    return x


def _check_blocks(blocks) -> list:
    blocks = list(blocks)
    if not blocks:
        raise ValueError("blocks must contain at least one residual block")
    for i, block in enumerate(blocks, 1):
        if getattr(block, "norm", "none") != "none":
            raise ValueError(
                f"block {i} has norm={block.norm!r}; the path spectrum needs norm='none' "
                "(a normalisation is not piecewise linear)"
            )
    return blocks


def _check_piecewise_linear(branch: nn.Module, i: int) -> None:
    for module in branch.modules():
        if not isinstance(module, PIECEWISE_LINEAR):
            raise ValueError(
                f"block {i}'s branch contains {type(module).__name__}, which is not piecewise "
                "linear; use secant_spectrum for smooth branches"
            )
        if isinstance(module, nn.Dropout) and module.training and module.p > 0:
            raise ValueError(f"block {i}'s branch has active dropout; call model.eval() first")


def _mlp_parts(branch: nn.Module):
    """(W_1, b_1, slope, W_2, b_2) for Sequential(Linear, ReLU|LeakyReLU, Linear), else None."""
    if not (isinstance(branch, nn.Sequential) and len(branch) == 3):
        return None
    first, act, last = branch
    if not (isinstance(first, nn.Linear) and isinstance(last, nn.Linear)):
        return None
    if isinstance(act, nn.ReLU):
        slope = 0.0
    elif isinstance(act, nn.LeakyReLU):
        slope = act.negative_slope
    else:
        return None
    return first.weight, first.bias, slope, last.weight, last.bias


def _mlp_piece(parts, pre):
    """J~ of an MLP branch with frozen gates, applied to a stack of augmented vectors.

    ``pre`` = W_1 x + b_1 at the block's input x (as the block's own forward computed it);
    g = phi'(pre), taken as the negative side's slope at an exact kink. For a stack
    (v_0, v_1, ...) whose first vector carries the augmented coordinate t = 1:
    J~ v_0 = W_2 (g * (W_1 v_0 + b_1)) + b_2 = D v_0 + c and J~ v_k = W_2 (g * (W_1 v_k)).
    """
    w1, b1, slope, w2, b2 = parts
    gate = (pre > 0).to(pre.dtype) if slope == 0 else torch.where(
        pre > 0, torch.ones_like(pre), torch.full_like(pre, slope))

    def gated(part, first: bool):
        hidden = F.linear(part, w1)
        if first and b1 is not None:
            hidden[0] += b1
        out = F.linear(hidden.mul_(gate), w2)
        if first and b2 is not None:
            out[0] += b2
        return out

    def apply(stack):
        step = max(1, CHUNK_ROWS // max(1, gate.numel() // gate.shape[-1]))
        parts = [gated(stack[start:start + step], start == 0)
                 for start in range(0, stack.shape[0], step)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    return apply


def _generic_piece(branch, x):
    """J~ of any branch at x by forward-mode AD, applied to a stack of augmented vectors:
    D v_k for every k, plus the offset c = f(x) - D x on the first (t = 1) vector."""

    def linear(stack):
        return _jvp(branch, x, stack)

    offset = branch(x) - linear(x.unsqueeze(0))[0]

    def apply(stack):
        out = linear(stack)
        out[0] += offset
        return out

    return apply


def _step(block, x, route: str):
    """(J~ of ``block`` at x as a stack map, the block's own output x + lam f(x)).

    The MLP route reads the pre-activation W_1 x + b_1 from the block's own forward (a hook on
    its first layer) instead of computing it a second time.
    """
    parts = _mlp_parts(block.branch) if route != "generic" else None
    if parts is None:
        return _generic_piece(block.branch, x), block(x)
    captured = []
    hook = block.branch[0].register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        x_next = block(x)
    finally:
        hook.remove()
    pre = captured[0] if len(captured) == 1 else F.linear(x, parts[0], parts[1])
    return _mlp_piece(parts, pre), x_next


def _jvp(branch, x, stack):
    """Df(x) v for every v of ``stack`` (K, B, ...), by forward-mode AD.

    The K tangents ride in the batch dimension against K copies of x: one dual-number forward
    pass of K * B rows gives D v for all of them.
    """
    k = stack.shape[0]
    primal = x.unsqueeze(0).expand(k, *x.shape).reshape(k * x.shape[0], *x.shape[1:])
    with fwAD.dual_level():
        dual = fwAD.make_dual(primal, stack.reshape(primal.shape))
        tangent = fwAD.unpack_dual(branch(dual)).tangent
    return tangent.reshape(k, *x.shape)


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


def path_spectrum(blocks, x0: torch.Tensor, *, route: str = "auto",
                  progress: bool = False) -> Spectrum:
    """The R2 path-length spectrum y_0..y_n of a piecewise-linear tower at the batch ``x0``.

    Parameters
    ----------
    blocks : sequence of ResidualBlock
        Blocks with ``.branch``, ``.lam`` and ``norm == "none"``; branches built from
        :data:`PIECEWISE_LINEAR` modules (use ``model.eval()`` for trained models).
    x0 : Tensor, shape (B, *feature_shape)
        The residual stream's input (``model.embed(x)``); computations run in its dtype and
        on its device (use float64 for identity checks).
    route : {"auto", "mlp", "generic"}
        ``mlp`` freezes the gates of Sequential(Linear, ReLU|LeakyReLU, Linear) branches and
        forms D and c from the weights; ``generic`` takes D v by forward-mode AD
        (dual numbers of :mod:`torch.autograd.forward_ad`, tangents batched as rows) and c = f(x) - D x; ``auto`` uses ``mlp``
        where it applies and ``generic`` elsewhere.
    progress : bool
        Show a progress bar over the blocks (tqdm).

    Returns
    -------
    Spectrum
        ``terms[k]`` = x-part of y_k, and ``output`` = x_n from the blocks' own forward.

    Notes
    -----
    n(n + 1)/2 Jacobian-vector products plus one forward pass; never 2^n.

    Examples
    --------
    >>> from torch import nn
    >>> class Block(nn.Module):
    ...     def __init__(self, branch, lam):
    ...         super().__init__()
    ...         self.branch, self.lam, self.norm = branch, torch.tensor(lam), "none"
    ...     def forward(self, x):
    ...         return x + self.lam * self.branch(x)
    >>> g = torch.Generator().manual_seed(0)
    >>> blocks = [Block(nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 3)), 0.5)
    ...           for _ in range(4)]
    >>> blocks = [b.double() for b in blocks]
    >>> spec = path_spectrum(blocks, torch.randn(2, 3, generator=g, dtype=torch.float64))
    >>> spec.terms.shape[0], spec.max_rel_error() < 1e-12
    (5, True)
    """
    if route not in ("auto", "mlp", "generic"):
        raise ValueError(f"route must be 'auto', 'mlp' or 'generic', got {route!r}")
    blocks = _check_blocks(blocks)
    for i, block in enumerate(blocks, 1):
        _check_piecewise_linear(block.branch, i)
    n = len(blocks)
    terms = torch.zeros((n + 1, *x0.shape), dtype=x0.dtype, device=x0.device)
    terms[0] = x0
    x = x0
    with torch.no_grad():
        for i, block in enumerate(tqdm(blocks, desc="spectrum", disable=not progress), 1):
            if route == "mlp" and _mlp_parts(block.branch) is None:
                raise ValueError(f"route='mlp' but block {i}'s branch is not Linear-act-Linear")
            apply, x_next = _step(block, x, route)
            terms[1:i + 1].add_(apply(terms[:i]), alpha=float(block.lam))
            x = x_next
    return Spectrum(terms, x)


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
    x = x0
    with torch.no_grad():
        for i, block in enumerate(blocks, 1):
            at_zero = block.branch(torch.zeros_like(x0[:1]))
            if at_zero.abs().max().item() > 0:
                raise ValueError(f"block {i}'s branch has f(0) != 0 (biases?); the secant "
                                 "expansion needs f(0) = 0")
            step = _secant_apply(block.branch, x, terms[:i], s, w)
            terms[1:i + 1] += block.lam.to(x0.dtype) * step
            x = block(x)
    return Spectrum(terms, x)


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
