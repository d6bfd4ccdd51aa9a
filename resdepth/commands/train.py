"""``resdepth train``: train one residual network end to end and save what it produced.

Writes ``OUT/model.pt`` (weights-only checkpoint, see :mod:`numerics.models.checkpoint`),
``OUT/metrics.json`` (per-epoch train/test loss and accuracy, wall time, device, ``diverged``,
both configs) and ``OUT/learning_curve.png``. Optimiser, learning rate, schedule, batch size and
epochs default to the model's and dataset's recipe (:mod:`numerics.models.recipes`); each flag
overrides its part. ``--out`` is checked and the memory the run needs estimated
(:mod:`numerics.models.memory`) before anything is built, and the time it would take from a few
steps of the same model (refused past ``--max-hours``, said past a minute); the
device is chosen once. The progress
bar counts optimiser steps, so its ETA shows after the first step. Ctrl-C or SIGTERM stops
training, saves the model as it stood with the finished epochs' metrics (``"interrupted": true``)
and prints the command that trains it in full; the exit code is then 130.
"""

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from numerics.device import DEVICE_CHOICES
from numerics.models.config import (
    ACTIVATIONS,
    ARCHS,
    ENGINES,
    NORMS,
    OPTIMIZERS,
    SCALINGS,
    SCHEDULES,
    ModelConfig,
    TrainConfig,
)
from numerics.models.data import DATASETS, DEFAULT_DATASET
from resdepth.engine.errors import (
    check_out_dir,
    finite_nonnegative,
    finite_positive,
    nonnegative_int,
    positive_int,
)

DESCRIPTION = """\
Train a residual network x_i = x_{i-1} + lam_i f_i(x_{i-1}) (THEORY.md's tower) on an offline
dataset and save the checkpoint, the metrics and a learning-curve plot in OUT.

models:    mlp (residual MLP), cnn (residual CNN on 8x8 images), transformer (2 blocks per layer:
           attention, then MLP; inputs are token sequences)
datasets:  digits (sklearn's bundled 8x8 digits; default for mlp and cnn),
           teacher-student (regression with a fixed random teacher; MSE, no accuracy),
           modular-addition ((a + b) mod 23 as a 3-token sequence; default for the transformer),
           mnist1d (procedural MNIST-1D-style 40-point signals, 10 classes; generated, offline)
scaling:   constant lam = a | inv-sqrt a/sqrt(n) | inv a/n | learnable (SkipInit/ReZero, from 0)
           | fixup (zero last layer and classifier, first layer x n^(-1/2), scalar biases and
           multiplier) | deepnorm (needs --norm post) | mup (depth-muP: a/sqrt(n), and the
           blocks' learning rate x n^(-1/2) under AdamW); n = residual blocks, a = --lam.
norm:      none | pre x + lam f(LN x) | post LN(x + lam f(x)) | batch x + lam f(BN x)
recipes:   optimiser, lr, schedule, batch size and epochs default to the recipe of the model
           and dataset (mlp/digits: AdamW lr 1e-2, batch 32, cosine, 5 epochs: a depth-4
           width-32 MLP ends above 93% test accuracy); any flag overrides its part.

examples:
  resdepth train --model mlp --depth 16 --width 64 --scaling inv-sqrt --out runs/mlp16
  resdepth train --model transformer --depth 2 --width 64 --norm pre --epochs 100 \\
      --lr 3e-3 --weight-decay 0.1 --batch-size 64 --out runs/tf
  resdepth train --model mlp --dataset teacher-student --norm post --scaling deepnorm --out runs/ts
"""


def register(subparsers) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser(
        "train", help="train one residual network (mlp, cnn, transformer) and save it",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=ARCHS, default="mlp", help="architecture (default mlp)")
    model.add_argument("--depth", type=positive_int, default=8,
                       help="residual blocks (mlp, cnn) or layers (transformer) (default 8)")
    model.add_argument("--width", type=positive_int, default=64,
                       help="residual-stream width d, channels for the cnn (default 64)")
    model.add_argument("--hidden", type=positive_int, default=None,
                       help="branch hidden width h (default: width; 4*width for the transformer)")
    model.add_argument("--heads", type=positive_int, default=4,
                       help="attention heads of the transformer (default 4)")
    model.add_argument("--norm", choices=NORMS, default="none", help="normalisation (default none)")
    model.add_argument("--scaling", choices=SCALINGS, default="constant",
                       help="branch scale rule (default constant)")
    model.add_argument("--lam", type=finite_nonnegative, default=1.0,
                       help="the constant a in lam = a, a/sqrt(n), a/n (default 1)")
    model.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                       help="branch activation (default relu)")
    model.add_argument("--no-bias", action="store_true", help="layers without biases")
    data = parser.add_argument_group("data and training")
    data.add_argument("--dataset", choices=DATASETS, default=None,
                      help="default: digits for mlp/cnn, modular-addition for the transformer")
    data.add_argument("--n-train", type=positive_int, default=None,
                      help="training-set size (default: the dataset's own)")
    data.add_argument("--epochs", type=positive_int, default=None, help="default: the recipe's")
    data.add_argument("--lr", type=finite_positive, default=None,
                      help="peak learning rate (default: the recipe's)")
    data.add_argument("--batch-size", type=positive_int, default=None,
                      help="default: the recipe's")
    data.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                      help="default: the recipe's (adamw)")
    data.add_argument("--weight-decay", type=finite_nonnegative, default=None,
                      help="default: the recipe's")
    data.add_argument("--schedule", choices=SCHEDULES, default=None,
                      help="default: the recipe's (cosine)")
    data.add_argument("--engine", choices=ENGINES, default=None,
                      help="stacked: an MLP's block weights in a few tensors (same function, "
                           "less overhead); default stacked for MLPs without BatchNorm")
    data.add_argument("--seed", type=nonnegative_int, default=0,
                      help="fixes the split, the initialisation and the batch order (default 0)")
    data.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                      help="auto takes CUDA when present; cuda without a GPU is an error")
    data.add_argument("--quiet", action="store_true", help="no progress bar")
    data.add_argument("--max-hours", type=finite_positive, default=24.0,
                      help="refuse a run estimated to take longer here (timed on a few steps "
                           "of the same model before training; default 24)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder for model.pt, metrics.json, learning_curve.png")
    parser.set_defaults(func=run)


TRAIN_FLAGS = ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule", "engine")


def configs(args) -> tuple[ModelConfig, TrainConfig, str]:
    """The ModelConfig, TrainConfig (the recipe with the given flags) and dataset ``args`` ask for."""
    from dataclasses import replace

    from numerics.models.recipes import recipe_for

    model_cfg = ModelConfig(
        arch=args.model, depth=args.depth, width=args.width, hidden=args.hidden,
        norm=args.norm, scaling=args.scaling, lam=args.lam, activation=args.activation,
        bias=not args.no_bias, heads=args.heads,
    )
    dataset = args.dataset or DEFAULT_DATASET[args.model]
    if args.model == "transformer" and dataset != "modular-addition":
        raise ValueError(f"the transformer reads token sequences: use --dataset "
                         f"modular-addition, not {dataset!r}")
    if args.model != "transformer" and dataset == "modular-addition":
        raise ValueError("modular-addition is a token-sequence task: use --model transformer")
    if args.model == "cnn" and dataset != "digits":
        raise ValueError(f"the cnn reads 8x8 images: use --dataset digits, not {dataset!r}")
    given = {flag: getattr(args, flag) for flag in TRAIN_FLAGS if getattr(args, flag) is not None}
    return model_cfg, replace(recipe_for(model_cfg, dataset), **given), dataset


def run(args) -> int:
    from numerics.device import choose_device
    from numerics.models.checkpoint import save_checkpoint
    from numerics.models.data import load_dataset
    from numerics.models.memory import check_training_fits
    from numerics.models.train import train_from_config

    model_cfg, train_cfg, dataset = configs(args)
    device = choose_device(args.device)  # once; fails here when CUDA is asked for and absent
    out = check_out_dir(Path(args.out))
    data = load_dataset(dataset, seed=args.seed, n_train=args.n_train)
    check_training_fits(model_cfg, data.in_dim, data.out_dim, min(train_cfg.batch_size,
                        data.n_train), device, data.train_x.numel() + data.test_x.numel())
    check_training_time(model_cfg, train_cfg, data, device, args.max_hours, args.quiet)
    model, result = train_from_config(model_cfg, dataset, train_cfg, seed=args.seed,
                                      device=device, n_train=args.n_train,
                                      progress=not args.quiet, keep_on_interrupt=True)
    meta = {"dataset": dataset, "seed": args.seed, "n_train": data.n_train,
            "diverged": result.diverged, "epochs_done": len(result.history),
            "interrupted": result.interrupted}
    save_checkpoint(out / "model.pt", model, model_cfg, data.in_dim, data.out_dim, meta)
    metrics = {"dataset": dataset, "task": data.task, "seed": args.seed, "n_train": data.n_train,
               "model_config": asdict(model_cfg), "train_config": asdict(train_cfg),
               **result.as_dict()}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_learning_curve(result.history, data.task, out / "learning_curve.png",
                        title=f"{model_cfg.arch} on {dataset}"
                              + (" (diverged)" if result.diverged else "")
                              + (" (interrupted)" if result.interrupted else ""))
    print(summary(result, out))
    if result.interrupted:
        import shlex
        import sys

        print(f"resdepth train: interrupted after {len(result.history)} of {train_cfg.epochs} "
              f"epochs ({result.steps} steps); the model as it stood and the finished epochs' "
              f"metrics are saved in {out}; train it in full with: resdepth train "
              f"{shlex.join(_rerun_args(sys.argv, out))}", file=sys.stderr)
        return 130
    return 0


def _rerun_args(argv: list[str], out: Path) -> list[str]:
    """The command's own arguments with ``--out`` pointed at a fresh folder beside ``out``."""
    args = list(argv[argv.index("train") + 1:]) if "train" in argv else []
    fresh = str(out.with_name(out.name + "-full"))
    for i, arg in enumerate(args):
        if arg == "--out" and i + 1 < len(args):
            args[i + 1] = fresh
        elif arg.startswith("--out="):
            args[i] = f"--out={fresh}"
    return args


EVAL_FACTOR = 1.25
"""The time estimate's allowance for each epoch's evaluation of the train and test splits."""


def check_training_time(model_cfg, train_cfg, data, device, max_hours: float,
                        quiet: bool) -> float:
    """Estimated seconds: one step timed here (:func:`numerics.models.train.step_seconds`) x
    optimiser steps x :data:`EVAL_FACTOR`; ``ValueError`` (one line) beyond ``max_hours``, and
    the estimate on stderr when it exceeds a minute."""
    import math
    import sys

    from numerics.models.train import step_seconds

    steps = train_cfg.epochs * math.ceil(data.n_train / min(train_cfg.batch_size, data.n_train))
    per_step = step_seconds(model_cfg, data, train_cfg, device=device)
    seconds = per_step * steps * EVAL_FACTOR
    said = f"{steps} steps of about {per_step:.3g} s, timed on a few steps here"
    if seconds > 3600 * max_hours:
        raise ValueError(
            f"this run would take about {seconds / 3600:.3g} hours ({said}), over --max-hours "
            f"{max_hours:g}; reduce --depth, --epochs or --n-train, or raise --max-hours")
    if seconds > 60 and not quiet:
        print(f"resdepth train: about {seconds / 60:.3g} min ({said})", file=sys.stderr)
    return seconds


def summary(result, out: Path) -> str:
    """One line: the final epoch's numbers, or the divergence."""
    final = result.final()
    status = "DIVERGED (NaN/inf loss) " if result.diverged else ""
    status += "INTERRUPTED " if result.interrupted else ""
    if final is None:
        return f"{status}before the first epoch ended; wrote {out}"
    acc = "" if final["test_acc"] is None else f", test acc {final['test_acc']:.4f}"
    return (f"{status}epoch {final['epoch']}: train loss {final['train_loss']:.4g}, test loss "
            f"{final['test_loss']:.4g}{acc} ({result.wall_time_s:.1f} s on {result.device}); "
            f"wrote {out}")


def plot_learning_curve(history: list[dict], task: str, path: Path, title: str) -> None:
    """Loss (and accuracy for classification) against epoch, train and test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if task == "classification" else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    epochs = [r["epoch"] for r in history]
    keys = [("loss", "train_loss", "test_loss")]
    if task == "classification":
        keys.append(("accuracy", "train_acc", "test_acc"))
    for ax, (name, train_key, test_key) in zip(axes[0], keys):
        ax.plot(epochs, [r[train_key] for r in history], marker=".", label="train")
        ax.plot(epochs, [r[test_key] for r in history], marker=".", label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        if name == "loss" and history and min(r[train_key] for r in history) > 0:
            ax.set_yscale("log")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
