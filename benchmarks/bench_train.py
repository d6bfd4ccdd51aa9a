"""Training throughput of :func:`numerics.models.train.fit` against a bare PyTorch loop.

:func:`step_time_per_block` (issue 14, item 6): one AdamW step of a residual MLP (width 16,
batch 64) at depth 16 and 256, per block, for the model's own modules (engine ``modules``), the
stacked engine (:mod:`numerics.models.stacked`) and a bare loop of functional calls on stacked tensors
(the least Python a depth-n tower can cost); ratios are time / bare time (1 = no overhead).

Both train the same freshly initialised residual MLP on the same digits tensors with AdamW,
constant lr and the same batch size, on the same device. ``ratio_vs_bare_with_eval`` compares
with a bare loop that also evaluates train and test loss/accuracy after every epoch (the same
work as ``fit``); ``ratio_vs_bare_train_only`` with one that never evaluates. A ratio is
(fit examples/s) / (bare examples/s); >= 0.9 means the loop's bookkeeping costs < 10%.
"""

import time

import torch
import torch.nn.functional as F

from numerics.device import choose_device
from numerics.models.config import ModelConfig, TrainConfig
from numerics.models.data import load_dataset
from numerics.models.networks import build_model
from numerics.models.stacked import StackedTower
from numerics.models.train import evaluate, fit

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


STEP_DEPTHS, STEP_WIDTH, STEP_BATCH, STEP_REPEATS = (16, 256), 16, 64, 7


def _bare_step(depth: int):
    """One AdamW step of x_i = x_{i-1} + lam (W2 relu(W1 x + b1) + b2) on plain stacked tensors."""
    gen = torch.Generator().manual_seed(0)
    d = STEP_WIDTH
    shapes = {"w1": (depth, d, d), "b1": (depth, d), "w2": (depth, d, d), "b2": (depth, d),
              "embed": (d, 40), "head": (10, d)}
    params = {k: (0.1 * torch.randn(v, generator=gen)).requires_grad_() for k, v in shapes.items()}
    optimizer = torch.optim.AdamW(list(params.values()), lr=1e-3)
    x, y = torch.randn(STEP_BATCH, 40, generator=gen), torch.randint(0, 10, (STEP_BATCH,))
    lam = depth ** -0.5

    def step():
        z = F.linear(x, params["embed"])
        w1, b1, w2, b2 = (params[k].unbind(0) for k in ("w1", "b1", "w2", "b2"))
        for i in range(depth):
            z = torch.add(z, F.linear(torch.relu(F.linear(z, w1[i], b1[i])), w2[i], b2[i]),
                          alpha=lam)
        loss = F.cross_entropy(F.linear(z, params["head"]), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _engine_step(depth: int, stacked: bool):
    model = build_model(ModelConfig(depth=depth, width=STEP_WIDTH, scaling="inv-sqrt"), 40, 10)
    net = StackedTower(model) if stacked else model
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(STEP_BATCH, 40, generator=gen), torch.randint(0, 10, (STEP_BATCH,))

    def step():
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def step_time_per_block() -> dict:
    """Median per-block step time (microseconds) of modules, stacked and bare, and the ratios."""
    import statistics

    figures = {"width": STEP_WIDTH, "batch": STEP_BATCH, "threads": torch.get_num_threads()}
    for depth in STEP_DEPTHS:
        steps = {"modules": _engine_step(depth, False), "stacked": _engine_step(depth, True),
                 "bare": _bare_step(depth)}
        times = {name: [] for name in steps}
        for name, step in steps.items():
            step()  # warm-up
        for _ in range(STEP_REPEATS):  # interleaved, so a slow spell hits all three alike
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
        median = {name: statistics.median(t) for name, t in times.items()}
        for name, value in median.items():
            figures[f"n{depth}_{name}_us_per_block"] = round(1e6 * value / depth, 1)
        figures[f"n{depth}_modules_over_bare"] = round(median["modules"] / median["bare"], 2)
        figures[f"n{depth}_stacked_over_bare"] = round(median["stacked"] / median["bare"], 2)
    return figures


BENCHMARKS = [fit_vs_bare_loop, step_time_per_block]
