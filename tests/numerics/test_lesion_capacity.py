"""Lesion study (R2 paths) on small residual MLPs (S6's capacity tests: tests/numerics/test_capacity.py)."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numerics.config import ModelConfig
from numerics.lesion import lesion_curve, lesioned_forward, surviving_share
from resdepth.strategies import build_tower, tower_inputs


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12), st.data())
def test_surviving_share_counts_paths_that_avoid_deleted_blocks(energies, data):
    if sum(energies) <= 0:
        energies = [1.0] + energies[1:]
    n = len(energies) - 1
    m = data.draw(st.integers(0, n))
    share = surviving_share(energies, m)
    expected = sum(math.comb(n - m, k) / math.comb(n, k) * e
                   for k, e in enumerate(energies)) / sum(energies)
    assert share == pytest.approx(expected)
    assert surviving_share(energies, 0) == pytest.approx(1.0)
    assert surviving_share(energies, n) == pytest.approx(energies[0] / sum(energies))


def test_surviving_share_on_uniform_energy_is_the_fraction_of_surviving_paths():
    """With e_k = C(n,k) (every path weight 1) rho(m) = 2^(n-m) / 2^n."""
    n = 7
    for m in range(n + 1):
        share = surviving_share([math.comb(n, k) for k in range(n + 1)], m)
        assert share == pytest.approx(2.0 ** -m)


def test_lesion_keeps_the_skip_connection():
    model = build_tower(0, ModelConfig(depth=4, width=6), in_dim=5, out_dim=3)
    x = tower_inputs(0, 10, 5)
    out, h = lesioned_forward(model, x, ())
    assert torch.equal(out, model(x))
    out, h = lesioned_forward(model, x, range(4))
    assert torch.allclose(h, model.embed(x))
    y = model(x).argmax(1)
    rows = lesion_curve(model, x, y, ms=[0, 2, 4], n_draws=3,
                        generator=torch.Generator().manual_seed(0))
    assert rows[0]["error"] == 0.0 and rows[0]["stream_change"] == 0.0
    assert [r["m"] for r in rows] == [0, 2, 4]
    with pytest.raises(ValueError, match="0..4"):
        lesion_curve(model, x, y, ms=[5], n_draws=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="deleted"):
        lesioned_forward(model, x, [7])
