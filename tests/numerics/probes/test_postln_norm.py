"""S3's second route (numerics/probes/postln_norm.py): Welford's variance equals the two-pass
one, the replayed towers are the Monte Carlo's (same variances to rounding, without sharing a
tensor), and the replayed d v/(v + eps) predicts the Monte Carlo's ||x_i||^2 while a tower
with another LayerNorm eps does not."""

import pytest
import torch
import torch.nn.functional as F

from numerics.probes import montecarlo
from numerics.probes.montecarlo import LN_EPS, signal_second_moments
from numerics.probes.postln_norm import replay_postln_variances, welford_variance


def test_welford_variance_is_the_biased_two_pass_variance():
    z = torch.randn(50, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 3
    two_pass = ((z - z.mean(-1, keepdim=True)) ** 2).mean(-1)
    assert torch.allclose(welford_variance(z), two_pass, rtol=1e-14, atol=0)
    assert not torch.allclose(welford_variance(z), z.var(-1, unbiased=True), rtol=1e-3)


def _monte_carlo(seed=5):
    return signal_second_moments(6, 8, 8, 0.7, 500, norm="post",
                                 generator=torch.Generator().manual_seed(seed))


def test_replay_reproduces_the_towers_and_predicts_their_norm():
    out = _monte_carlo()
    var = replay_postln_variances(6, 8, 8, 0.7, 500, generator=torch.Generator().manual_seed(5))
    assert var.shape == (6, 500)
    assert (var - out["post_var"]).abs().max() < 1e-12
    assert (out["layer_sq"][1:] / 8 - var / (var + LN_EPS)).abs().max() < 1e-13
    assert (out["layer_sq"][1:] / 8 - 1).abs().max() > 1e-6  # "d exactly" is resolved


def test_replay_of_other_draws_does_not_match():
    out = _monte_carlo()
    var = replay_postln_variances(6, 8, 8, 0.7, 500, generator=torch.Generator().manual_seed(6))
    assert (var - out["post_var"]).abs().max() > 1e-2


def test_a_tower_with_another_eps_leaves_the_replayed_prediction(monkeypatch):
    monkeypatch.setattr(montecarlo, "_layer_norm", lambda x: F.layer_norm(
        x.squeeze(-1), (x.shape[1],), eps=1e-2).unsqueeze(-1))
    out = _monte_carlo()
    var = replay_postln_variances(6, 8, 8, 0.7, 500, generator=torch.Generator().manual_seed(5))
    assert (out["layer_sq"][1:] / 8 - var / (var + LN_EPS)).abs().max() > 1e-4


def test_replay_rejects_a_single_feature():
    with pytest.raises(ValueError):
        replay_postln_variances(2, 1, 4, 0.5, 3, generator=torch.Generator())
