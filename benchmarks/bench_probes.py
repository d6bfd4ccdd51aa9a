"""Probes benchmarks: the R2 spectrum against a forward pass, batched Monte Carlo against a loop
over networks, and the R2 dynamic programme against enumerating all 2^n paths.

Aims (issue 6): spectrum / forward <= 0.75 n; batched / looped Monte Carlo >= 10x;
DP / enumeration at n = 20 >= 1000x. Figures are measured side by side in one run.
"""

import math

import torch

from benchmarks.timing import best_time
from numerics.config import ModelConfig
from numerics.montecarlo import signal_second_moments
from numerics.spectrum import enumerate_paths, path_spectrum, tower_forward
from resdepth.strategies import build_tower, tower_inputs


def _setup(depth, width, batch, device="cpu"):
    model = build_tower(0, ModelConfig(depth=depth, width=width, lam=0.5), in_dim=width,
                        out_dim=2).to(device)
    with torch.no_grad():
        x0 = model.embed(tower_inputs(0, batch, width).to(device))
    return model, x0


def spectrum_vs_forward() -> dict:
    """Seconds of path_spectrum and of one forward pass of the blocks on the same batch."""
    figures = {}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for depth in (8, 32):
        model, x0 = _setup(depth, 64, 256, device)

        def forward(model=model, x0=x0):
            with torch.no_grad():
                tower_forward(model.blocks, x0)

        def spectrum(model=model, x0=x0):
            path_spectrum(model.blocks, x0)

        t_forward = best_time(forward, 5)
        t_spectrum = best_time(spectrum, 5)
        figures[f"n{depth}_forward_s"] = t_forward
        figures[f"n{depth}_spectrum_s"] = t_spectrum
        figures[f"n{depth}_ratio"] = t_spectrum / t_forward
        figures[f"n{depth}_aim_0.75n"] = 0.75 * depth
    figures["device"] = device
    return figures


def montecarlo_batched_vs_loop() -> dict:
    """S2 Monte Carlo over 2000 towers (signal and Jacobian tangent): batched vs a loop over nets."""
    depth, width, n_nets = 8, 16, 2000
    t_batched = best_time(lambda: signal_second_moments(
        depth, width, width, 0.5, n_nets, generator=torch.Generator().manual_seed(0)), 2)

    def looped():
        g = torch.Generator().manual_seed(0)
        for _ in range(n_nets):
            x = torch.randn(width, generator=g, dtype=torch.float64)
            u = torch.randn(width, generator=g, dtype=torch.float64)
            for _ in range(depth):
                w1 = torch.randn(width, width, generator=g, dtype=torch.float64)
                w2 = torch.randn(width, width, generator=g, dtype=torch.float64)
                w1, w2 = w1 * math.sqrt(2 / width), w2 / math.sqrt(width)
                pre = w1 @ x
                u = u + 0.5 * w2 @ ((pre > 0) * (w1 @ u))
                x = x + 0.5 * w2 @ torch.relu(pre)

    t_loop = best_time(looped, 1)
    return {"n_nets": n_nets, "batched_s": t_batched, "loop_s": t_loop,
            "speedup": t_loop / t_batched, "aim": 10}


def dp_vs_enumeration() -> dict:
    """The R2 spectrum at n = 20 by the DP against the batched enumeration of 2^20 paths."""
    model, x0 = _setup(20, 8, 1)
    t_dp = best_time(lambda: path_spectrum(model.blocks, x0), 5)
    t_enum = best_time(lambda: enumerate_paths(model.blocks, x0), 1)
    return {"depth": 20, "paths": 2 ** 20, "dp_s": t_dp, "enumeration_s": t_enum,
            "speedup": t_enum / t_dp, "aim": 1000}


BENCHMARKS = [spectrum_vs_forward, montecarlo_batched_vs_loop, dp_vs_enumeration]
