"""Training throughput of :func:`numerics.train.fit` against a bare PyTorch loop.

Both train the same freshly initialised residual MLP on the same digits tensors with AdamW,
constant lr and the same batch size, on the same device. ``ratio_vs_bare_with_eval`` compares
with a bare loop that also evaluates train and test loss/accuracy after every epoch (the same
work as ``fit``); ``ratio_vs_bare_train_only`` with one that never evaluates. A ratio is
(fit examples/s) / (bare examples/s); >= 0.9 means the loop's bookkeeping costs < 10%.
"""

import time

import torch
import torch.nn.functional as F

from numerics.config import ModelConfig, TrainConfig
from numerics.data import load_dataset
from numerics.device import choose_device
from numerics.models import build_model
from numerics.train import evaluate, fit

MODEL = ModelConfig(depth=8, width=128)
TRAIN = TrainConfig(epochs=6, batch_size=128, lr=1e-3, schedule="constant")
REPEATS = 5


def _fresh(data, device):
    model = build_model(MODEL, data.in_dim, data.out_dim, generator=torch.Generator().manual_seed(0))
    return model.to(device)


def _bare(model, data, device, with_eval: bool) -> float:
    data = data.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=TRAIN.lr)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(TRAIN.epochs):
        perm = torch.randperm(data.n_train, generator=generator).to(device)
        for i in range(0, data.n_train, TRAIN.batch_size):
            index = perm[i:i + TRAIN.batch_size]
            loss = F.cross_entropy(model(data.train_x[index]), data.train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if with_eval:
            evaluate(model, data.task, data.train_x, data.train_y)
            evaluate(model, data.task, data.test_x, data.test_y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _fit(data, device) -> float:
    model = _fresh(data, device)
    result = fit(model, data, TRAIN, device=device, seed=0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return result.wall_time_s


def fit_vs_bare_loop() -> dict:
    """Best-of-5 wall times of fit and of the two bare loops, interleaved, and their ratios."""
    device = choose_device("auto")
    data = load_dataset("digits", seed=0)
    _fit(data, device)  # warm-up: lazy imports, allocator, kernels
    times = {"fit": [], "bare_eval": [], "bare_train": []}
    for _ in range(REPEATS):
        times["fit"].append(_fit(data, device))
        times["bare_eval"].append(_bare(_fresh(data, device), data, device, with_eval=True))
        times["bare_train"].append(_bare(_fresh(data, device), data, device, with_eval=False))
    best = {k: min(v) for k, v in times.items()}
    examples = TRAIN.epochs * data.n_train
    return {
        "device": str(device), "model": f"mlp depth {MODEL.depth} width {MODEL.width}",
        "examples": examples, "fit_s": best["fit"], "bare_with_eval_s": best["bare_eval"],
        "bare_train_only_s": best["bare_train"],
        "fit_examples_per_s": examples / best["fit"],
        "ratio_vs_bare_with_eval": best["bare_eval"] / best["fit"],
        "ratio_vs_bare_train_only": best["bare_train"] / best["fit"],
    }


BENCHMARKS = [fit_vs_bare_loop]
