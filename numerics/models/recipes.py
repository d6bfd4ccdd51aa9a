"""Default training recipes: per model and dataset, the optimiser, lr, schedule, batch, epochs.

``TrainConfig()``'s field defaults (AdamW, lr 1e-3, batch 128, 20 epochs) are what existing
checks train with and stay as they are; a *recipe* is the setting ``resdepth train`` and
``resdepth experiment`` start from. Each was measured on 2 CPU cores (seeds 0, 1, 2) and is held
to its ``floor`` by ``tests/numerics/models/test_recipes.py``:

======================================  ==========================================  =====================
model / dataset                         recipe                                      measured (test set)
======================================  ==========================================  =====================
mlp / digits (depth 4, width 32)        AdamW lr 1e-2, batch 32, cosine, 5 epochs   95.3-98.1% accuracy
cnn / digits (depth 2, width 8)         AdamW lr 1e-2, batch 32, cosine, 5 epochs   87.5-91.4% accuracy
transformer / modular-addition          AdamW lr 3e-3, wd 0.1, batch 64, cosine,    72% accuracy (pre-LN,
(depth 1, width 32)                     100 epochs                                  seed 0)
mlp / mnist1d (depth 4, width 32)       AdamW lr 1e-2, batch 64, cosine, 10 epochs  89% accuracy (seed 0)
mlp / teacher-student (depth 2, w 32)   AdamW lr 1e-2, batch 32, cosine, 20 epochs  MSE 0.07 (Var y ~ 1)
resnet / digits (1 block a stage, w 8)  AdamW lr 1e-2, batch 32, cosine, 5 epochs   96.4-98.3% accuracy
resnet-proj / digits (same)             AdamW lr 1e-2, batch 32, cosine, 5 epochs   95.6-98.3% accuracy
======================================  ==========================================  =====================

The conv ResNets' default for ``resdepth train`` is digits (always at hand, seconds to train);
Fashion-MNIST and CIFAR-10 runs go through ``resdepth experiment depth-scaling``, which tunes its
learning rates on a validation split.

(The old defaults, AdamW lr 1e-3 at batch 128, take 60 steps in 5 epochs of digits and end at
72.8%.) Residual MLPs without BatchNorm train with the stacked engine
(:mod:`numerics.models.stacked`): the same function and, measured, the same numbers, with less
per-block overhead.

>>> recipe("mlp", "digits").lr, recipe("mlp", "digits").batch_size
(0.01, 32)
"""

from dataclasses import dataclass, replace

from numerics.models.config import ModelConfig, TrainConfig

__all__ = ["RECIPES", "Recipe", "recipe", "recipe_for"]


@dataclass(frozen=True)
class Recipe:
    """A TrainConfig and the test-set figure it reaches on the reference model (``floor``:
    accuracy for classification, at most this MSE for regression)."""

    train: TrainConfig
    reference: ModelConfig
    floor: float


RECIPES = {
    ("mlp", "digits"): Recipe(TrainConfig(epochs=5, batch_size=32, lr=1e-2),
                              ModelConfig(depth=4, width=32), 0.93),
    ("cnn", "digits"): Recipe(TrainConfig(epochs=5, batch_size=32, lr=1e-2),
                              ModelConfig(arch="cnn", depth=2, width=8), 0.85),
    ("transformer", "modular-addition"): Recipe(
        TrainConfig(epochs=100, batch_size=64, lr=3e-3, weight_decay=0.1),
        ModelConfig(arch="transformer", depth=1, width=32, norm="pre"), 0.6),
    ("mlp", "mnist1d"): Recipe(TrainConfig(epochs=10, batch_size=64, lr=1e-2),
                               ModelConfig(depth=4, width=32), 0.8),
    ("mlp", "teacher-student"): Recipe(TrainConfig(epochs=20, batch_size=32, lr=1e-2),
                                       ModelConfig(depth=2, width=32), 0.15),
    ("resnet", "digits"): Recipe(TrainConfig(epochs=5, batch_size=32, lr=1e-2),
                                 ModelConfig(arch="resnet", depth=1, width=8), 0.9),
    ("resnet-proj", "digits"): Recipe(TrainConfig(epochs=5, batch_size=32, lr=1e-2),
                                      ModelConfig(arch="resnet-proj", depth=1, width=8), 0.9),
}
"""(arch, dataset) -> Recipe."""


def recipe(arch: str, dataset: str) -> TrainConfig:
    """The recipe's TrainConfig for ``arch`` on ``dataset`` (engine "modules")."""
    if (arch, dataset) not in RECIPES:
        known = ", ".join(f"{a}/{d}" for a, d in RECIPES)
        raise ValueError(f"no training recipe for {arch} on {dataset}; recipes: {known}")
    return RECIPES[arch, dataset].train


def recipe_for(model_cfg: ModelConfig, dataset: str) -> TrainConfig:
    """:func:`recipe`, with the stacked engine where ``model_cfg`` allows it (MLPs without
    BatchNorm)."""
    train = recipe(model_cfg.arch, dataset)
    stacked = model_cfg.arch == "mlp" and model_cfg.norm != "batch"
    return replace(train, engine="stacked") if stacked else train
