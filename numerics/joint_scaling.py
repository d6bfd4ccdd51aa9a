r"""D5 measured: expand a trained post-LN MLP and keep training, against two baselines.

For a trained old model (depth L) :func:`joint_scaling_point` measures, on the same data,

- ``expanded``: insert a block at ``position`` (D1), record D2's observability
  (||G|| against its sampling noise, per-example gradients), train ``extra`` more epochs;
- ``longer``: baseline (a), the old model trained the same ``extra`` epochs;
- ``scratch``: baseline (b), the depth L+1 model trained from scratch for the old model's epochs
  plus ``extra``;

and reports final test losses. D2's condition counts as *observed* when ||G|| exceeds
:data:`SNR_THRESHOLD` times its noise. D5 is empirical: the numbers are recorded, and whether
expansion helped and whether the condition predicted it is reported as measured.
"""

import copy
import dataclasses

import torch

from numerics.config import TrainConfig
from numerics.expansion import gradient_noise, insert_block, make_loss
from numerics.models import build_model
from numerics.train import evaluate, fit

__all__ = ["SNR_THRESHOLD", "joint_scaling_point"]

SNR_THRESHOLD = 3.0


def joint_scaling_point(old, dataset, old_train: TrainConfig, extra: TrainConfig, *,
                        position: int, seed: int, device="cpu") -> dict:
    """One (depth, width, data size) point of D5; ``old`` is trained with ``old_train``."""
    if not isinstance(extra, TrainConfig) or not isinstance(old_train, TrainConfig):
        raise ValueError("old_train and extra must be TrainConfig instances")
    old = old.to("cpu")
    old_test, _ = evaluate(old, dataset.task, dataset.test_x, dataset.test_y)
    expanded = insert_block(old, position, generator=torch.Generator().manual_seed(seed + 1))
    noise = gradient_noise(expanded, position, dataset.train_x, dataset.train_y,
                           make_loss(dataset.task))
    fit(expanded, dataset, extra, device=device, seed=seed + 2)
    longer = copy.deepcopy(old)
    fit(longer, dataset, extra, device=device, seed=seed + 2)
    cfg = expanded.config
    scratch = build_model(cfg, dataset.in_dim, dataset.out_dim,
                          generator=torch.Generator().manual_seed(seed + 3))
    fit(scratch, dataset, dataclasses.replace(old_train, epochs=old_train.epochs + extra.epochs),
        device=device, seed=seed + 3)
    losses = {name: evaluate(model.to("cpu"), dataset.task, dataset.test_x, dataset.test_y)[0]
              for name, model in (("expanded", expanded), ("longer", longer),
                                  ("scratch", scratch))}
    return {
        "depth": cfg.depth - 1, "width": cfg.width, "n_train": dataset.n_train,
        "old_test": old_test, "expanded_test": losses["expanded"],
        "longer_test": losses["longer"], "scratch_test": losses["scratch"],
        "grad_norm": noise["grad_norm"], "grad_noise": noise["noise"], "snr": noise["snr"],
        "condition": noise["snr"] > SNR_THRESHOLD,
        "beats_longer": losses["expanded"] < losses["longer"],
        "beats_scratch": losses["expanded"] < losses["scratch"],
    }
