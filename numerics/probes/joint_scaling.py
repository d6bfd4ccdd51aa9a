r"""D5 measured: expand a trained post-LN MLP and keep training, against two baselines.

One point and one seed: :func:`joint_scaling_point` takes the old model f_0, a dataset (its
training sample of size m and its test sample) and a held-out sample for the observability test,
then measures

- D2's observability at f_0: the new block (inserted at ``position`` with a fresh random U) gets
  its direction from the training sample and its z-score from the held-out one
  (:func:`numerics.probes.observability.directional_test`); *observed* when z < -z_alpha;
- ``expanded``: the expanded model trained ``extra`` more epochs;
- ``longer``: baseline (a), f_0 trained the same ``extra`` epochs;
- ``scratch``: baseline (b), a depth L+1 model trained from scratch for the old model's epochs
  plus ``extra``;

and the final test losses. A run whose training loss went non-finite is reported as diverged and
its test loss as None: a diverged run's NaN never enters a comparison. :func:`t_interval` gives
the two-sided t-interval over seeds that the comparisons use.
"""

import copy
import dataclasses
import math

import torch
from scipy.stats import t as student_t

from numerics.models.config import TrainConfig
from numerics.models.networks import build_model
from numerics.models.train import evaluate, fit
from numerics.probes.expansion import gradient_noise, insert_block, make_loss, per_example_gradients
from numerics.probes.observability import directional_test

__all__ = ["joint_scaling_point", "t_interval"]


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper): the two-sided Student-t interval at ``level`` over >= 2 values."""
    values = [float(v) for v in values]
    k = len(values)
    if k < 2 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"need at least two finite values, got {values!r}")
    mean = sum(values) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    half = float(student_t.ppf(0.5 + level / 2, k - 1)) * sd / math.sqrt(k)
    return mean, mean - half, mean + half


def joint_scaling_point(old, data, held, old_train: TrainConfig, extra: TrainConfig, *,
                        position: int, seed: int, alpha: float = 0.05, device="cpu") -> dict:
    """One (point, seed) of D5 on ``data`` (a :class:`numerics.models.data.Dataset`); ``held`` is the
    held-out (x, y) of the observability test; ``old`` was trained with ``old_train``."""
    if not isinstance(extra, TrainConfig) or not isinstance(old_train, TrainConfig):
        raise ValueError("old_train and extra must be TrainConfig instances")
    base = copy.deepcopy(old).double().eval()
    dev = next(base.parameters()).device
    probe = insert_block(base, position, generator=torch.Generator().manual_seed(seed))
    loss = make_loss(data.task)

    def cast(t):
        return t.to(device=dev, dtype=torch.float64) if t.is_floating_point() else t.to(dev)

    x, y, xt, yt = (cast(t) for t in (data.train_x, data.train_y, data.test_x, data.test_y))
    held_x, held_y = (cast(t) for t in held)
    test = directional_test(per_example_gradients(probe, position, x, y, loss),
                            per_example_gradients(probe, position, held_x, held_y, loss), alpha)
    point = {"m": data.n_train, "depth": base.config.depth, "width": base.config.width,
             "seed": seed, "z": test["z"], "observed": bool(test["observed"]),
             "snr": gradient_noise(probe, position, x, y, loss)["snr"],
             "old_test": evaluate(base, data.task, xt, yt)[0]}
    runs = {
        "expanded": (copy.deepcopy(probe).float(), extra, seed + 1),
        "longer": (copy.deepcopy(base).float(), extra, seed + 1),
        "scratch": (build_model(probe.config, data.in_dim, data.out_dim,
                                generator=torch.Generator().manual_seed(seed + 2)),
                    dataclasses.replace(old_train, epochs=old_train.epochs + extra.epochs),
                    seed + 2),
    }
    for name, (model, cfg, run_seed) in runs.items():
        result = fit(model, data, cfg, device=device, seed=run_seed)
        point[f"{name}_diverged"] = bool(result.diverged)
        point[f"{name}_test"] = None if result.diverged else evaluate(
            model.to("cpu"), data.task, data.test_x, data.test_y)[0]
    return point
