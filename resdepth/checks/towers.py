"""What the probe checks share: the trained ReLU MLP behind R2, the lesion and S6, random
towers, and the tolerance constants.

Tolerance policy: identities (R2, R5) are checked in float64 at relative error ``EXACT_TOL``
= 1e-9 (:data:`numerics.probes.spectrum.EXACT_TOL`), far above the rounding error of the towers used
here (at most 12 blocks of width 32, whose splits are well conditioned: about n * 1e-16) and
far below any real discrepancy (a wrong gate, offset or lam is off by O(1)); expectations (S2,
S3) by batched Monte Carlo at |z| < ``Z_MAX`` = 5.

Lesions (R2): the real lesion is judged by the share of the lesion effect the frozen-gate
prediction leaves unexplained, |kept - predicted| / |1 - predicted|, which must stay below
``LESION_UNEXPLAINED`` = 1/2 (the same rule as ``resdepth probe``'s lesion rows), and it is
informative only where the uniform law over paths, 2^-m, would have missed by that much too.
"""

import torch
from torch import nn

from numerics.models.config import ModelConfig, TrainConfig
from numerics.models.networks import build_model
from numerics.probes.spectrum import EXACT_TOL
from resdepth.engine.policy import budget
from resdepth.engine.registry import RunSpec

__all__ = ["DATASET", "EXACT_TOL", "LESION_LAMS", "LESION_UNEXPLAINED", "PL_ACTIVATIONS",
           "SE_FRACTION", "SIGMA2", "TRAINED_DEPTH", "TRAINED_WIDTH", "Z_MAX", "random_tower",
           "s6_lams", "trained_spec"]

LESION_UNEXPLAINED = 0.5

LESION_LAMS = (0.25, 1.0)
"""The trained runs the lesion rows use: a short-path network (lam = 1/4, whose spectrum is far
from uniform) and lam = 1 (close to uniform); both are also S6's runs at the base seed."""

Z_MAX = 5.0

SE_FRACTION = 0.05

SIGMA2 = 1.0

TRAINED_DEPTH, TRAINED_WIDTH, DATASET = 6, 32, "digits"

PL_ACTIVATIONS = {"relu": nn.ReLU, "leaky": lambda: nn.LeakyReLU(0.1),
                  "abs": lambda: nn.LeakyReLU(-1.0)}

def trained_spec(ctx, lam: float = 1.0) -> RunSpec:
    """The trained residual ReLU MLP (with biases) behind the R2, lesion and S6 rows."""
    cfg = ModelConfig(arch="mlp", depth=TRAINED_DEPTH, width=TRAINED_WIDTH, lam=lam)
    train = TrainConfig(epochs=budget("R2", ctx.mode).train_epochs, lr=3e-3)
    return RunSpec(model=cfg, dataset=DATASET, train=train, seed=ctx.seed)

def s6_lams(ctx) -> tuple[float, ...]:
    return budget("S6", ctx.mode).lams

def random_tower(seed: int, depth: int, width: int, *, activation: str = "relu",
                 bias: bool = True, lam: float = 0.7):
    """A float64 residual MLP with every weight and bias drawn from a generator seeded ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    gelu = activation == "gelu"
    cfg = ModelConfig(depth=depth, width=width, lam=lam, bias=bias,
                      activation="gelu" if gelu else "relu")
    model = build_model(cfg, width, 2, generator=generator)
    with torch.no_grad():
        for block in model.blocks:
            if not gelu:
                block.branch[1] = PL_ACTIVATIONS[activation]()
            for layer in (block.branch[0], block.branch[2]):
                if layer.bias is not None:
                    layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator))
    return model.double().eval()
