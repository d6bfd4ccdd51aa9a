"""R2/S6 second routes (issue 21): the length-weighted path sum as d x_n(t)/dt, and the paths
by masked forward passes of the model itself, each against the DP of numerics.probes.spectrum."""

import pytest
import torch
from torch import nn

from numerics.probes.enumeration import masked_path_sums
from numerics.probes.length_derivative import (
    length_weighted_sum,
    signed_mean_length_by_scaling,
)
from numerics.probes.spectrum import path_spectrum


class Block(nn.Module):
    def __init__(self, branch, lam):
        super().__init__()
        self.branch, self.lam, self.norm = branch, torch.tensor(lam, dtype=torch.float64), "none"

    def forward(self, x):
        return x + self.lam * self.branch(x)


def _tower(depth, act, seed=0, width=5):
    torch.manual_seed(seed)
    return [Block(nn.Sequential(nn.Linear(width, 7), act, nn.Linear(7, width)), 0.6).double()
            for _ in range(depth)]


@pytest.mark.parametrize("act", [nn.ReLU(), nn.LeakyReLU(0.1), nn.LeakyReLU(-1.0)],
                         ids=["relu", "leaky", "abs"])
def test_R2_length_weighted_sum_equals_the_DP(act):
    blocks = _tower(7, act)
    x0 = torch.randn(6, 5, dtype=torch.float64)
    spectrum = path_spectrum(blocks, x0)
    k = torch.arange(8, dtype=torch.float64).view(-1, 1, 1)
    tangent, out = length_weighted_sum(blocks, x0)
    assert torch.allclose(out, spectrum.output, rtol=0, atol=1e-13)
    assert torch.allclose(tangent, (k * spectrum.terms).sum(0), rtol=1e-12, atol=1e-12)
    assert signed_mean_length_by_scaling(blocks, x0) == pytest.approx(spectrum.mean_length(),
                                                                      rel=1e-12)
    assert spectrum.mean_length() != pytest.approx(spectrum.mean_length_energy(), rel=1e-3)


def test_R2_one_linear_block_has_mean_length_of_its_branch_share():
    """One block, no bias: x_1 = x_0 + lam A x_0, so d x_1/dt = lam A x_0 = y_1 exactly."""
    torch.manual_seed(1)
    block = Block(nn.Linear(3, 3, bias=False), 0.5).double()
    x0 = torch.randn(4, 3, dtype=torch.float64)
    tangent, _ = length_weighted_sum([block], x0)
    assert torch.allclose(tangent, 0.5 * block.branch(x0), rtol=0, atol=1e-15)


@pytest.mark.parametrize("act", [nn.ReLU(), nn.LeakyReLU(-1.0)], ids=["relu", "abs"])
def test_R2_masked_passes_give_the_DP_terms(act):
    blocks = _tower(6, act, seed=2)
    x0 = torch.randn(5, 5, dtype=torch.float64)
    spectrum = path_spectrum(blocks, x0)
    oracle = masked_path_sums(blocks, x0)
    assert oracle.shape == spectrum.terms.shape
    assert (oracle - spectrum.terms).abs().max() <= 1e-12 * spectrum.terms.abs().max()


def test_R2_masked_passes_catch_a_term_filed_under_the_wrong_length():
    blocks = _tower(4, nn.ReLU(), seed=3)
    x0 = torch.randn(3, 5, dtype=torch.float64)
    terms = path_spectrum(blocks, x0).terms.clone()
    terms[1:] = terms[1:].roll(1, 0)
    assert (masked_path_sums(blocks, x0) - terms).abs().max() > 1e-3


def test_R2_masked_passes_refuse_deep_towers_and_other_branches():
    with pytest.raises(ValueError, match="depth 15 > 14"):
        masked_path_sums(_tower(15, nn.ReLU()), torch.zeros(1, 5, dtype=torch.float64))
    odd = [Block(nn.Linear(5, 5), 0.5).double()]
    with pytest.raises(ValueError, match="not Sequential"):
        masked_path_sums(odd, torch.zeros(1, 5, dtype=torch.float64))
