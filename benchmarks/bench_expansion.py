"""Depth-expansion benchmarks: per-example gradients of the new block's V by ``torch.func.vmap``
against a Python loop of autograd calls (D2's noise estimate), the D3 bound's cost, and one D4
coverage repetition. Figures are measured side by side in one run, never asserted.
"""


import torch

from benchmarks.timing import best_time
from numerics.config import ModelConfig
from numerics.expansion import block_gradient, gradient_noise, insert_block, make_loss
from numerics.models import build_model
from theorems.rademacher import NetworkClass, rademacher_bound


def _expanded(depth, width, m):
    cfg = ModelConfig(arch="mlp", depth=depth, width=width, norm="post", bias=False)
    gen = torch.Generator().manual_seed(0)
    model = build_model(cfg, 16, 1, generator=gen).double()
    x = torch.randn(m, 16, generator=gen, dtype=torch.float64)
    y = torch.randn(m, 1, generator=gen, dtype=torch.float64)
    return insert_block(model, depth // 2, generator=gen), x, y


def per_example_gradients() -> dict:
    """Seconds for m per-example gradients of V: vmap(grad) against a loop of autograd calls."""
    figures = {}
    loss = make_loss("regression")
    for depth, width, m in ((4, 32, 256), (8, 64, 512)):
        model, x, y = _expanded(depth, width, m)
        j = depth // 2
        vmapped = best_time(lambda model=model, j=j, x=x, y=y: gradient_noise(model, j, x, y, loss))
        looped = best_time(lambda model=model, j=j, x=x, y=y, m=m: [
            block_gradient(model, j, x[i:i + 1], y[i:i + 1], loss) for i in range(m)], repeats=1)
        key = f"L{depth}_d{width}_m{m}"
        figures[f"{key}_vmap_s"] = vmapped
        figures[f"{key}_loop_s"] = looped
        figures[f"{key}_speedup"] = looped / vmapped
    return figures


def d3_bound_cost() -> dict:
    """Seconds to evaluate the whole-class D3 bound at depth 100 and 1000 (log-space sums)."""
    figures = {}
    for depth in (100, 1000):
        cls = NetworkClass(d=64, depth=depth, hidden=256, in_dim=64)
        figures[f"depth{depth}_s"] = best_time(lambda cls=cls: rademacher_bound(cls, 10**6))
    return figures


BENCHMARKS = [per_example_gradients, d3_bound_cost]
