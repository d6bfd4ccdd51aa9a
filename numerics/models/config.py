"""Frozen, typed configurations: one :class:`ModelConfig` per model, one :class:`TrainConfig` per run.

Both validate every field in ``__post_init__`` and raise ``ValueError`` naming the field.
The branch scale lam_i of THEORY.md (x_i = x_{i-1} + lam_i f_i(x_{i-1})) is fixed by
``scaling`` and ``lam`` (the constant a) through :meth:`ModelConfig.block_lam`, with n the number
of residual blocks (:meth:`ModelConfig.n_blocks`):

====================  ===================================  ==========================================
``scaling``           lam_i at initialisation               place in S4 (lam_n = a n^(-beta))
====================  ===================================  ==========================================
``constant``          a                                     beta = 0: E||x_n||^2 grows like e^{c n}
``inv-sqrt``          a / sqrt(n)                           beta = 1/2: bounded, Poisson path lengths
``inv``               a / n                                 beta = 1: collapse to the identity
``learnable``         0 (nn.Parameter; SkipInit/ReZero)     lam = 0: identity at init, learned after
``fixup``             a; branch's last layer 0, scalar      branch output 0 at init (Zhang et al. 2019)
                      biases, multiplier (numerics.models.fixup)
``deepnorm``          (2N)^(-1/4), N = n/2 layers, post-LN  beta = 1/4 and branch init times (8N)^(-1/4)
``mup``               a / sqrt(n); block lr eta n^(-1/2)    beta = 1/2 (depth-muP, Yang, Yu, Zhu, Hayou
                      (AdamW) or eta (SGD): mup_lr_scale    2023; Bordelon et al. 2023)
====================  ===================================  ==========================================

Fixup's branch layers carry four scalar biases instead of bias vectors, a scalar multiplier
(init 1), and its classifier starts at zero (:mod:`numerics.models.fixup`).
A LayerNorm over a single number outputs a constant, so pre- and post-LN MLPs and Transformers
need ``width >= 2`` (the CNN normalises over channels x pixels).

>>> ModelConfig(depth=16, scaling="inv-sqrt", lam=2.0).block_lam()
0.5
>>> ModelConfig(arch="transformer", depth=3, width=32).n_blocks()
6
"""

import math
from dataclasses import dataclass

ARCHS = ("mlp", "cnn", "transformer", "resnet", "resnet-proj")
RESNETS = ("resnet", "resnet-proj")
NORMS = ("none", "pre", "post", "batch")
SCALINGS = ("constant", "inv-sqrt", "inv", "learnable", "fixup", "deepnorm", "mup")
ACTIVATIONS = ("relu", "gelu")
OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "constant")
ENGINES = ("modules", "stacked")

__all__ = [
    "ACTIVATIONS", "ARCHS", "ENGINES", "NORMS", "OPTIMIZERS", "SCALINGS", "SCHEDULES",
    "ModelConfig", "TrainConfig", "mup_lr_scale",
]


def _require_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _require_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _require_finite(name: str, value, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if not positive and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything that determines a residual model's architecture and initialisation.

    Attributes
    ----------
    arch : "mlp" | "cnn" | "transformer" | "resnet" | "resnet-proj" (He et al.'s CIFAR ResNet
        with padding or projection shortcuts, :mod:`numerics.models.conv_resnet`).
    depth : number of residual blocks (mlp, cnn), of Transformer layers (2 blocks each), or of
        BasicBlocks per stage (resnet: 3 stages, n = 3 depth blocks; 3, 9, 18 give ResNet-20,
        -56, -110).
    width : residual-stream dimension d (channels for the CNN; the first stage's channels for
        the resnet, whose stages have width, 2 width, 4 width).
    hidden : branch hidden width h; None means ``width`` (mlp, cnn) or ``4 * width`` (transformer).
    norm : "none" | "pre" | "post" | "batch" (see :class:`numerics.models.networks.ResidualBlock`).
    scaling : how lam_i depends on depth (table in the module docstring).
    lam : the constant a of the scaling rule (ignored by "learnable" and "deepnorm").
    activation : "relu" | "gelu".
    bias : whether the linear/convolutional layers carry biases.
    heads : attention heads of the Transformer (must divide ``width``).
    """

    arch: str = "mlp"
    depth: int = 8
    width: int = 64
    hidden: int | None = None
    norm: str = "none"
    scaling: str = "constant"
    lam: float = 1.0
    activation: str = "relu"
    bias: bool = True
    heads: int = 4

    def __post_init__(self) -> None:
        _require_choice("arch", self.arch, ARCHS)
        _require_int("depth", self.depth, 1)
        _require_int("width", self.width, 1)
        if self.hidden is not None:
            _require_int("hidden", self.hidden, 1)
        _require_choice("norm", self.norm, NORMS)
        _require_choice("scaling", self.scaling, SCALINGS)
        _require_finite("lam", self.lam)
        _require_choice("activation", self.activation, ACTIVATIONS)
        if not isinstance(self.bias, bool):
            raise TypeError(f"bias must be True or False, got {self.bias!r}")
        _require_int("heads", self.heads, 1)
        if self.arch == "transformer":
            if self.width % self.heads:
                raise ValueError(
                    f"width must be divisible by heads for the transformer, got width="
                    f"{self.width}, heads={self.heads}"
                )
            if self.norm == "batch":
                raise ValueError("norm='batch' is not available for the transformer "
                                 "(use none, pre or post)")
        if self.arch in RESNETS and self.norm == "post":
            raise ValueError("the resnet has no post-LN variant: norm must be none, pre or batch")
        if self.norm in ("pre", "post") and self.arch in ("mlp", "transformer") and self.width < 2:
            raise ValueError(f"norm={self.norm!r} needs width >= 2: a LayerNorm over one number "
                             f"outputs a constant (got width={self.width})")
        if self.scaling == "deepnorm" and self.norm != "post":
            raise ValueError(f"scaling='deepnorm' is a post-LN scheme: it needs norm='post', "
                             f"got norm={self.norm!r}")

    def branch_hidden(self) -> int:
        """The branch hidden width h (``hidden`` or its default)."""
        if self.hidden is not None:
            return self.hidden
        return 4 * self.width if self.arch == "transformer" else self.width

    def n_blocks(self) -> int:
        """The number n of residual blocks: ``depth``, ``2 * depth`` for the transformer,
        ``3 * depth`` for the resnet (three stages)."""
        if self.arch in RESNETS:
            return 3 * self.depth
        return 2 * self.depth if self.arch == "transformer" else self.depth

    def block_lam(self) -> float:
        """The initial branch scale lam_i (the same for every block); see the module table.

        DeepNorm (Wang et al. 2022) computes LN(alpha x + G(x)) with alpha = (2N)^(1/4) for N
        layers of two sublayers each; LayerNorm is scale-invariant, so this equals
        LN(x + G(x)/alpha) up to LN's eps, i.e. lam = 1/alpha = (2N)^(-1/4) with N = n/2.
        """
        n = self.n_blocks()
        rules = {
            "constant": lambda: self.lam,
            "inv-sqrt": lambda: self.lam / math.sqrt(n),
            "inv": lambda: self.lam / n,
            "learnable": lambda: 0.0,
            "fixup": lambda: self.lam,
            "deepnorm": lambda: 1.0 / deepnorm_alpha(n),
            "mup": lambda: self.lam / math.sqrt(n),
        }
        return float(rules[self.scaling]())


def deepnorm_alpha(n_blocks: int) -> float:
    """DeepNorm's residual multiplier alpha = (2N)^(1/4) = n^(1/4), N = n/2 layers."""
    return float(n_blocks) ** 0.25


def deepnorm_beta(n_blocks: int) -> float:
    """DeepNorm's branch-initialisation gain beta = (8N)^(-1/4) = (4n)^(-1/4), N = n/2 layers."""
    return (4.0 * n_blocks) ** -0.25


def mup_lr_scale(n_blocks: int, optimizer: str) -> float:
    """Depth-muP's factor on the learning rate of the residual blocks' parameters.

    Yang, Yu, Zhu, Hayou (2023, arXiv 2310.02244) pair the block multiplier a L^(-1/2) with a
    learning rate eta L^(-gamma): gamma = 0 for SGD and gamma = 1/2 for Adam (embedding and head
    keep eta). Why: a block's parameter update changes its output by lam times the update. Under
    SGD the gradient already carries lam = a L^(-1/2), so the change is O(eta lam^2) = O(eta/L)
    per block and O(eta) summed over the L blocks, at every L. Adam normalises the gradient away:
    its update is O(eta) whatever lam is, the change O(eta L^(-1/2)) per block, and summed over L
    blocks whose updates are correlated O(eta L^(1/2)); eta L^(-1/2) restores O(eta).

    >>> mup_lr_scale(16, "sgd"), mup_lr_scale(16, "adamw")
    (1.0, 0.25)
    """
    _require_int("n_blocks", n_blocks, 1)
    _require_choice("optimizer", optimizer, OPTIMIZERS)
    return 1.0 if optimizer == "sgd" else float(n_blocks) ** -0.5


def fixup_gain(n_blocks: int, layers_per_branch: int = 2) -> float:
    """Fixup's rescaling of a branch's inner layers, L^(-1/(2m-2)), L = n branches of m layers."""
    return float(n_blocks) ** (-1.0 / (2 * layers_per_branch - 2))


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained by :func:`numerics.models.train.fit`.

    Attributes
    ----------
    epochs : passes over the training set (>= 1).
    batch_size : examples per step (>= 1; capped at the training-set size).
    lr : peak learning rate (> 0).
    optimizer : "adamw" | "sgd" (SGD with momentum 0.9).
    weight_decay : decoupled (AdamW) or L2 (SGD) weight decay (>= 0).
    schedule : "cosine" (per-step decay from lr to 0) | "constant".
    engine : "modules" (the model's own modules) | "stacked" (residual MLPs without BatchNorm:
        the blocks' weights stacked into a few tensors, the same function with far less
        per-block Python overhead; :mod:`numerics.models.stacked`).
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    schedule: str = "cosine"
    engine: str = "modules"

    def __post_init__(self) -> None:
        _require_int("epochs", self.epochs, 1)
        _require_int("batch_size", self.batch_size, 1)
        _require_finite("lr", self.lr, positive=True)
        _require_choice("optimizer", self.optimizer, OPTIMIZERS)
        _require_finite("weight_decay", self.weight_decay)
        _require_choice("schedule", self.schedule, SCHEDULES)
        _require_choice("engine", self.engine, ENGINES)
