"""Memory a training run needs, estimated before the model is built, against what is free.

The estimate (bytes, float32) is

.. math::

    28 P \\;+\\; 4 B \\sum_{\\text{blocks}} a_{\\text{block}} \\;+\\; K n \\;+\\; 4 N_{\\text{data}},

P the parameter count, counted seven times at 4 bytes: the model's weights, the stacked
engine's copy of them, their gradients, AdamW's two moments and the two temporaries of AdamW's
multi-tensor step. B the batch and a_block the numbers one block keeps per example for the
backward pass (4(d + h) for an MLP block, 4(c + h) per pixel for a CNN block, 8 d T + 2 heads
T^2 + 4 h T for a Transformer layer: a generous count of the saved inputs, pre-activations,
masks and outputs); K = :data:`BLOCK_OVERHEAD` bytes per block for what is not numbers (the
block's Python modules and tensor objects, one step's autograd nodes and views), n the blocks,
N_data the numbers of the dataset. Measured on CPU (peak resident memory of one AdamW step of
the stacked engine, batch 32, 2026-12-07): depth 10000 width 16 uses
58 KiB per block (estimate 63), depth 3000 width 64 311 KiB (estimate 330); so ``resdepth train
--depth 100000 --width 16`` needs about 6 GiB, as observed, where the earlier count (16 P plus one
copy of the activations, no per-block overhead) said 2.3. :func:`check_training_fits` refuses,
with one line, a run whose estimate exceeds :data:`FRACTION` of the free memory or whose
parameters exceed :data:`MAX_PARAMETERS` (these are research-sized models; a quarter of a billion
parameters trained one Python block at a time would run for days on any machine), so ``resdepth
train --depth 100000`` (default width 64: 832 million parameters) stops at once, before any
allocation, instead of being killed later.

>>> from numerics.models.config import ModelConfig
>>> parameter_count(ModelConfig(depth=2, width=4, hidden=3), 5, 2)
96
"""

import os

from numerics.models.config import ModelConfig

__all__ = ["BLOCK_OVERHEAD", "FRACTION", "MAX_PARAMETERS", "available_bytes", "check_training_fits", "parameter_count",
           "training_bytes"]

FRACTION = 0.8
MAX_PARAMETERS = 2**28
TOKENS = 3  # sequence length of modular-addition (a, b, =)
BLOCK_OVERHEAD = 32 * 1024
"""Bytes per residual block beyond its numbers: Python module and tensor objects (measured
18 KiB per MLP block) and one training step's autograd nodes and slice views (about 14 KiB)."""


def _branch_params(cfg: ModelConfig, fan: int, d: int, h: int) -> int:
    """One branch d -> h -> d with kernel area ``fan`` (1 for Linear, 9 for 3x3 convolutions)."""
    weights = 2 * fan * d * h
    if cfg.scaling == "fixup":
        return weights + 1 + (4 if cfg.bias else 0)
    return weights + ((h + d) if cfg.bias else 0)


def parameter_count(cfg: ModelConfig, in_dim: int, out_dim: int) -> int:
    """The exact number of parameters :func:`numerics.models.networks.build_model` creates."""
    d, h, b = cfg.width, cfg.branch_hidden(), int(cfg.bias)
    learnable = int(cfg.scaling == "learnable")
    head = d * out_dim + b * out_dim
    if cfg.arch == "mlp":
        embed, block = in_dim * d + b * d, _branch_params(cfg, 1, d, h) + learnable
        return embed + cfg.depth * block + head
    if cfg.arch == "cnn":
        embed, block = 9 * d + b * d, _branch_params(cfg, 9, d, h) + learnable
        return embed + cfg.depth * block + head
    attention = 4 * d * d + b * 4 * d + learnable
    return in_dim * d + cfg.depth * (attention + _branch_params(cfg, 1, d, h) + learnable) + head


def training_bytes(cfg: ModelConfig, in_dim: int, out_dim: int, batch: int,
                   data_numel: int = 0) -> int:
    """The estimate of the module docstring for one run of ``cfg`` at ``batch`` examples."""
    d, h = cfg.width, cfg.branch_hidden()
    if cfg.arch == "mlp":
        per_example = cfg.depth * 4 * (d + h)
    elif cfg.arch == "cnn":
        per_example = cfg.depth * 4 * (d + h) * in_dim
    else:
        per_example = cfg.depth * (8 * d * TOKENS + 2 * cfg.heads * TOKENS**2 + 4 * h * TOKENS)
    return (28 * parameter_count(cfg, in_dim, out_dim) + 4 * batch * per_example
            + BLOCK_OVERHEAD * cfg.n_blocks() + 4 * data_numel)


def available_bytes(device) -> int:
    """Free memory on ``device`` (a torch.device): CUDA's free memory, or the OS's MemAvailable."""
    if device.type == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def check_training_fits(cfg: ModelConfig, in_dim: int, out_dim: int, batch: int, device,
                        data_numel: int = 0) -> int:
    """The estimate in bytes; ``ValueError`` (one line) when the parameters exceed
    MAX_PARAMETERS or the estimate FRACTION of the free memory."""
    params = parameter_count(cfg, in_dim, out_dim)
    if params > MAX_PARAMETERS:
        raise ValueError(
            f"this model is too large to train here: depth {cfg.depth}, width {cfg.width} has "
            f"{params:,} parameters, beyond resdepth's cap of {MAX_PARAMETERS:,}; reduce "
            f"--depth, --width or --hidden")
    need = training_bytes(cfg, in_dim, out_dim, batch, data_numel)
    free = available_bytes(device)
    if need > FRACTION * free:
        raise ValueError(
            f"this model is too large to train here: depth {cfg.depth}, width {cfg.width} needs "
            f"about {need / 2**30:.3g} GiB (weights, gradients, optimiser state, one batch of "
            f"activations) but {free / 2**30:.3g} GiB are free on {device.type}; reduce --depth, "
            f"--width, --hidden or --batch-size")
    return need
