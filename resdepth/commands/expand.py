"""``resdepth expand``: depth expansion of a trained post-LN MLP, end to end (D1, D2, D5).

Trains the old model (depth N, width D, post-LN, no biases), inserts a block at position J
(V = 0, U random), measures D1 (output change against its first-order prediction), D2 (||G||,
its sampling noise, the line search along -G/||G|| on train and held-out data), then D5 (expand
and keep training against the old model trained longer and the deeper model from scratch).
Writes ``expand.md``, ``expand.json``, ``line_search.png`` and ``comparison.png`` to ``--out``.
"""

import copy
import json
from pathlib import Path

import torch

from numerics.config import ModelConfig, TrainConfig
from numerics.data import DATASETS, load_dataset
from numerics.device import DEVICE_CHOICES, choose_device
from numerics.expansion import (
    block_gradient,
    first_order_deviation,
    gradient_noise,
    insert_block,
    line_search,
    make_loss,
)
from numerics.joint_scaling import joint_scaling_point
from numerics.models import build_model
from numerics.train import fit
from resdepth.errors import nonnegative_int, positive_int
from resdepth.formats import render

STEP_FACTORS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "expand", help="D1/D2/D5: insert a block into a trained post-LN MLP and measure",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument("--dataset", choices=DATASETS, default="teacher-student")
    parser.add_argument("--depth", type=positive_int, default=4, help="blocks N of the old model")
    parser.add_argument("--width", type=positive_int, default=16, help="residual width D")
    parser.add_argument("--at", type=nonnegative_int, default=0,
                        help="position J in [0, N] of the new block (it reads h_J)")
    parser.add_argument("--seed", type=nonnegative_int, default=0)
    parser.add_argument("--epochs", type=positive_int, default=10, help="epochs of the old model")
    parser.add_argument("--extra-epochs", type=positive_int, default=5,
                        help="epochs after expansion (and for the train-longer baseline)")
    parser.add_argument("--n-train", type=positive_int, default=None, help="training-set size")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.at > args.depth:
        raise ValueError(f"--at must lie in [0, --depth={args.depth}], got {args.at}")
    device = choose_device(args.device)
    data = load_dataset(args.dataset, seed=args.seed, n_train=args.n_train)
    if data.train_x.ndim != 2 or data.train_x.is_floating_point() is False:
        raise ValueError(f"dataset {args.dataset!r} has token inputs; expand needs vector inputs")
    cfg = ModelConfig(arch="mlp", depth=args.depth, width=args.width, norm="post", bias=False)
    train = TrainConfig(epochs=args.epochs, batch_size=64, lr=3e-3)
    old = build_model(cfg, data.in_dim, data.out_dim,
                      generator=torch.Generator().manual_seed(args.seed))
    fit(old, data, train, device=device, seed=args.seed, progress=True)
    old = old.to("cpu")
    row, curves = _measure(copy.deepcopy(old).double().eval(), data, args)
    extra = TrainConfig(epochs=args.extra_epochs, batch_size=64, lr=1e-3)
    d5 = joint_scaling_point(old, data, train, extra, position=args.at, seed=args.seed,
                             device=device)
    row.update({k: d5[k] for k in ("old_test", "expanded_test", "longer_test", "scratch_test",
                                   "condition", "beats_longer", "beats_scratch")})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "expand.md").write_text(render([row], "md"), encoding="utf-8")
    (out / "expand.json").write_text(json.dumps({"summary": row, "line_search": curves},
                                                indent=2), encoding="utf-8")
    _plots(out, curves, d5)
    print(render([row], "md"), end="")
    return 0


def _measure(model, data, args):
    """D1 and D2 in float64 on the old model and its expansion at ``args.at``."""
    x, y = data.train_x.double(), (data.train_y.double() if data.train_y.is_floating_point()
                                   else data.train_y)
    xt, yt = data.test_x.double(), (data.test_y.double() if data.test_y.is_floating_point()
                                    else data.test_y)
    expanded = insert_block(model, args.at, generator=torch.Generator().manual_seed(args.seed + 1))
    dev = first_order_deviation(model, expanded, args.at, xt)
    loss = make_loss(data.task)
    g = block_gradient(expanded, args.at, x, y, loss)
    noise = gradient_noise(expanded, args.at, x, y, loss)
    u = -g / g.norm()
    steps = [noise["grad_norm"] * f for f in STEP_FACTORS]
    risks = line_search(expanded, args.at, u, steps, [("train", x, y, loss),
                                                      ("held_out", xt, yt, loss)])
    best = min(range(len(steps)), key=risks["train"].__getitem__)
    row = {
        "dataset": args.dataset, "depth": args.depth, "width": args.width, "at": args.at,
        "seed": args.seed, "d1_max_deviation": float(dev["measured"].abs().max()),
        "d1_first_order_residual": float((dev["measured"] - dev["predicted"]).abs().max()),
        "grad_norm": noise["grad_norm"], "grad_noise": noise["noise"], "snr": noise["snr"],
        "jump_t": steps[best], "train_gain": risks["train"][0] - risks["train"][best],
        "held_out_gain": risks["held_out"][0] - risks["held_out"][best],
    }
    return row, {"t": steps, **risks}


def _plots(out: Path, curves: dict, d5: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in ("train", "held_out"):
        ax.plot(curves["t"], curves[name], marker="o", label=name)
    ax.set_xlabel("t (V = t u, u = -G/||G||)")
    ax.set_ylabel("risk")
    ax.set_title("D2: jumpboard line search")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "line_search.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    names = ("old_test", "expanded_test", "longer_test", "scratch_test")
    ax.bar([n.removesuffix("_test") for n in names], [d5[n] for n in names])
    ax.set_ylabel("test loss")
    ax.set_title("D5: expanded vs baselines")
    fig.tight_layout()
    fig.savefig(out / "comparison.png")
    plt.close(fig)
