"""numerics' models room: layers, architectures (MLP, CNN, Transformer, zoo), the stacked engine,
configs, recipes, datasets, the training loop and checkpoints.

The common names are re-exported here lazily (importing this package imports no torch until a
name is used): ``from numerics.models import build_model, ModelConfig, train_from_config``.
"""

import importlib

_EXPORTS = {
    "build_model": "networks", "ResidualBlock": "networks", "ResidualNetwork": "networks",
    "mlp_branch": "networks", "conv_branch": "networks",
    "ModelConfig": "config", "TrainConfig": "config",
    "load_dataset": "data", "Dataset": "data",
    "train_from_config": "train", "initial_model": "train",
    "save_checkpoint": "checkpoint", "load_checkpoint": "checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
