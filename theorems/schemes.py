r"""S5: known normalisation-free (and DeepNorm) schemes placed in S4's regimes.

Convention: a tower of L residual blocks, x_i = x_{i-1} + lam_i f_i(x_{i-1}), standard branches
f(z) = W2 relu(W1 z) with sigma^2 = 1 (m = 2 layers per branch). The **effective lam** of a
scheme at initialisation is the number lam_eff(L) with

.. math::

    \mathbb{E}\,\|\text{(what block i adds to the residual stream)}\|^2
    = \mathrm{lam}_\mathrm{eff}(L)^2 \, \sigma^2 \, \|z\|^2

for a branch input z: the explicit multiplier lam_i times every gain the scheme puts on the
branch's layers (ReLU branches without biases are positively homogeneous, so a gain g on both
layers scales the output by g^2). Then

- zero-initialised schemes (SkipInit, ReZero: lam_i = 0; Fixup: last layer 0) have
  lam_eff = 0: every block is the identity at initialisation, which is S4's collapse regime with
  beta = oo (the mean path length n p is 0). Their trained scale is set by learning; for Fixup
  the m - 1 non-zero layers carry L^{-1/(2m-2)} each, so once the last layer is O(1) the branch
  scale is L^{-(m-1)/(2m-2)} = L^{-1/2}: beta = 1/2 after the first update.
- DeepNorm computes LN(alpha x + G(x)) with alpha = (2N)^{1/4}, N = L/2 layers, and multiplies
  both layers of every branch (value/output projections, both MLP layers) by
  b = (8N)^{-1/4}. LN is scale invariant, so the block equals LN(x + G(x)/alpha): the relative
  branch scale is lam_eff = b^2 / alpha = (4L)^{-1/2} L^{-1/4} = L^{-3/4}/2 (beta = 3/4, a
  post-LN network, so S4's growth law applies to the un-normalised stream only by analogy).

**S5 (table).** With lam_eff(L) = a L^{-beta} (up to a constant), each scheme's beta and S4
regime (explodes beta < 1/2, critical beta = 1/2, collapses beta > 1/2), and whether S1's
worst-case bound stays bounded (beta >= 1). beta is computed, not typed in:
beta = -lim_{L -> oo} log lam_eff(L) / log L.

Depth-muP is the only scheme with a learning-rate rule: the blocks' rate is eta under SGD and
eta L^(-1/2) under Adam (Yang, Yu, Zhu, Hayou 2023). One step changes a block's output by lam
times its update; SGD's gradient carries lam = a L^(-1/2), so the change is O(eta/L) per block
and O(eta) over L blocks, while Adam's normalised update gives O(eta L^(-1/2)) per block and
O(eta L^(1/2)) over L correlated blocks unless eta carries L^(-1/2)
(:func:`numerics.models.config.mup_lr_scale`).

>>> effective_lam("deepnorm", 16)
0.0625
>>> [s.name for s in SCHEMES if s.regime == "critical"]
['inv-sqrt', 'depth-mup']
"""

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from theorems.scaling import regime, s1_bounded

__all__ = ["SCHEMES", "A", "L", "M", "Scheme", "effective_lam", "fixup_trained_scale", "scheme"]

L = sp.Symbol("L", integer=True, positive=True)
A = sp.Symbol("a", positive=True)
M = sp.Symbol("m", integer=True, positive=True)


def fixup_trained_scale(m=M) -> sp.Expr:
    """Fixup: the branch scale once its last layer is O(1), (L^{-1/(2m-2)})^{m-1} = L^{-1/2}."""
    m = sp.sympify(m)
    return L ** sp.cancel((m - 1) * (-sp.Integer(1) / (2 * m - 2)))


@dataclass(frozen=True)
class Scheme:
    """A scheme: its name, the ModelConfig ``scaling`` that implements it, lam_eff(L) at init.

    ``lr_sgd`` and ``lr_adam``: the factor the scheme puts on the residual blocks' learning rate
    as a function of L, under SGD and under Adam (None: the scheme prescribes none).
    """

    name: str
    model_scaling: str
    lam_eff: sp.Expr
    source: str
    note: str
    trained_scale: sp.Expr | None = None
    lr_sgd: sp.Expr | None = None
    lr_adam: sp.Expr | None = None

    @cached_property
    def beta(self) -> sp.Expr:
        """S4's exponent of lam_eff = a L^-beta; oo when lam_eff is identically 0."""
        if self.lam_eff == 0:
            return sp.oo
        return -sp.limit(sp.log(self.lam_eff) / sp.log(L), L, sp.oo)

    @property
    def regime(self) -> str:
        """S4 regime: ``explodes`` (beta < 1/2), ``critical`` (= 1/2), ``collapses`` (> 1/2)."""
        return regime(self.beta)

    @property
    def s1_bounded(self) -> bool:
        """Whether S1's worst-case bound (1 + lam_eff c)^L stays bounded in L (beta >= 1)."""
        return s1_bounded(self.beta)


_DEEPNORM_ALPHA = (2 * (L / 2)) ** sp.Rational(1, 4)
_DEEPNORM_GAIN = (8 * (L / 2)) ** sp.Rational(-1, 4)

SCHEMES = (
    Scheme("none", "constant", A, "He, Zhang, Ren, Sun, Deep Residual Learning for Image "
           "Recognition, CVPR 2016", "plain residual sum, lam = a"),
    Scheme("inv", "inv", A / L, "Dherin & Munn, On residual network depth, arXiv 2510.03470, "
           "2025 (module scaling); Chen et al., Neural ODEs, NeurIPS 2018 (Euler step 1/L)",
           "lam = a/L"),
    Scheme("inv-sqrt", "inv-sqrt", A / sp.sqrt(L), "Hayou et al., Stable ResNet, AISTATS 2021; "
           "Dherin & Munn 2025", "lam = a/sqrt(L)"),
    Scheme("skipinit", "learnable", sp.Integer(0), "De & Smith, Batch Normalization Biases "
           "Residual Blocks Towards the Identity Function in Deep Networks, NeurIPS 2020",
           "learnable scalar at the end of the branch, initialised at 0: identity at init"),
    Scheme("rezero", "learnable", sp.Integer(0), "Bachlechner et al., ReZero is All You Need: "
           "Fast Convergence at Large Depth, UAI 2021 (arXiv 2003.04887, 2020)",
           "x + alpha f(x), alpha = 0 at init: identity at init"),
    Scheme("fixup", "fixup", sp.Integer(0), "Zhang, Dauphin, Ma, Fixup Initialization: Residual "
           "Learning Without Normalization, ICLR 2019",
           "last layer and classifier 0 at init (identity); inner layers times "
           "L^(-1/(2m-2)); a scalar bias (init 0) before each layer and activation and a "
           "scalar multiplier (init 1) per branch",
           trained_scale=A * fixup_trained_scale(2)),
    Scheme("deepnorm", "deepnorm", sp.simplify(_DEEPNORM_GAIN**2 / _DEEPNORM_ALPHA),
           "Wang, Ma, Dong, Huang, Zhang, Wei, DeepNet: Scaling Transformers to 1,000 Layers, "
           "arXiv 2203.00555, 2022", "post-LN, LN(alpha x + G(x)), alpha = (2N)^(1/4), "
           "branch gain (8N)^(-1/4), N = L/2: lam_eff = gain^2/alpha"),
    Scheme("depth-mup", "mup", A / sp.sqrt(L), "Yang, Yu, Zhu, Hayou, Tensor Programs VI: "
           "Feature Learning in Infinite-Depth Neural Networks, arXiv 2310.02244, 2023 "
           "(ICLR 2024); Bordelon et al., Depthwise Hyperparameter Transfer in Residual "
           "Networks, ICLR 2024",
           "lam = a/sqrt(L); block learning rate eta L^(-gamma), gamma = 0 (SGD), 1/2 (Adam)",
           lr_sgd=sp.Integer(1), lr_adam=1 / sp.sqrt(L)),
)


def scheme(name: str) -> Scheme:
    """The scheme called ``name`` (one of ``[s.name for s in SCHEMES]``)."""
    for candidate in SCHEMES:
        if candidate.name == name:
            return candidate
    names = ", ".join(s.name for s in SCHEMES)
    raise ValueError(f"unknown scheme {name!r}; choose one of {names}")


def effective_lam(name: str, depth: int, a: float = 1.0) -> float:
    """S5: lam_eff of scheme ``name`` at initialisation for ``depth`` = L residual blocks."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    return float(scheme(name).lam_eff.subs({L: depth, A: sp.nsimplify(a)}))
