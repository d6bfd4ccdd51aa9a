"""One training loop for every model: full-batch tensors on the device, manual mini-batches.

:func:`fit` keeps the dataset on the device, shuffles with a local ``torch.Generator`` seeded by
``seed`` (so the same seed gives the same numbers on the CPU), steps AdamW or SGD with a cosine
or constant schedule, evaluates train and test loss/accuracy after every epoch, and stops at the
first epoch whose training loss is NaN or inf, returning ``diverged=True`` and the history so far.
Loss: cross-entropy for classification, mean squared error for regression (accuracy ``None``).

Learning rates per parameter group: every parameter gets lr_t of the schedule, except under
depth-muP (``ModelConfig.scaling == "mup"``), whose residual blocks' parameters get
lr_t * :func:`numerics.models.config.mup_lr_scale` (n^(-1/2) under AdamW, 1 under SGD). With
``TrainConfig.engine == "stacked"`` a residual MLP trains as a :class:`numerics.models.stacked.StackedTower`
(the same function, its block weights stacked) and the trained weights are written back.
"""

import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from numerics.device import choose_device
from numerics.models.config import ModelConfig, TrainConfig, mup_lr_scale
from numerics.models.data import Dataset, load_dataset
from numerics.models.networks import build_model

__all__ = ["TrainResult", "evaluate", "fit", "initial_model", "train_from_config"]

EVAL_BATCH = 4096
INIT_STREAM = 0x5EED  # the initialisation's generator is seeded seed ^ INIT_STREAM, never seed itself


@dataclass
class TrainResult:
    """What a run produced: ``history`` (one dict per epoch with ``epoch, train_loss,
    train_acc, test_loss, test_acc``), ``diverged``, ``wall_time_s``, ``device``, ``steps``,
    ``interrupted`` (Ctrl-C or SIGTERM stopped :func:`fit` with ``keep_on_interrupt``)."""

    history: list[dict] = field(default_factory=list)
    diverged: bool = False
    wall_time_s: float = 0.0
    device: str = "cpu"
    steps: int = 0
    interrupted: bool = False

    def final(self) -> dict | None:
        """The last epoch's record, or None if no epoch finished."""
        return self.history[-1] if self.history else None

    def as_dict(self) -> dict:
        return asdict(self)


def _loss(task: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if task == "classification":
        return F.cross_entropy(output, target)
    return F.mse_loss(output, target)


@torch.no_grad()
def evaluate(model: nn.Module, task: str, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float | None]:
    """Mean loss and accuracy (None for regression) of ``model`` on (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, x.shape[0], EVAL_BATCH):
        out = model(x[start:start + EVAL_BATCH])
        target = y[start:start + EVAL_BATCH]
        loss_sum += float(_loss(task, out, target)) * target.shape[0]
        if task == "classification":
            correct += int((out.argmax(-1) == target).sum())
    model.train(was_training)
    n = x.shape[0]
    return loss_sum / n, (correct / n if task == "classification" else None)


def param_groups(net: nn.Module, model_cfg: ModelConfig | None, cfg: TrainConfig) -> list[dict]:
    """The optimiser's parameter groups, each with its ``lr_scale`` (factor on lr_t).

    One group at scale 1, except under depth-muP: the residual blocks' parameters
    (``net.block_parameters()``) at :func:`mup_lr_scale`, embedding and head at 1.
    """
    params = [p for p in net.parameters() if p.requires_grad]
    if model_cfg is None or model_cfg.scaling != "mup":
        return [{"params": params, "lr_scale": 1.0}]
    blocks = {id(p) for p in net.block_parameters()}
    return [{"params": [p for p in params if id(p) in blocks],
             "lr_scale": mup_lr_scale(model_cfg.n_blocks(), cfg.optimizer)},
            {"params": [p for p in params if id(p) not in blocks], "lr_scale": 1.0}]


def _optimizer(net: nn.Module, model_cfg, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = param_groups(net, model_cfg, cfg)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def _engine(model: nn.Module, cfg: TrainConfig) -> nn.Module:
    """What the loop trains: ``model`` itself, or its :class:`StackedTower` (engine stacked)."""
    if cfg.engine == "modules":
        return model
    from numerics.models.stacked import StackedTower

    return StackedTower(model)


def _lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    """lr_t = lr (1 + cos(pi t / T)) / 2 for the cosine schedule, lr for the constant one."""
    if cfg.schedule == "constant":
        return cfg.lr
    return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * step / total))


def _resolve_device(device) -> torch.device:
    if isinstance(device, torch.device):
        return choose_device(device.type)
    return choose_device(device)


def fit(model: nn.Module, dataset: Dataset, cfg: TrainConfig, *, device="cpu", seed: int = 0,
        progress: bool = False, keep_on_interrupt: bool = False) -> TrainResult:
    """Train ``model`` in place on ``dataset`` and return the :class:`TrainResult`.

    ``device`` is "auto" | "cpu" | "cuda" (or a torch.device), resolved by
    :func:`numerics.device.choose_device`. Batches are slices of a permutation drawn from a
    generator seeded with ``seed``; the last, smaller batch of an epoch is kept. ``progress``
    shows a bar over optimiser steps (so its ETA appears after the first step, not the first
    epoch). With ``keep_on_interrupt`` a KeyboardInterrupt stops training, leaves the model as
    it stood (weights written back) and returns with ``interrupted`` set; otherwise it propagates.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    dev = _resolve_device(device)
    data = dataset.to(dev)
    model.to(dev).train()
    net = _engine(model, cfg)
    optimizer = _optimizer(net, getattr(model, "config", None), cfg)
    generator = torch.Generator().manual_seed(seed)
    n = data.n_train
    batch = min(cfg.batch_size, n)
    per_epoch = math.ceil(n / batch)
    total = cfg.epochs * per_epoch
    result = TrainResult(device=str(dev))
    start_time = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"train {dataset.name}", unit="step")
    try:
        _epochs(net, data, cfg, optimizer, generator, result, total, bar)
    except KeyboardInterrupt:
        if not keep_on_interrupt:
            raise
        result.interrupted = True
    finally:
        if bar is not None:
            bar.close()
        if net is not model:
            net.write_back(model)
        result.wall_time_s = time.perf_counter() - start_time
    return result


def _epochs(net, data: Dataset, cfg: TrainConfig, optimizer, generator, result: TrainResult,
            total: int, bar) -> None:
    """The loop of :func:`fit`: epochs of shuffled batches, one record per finished epoch."""
    n = data.n_train
    batch = min(cfg.batch_size, n)
    dev = data.train_x.device
    for epoch in range(1, cfg.epochs + 1):
        perm = torch.randperm(n, generator=generator).to(dev)
        loss_sum = torch.zeros((), device=dev)
        for start in range(0, n, batch):
            index = perm[start:start + batch]
            lr = _lr_at(cfg, result.steps, total)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            loss = _loss(data.task, net(data.train_x[index]), data.train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            result.steps += 1
            if bar is not None:
                bar.update(1)
        if not torch.isfinite(loss_sum):
            result.diverged = True
            return
        record = _epoch_record(net, data, epoch)
        if not math.isfinite(record["train_loss"]):
            result.diverged = True
            return
        result.history.append(record)
        if bar is not None:
            bar.set_postfix(epoch=f"{epoch}/{cfg.epochs}", loss=f"{record['train_loss']:.3g}",
                            test=f"{record['test_loss']:.3g}")


def _epoch_record(model: nn.Module, data: Dataset, epoch: int) -> dict:
    train_loss, train_acc = evaluate(model, data.task, data.train_x, data.train_y)
    test_loss, test_acc = evaluate(model, data.task, data.test_x, data.test_y)
    return {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
            "test_loss": test_loss, "test_acc": test_acc}


def train_from_config(model_cfg: ModelConfig, dataset_name: str, train_cfg: TrainConfig, *,
                      seed: int = 0, device="cpu", n_train: int | None = None,
                      progress: bool = False, keep_on_interrupt: bool = False
                      ) -> tuple[nn.Module, TrainResult]:
    """Load ``dataset_name``, build ``model_cfg`` (weights drawn from ``seed``), :func:`fit` it.

    The dataset split, the initialisation (generator seeded ``seed ^ INIT_STREAM``) and the
    batch order (seeded ``seed``) all derive from ``seed``.
    """
    dataset = load_dataset(dataset_name, seed=seed, n_train=n_train)
    model = initial_model(model_cfg, dataset, seed)
    result = fit(model, dataset, train_cfg, device=device, seed=seed, progress=progress,
                 keep_on_interrupt=keep_on_interrupt)
    return model, result


def initial_model(model_cfg: ModelConfig, dataset: Dataset, seed: int) -> nn.Module:
    """The model :func:`train_from_config` starts from: ``model_cfg`` for ``dataset``, weights
    drawn from a generator seeded ``seed ^ INIT_STREAM``."""
    return build_model(model_cfg, dataset.in_dim, dataset.out_dim,
                       generator=torch.Generator().manual_seed(seed ^ INIT_STREAM))


def step_seconds(model_cfg: ModelConfig, dataset: Dataset, cfg: TrainConfig, *, device="cpu",
                 probe_depth: int = 128) -> float:
    """Estimated wall time of one optimiser step of ``model_cfg`` on this machine.

    A step costs t(n) = t_0 + n t_b for n blocks (t_0: embedding, head, loss, the optimiser's
    fixed work). Models no deeper than ``probe_depth`` are timed as they are; deeper ones at
    ``probe_depth`` and scaled by n / probe_depth, which counts t_0 too often and so errs long
    (by t_0 n / probe_depth, a few percent). Each time is the fastest of five steps after a
    first (warm-up) one.
    """
    from dataclasses import replace

    dev = _resolve_device(device)
    batch = min(cfg.batch_size, dataset.n_train)
    x, y = dataset.train_x[:batch].to(dev), dataset.train_y[:batch].to(dev)

    def timed(depth: int) -> float:
        small = replace(model_cfg, depth=depth)
        model = build_model(small, dataset.in_dim, dataset.out_dim,
                            generator=torch.Generator().manual_seed(0)).to(dev).train()
        net = _engine(model, cfg)
        optimizer = _optimizer(net, small, cfg)
        times = []
        for _ in range(6):
            start = time.perf_counter()
            loss = _loss(dataset.task, net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            times.append(time.perf_counter() - start)
        return min(times[1:])

    if model_cfg.depth <= probe_depth:
        return timed(model_cfg.depth)
    return timed(probe_depth) * model_cfg.depth / probe_depth
