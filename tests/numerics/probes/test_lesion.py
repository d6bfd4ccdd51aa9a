"""R2 lesions (Veit et al.): frozen gates give exactly the sum of the surviving paths, and their
mean over all sets of m deleted blocks is sum_k C(n-m,k)/C(n,k) y_k; real lesions move gates."""

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numerics.models.config import ModelConfig
from numerics.probes.enumeration import enumerate_paths
from numerics.probes.lesion import (
    frozen_lesion,
    frozen_pieces,
    kept_share,
    lesion_curve,
    lesion_subsets,
    lesioned_forward,
    survival,
    surviving_paths,
    surviving_share,
)
from numerics.probes.spectrum import block_scales, path_spectrum
from resdepth.strategies import build_tower, tower_inputs, towers

TOL = 1e-12


def _stream(model, seed, batch=5):
    with torch.no_grad():
        return model.embed(tower_inputs(seed, batch, model.embed[0].in_features))


def _relative(a, b):
    return ((a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).max().item()


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12), st.data())
def test_R2_surviving_share_counts_paths_that_avoid_deleted_blocks(energies, data):
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


def test_R2_survival_on_uniform_weights_is_the_fraction_of_surviving_paths():
    """With w_k = C(n,k) (every path weight 1) the kept fraction is 2^(n-m) / 2^n."""
    n = 7
    for m in range(n + 1):
        assert surviving_share([math.comb(n, k) for k in range(n + 1)], m) == \
            pytest.approx(2.0 ** -m)
    assert survival(4, 2) == [1.0, 0.5, 1 / 6, 0.0, 0.0]


@given(towers(max_depth=6, max_width=6, piecewise_linear=True))
def test_R2_frozen_lesion_is_the_sum_of_the_paths_avoiding_the_deleted_blocks(draw):
    seed, cfg = draw
    model = build_tower(seed, cfg, in_dim=4, out_dim=2)
    x0 = _stream(model, seed)
    pieces, out = frozen_pieces(model.blocks, x0)
    lams = block_scales(model.blocks)
    assert _relative(frozen_lesion(pieces, lams, x0, ()), out) <= TOL
    paths, _ = enumerate_paths(model.blocks, x0)
    n = cfg.depth
    for m in range(n + 1):
        for deleted in itertools.combinations(range(n), m):
            frozen = frozen_lesion(pieces, lams, x0, deleted)
            gap = (frozen - surviving_paths(paths, deleted)).flatten(1).norm(dim=1)
            assert (gap / out.flatten(1).norm(dim=1)).max().item() <= 1e-10


def test_R2_deleting_every_block_keeps_the_identity_path():
    model = build_tower(1, ModelConfig(depth=4, width=5, lam=0.6), in_dim=5, out_dim=2)
    x0 = _stream(model, 1)
    pieces, out = frozen_pieces(model.blocks, x0)
    lams = block_scales(model.blocks)
    assert torch.equal(frozen_lesion(pieces, lams, x0, range(4)), x0)
    paths, _ = enumerate_paths(model.blocks, x0)
    assert torch.equal(surviving_paths(paths, range(4)), paths[0])


@pytest.mark.parametrize("seed", [0, 3])
def test_R2_mean_frozen_lesion_over_all_m_sets_is_the_spectrum_weighted_by_survival(seed):
    model = build_tower(seed, ModelConfig(depth=5, width=6, lam=0.8), in_dim=6, out_dim=2)
    x0 = _stream(model, seed, batch=7)
    spectrum = path_spectrum(model.blocks, x0)
    pieces, out = frozen_pieces(model.blocks, x0)
    lams = block_scales(model.blocks)
    shares = spectrum.signed_shares()
    for m in range(6):
        sets = list(itertools.combinations(range(5), m))
        mean = sum(frozen_lesion(pieces, lams, x0, d) for d in sets) / len(sets)
        want = sum(r * y for r, y in zip(survival(5, m), spectrum.terms))
        assert (mean - want).abs().max().item() <= 1e-12 * out.abs().max().item()
        kept = sum(kept_share(frozen_lesion(pieces, lams, x0, d), out) for d in sets) / len(sets)
        assert kept == pytest.approx(surviving_share(shares, m), abs=1e-12)


def test_R2_energy_shares_do_not_predict_the_frozen_lesion():
    """The energy shares leave out the interference between lengths: a different number."""
    model = build_tower(2, ModelConfig(depth=5, width=6, lam=1.0), in_dim=6, out_dim=2)
    x0 = _stream(model, 2, batch=7)
    spectrum = path_spectrum(model.blocks, x0)
    assert abs(spectrum.cross_term_fraction()) > 1e-3
    gaps = [abs(surviving_share(spectrum.signed_shares(), m)
                - surviving_share(spectrum.energy_fractions(), m)) for m in range(1, 5)]
    assert max(gaps) > 1e-4


def test_R2_lesion_subsets_are_all_sets_or_uniform_draws():
    subsets, exhaustive = lesion_subsets(6, 2, max_subsets=20, generator=torch.Generator())
    assert exhaustive and len(subsets) == 15 and len(set(subsets)) == 15
    drawn, exhaustive = lesion_subsets(6, 3, max_subsets=5,
                                       generator=torch.Generator().manual_seed(0))
    assert not exhaustive and len(drawn) == 5
    assert all(len(set(d)) == 3 and all(0 <= i < 6 for i in d) for d in drawn)
    with pytest.raises(ValueError, match="0..6"):
        lesion_subsets(6, 7, max_subsets=5, generator=torch.Generator())


def test_R2_lesion_keeps_the_skip_connection():
    model = build_tower(0, ModelConfig(depth=4, width=6), in_dim=5, out_dim=3)
    x = tower_inputs(0, 10, 5)
    out, h = lesioned_forward(model, x, ())
    assert torch.equal(out, model(x))
    out, h = lesioned_forward(model, x, range(4))
    assert torch.allclose(h, model.embed(x))
    y = model(x).argmax(1)
    rows = lesion_curve(model, x, y, ms=[0, 2, 4], max_subsets=3,
                        generator=torch.Generator().manual_seed(0))
    assert rows[0]["error"] == 0.0 and rows[0]["stream_change"] == 0.0
    assert rows[0]["kept_mean"] == pytest.approx(1.0) and rows[0]["exhaustive"]
    assert [r["m"] for r in rows] == [0, 2, 4]
    assert not rows[1]["exhaustive"] and len(rows[1]["kept"]) == 3 and rows[1]["kept_se"] >= 0
    assert rows[2]["exhaustive"] and rows[2]["kept_se"] == 0.0
    with pytest.raises(ValueError, match="0..4"):
        lesion_curve(model, x, y, ms=[5], max_subsets=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="max_subsets"):
        lesion_curve(model, x, y, ms=[1], max_subsets=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="deleted"):
        lesioned_forward(model, x, [7])
    with pytest.raises(ValueError, match="non-zero sum"):
        surviving_share([0.0, 0.0], 1)
