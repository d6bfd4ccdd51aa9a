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
the two-sided t-interval over seeds that the comparisons use; :func:`t_z` the one-sided t-test
over independently trained models written as a z-score (D2's width law, the lesion rows);
:func:`split_test_power` the probability that one split test detects the effect at a point,
from the seeds' z-scores.
"""

import copy
import dataclasses
import math

import torch
from scipy.stats import norm
from scipy.stats import t as student_t

from numerics.models.config import TrainConfig
from numerics.models.networks import build_model
from numerics.models.train import evaluate, fit
from numerics.probes.expansion import gradient_noise, insert_block, make_loss, per_example_gradients
from numerics.probes.observability import directional_test

__all__ = ["joint_scaling_point", "split_test_power", "t_interval", "t_z"]


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


def t_z(values) -> dict:
    r"""The one-sided t-test of mean > 0 over k >= 2 independent values (one per independently
    trained model), written as a z-score so that one threshold serves every k.

    t = \bar v / (s / \sqrt k) with k - 1 degrees of freedom (s the sample standard deviation,
    which holds the training variation together with each model's own sampling error), and
    z = \Phi^{-1}(F_{k-1}(t)), the normal quantile of the same one-sided p-value: |z| < |t|,
    and z -> t as k grows. Returns ``mean``, ``se`` (s/sqrt k), ``t``, ``df``, ``z`` and the
    95% two-sided interval ``lower``, ``upper``. Values that all agree give se = 0: z is then
    +-inf (0 when the mean is 0 too).

    >>> round(t_z([1.0, 2.0, 3.0])["t"], 12), round(t_z([1.0, 2.0, 3.0])["z"], 4)
    (3.464101615138, 1.7855)
    """
    mean, lower, upper = t_interval(values)
    values = [float(v) for v in values]
    k = len(values)
    se = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (k - 1) / k)
    if se == 0:
        t = z = math.copysign(math.inf, mean) if mean else 0.0
    else:
        t = mean / se
        # the tail on t's own side, so that neither side rounds to 0 or 1
        z = (float(norm.isf(student_t.sf(t, k - 1))) if t > 0
             else float(norm.ppf(student_t.cdf(t, k - 1))))
    return {"mean": mean, "se": se, "t": t, "df": k - 1, "z": z, "lower": lower, "upper": upper,
            "k": k}


def split_test_power(zs, alpha: float = 0.05) -> dict:
    r"""The probability that one split test detects the effect at a point (D5, issue 21), from
    the z-scores ``zs`` of its seeds (one trained old model and one sample each).

    A seed's z is approximately normal with mean E z = -sqrt(m) |<mu, u>| / sd (the planted
    effect in units of its standard error) and standard deviation 1 for a fixed model; across
    independently trained models it spreads more. With \bar z the seeds' mean and
    s = max(sd(zs), 1), the test (reject when z < -z_alpha) detects with probability

    .. math:: \text{power} = \Phi\big((-z_\alpha - \bar z) / s\big),

    alpha itself when there is no effect (\bar z = 0, s = 1). ``interval`` moves \bar z by
    two standard errors s/sqrt(k) either way; ``stouffer`` is the power of the point's combined
    test (z_S = sum z / sqrt k < -z_alpha), Phi(-z_alpha - sqrt(k) \bar z) at s = 1.

    >>> round(split_test_power([0.0, 0.0, 0.0], 0.05)["power"], 12)
    0.05
    """
    zs = [float(z) for z in zs]
    k = len(zs)
    if k < 2 or not all(math.isfinite(z) for z in zs):
        raise ValueError(f"need at least two finite z-scores, got {zs!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    crit = float(norm.isf(alpha))
    mean = math.fsum(zs) / k
    spread = max(1.0, math.sqrt(math.fsum((z - mean) ** 2 for z in zs) / (k - 1)))
    se = spread / math.sqrt(k)

    def power(z):
        return float(norm.cdf((-crit - z) / spread))

    return {"power": power(mean), "interval": (power(mean + 2 * se), power(mean - 2 * se)),
            "z_mean": mean, "z_spread": spread, "k": k,
            "stouffer": float(norm.cdf(-crit - math.sqrt(k) * mean))}


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
