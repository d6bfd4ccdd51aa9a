"""Depth-expansion benchmarks, measured side by side in one run, never asserted:

- per-example gradients of the new block's V by ``torch.func.vmap`` against a Python loop of
  autograd calls (the raw material of D2's observability test);
- D2's split test: ``reps`` repetitions batched into one vmap call per chunk against one call per
  repetition (the calibration rows run hundreds of them);
- one D4 coverage repetition's risks for several V from the cached block inputs (h_j, a) against
  full forward passes (the coverage rows evaluate many V per sample);
- the D3 bound's cost at depth 100 and 1000 (log-space sums).
"""

import torch

from benchmarks.timing import best_time
from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.probes.expansion import (
    block_gradient,
    block_inputs,
    gradient_noise,
    insert_block,
    make_loss,
    per_example_gradients,
    risk_at,
    risk_from_inputs,
)
from numerics.probes.observability import directional_test, split_test_runs
from theorems.rademacher import NetworkClass, rademacher_bound

LOSS = make_loss("regression")


def _expanded(depth, width, m, position=None):
    cfg = ModelConfig(arch="mlp", depth=depth, width=width, norm="post", bias=False)
    gen = torch.Generator().manual_seed(0)
    model = build_model(cfg, 16, 1, generator=gen).double()
    x = torch.randn(m, 16, generator=gen, dtype=torch.float64)
    y = torch.randn(m, 1, generator=gen, dtype=torch.float64)
    j = depth // 2 if position is None else position
    return insert_block(model, j, generator=gen), j, x, y


def per_example_gradients_speed() -> dict:
    """Seconds for m per-example gradients of V: vmap(grad) against a loop of autograd calls."""
    figures = {}
    for depth, width, m in ((4, 32, 256), (8, 64, 512)):
        model, j, x, y = _expanded(depth, width, m)
        vmapped = best_time(lambda model=model, j=j, x=x, y=y: gradient_noise(model, j, x, y, LOSS))
        looped = best_time(lambda model=model, j=j, x=x, y=y, m=m: [
            block_gradient(model, j, x[i:i + 1], y[i:i + 1], LOSS) for i in range(m)], repeats=1)
        key = f"L{depth}_d{width}_m{m}"
        figures[f"{key}_vmap_s"] = vmapped
        figures[f"{key}_loop_s"] = looped
        figures[f"{key}_speedup"] = looped / vmapped
    return figures


def split_test_batching() -> dict:
    """Seconds for ``reps`` split tests at m per side: batched against one call per repetition."""
    figures = {}
    for m, reps in ((32, 200), (128, 200)):
        model, j, _, _ = _expanded(2, 8, 1, position=2)

        def sample(n, generator):
            x = torch.randn(n, 16, generator=generator, dtype=torch.float64)
            return x, torch.randn(n, 1, generator=generator, dtype=torch.float64)

        def batched(model=model, j=j, m=m, reps=reps):
            split_test_runs(model, j, sample, LOSS, m=m, reps=reps, alpha=0.05,
                            generator=torch.Generator().manual_seed(1))

        def looped(model=model, j=j, m=m, reps=reps):
            gen = torch.Generator().manual_seed(1)
            for _ in range(reps):
                x, y = sample(2 * m, gen)
                g = per_example_gradients(model, j, x, y, LOSS)
                directional_test(g[:m], g[m:])

        fast, slow = best_time(batched), best_time(looped, repeats=1)
        figures.update({f"m{m}_batched_s": fast, f"m{m}_looped_s": slow,
                        f"m{m}_speedup": slow / fast})
    return figures


def cached_block_inputs() -> dict:
    """Seconds for the risks of 5 values of V on m examples: from (h_j, a) against full passes."""
    figures = {}
    for depth, m in ((2, 32768), (8, 32768)):
        model, j, x, y = _expanded(depth, 8, m, position=depth)
        vs = [t * torch.randn(8, 8, dtype=torch.float64) for t in (0.0, 0.01, 0.02, 0.05, 0.1)]

        def cached(model=model, j=j, x=x, y=y, vs=vs):
            inputs = block_inputs(model, j, x)
            with torch.no_grad():
                return [risk_from_inputs(model, j, v, *inputs, y, LOSS) for v in vs]

        def full(model=model, j=j, x=x, y=y, vs=vs):
            with torch.no_grad():
                return [risk_at(model, j, v, x, y, LOSS) for v in vs]

        fast, slow = best_time(cached), best_time(full)
        figures.update({f"L{depth}_cached_s": fast, f"L{depth}_full_s": slow,
                        f"L{depth}_speedup": slow / fast})
    return figures


def d3_bound_cost() -> dict:
    """Seconds to evaluate the whole-class D3 bound at depth 100 and 1000 (log-space sums)."""
    figures = {}
    for depth in (100, 1000):
        cls = NetworkClass(d=64, depth=depth, hidden=256, in_dim=64)
        figures[f"depth{depth}_s"] = best_time(lambda cls=cls: rademacher_bound(cls, 10**6))
    return figures


BENCHMARKS = [per_example_gradients_speed, split_test_batching, cached_block_inputs, d3_bound_cost]
