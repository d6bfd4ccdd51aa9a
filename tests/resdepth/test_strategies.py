"""resdepth.strategies: valid draws, impossible combinations refused, reproducible towers."""

import pytest
import torch
from hypothesis import given
from hypothesis.errors import InvalidArgument

from numerics.models.config import ModelConfig
from resdepth.strategies import (
    build_tower,
    depths,
    scales,
    tower_configs,
    tower_inputs,
    towers,
    widths,
)


@given(towers(min_depth=2, max_depth=5, max_width=6, piecewise_linear=True, bias=True))
def test_towers_respect_their_bounds(draw):
    _, cfg = draw
    assert 2 <= cfg.depth <= 5 and 1 <= cfg.width <= 6
    assert cfg.activation == "relu" and cfg.bias and cfg.norm == "none"
    assert 0.0 <= cfg.lam <= 1.5


@pytest.mark.parametrize("make", [
    lambda: depths(min_value=0), lambda: depths(min_value=5, max_value=4),
    lambda: widths(min_value=3, max_value=2), lambda: scales(min_value=-1.0),
    lambda: scales(max_value=float("inf")), lambda: tower_configs(bias="yes"),
    lambda: tower_configs(allowed_norms=("pre",)), lambda: tower_configs(allowed_norms=()),
])
def test_impossible_combinations_raise(make):
    with pytest.raises(InvalidArgument):
        make()


def test_build_tower_is_reproducible_and_leaves_global_state_alone():
    cfg = ModelConfig(depth=3, width=5)
    state = torch.get_rng_state()
    a, b = (build_tower(7, cfg, in_dim=4, out_dim=2) for _ in range(2))
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q) and p.dtype == torch.float64
    assert any(p.abs().sum() > 0 for n, p in a.named_parameters() if n.endswith("bias"))
    assert torch.equal(tower_inputs(7, 3, 4), tower_inputs(7, 3, 4))
