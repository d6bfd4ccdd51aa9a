"""Fixup (S5): scalar biases and multiplier, zero last layers and classifier, exact folding."""

import pytest
import torch
from torch import nn

from numerics.models.config import ModelConfig, fixup_gain
from numerics.models.fixup import BIASES, FixupBranch, fold_fixup
from numerics.models.networks import build_model
from numerics.probes.spectrum import path_spectrum

REL = 1e-12  # float64: a handful of roundings of O(1) numbers


def _perturbed(cfg: ModelConfig, seed: int = 0) -> nn.Module:
    """A float64 model of ``cfg`` with every parameter moved off its initial value."""
    model = build_model(cfg, 6, 3, generator=torch.Generator().manual_seed(seed)).double()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def test_S5_fixup_branch_is_its_formula():
    """f(x) = s W2 (phi(W1 (x + a1) + b1) + a2) + b2 with the four scalars and the multiplier."""
    model = _perturbed(ModelConfig(depth=2, width=5, hidden=7, scaling="fixup"))
    branch = model.blocks[0].branch
    assert isinstance(branch, FixupBranch)
    a1, b1, a2, b2 = (getattr(branch, n) for n in BIASES)
    w1, w2, s = branch.first.weight, branch.last.weight, branch.scale
    x = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    expected = s * (torch.relu((x + a1) @ w1.T + b1) + a2) @ w2.T + b2
    torch.testing.assert_close(branch(x), expected, rtol=REL, atol=REL)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_S5_fixup_initialisation_follows_the_paper(arch):
    """Scalars 0, multiplier 1, no bias vectors in the branch, classifier 0, first layer x gain."""
    cfg = ModelConfig(arch=arch, depth=4, width=4, scaling="fixup")
    model = build_model(cfg, 16, 3, generator=torch.Generator().manual_seed(0))
    for block in model.blocks:
        branch = block.branch
        assert branch.scale.item() == 1.0 and all(getattr(branch, n).item() == 0 for n in BIASES)
        assert branch.first.bias is None and branch.last.bias is None
        assert torch.count_nonzero(branch.last.weight) == 0
    head = [m for m in model.head.modules() if isinstance(m, nn.Linear)][-1]
    assert torch.count_nonzero(head.weight) == 0 and torch.count_nonzero(head.bias) == 0
    assert fixup_gain(4) == 0.5  # L^(-1/(2m-2)) with L = 4 blocks, m = 2
    assert torch.count_nonzero(model(torch.randn(3, 16))) == 0


def test_S5_fixup_without_bias_has_only_the_multiplier():
    model = build_model(ModelConfig(depth=2, width=4, scaling="fixup", bias=False), 4, 2)
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_parameters()}
    assert "scale" in names and not names & set(BIASES) and "bias" not in names


@pytest.mark.parametrize("norm", ["none", "pre"])
def test_S5_fold_fixup_computes_the_same_function(norm):
    """Folding the scalars into bias vectors changes nothing but rounding."""
    model = _perturbed(ModelConfig(depth=3, width=5, hidden=6, scaling="fixup", norm=norm), 2)
    folded = fold_fixup(model)
    assert not any(isinstance(b.branch, FixupBranch) for b in folded.blocks)
    x = torch.randn(8, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(folded(x), model(x), rtol=REL, atol=REL)


def test_R2_spectrum_of_a_folded_fixup_tower_sums_to_its_output():
    model = _perturbed(ModelConfig(depth=4, width=5, scaling="fixup"), 5)
    folded = fold_fixup(model)
    x0 = model.embed(torch.randn(6, 6, dtype=torch.float64))
    spectrum = path_spectrum(list(folded.blocks), x0)
    torch.testing.assert_close(spectrum.output, model.run_blocks(x0), rtol=REL, atol=REL)
    assert spectrum.max_rel_error() < 1e-12


def test_conv_fixup_branches_do_not_fold():
    model = build_model(ModelConfig(arch="cnn", depth=1, width=2, scaling="fixup"), 16, 2)
    with pytest.raises(ValueError, match="Linear"):
        fold_fixup(model)


def test_fixup_branch_refuses_bias_vectors():
    with pytest.raises(ValueError, match="scalar biases"):
        FixupBranch(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
