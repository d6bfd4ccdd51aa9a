"""What the probe checks share: the trained ReLU MLP behind R2, the lesion and S6, random
towers, and the tolerance constants.

Tolerance policy: identities (R2, R5) are checked in float64 at relative error ``EXACT_TOL``
= 1e-9, far above the rounding error of a depth-n tower (about n * 1e-16) and far below any
real discrepancy; expectations (S2, S3) by batched Monte Carlo at |z| < ``Z_MAX`` = 5.
"""

import copy

import torch
from torch import nn

from numerics.config import ModelConfig, TrainConfig
from numerics.models import build_model
from resdepth.checks.base import RunSpec

EXACT_TOL = 1e-9

Z_MAX = 5.0

SE_FRACTION = 0.05

SIGMA2 = 1.0

TRAINED_DEPTH, TRAINED_WIDTH, DATASET = 6, 32, "digits"

PL_ACTIVATIONS = {"relu": nn.ReLU, "leaky": lambda: nn.LeakyReLU(0.1),
                  "abs": lambda: nn.LeakyReLU(-1.0)}

def trained_spec(ctx, lam: float = 1.0) -> RunSpec:
    """The trained residual ReLU MLP (with biases) behind the R2, lesion and S6 rows."""
    cfg = ModelConfig(arch="mlp", depth=TRAINED_DEPTH, width=TRAINED_WIDTH, lam=lam)
    train = TrainConfig(epochs=3 if ctx.quick else 15, lr=3e-3)
    return RunSpec(model=cfg, dataset=DATASET, train=train, seed=ctx.seed)

def s6_lams(ctx) -> tuple[float, ...]:
    return (0.25, 1.0) if ctx.quick else (0.1, 0.25, 0.5, 1.0)

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

def float64_copy(model):
    return copy.deepcopy(model).double().eval()
