"""``resdepth spectrum``: split a residual ReLU MLP's output exactly by path length (R2)."""

import argparse
import copy
import json
import math

import numpy as np
import torch

from numerics.config import NORMS, ModelConfig
from numerics.spectrum import block_scales, path_spectrum
from resdepth.errors import ResdepthError, finite_nonnegative, nonnegative_int, positive_int
from resdepth.strategies import build_tower, tower_inputs

MAX_DEPTH = 1024
BIAS_STD = 0.1

DESCRIPTION = """\
Compute the path-length spectrum y_0..y_n of a residual ReLU MLP with biases (THEORY.md R2):
at each input the network's output x_n is exactly the sum of its 2^n gated paths, and y_k
collects the paths through k branches. A dynamic programme over the blocks computes all
y_k in n(n+1)/2 Jacobian-vector products (never 2^n), in float64; max_rel_error is the
largest ||sum_k y_k - x_n|| / ||x_n|| over the batch (rounding only). The md format prints
the energy share of each length next to the binomial law of S2 at initialisation.

The network is random (weights from --seed as at initialisation, biases N(0, 0.1^2)) or
loaded from a checkpoint written by `resdepth train` (--checkpoint; its architecture
replaces --depth/--width/--hidden/--lam). Inputs: --batch Gaussian vectors from --seed."""


def register(subparsers) -> None:
    """Add the ``spectrum`` sub-command."""
    parser = subparsers.add_parser(
        "spectrum", help="exact path-length spectrum of a residual ReLU MLP (R2)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--depth", type=positive_int, metavar="N",
                        help=f"residual blocks n (default 8, at most {MAX_DEPTH})")
    parser.add_argument("--width", type=positive_int, metavar="D",
                        help="residual stream width d (default 16)")
    parser.add_argument("--hidden", type=positive_int, metavar="H",
                        help="branch hidden width h (default: the width)")
    parser.add_argument("--lam", type=finite_nonnegative, metavar="L",
                        help="branch scale lam (default 0.5)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed (default 0)")
    parser.add_argument("--norm", choices=NORMS, default="none",
                        help="normalisation; the exact spectrum needs none (the default)")
    parser.add_argument("--checkpoint", metavar="PATH", help="load a trained model instead")
    parser.add_argument("--batch", type=positive_int, default=64,
                        help="number of inputs (default 64)")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="output format")
    parser.add_argument("--plot", metavar="FILE",
                        help="also plot the energy by path length against the binomial law")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build or load the model, compute its spectrum, print it (and plot it)."""
    model, cfg, source = _model(args)
    if args.norm != "none" or cfg.norm != "none":
        raise ResdepthError("the exact path spectrum needs --norm none: a normalisation is "
                            "not piecewise linear")
    in_dim = model.embed[0].in_features
    with torch.no_grad():
        x0 = model.embed(tower_inputs(args.seed, args.batch, in_dim))
    spectrum = path_spectrum(model.blocks, x0, progress=cfg.depth >= 64)
    lam = sum(block_scales(model.blocks)) / len(model.blocks)
    law = binomial_shares(cfg.depth, lam)
    payload = {
        "depth": cfg.depth, "width": cfg.width, "hidden": cfg.branch_hidden(), "lam": lam,
        "seed": args.seed, "source": source, "batch": args.batch,
        "max_rel_error": spectrum.max_rel_error(),
        "norms_by_length": spectrum.norms_by_length(),
        "energy_shares": spectrum.energy_fractions(),
        "binomial_shares": law,
        "mean_path_length": spectrum.mean_length(),
    }
    if args.plot:
        plot_spectrum(payload, args.plot)
    text = json.dumps(payload) + "\n" if args.format == "json" else markdown(payload)
    print(text, end="")
    return 0


def _model(args):
    """(float64 eval model, its ModelConfig, a description of where it came from)."""
    if args.checkpoint is not None:
        given = [f"--{n}" for n in ("depth", "width", "hidden", "lam")
                 if getattr(args, n) is not None]
        if given:
            raise ResdepthError(f"{', '.join(given)} cannot be combined with --checkpoint, "
                                "which brings its own architecture")
        from numerics.checkpoint import load_checkpoint

        model, cfg, _ = load_checkpoint(args.checkpoint)
        if cfg.arch != "mlp" or cfg.activation != "relu":
            raise ResdepthError(f"the checkpoint holds a {cfg.activation} {cfg.arch}; the "
                                "spectrum command takes residual ReLU MLPs")
        return copy.deepcopy(model).double().eval(), cfg, str(args.checkpoint)
    depth = 8 if args.depth is None else args.depth
    if depth > MAX_DEPTH:
        raise ResdepthError(f"--depth {depth} exceeds {MAX_DEPTH} (the spectrum costs "
                            "n(n+1)/2 block applications)")
    cfg = ModelConfig(arch="mlp", depth=depth, width=16 if args.width is None else args.width,
                      hidden=args.hidden, lam=0.5 if args.lam is None else args.lam,
                      norm="none", activation="relu", bias=True)
    model = build_tower(args.seed, cfg, in_dim=cfg.width, out_dim=cfg.width, bias_std=BIAS_STD)
    return model, cfg, "random"


def binomial_shares(n: int, lam: float) -> list[float]:
    """S2's energy shares C(n,k) q^k / (1 + q)^n, q = lam^2 (sigma^2 = 1), k = 0..n.

    >>> [round(v, 12) for v in binomial_shares(2, 1.0)]
    [0.25, 0.5, 0.25]
    """
    from theorems.signal import s2_log10_energy_by_length

    logs = np.asarray(s2_log10_energy_by_length(n, lam, 1.0)) * math.log(10)
    shares = np.exp(logs - logs.max())
    return [float(v) for v in shares / shares.sum()]


def markdown(payload: dict) -> str:
    """The spectrum as a Markdown table with a text bar chart against the binomial law."""
    lines = [
        (f"# Path-length spectrum (R2): depth {payload['depth']}, width {payload['width']}, "
         f"hidden {payload['hidden']}, lam {payload['lam']:.6g}, {payload['source']} weights"),
        "",
        (f"max ||sum_k y_k - x_n|| / ||x_n|| over {payload['batch']} inputs (float64): "
         f"{payload['max_rel_error']:.3e}; mean path length {payload['mean_path_length']:.4g}"),
        "",
        "| k | rms ||y_k|| | energy share | binomial share (S2, init) | share (#) vs law (o) |",
        "|---|---|---|---|---|",
    ]
    for k, (norm, share, law) in enumerate(zip(payload["norms_by_length"],
                                               payload["energy_shares"],
                                               payload["binomial_shares"])):
        lines.append(f"| {k} | {norm:.6g} | {share:.4f} | {law:.4f} | `{_bar(share, law)}` |")
    return "\n".join(lines) + "\n"


def _bar(share: float, law: float, width: int = 30) -> str:
    cells = ["#" if i < round(share * width) else " " for i in range(width + 1)]
    cells[min(round(law * width), width)] = "o"
    return "".join(cells)


def plot_spectrum(payload: dict, path: str) -> None:
    """Bar chart of the measured energy shares with the binomial law as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = range(payload["depth"] + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(ks, payload["energy_shares"], label="measured ||y_k||^2 share")
    ax.plot(ks, payload["binomial_shares"], "o-", color="C1", label="binomial law (S2, init)")
    ax.set_xlabel("path length k")
    ax.set_ylabel("energy share")
    ax.set_title(f"R2 spectrum, depth {payload['depth']}, lam {payload['lam']:.3g}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
