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
(:func:`numerics.probes.enumeration.enumerate_paths`, a small-n test oracle only).

**Smooth branches** with f(0) = 0 (GELU, no biases): the secant Jacobian
M_i = int_0^1 Df_i(s x_{i-1}) ds satisfies M_i x_{i-1} = f_i(x_{i-1}) exactly, so the same
programme with M_i in place of J~_i splits x_n exactly; :func:`secant_spectrum` computes M_i v
by Gauss-Legendre quadrature, exact up to the quadrature error (in :mod:`numerics.probes.secant`).

**Shares.** Since sum_k y_k = x_n, the *signed shares* s_k = <y_k, x_n> / ||x_n||^2 sum to 1:
they decompose ||x_n||^2 exactly. The energy shares ||y_k||^2 / sum_j ||y_j||^2 do not: the
cross terms sum_{j != k} <y_j, y_k> (:meth:`Spectrum.cross_term_fraction`) can be a large part
of ||x_n||^2, of either sign.

**Deep towers: subnormals and conditioning.** The high-order terms of a deep tower can be far
below the output (y_k ~ C(n, k) lam^k ||J||^k), down to the subnormal range, where float
arithmetic runs slowly on many CPUs and loses precision. On the CPU, once the newest term y_i
(the one path through every block so far, the smallest when lam ||J|| < 1) falls below
:data:`FLUSH_ARM` = 2^-700, the programme sets to zero, after each block, every entry of
y_1..y_i below :data:`FLUSH_BELOW` = 2^-969 in magnitude (a flush, not a rescaling: one
comparison per entry, paid only by towers whose terms approach the subnormal range; GPUs handle
subnormals at full speed). It is exact to rounding: a flushed entry delta enters x_n only
through the remaining blocks' frozen linear maps, so it moves sum_k y_k by at most
||dx_n / dx_i|| 2^-969 per entry, below 10^-280 relative to ||x_n|| unless the tower's gain
from block i on exceeds its output by that factor, i.e. far below one float64 rounding
(2^-53). A deep split is also ill-conditioned: when the lengths cancel,
sum_k ||y_k|| / ||x_n|| (:meth:`Spectrum.condition`) is large and rounding is amplified by it,
so :attr:`Spectrum.warning` names the error and the condition number whenever the split misses
the exact tolerance :data:`EXACT_TOL`. Terms below the split's own rounding, (n + 1) eps
sum_k ||y_k|| (flushed terms among them), are not measurements: :mod:`numerics.probes.rounding`.
"""

from dataclasses import dataclass

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

__all__ = ["EXACT_TOL", "FLUSH_ARM", "FLUSH_BELOW", "PIECEWISE_LINEAR", "Spectrum",
           "block_scales", "path_spectrum", "tower_forward"]

PIECEWISE_LINEAR = (
    nn.Linear, nn.Conv1d, nn.Conv2d, nn.ReLU, nn.LeakyReLU, nn.MaxPool1d, nn.MaxPool2d,
    nn.AvgPool1d, nn.AvgPool2d, nn.Flatten, nn.Unflatten, nn.Identity, nn.Sequential,
    nn.Dropout,
)
"""Module types whose composition is continuous piecewise linear (Dropout only in eval mode)."""


CHUNK_ROWS = 4096
"""Rows per matrix product in the MLP route (larger products fall out of the CPU caches)."""

EXACT_TOL = 1e-9
"""The relative error ||sum_k y_k - x_n|| / ||x_n|| below which a float64 split counts as exact:
far above the rounding of a well-conditioned tower (about n * 1e-16) and far below any real
defect (a wrong gate, offset or scale is off by O(1))."""

FLUSH_BELOW = 2.0**-969
"""Term entries below this magnitude are flushed to zero after each block (module docstring:
exact to rounding, and it keeps deep spectra out of the subnormal range below 2^-1022)."""

FLUSH_ARM = 2.0**-700
"""Flushing starts once the newest term's largest entry falls below this (module docstring)."""


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

    def condition(self) -> float:
        """max over the batch of sum_k ||y_k|| / ||x_n||: 1 when the lengths do not cancel; the
        factor by which rounding in the terms is amplified in their sum."""
        sizes = self.terms.flatten(2).norm(dim=2).sum(0)
        return (sizes / self.output.flatten(1).norm(dim=1)).max().item()

    @property
    def warning(self) -> str | None:
        """None when the split is exact to :data:`EXACT_TOL`; otherwise one line naming the
        measured cause: non-finite terms or output (a NaN/inf weight, an overflow), a dtype
        coarser than float64 (its rounding unit), or else cancellation between the lengths
        (:meth:`condition`, which amplifies rounding)."""
        error = self.max_rel_error()
        if error <= EXACT_TOL:
            return None
        head = f"max_rel_error {error:.2e} exceeds the float64 exact tolerance {EXACT_TOL:g}: "
        if not (torch.isfinite(self.terms).all() and torch.isfinite(self.output).all()):
            return head + ("the terms or the output are non-finite (non-finite weights or an "
                           "overflow in the forward pass), not a rounding effect")
        if self.output.dtype != torch.float64:
            return head + (f"the split ran in {self.output.dtype} (rounding unit "
                           f"{torch.finfo(self.output.dtype).eps:.1e}); run it in float64")
        return head + (f"the lengths cancel (sum_k ||y_k|| / ||x_n|| up to "
                       f"{self.condition():.2g}), which amplifies rounding; the split is "
                       "exact only to that precision")

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
        forms D and c from the weights; ``generic`` takes D v by forward-mode AD (tangents
        batched as rows) and c = f(x) - D x; ``auto`` uses ``mlp`` where it applies.
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
    x, armed = x0, False
    with torch.no_grad():
        for i, block in enumerate(tqdm(blocks, desc="spectrum", disable=not progress), 1):
            if route == "mlp" and _mlp_parts(block.branch) is None:
                raise ValueError(f"route='mlp' but block {i}'s branch is not Linear-act-Linear")
            apply, x_next = _step(block, x, route)
            terms[1:i + 1].add_(apply(terms[:i]), alpha=float(block.lam))
            armed = flush_tiny(terms, i, armed)
            x = x_next
    return Spectrum(terms, x)


def flush_tiny(terms: torch.Tensor, i: int, armed: bool) -> bool:
    """After block i, on the CPU: arm once y_i's largest entry is below :data:`FLUSH_ARM`, and
    while armed set the entries of y_1..y_i below :data:`FLUSH_BELOW` in magnitude to zero, in
    place. Returns whether flushing is armed."""
    if terms.device.type != "cpu":
        return False
    armed = armed or terms[i].abs().max().item() < FLUSH_ARM
    if armed:
        rows = terms[1:i + 1]
        rows.masked_fill_(rows.abs() < FLUSH_BELOW, 0.0)
    return armed
