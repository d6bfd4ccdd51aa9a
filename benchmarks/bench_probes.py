"""Probes benchmarks: the R2 spectrum against a forward pass, batched Monte Carlo against a loop
over networks, and the R2 dynamic programme against enumerating all 2^n paths.

Aims (issue 6): spectrum / forward <= 0.75 n; batched / looped Monte Carlo >= 10x;
DP / enumeration at n = 20 >= 1000x. Figures are measured side by side in one run, and the
ratios of short timings are medians over interleaved rounds (a 2 ms forward pass on a shared
2-core machine moves by 30% from one call to the next). Each figure is given at several sizes,
because each ratio depends on size in a way the figures make visible:

- the spectrum costs one forward pass plus n(n + 1)/2 block applications, so its ratio to the
  forward pass is about 1 + (n + 1)/2 once the products are large enough to dominate;
- the batched Monte Carlo removes the per-network Python and dispatch overhead, but not the
  cost of drawing the weights, which grows as d^2 per network: where drawing dominates no
  batching can give 10x, so the forward passes on the same pre-drawn weights are timed too;
- the DP applies n(n + 1)/2 blocks to B rows against 2^n - 1 for the enumeration (5,000x at
  n = 20 in arithmetic), but at batch 1 it is bound by the ~15 small torch calls per block, so
  the measured ratio grows with the width the enumeration has to multiply.
"""

import math
import os
import statistics
import time

import torch

from benchmarks.timing import best_time
from numerics.device import choose_device
from numerics.models.config import ModelConfig
from numerics.probes.enumeration import enumerate_paths
from numerics.probes.montecarlo import gaussian_weights, signal_second_moments
from numerics.probes.spectrum import path_spectrum, tower_forward
from resdepth.strategies import build_tower, tower_inputs

ROUNDS = 15


def _setup(depth, width, batch, device="cpu"):
    model = build_tower(0, ModelConfig(depth=depth, width=width, lam=0.5), in_dim=width,
                        out_dim=2).to(device)
    with torch.no_grad():
        x0 = model.embed(tower_inputs(0, batch, width).to(device))
    return model, x0


def _median_ratio(slow, fast, rounds: int = ROUNDS) -> tuple[float, float, float]:
    """(median, min, max) over ``rounds`` of best_time(slow) / best_time(fast), interleaved."""
    ratios = [best_time(slow, 3) / best_time(fast, 5) for _ in range(rounds)]
    return statistics.median(ratios), min(ratios), max(ratios)


def spectrum_vs_forward() -> dict:
    """path_spectrum against one forward pass of the blocks on the same batch (B = 256, d = 64)."""
    device = choose_device("auto")
    figures = {"device": str(device)}
    for depth in (8, 32):
        model, x0 = _setup(depth, 64, 256, device)

        def forward(model=model, x0=x0):
            with torch.no_grad():
                tower_forward(model.blocks, x0)
            if device.type == "cuda":
                torch.cuda.synchronize()

        def spectrum(model=model, x0=x0):
            path_spectrum(model.blocks, x0)
            if device.type == "cuda":
                torch.cuda.synchronize()

        median, low, high = _median_ratio(spectrum, forward)
        figures[f"n{depth}_forward_s"] = best_time(forward, 20)
        figures[f"n{depth}_ratio_median"] = median
        figures[f"n{depth}_ratio_range"] = [low, high]
        figures[f"n{depth}_flop_ratio"] = 1 + (depth + 1) / 2
        figures[f"n{depth}_aim_0.75n"] = 0.75 * depth
    return figures


def _relu_weights(n_nets, depth, width, generator):
    """Per layer W_1 ~ N(0, 2/d) and W_2 ~ N(0, 1/h), h = d, as (n_nets, d, d) float64 tensors,
    drawn by the library's sampler."""
    shape = (n_nets, width, width)
    return [(gaussian_weights(shape, math.sqrt(2 / width), generator=generator),
             gaussian_weights(shape, 1 / math.sqrt(width), generator=generator))
            for _ in range(depth)]


def _batched_moments(x, weights, lam):
    """||x_n||^2 of every network at once: one bmm per layer for all networks."""
    for w1, w2 in weights:
        x = x + lam * torch.bmm(w2, torch.relu(torch.bmm(w1, x)))
    return x.pow(2).sum((1, 2))


def _looped_moments(x, weights, lam):
    """The same ||x_n||^2, one network at a time."""
    out = torch.empty(x.shape[0], dtype=x.dtype)
    for net in range(x.shape[0]):
        z = x[net]
        for w1, w2 in weights:
            z = z + lam * (w2[net] @ torch.relu(w1[net] @ z))
        out[net] = z.pow(2).sum()
    return out


def montecarlo_batched_vs_loop() -> dict:
    """S2 Monte Carlo over 2000 ReLU towers of depth 8: batched against a loop over networks.

    ``end_to_end``: the library's :func:`signal_second_moments` (weights drawn per layer, signal
    and Jacobian tangent) against a loop that draws the same number of float64 normals per
    network and runs the same two recursions; ``forward_only``: both sides on the same
    pre-drawn weights (their results agree to rounding, checked); ``sampling_s``: drawing the
    weights alone, the floor under both end-to-end timings.
    """
    depth, n_nets, lam = 8, 2000, 0.5
    figures = {"n_nets": n_nets, "depth": depth, "aim": 10}
    for width in (4, 16, 32):
        def batched(width=width):
            signal_second_moments(depth, width, width, lam, n_nets,
                                  generator=torch.Generator().manual_seed(0))

        def looped(width=width):
            g = torch.Generator().manual_seed(0)
            for _ in range(n_nets):
                x = torch.randn(width, generator=g, dtype=torch.float64)
                u = torch.randn(width, generator=g, dtype=torch.float64)
                for w1, w2 in _relu_weights(1, depth, width, g):
                    pre = w1[0] @ x
                    u = u + lam * w2[0] @ ((pre > 0) * (w1[0] @ u))
                    x = x + lam * w2[0] @ torch.relu(pre)

        g = torch.Generator().manual_seed(1)
        weights = _relu_weights(n_nets, depth, width, g)
        x0 = torch.randn(n_nets, width, 1, generator=g, dtype=torch.float64)
        agree = torch.allclose(_batched_moments(x0, weights, lam),
                               _looped_moments(x0, weights, lam), rtol=1e-12)
        t_batched, t_loop = best_time(batched, 2), best_time(looped, 1)
        t_fwd_batched = best_time(lambda: _batched_moments(x0, weights, lam), 3)
        t_fwd_loop = best_time(lambda: _looped_moments(x0, weights, lam), 1)
        t_sampling = best_time(lambda: _relu_weights(n_nets, depth, width,
                                                     torch.Generator().manual_seed(0)), 2)
        figures[f"d{width}"] = {
            "end_to_end_batched_s": t_batched, "end_to_end_loop_s": t_loop,
            "end_to_end_speedup": t_loop / t_batched,
            "forward_only_speedup": t_fwd_loop / t_fwd_batched, "forward_only_agree": agree,
            "sampling_s": t_sampling, "sampling_share_of_batched": t_sampling / t_batched,
        }
    return figures


def _enumeration_bytes(depth: int, width: int) -> int:
    """Peak memory of enumerate_paths at batch 1: the path stack, its copy and one step."""
    return 4 * 2**depth * width * 8


def dp_vs_enumeration() -> dict:
    """The R2 spectrum at n = 20, batch 1, by the DP against the batched enumeration of all 2^20
    paths, at widths whose enumeration fits in a quarter of this machine's memory."""
    depth = 20
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    figures = {"depth": depth, "paths": 2**depth, "aim": 1000,
               "rows_ratio": (2**depth - 1) / (depth * (depth + 1) / 2)}
    for width in (8, 32, 64, 128, 160):
        if _enumeration_bytes(depth, width) > memory / 4:
            figures[f"d{width}"] = "skipped: enumeration needs more than 1/4 of memory"
            continue
        model, x0 = _setup(depth, width, 1)
        t_dp = best_time(lambda: path_spectrum(model.blocks, x0), 20)
        t_enum = best_time(lambda: enumerate_paths(model.blocks, x0), 1)
        figures[f"d{width}"] = {"dp_s": t_dp, "enumeration_s": t_enum, "speedup": t_enum / t_dp}
    return figures


def _subnormals(terms: torch.Tensor) -> int:
    return int(((terms != 0) & (terms.abs() < torch.finfo(terms.dtype).tiny)).sum())


def deep_spectrum_flush() -> dict:
    """Deep spectra (issue 16): the flush of tiny terms against no flush, side by side.

    ``flush_on_vs_off`` is the median over interleaved rounds of the time with the flush over
    the time without it, at depth 384 and lam = 0.1 (the high-order terms reach the subnormal
    range from about block 200) and at lam = 0.5 (they never do: the flush never arms, so the
    ratio measures the cost of watching the newest term). Whether subnormals are slow at all
    depends on the CPU (many x86 cores take a microcode assist per subnormal operand; the
    issue measured 1500 -> 1.3 blocks/s); ``subnormals_*`` say how many the split held. The
    depth-1024 run is the issue's ``resdepth spectrum --depth 1024`` tower, with its error, its
    condition number and the warning :attr:`Spectrum.warning` raises.
    """
    from numerics.probes import spectrum

    figures = {"device": "cpu", "threads": torch.get_num_threads()}
    right = spectrum.flush_tiny

    def timed(model, x0, flush: bool):
        spectrum.flush_tiny = right if flush else (lambda terms, i, armed: False)
        try:
            start = time.perf_counter()
            result = path_spectrum(model.blocks, x0)
            return time.perf_counter() - start, result
        finally:
            spectrum.flush_tiny = right

    for lam in (0.1, 0.5):
        model = build_tower(0, ModelConfig(depth=384, width=16, lam=lam), in_dim=16, out_dim=16,
                            bias_std=0.1)
        with torch.no_grad():
            x0 = model.embed(tower_inputs(0, 64, 16))
        ratios, off, on = [], None, None
        for _ in range(3):
            t_on, on = timed(model, x0, True)
            t_off, off = timed(model, x0, False)
            ratios.append(t_on / t_off)
        figures[f"lam{lam}"] = {"flush_on_vs_off": statistics.median(ratios),
                                "subnormals_without_flush": _subnormals(off.terms),
                                "subnormals_with_flush": _subnormals(on.terms),
                                "max_rel_error": on.max_rel_error()}
    model = build_tower(0, ModelConfig(depth=1024, width=16, lam=0.5), in_dim=16, out_dim=16,
                        bias_std=0.1)
    with torch.no_grad():
        x0 = model.embed(tower_inputs(0, 64, 16))
    seconds, deep = timed(model, x0, True)
    figures["depth1024"] = {"seconds": seconds, "blocks_per_s": 1024 / seconds,
                            "max_rel_error": deep.max_rel_error(), "condition": deep.condition(),
                            "warning": deep.warning}
    return figures


BENCHMARKS = [spectrum_vs_forward, montecarlo_batched_vs_loop, dp_vs_enumeration,
              deep_spectrum_flush]
