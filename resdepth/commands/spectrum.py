"""``resdepth spectrum``: split a residual network's output exactly by path length (R2).

Random towers (``--depth/--width``), resdepth checkpoints (``--checkpoint``, measured on their
own dataset's test split) and any user model (``--model/--inputs``) through the frozen-gate
decomposition of :mod:`numerics.real.frozen`.
"""

import argparse
import json
import math
import sys

import numpy as np
import torch

from numerics.models.config import NORMS, ModelConfig
from numerics.models.zoo import seeded_tower as build_tower
from numerics.probes.spectrum import block_scales, path_spectrum
from resdepth.engine.errors import (
    ResdepthError,
    check_out_file,
    finite_nonnegative,
    nonnegative_int,
    positive_int,
)
from resdepth.engine.policy import EXACT_TOL_REAL as EXACT_TOL
from resdepth.real.models import RUNS_CODE, add_model_options
from resdepth.strategies import tower_inputs

MAX_DEPTH = 1024
MAX_FROZEN_DEPTH = 128
MEMORY_LIMIT = 4 * 2**30
BIAS_STD = 0.1

DESCRIPTION = f"""\
Compute the path-length spectrum y_0..y_n of a residual ReLU MLP with biases (THEORY.md R2):
at each input the network's output x_n is exactly the sum of its 2^n gated paths, and y_k
collects the paths through k branches. A dynamic programme over the blocks computes all
y_k in n(n+1)/2 Jacobian-vector products (never 2^n), in float64; max_rel_error is the
largest ||sum_k y_k - x_n|| / ||x_n|| over the batch (rounding only). The md format prints
the energy share of each length next to the binomial law of S2 at initialisation.

The network is random (weights from --seed as at initialisation, biases N(0, 0.1^2); inputs
--batch Gaussian vectors from --seed; --norm pre/post/batch goes through the frozen-gate
decomposition, at most depth 128), a checkpoint written by `resdepth train` (--checkpoint
FILE or the folder; measured on the first --batch examples of its own dataset's test split
unless --inputs names others), or any model (--model, --inputs): every gate frozen at its
value on the inputs (ReLU masks, max-pool argmaxes, BatchNorm in eval mode, LayerNorm's
1/sigma, softmax patterns, GELU's Phi), the output is exactly the sum of its frozen-gate
paths. The JSON then has blocks, norms_by_length, signed_shares (they sum to 1),
energy_shares, cross_term_fraction, mean_path_length, max_rel_error, gates (what was
frozen) and inputs (what was measured). Terms below the float64 rounding floor of the split,
rounding_floor = (n + 1) eps sum_k ||y_k||, are not measurements: they are null in the JSON
(below_floor gives the lengths and the reason) and "below floor" in the table and the plot.

{RUNS_CODE}"""


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
                        help="normalisation of the random tower (default none; the others "
                             "through the frozen gates)")
    add_model_options(parser)
    parser.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                        help=f"with --output logits: the predicted tokens split by path length "
                             f"per position (default {TOP_K}); an error without it")
    parser.add_argument("--batch", type=positive_int, default=64,
                        help="number of inputs (default 64)")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="output format")
    parser.add_argument("--plot", metavar="FILE",
                        help="also plot rms ||y_k|| by path length (log scale) against the "
                             "binomial law (S2's at initialisation for a random tower, fitted "
                             "for a model or checkpoint) and the rounding floor")
    parser.set_defaults(func=run)


TOP_K = 3
"""Predicted tokens per position that ``--output logits`` splits by path length by default."""


def run(args) -> int:
    """Build or load the model, compute its spectrum, print it (and plot it)."""
    if args.top_k is not None and args.output != "logits":
        raise ResdepthError("--top-k applies to --output logits (the predicted tokens' logits "
                            "by path length); add --output logits or drop --top-k")
    plot = check_out_file(args.plot, "--plot") if args.plot else None
    if args.model is not None or args.checkpoint is not None:
        return _emit_frozen(_real(args), plot, args.format)
    if args.inputs is not None or args.output is not None:
        raise ResdepthError("--inputs and --output apply to --model or --checkpoint")
    cfg = _tower_config(args)
    if cfg.norm != "none":
        return _emit_frozen(_frozen_tower(args, cfg), plot, args.format)
    model = build_tower(args.seed, cfg, in_dim=cfg.width, out_dim=cfg.width, bias_std=BIAS_STD)
    in_dim = model.embed[0].in_features
    with torch.no_grad():
        x0 = model.embed(tower_inputs(args.seed, args.batch, in_dim))
    spectrum = path_spectrum(model.blocks, x0, progress=cfg.depth >= 64)
    lam = sum(block_scales(model.blocks)) / len(model.blocks)
    payload = {
        "depth": cfg.depth, "width": cfg.width, "hidden": cfg.branch_hidden(), "lam": lam,
        "seed": args.seed, "source": "random", "batch": args.batch,
        "inputs": f"{args.batch} Gaussian vectors (seed {args.seed})",
        "max_rel_error": spectrum.max_rel_error(),
        "norms_by_length": spectrum.norms_by_length(),
        "energy_shares": spectrum.energy_fractions(),
        "signed_shares": spectrum.signed_shares(),
        "binomial_shares": binomial_shares(cfg.depth, lam),
        "mean_path_length": spectrum.mean_length(),
    }
    payload["warning"] = _warning(spectrum, payload["max_rel_error"])
    mark_floor(payload, spectrum)
    if plot is not None:
        plot_spectrum(payload, plot)
    _warn(payload)
    text = json.dumps(payload) + "\n" if args.format == "json" else markdown(payload)
    print(text, end="")
    return 0


def _emit_frozen(payload: dict, plot, fmt: str) -> int:
    """Plot, warn and print a frozen-gate spectrum's payload (with its logits section)."""
    from resdepth.real.logits import logits_markdown, plot_logits

    logits = payload.get("logits")
    if plot is not None:
        if logits is not None:
            plot_logits(logits, plot, f"{payload['model']}: next-token logits by path length")
        else:
            plot_real_spectrum(payload, plot)
    _warn(payload)
    text = json.dumps(payload) + "\n" if fmt == "json" else real_markdown(payload) + (
        logits_markdown(logits) if logits is not None else "")
    print(text, end="")
    return 0


def mark_floor(payload: dict, spectrum) -> dict:
    """Write the terms below the float64 rounding floor (:mod:`numerics.probes.rounding`) as
    null in ``norms_by_length``, ``signed_shares`` and ``energy_shares``, with the floor and
    the reason under ``below_floor``; ``rounding_floor`` is the floor itself (rms units)."""
    from numerics.probes.rounding import REASON, below_floor, rounding_floor

    below = [k for k, flag in enumerate(below_floor(spectrum)) if flag]
    payload["rounding_floor"] = rounding_floor(spectrum)
    payload["below_floor"] = {"lengths": below, "reason": REASON} if below else None
    for key in ("norms_by_length", "signed_shares", "energy_shares"):
        payload[key] = [None if k in below else v for k, v in enumerate(payload[key])]
    return payload


def _warning(spectrum, error: float) -> str | None:
    """numerics.probes.spectrum's own warning when it has one, else ours past the exact tolerance."""
    own = getattr(spectrum, "warning", None)
    if isinstance(own, str) and own:
        return own
    if error > EXACT_TOL:
        return (f"max_rel_error {error:.2e} exceeds the float64 exact tolerance {EXACT_TOL:g} "
                "(deep spectra: terms near the subnormal range)")
    return None


def _warn(payload: dict) -> None:
    if payload.get("warning"):
        print(f"resdepth spectrum: warning: {payload['warning']}", file=sys.stderr)


def _tower_config(args) -> ModelConfig:
    """The random tower's config, refused when too deep or too large for memory."""
    depth = 8 if args.depth is None else args.depth
    cap = MAX_DEPTH if args.norm == "none" else MAX_FROZEN_DEPTH
    if depth > cap:
        raise ResdepthError(f"--depth {depth} exceeds {cap} (the spectrum costs "
                            "n(n+1)/2 block applications)")
    width = 16 if args.width is None else args.width
    hidden = width if args.hidden is None else args.hidden
    need = 8 * (depth * (2 * width * hidden + width + hidden)
                + 3 * (depth + 2) * args.batch * max(width, hidden))
    if need > MEMORY_LIMIT:
        raise ResdepthError(f"depth {depth}, width {width}, hidden {hidden}, batch "
                            f"{args.batch} need about {need / 2**30:.1f} GiB; this command "
                            f"allows {MEMORY_LIMIT / 2**30:.0f} GiB: choose smaller sizes")
    return ModelConfig(arch="mlp", depth=depth, width=width, hidden=args.hidden,
                       lam=0.5 if args.lam is None else args.lam, norm=args.norm,
                       activation="relu", bias=True)


def _frozen_payload(traced, source_name: str, inputs: str, spectrum=None) -> dict:
    from numerics.real.dtypes import summarise
    from numerics.real.frozen import frozen_spectrum
    from numerics.real.gates import frozen_gate_summary
    from resdepth.real.models import traced_description

    if spectrum is None:
        spectrum = frozen_spectrum(traced, progress=len(traced.blocks) >= 32)
    error = spectrum.max_rel_error()
    payload = {
        "model": source_name, "inputs": inputs, "tracer": traced.captured.method,
        "blocks": traced_description(traced)["blocks"], "max_rel_error": error,
        "norms_by_length": spectrum.norms_by_length(),
        "signed_shares": spectrum.signed_shares(),
        "energy_shares": spectrum.energy_fractions(),
        "cross_term_fraction": spectrum.cross_term_fraction(),
        "mean_path_length": spectrum.mean_length(), "gates": frozen_gate_summary(traced),
        "dtype_islands": summarise(traced.islands), "exact_tol": traced.exact_tol(EXACT_TOL),
        "notes": list(traced.captured.notes),
        "warning": _warning(spectrum, error) if error > traced.exact_tol(EXACT_TOL) else None,
    }
    return mark_floor(payload, spectrum)


def _real(args) -> dict:
    given = [f"--{n}" for n in ("depth", "width", "hidden", "lam") if getattr(args, n) is not None]
    if given:
        raise ResdepthError(f"{', '.join(given)} cannot be combined with --checkpoint or "
                            "--model, which bring their own architecture")
    if args.norm != "none":
        raise ResdepthError("--norm describes the random tower; --checkpoint and --model "
                            "bring their own")
    from resdepth.real.models import load_source, trace

    source = load_source(args, batch=args.batch)
    if args.output != "logits":
        return _frozen_payload(trace(source, args.output), source.name, source.inputs_text)
    from resdepth.real.logits import check_causal, logits_payload

    check_causal(source.model)
    traced = trace(source, args.output)
    section, spectrum = logits_payload(traced, args.top_k or TOP_K, source.decode)
    payload = _frozen_payload(traced, source.name, source.inputs_text, spectrum)
    payload["logits"] = section
    return payload


def _frozen_tower(args, cfg) -> dict:
    from resdepth.real.models import RealSource, trace

    model = build_tower(args.seed, cfg, in_dim=cfg.width, out_dim=cfg.width, bias_std=BIAS_STD)
    x = tower_inputs(args.seed, args.batch, cfg.width)
    name = f"random {cfg.norm}-norm tower, depth {cfg.depth}, width {cfg.width}"
    text = f"{args.batch} Gaussian vectors (seed {args.seed})"
    return _frozen_payload(trace(RealSource(model, (x,), {}, name, text)), name, text)


def real_markdown(payload: dict) -> str:
    """The frozen-gate spectrum of a real model as a Markdown table."""
    lines = [f"# Frozen-gate path spectrum (R2): {payload['model']}", "",
             f"inputs: {payload['inputs']}; traced with {payload['tracer']}; "
             f"{len(payload['blocks'])} blocks; max ||sum_k y_k - out|| / ||out|| = "
             f"{payload['max_rel_error']:.3e}; mean path length (signed) "
             f"{payload['mean_path_length']:.4g}; cross-term fraction "
             f"{payload['cross_term_fraction']:.3g}", "",
             "frozen: " + "; ".join(f"{g['gate']} x{g['count']}" for g in payload["gates"]), "",
             "| k | rms ||y_k|| | signed share | energy share |", "|---|---|---|---|"]
    for k, (norm, signed, energy) in enumerate(zip(payload["norms_by_length"],
                                                   payload["signed_shares"],
                                                   payload["energy_shares"])):
        if norm is None:
            lines.append(f"| {k} | {FLOOR_MARK} | | |")
        else:
            lines.append(f"| {k} | {norm:.6g} | {signed:.4f} | {energy:.4f} |")
    return "\n".join(lines + _floor_note(payload)) + "\n"


FLOOR_MARK = "below floor"


def _floor_note(payload: dict) -> list[str]:
    if not payload.get("below_floor"):
        return []
    return ["", f"{FLOOR_MARK}: rms ||y_k|| < {payload['rounding_floor']:.2e}, "
            f"{payload['below_floor']['reason']}"]


def plot_real_spectrum(payload: dict, path) -> None:
    """rms ||y_k|| on a log scale with the binomial law fitted to it and the rounding floor
    (:func:`resdepth.real.plots.plot_norms_by_length`), titled with the model and its inputs."""
    from resdepth.real.plots import plot_norms_by_length

    plot_norms_by_length(payload, path, f"R2 frozen-gate spectrum: {payload['model']}\n"
                         f"inputs: {payload['inputs']}")


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
        (f"max ||sum_k y_k - x_n|| / ||x_n|| over {payload['inputs']} (float64): "
         f"{payload['max_rel_error']:.3e}; mean path length {payload['mean_path_length']:.4g}"),
        "",
        "| k | rms ||y_k|| | energy share | binomial share (S2, init) | share (#) vs law (o) |",
        "|---|---|---|---|---|",
    ]
    for k, (norm, share, law) in enumerate(zip(payload["norms_by_length"],
                                               payload["energy_shares"],
                                               payload["binomial_shares"])):
        if norm is None:
            lines.append(f"| {k} | {FLOOR_MARK} | | {law:.4f} | |")
        else:
            lines.append(f"| {k} | {norm:.6g} | {share:.4f} | {law:.4f} | "
                         f"`{_bar(share, law)}` |")
    return "\n".join(lines + _floor_note(payload)) + "\n"


def _bar(share: float, law: float, width: int = 30) -> str:
    cells = ["#" if i < round(share * width) else " " for i in range(width + 1)]
    cells[min(round(law * width), width)] = "o"
    return "".join(cells)


def plot_spectrum(payload: dict, path: str) -> None:
    """rms ||y_k|| on a log scale against S2's binomial law at initialisation and the rounding
    floor (:func:`resdepth.real.plots.plot_norms_by_length`)."""
    from resdepth.real.plots import plot_norms_by_length

    plot_norms_by_length(payload, path, f"R2 spectrum, depth {payload['depth']}, lam "
                         f"{payload['lam']:.3g}\ninputs: {payload['inputs']}")
