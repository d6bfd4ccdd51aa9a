"""Layer helpers the residual models share: LayerNorm's eps, seeded draws, activations.

>>> activation_module("relu")
ReLU()
"""

import torch
from torch import nn

__all__ = ["LN_EPS", "activation_module", "default_generator", "init_normal_"]

LN_EPS = 1e-5


def default_generator(generator: torch.Generator | None) -> torch.Generator:
    """``generator``, or a fresh one seeded 0 when it is None (never the global random state)."""
    return torch.Generator().manual_seed(0) if generator is None else generator


def activation_module(name: str) -> nn.Module:
    """The activation phi named ``name``: "relu" or "gelu"."""
    if name == "relu":
        return nn.ReLU()
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"activation must be relu or gelu, got {name!r}")


def init_normal_(layer: nn.Module, std: float, generator: torch.Generator) -> None:
    """Weights ~ N(0, std^2), bias 0, drawn from ``generator``."""
    with torch.no_grad():
        nn.init.normal_(layer.weight, 0.0, std, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()
