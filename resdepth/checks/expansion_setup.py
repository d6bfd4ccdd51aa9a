"""What the D checks share: the trained old post-LN MLP, its data, the planted family, constants.

Every D2-D5 row expands the old model right before its head (position j = L: the new block reads
h_L), so the class the jumpboard searches has one LayerNorm and the head downstream (D4's
restricted bound is then tight) and the planted teacher of :mod:`numerics.probes.planted_teacher` is the old
model with one more block at the same place. D1 checks every position.

Tolerances and levels: ``ALPHA`` is the observability test's level (one-sided); ``Z_MAX`` the
|z| of Monte Carlo rows; ``NOISE_STD`` the planted family's label noise (the teacher-student
task's own).
"""

import torch

from numerics.models.config import ModelConfig, TrainConfig
from numerics.models.data import load_dataset
from numerics.probes.planted_teacher import PlantedTeacher
from resdepth.engine.policy import budget
from resdepth.engine.registry import RunSpec

DATASET = "teacher-student"
ALPHA = 0.05
NOISE_STD = 0.1


def old_spec(ctx, depth: int = 2, width: int = 8, seed_offset: int = 0) -> RunSpec:
    """The trained old post-LN MLP (no biases, lam = 1) that D1-D5 expand."""
    cfg = ModelConfig(arch="mlp", depth=depth, width=width, norm="post", bias=False)
    sizes = budget("D1", ctx.mode)
    train = TrainConfig(epochs=sizes.old_epochs, batch_size=64, lr=3e-3)
    n = sizes.old_n
    return RunSpec(model=cfg, dataset=DATASET, train=train, seed=ctx.seed + seed_offset,
                   n_train=n)


def load_old(ctx, spec: RunSpec | None = None):
    """(float64 probe copy of the trained old model on ctx.device, its TrainResult, its data)."""
    spec = old_spec(ctx) if spec is None else spec
    model, result = ctx.trained(spec)
    data = load_dataset(spec.dataset, seed=spec.seed, n_train=spec.n_train)
    return ctx.probe_model(model), result, data


def population(ctx, data):
    """The teacher-student population as a sampler (n, generator) -> float64 (x, y) on ctx.device."""
    def sample(n, generator):
        x, y = data.sample(n, generator)
        return ctx.tensor(x), ctx.tensor(y)

    return sample


def planted(old, scale: float, seed: int) -> PlantedTeacher:
    """The planted teacher T_scale on ``old``, inserted before the head (position L)."""
    return PlantedTeacher(old, len(old.blocks), scale, noise_std=NOISE_STD,
                          generator=torch.Generator().manual_seed(seed))


def position(model) -> int:
    """Where D2-D5 insert the new block: right before the head."""
    return len(model.blocks)


def with_plot(row, plot):
    """``row`` with its ``plot`` set (a derived verdict is derived again, an explicit one kept)."""
    import dataclasses

    return dataclasses.replace(row, plot=plot,
                               verdict=None if row.criterion is not None else row.verdict)
