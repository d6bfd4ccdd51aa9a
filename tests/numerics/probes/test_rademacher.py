"""D3 measured: head-level Monte Carlo against B sqrt(d/m); whole-class falsification attempt."""

import math

import torch

from numerics.probes.rademacher import correlate_random_signs, head_rademacher_mc
from theorems.rademacher import NetworkClass, head_rademacher_bound, rademacher_bound

Z_MAX = 5.0


def test_D3_head_level_monte_carlo_meets_bound_and_second_moment():
    gen = torch.Generator().manual_seed(0)
    m, d = 200, 8
    h = torch.randn(m, d, generator=gen, dtype=torch.float64)
    h = math.sqrt(d) * (h - h.mean(1, keepdim=True)) / (h - h.mean(1, keepdim=True)).norm(
        dim=1, keepdim=True)
    mc = head_rademacher_mc(h, 2.0, 4000, generator=gen)
    bound = head_rademacher_bound(m, d, 2.0)
    assert (mc["mean"] - bound) / mc["se"] < Z_MAX
    assert mc["se"] < 0.01 * bound
    z = (mc["second_moment"] - mc["second_moment_exact"]) / mc["second_moment_se"]
    assert abs(z) < Z_MAX


def test_D3_head_level_bound_is_violated_by_unnormalised_features():
    """The check can fail: features of norm 2 sqrt(d) (no LN) exceed B sqrt(d/m)."""
    gen = torch.Generator().manual_seed(1)
    h = 2 * math.sqrt(8) * torch.nn.functional.normalize(
        torch.randn(100, 8, generator=gen, dtype=torch.float64), dim=1)
    mc = head_rademacher_mc(h, 1.0, 2000, generator=gen)
    assert (mc["mean"] - head_rademacher_bound(100, 8, 1.0)) / mc["se"] > Z_MAX


def test_D3_trained_correlation_stays_below_class_bound():
    gen = torch.Generator().manual_seed(2)
    m, p = 2000, 2
    x = torch.nn.functional.normalize(torch.randn(m, p, generator=gen, dtype=torch.float64), dim=1)
    signs = (torch.randint(0, 2, (m,), generator=gen) * 2 - 1).to(torch.float64)
    budgets = {"embed_norm": 2.0, "u_norm": 2.0, "v_norm": 2.0}
    got = correlate_random_signs(x, signs, depth=1, width=3, hidden=3, head_norm=1.0, steps=100,
                                 generator=gen, **budgets)
    cls = NetworkClass(d=3, depth=1, hidden=3, in_dim=p, head_norm=1.0, input_norm=1.0, **budgets)
    bound = rademacher_bound(cls, m)
    assert bound < math.sqrt(3)  # the bound is not the trivial B sqrt(d) here
    assert got["correlation"] <= bound
    assert got["correlation"] >= got["initial"]
