"""Geometric complexity and the stream summary (S6, S7) against direct computations."""

import pytest
import torch
from torch import nn

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.probes.geometric_complexity import geometric_complexity
from numerics.probes.stream import block_multipliers, path_shares, stream_summary

REL = 1e-12


def test_S7_gc_of_a_linear_map_is_its_frobenius_norm():
    lin = nn.Linear(4, 3).double().eval()
    x = torch.randn(9, 4, dtype=torch.float64)
    assert geometric_complexity(lin, x) == pytest.approx(float(lin.weight.pow(2).sum()), rel=REL)


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_S7_gc_matches_per_example_jacobians(norm):
    model = build_model(ModelConfig(depth=3, width=6, norm=norm), 5, 4,
                        generator=torch.Generator().manual_seed(0)).double()
    model.train()
    model(torch.randn(32, 5, dtype=torch.float64))  # move BatchNorm's running statistics
    model.eval()
    x = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    jac = torch.stack([torch.autograd.functional.jacobian(model, xi.unsqueeze(0)).squeeze()
                       for xi in x])
    expected = float(jac.pow(2).sum() / len(x))
    assert geometric_complexity(model, x, chunk=3) == pytest.approx(expected, rel=REL)
    assert all(p.requires_grad for p in model.parameters())


def test_S7_gc_refuses_a_model_in_training_mode_and_bad_inputs():
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="eval"):
        geometric_complexity(lin, torch.randn(3, 2))
    with pytest.raises(ValueError, match="shape"):
        geometric_complexity(lin.eval(), torch.randn(3))


def test_S7_stream_summary_reads_the_stream():
    model = build_model(ModelConfig(depth=4, width=5, scaling="inv-sqrt", lam=1.5), 6, 2).double().eval()
    x = torch.randn(10, 6, dtype=torch.float64)
    summary = stream_summary(model, x)
    xs = [model.embed(x)]
    for block in model.blocks:
        xs.append(block(xs[-1]))
    assert summary["signal_ratio"] == pytest.approx(float(xs[-1].pow(2).sum() / xs[0].pow(2).sum()), rel=REL)
    for i, r in enumerate(summary["realised_scales"]):
        assert r == pytest.approx(float((xs[i + 1] - xs[i]).norm() / xs[i].norm()), rel=REL)
    assert summary["multipliers"] == pytest.approx([0.75] * 4, rel=1e-15)


def test_S7_fixup_multiplier_and_shares_at_initialisation():
    """Fixup starts at the identity: every signed share sits at path length 0."""
    model = build_model(ModelConfig(depth=3, width=4, scaling="fixup", lam=1.0), 4, 2).double().eval()
    with torch.no_grad():
        model.blocks[1].branch.scale.fill_(2.5)
    assert block_multipliers(model) == [1.0, 2.5, 1.0]
    shares = path_shares(model, torch.randn(5, 4, dtype=torch.float64))
    assert shares["signed_shares"][0] == pytest.approx(1.0, rel=REL)
    assert shares["mean_length"] == pytest.approx(0.0, abs=REL)


def test_R2_signed_shares_of_a_trained_like_tower_sum_to_one():
    model = build_model(ModelConfig(depth=5, width=4), 3, 2,
                        generator=torch.Generator().manual_seed(2)).double().eval()
    shares = path_shares(model, torch.randn(8, 3, dtype=torch.float64))
    assert sum(shares["signed_shares"]) == pytest.approx(1.0, rel=1e-12)
    assert shares["max_rel_error"] < 1e-12
    with pytest.raises(ValueError, match="normalisation"):
        path_shares(build_model(ModelConfig(depth=2, width=4, norm="pre"), 3, 2).double().eval(),
                    torch.randn(2, 3, dtype=torch.float64))
