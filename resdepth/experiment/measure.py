"""One run of the depth-scaling experiment: train it, and measure the model before and after.

Per run (S7): the training outcome (final and best test accuracy and loss, final training loss,
diverged, steps to the target loss) and, at initialisation and after training, on the first
``probe_n`` test inputs of the run's own data, in float64:

- GC = mean ||d model(x)/d x||_F^2 (:mod:`numerics.probes.geometric_complexity`);
- the signal ratio ||x_n||^2 / ||x_0||^2, each block's realised scale and multiplier
  (:mod:`numerics.probes.stream`);
- the signed path-length shares and mean path length (towers without normalisation, on the
  first ``spectrum_n`` inputs);
- the per-block gradient norms g_i = ||dL/d theta_i||_2 of the training loss L on one batch of
  the *training* set (the first ``probe_n`` training examples; theta_i: block i's parameters),
  summarised by :func:`gradient_summary` as log10(g_n / g_1) (last over first block) and the
  spread max_i log10 g_i - min_i log10 g_i: where the gradient per block vanishes or explodes
  with depth (issue 24's underfitting analysis of the normalised baselines, S7(d)).

A diverged run's trained model holds non-finite weights: its trained measurements are None,
never NaN. :func:`train_and_measure` is the picklable ``train`` function the sweep backends run.
"""

import math
import time

TARGET_FRACTION = 0.5
"""The target training loss is TARGET_FRACTION * log(classes): half the loss of chance."""


def probe_inputs(spec, n: int):
    """The first ``n`` test inputs of ``spec``'s dataset (its seed and size), on the CPU."""
    from numerics.models.data import load_dataset

    data = load_dataset(spec.dataset, seed=spec.seed, n_train=spec.n_train)
    return data.test_x[:n]


def block_gradients(model, x, y, task: str = "classification") -> list[float]:
    """g_i = ||dL/d theta_i||_2 for every residual block i (float64, the model's own mode),
    L the training loss (cross-entropy or MSE) of the batch ``(x, y)``."""
    import torch

    from numerics.models.train import _loss

    model.zero_grad(set_to_none=True)
    loss = _loss(task, model(x), y)
    if not torch.isfinite(loss):
        return [math.nan] * len(model.blocks)
    loss.backward()
    norms = []
    for block in model.blocks:
        grads = [p.grad.pow(2).sum() for p in block.parameters() if p.grad is not None]
        norms.append(float(torch.stack(grads).sum().sqrt()) if grads else 0.0)
    model.zero_grad(set_to_none=True)
    return norms


def gradient_summary(norms: list[float]) -> dict:
    """``grad_norms`` (per block), ``grad_last_first`` = log10(g_n/g_1) and ``grad_spread`` =
    max log10 g_i - min log10 g_i (None where a norm is zero or non-finite)."""
    ok = norms and all(math.isfinite(g) and g > 0 for g in norms)
    logs = [math.log10(g) for g in norms] if ok else None
    return {"grad_norms": list(norms),
            "grad_last_first": None if logs is None else logs[-1] - logs[0],
            "grad_spread": None if logs is None else max(logs) - min(logs)}


def measure(model, x, spectrum_n: int, *, batch_statistics: bool = False, batch=None,
            task: str = "classification") -> dict:
    """GC, signal ratio, realised scales, multipliers, (no normalisation) path shares and, when
    ``batch`` = (x, y) of the training set is given, the per-block gradient norms.

    ``batch_statistics``: BatchNorm layers normalise with the statistics of ``x`` (what a
    training step sees), not their running statistics, which before any training are the
    defaults 0 and 1 and make eval-mode BatchNorm the identity.
    """
    import copy

    import torch

    from numerics.probes.geometric_complexity import geometric_complexity
    from numerics.probes.stream import path_shares, stream_summary

    probe = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    x = x.to(torch.float64)
    if batch_statistics:
        _calibrate_batchnorm(probe, x)
    found = {"gc": geometric_complexity(probe, x), **stream_summary(probe, x)}
    if batch is not None:
        probe.train()  # what a training step sees (BatchNorm: the batch's own statistics)
        found.update(gradient_summary(block_gradients(probe, batch[0].to(torch.float64),
                                                      batch[1], task)))
        probe.eval()
    if model.config.norm == "none" and model.config.arch == "mlp":
        found.update(path_shares(probe, x[:spectrum_n]))
    elif model.config.norm == "none" and model.config.arch in ("resnet", "resnet-proj"):
        from numerics.models.conv_resnet import resnet_spectrum

        spectrum = resnet_spectrum(probe, x[:spectrum_n])
        found.update({"signed_shares": spectrum.signed_shares(),
                      "mean_length": spectrum.mean_length(),
                      "max_rel_error": spectrum.max_rel_error()})
    return {key: _finite_or_none(value) for key, value in found.items()}


def _calibrate_batchnorm(model, x) -> None:
    """Set every BatchNorm's running statistics to those of the batch ``x`` (eval mode after)."""
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: after one batch, that batch's statistics
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


def _finite_or_none(value):
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value if value is None or math.isfinite(value) else None


def outcome(metrics: dict, n_train: int, batch_size: int, classes: int) -> dict:
    """The training outcome of a run from its TrainResult fields (see the module docstring).

    A diverged run's final accuracy is chance (1/classes) and its final losses None; its best
    values come from the epochs that finished before the loss went non-finite.
    """
    history, diverged = metrics["history"], bool(metrics["diverged"])
    per_epoch = math.ceil(n_train / min(batch_size, n_train))
    target = TARGET_FRACTION * math.log(classes)
    reached = [r["epoch"] for r in history if r["train_loss"] <= target]
    last = None if diverged or not history else history[-1]
    return {
        "diverged": diverged,
        "final_test_acc": 1.0 / classes if last is None else last["test_acc"],
        "best_test_acc": max((r["test_acc"] for r in history), default=None),
        "final_test_loss": None if last is None else last["test_loss"],
        "best_test_loss": min((r["test_loss"] for r in history), default=None),
        "final_train_loss": None if last is None else last["train_loss"],
        "steps_to_target": reached[0] * per_epoch if reached else None,
        "target_loss": target,
        "wall_time_s": metrics["wall_time_s"],
    }


def train_and_measure(spec, device: str, probe_n: int = 256, spectrum_n: int = 32):
    """Train ``spec`` (one torch thread, as :func:`resdepth.engine.sweep.train_run`) and measure it;
    the TrainedRun's metrics are ``{"train": TrainResult fields, "measurements": {...}}``."""
    import torch

    from numerics.models.data import load_dataset
    from numerics.models.train import fit, initial_model
    from resdepth.engine.store import TrainedRun, state_to_bytes
    from resdepth.engine.sweep import TRAIN_THREADS, result_to_metrics

    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    start = time.perf_counter()
    try:
        data = load_dataset(spec.dataset, seed=spec.seed, n_train=spec.n_train)
        x = data.test_x[:probe_n]
        batch = (data.train_x[:probe_n], data.train_y[:probe_n])
        model = initial_model(spec.model, data, spec.seed)
        initial = measure(model, x, spectrum_n, batch_statistics=True, batch=batch,
                          task=data.task)
        result = fit(model, data, spec.train, device=device, seed=spec.seed)
        trained = (None if result.diverged
                   else measure(model, x, spectrum_n, batch=batch, task=data.task))
    finally:
        torch.set_num_threads(threads)
    return TrainedRun(
        key=spec.key(), status="diverged" if result.diverged else "finished",
        state=state_to_bytes(model.state_dict()),
        metrics={"train": result_to_metrics(result),
                 "measurements": {"initial": initial, "trained": trained}},
        in_dim=data.in_dim, out_dim=data.out_dim, wall_time_s=time.perf_counter() - start)
