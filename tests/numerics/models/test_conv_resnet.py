"""Paper 1's conv ResNet (S7): shapes, every S5 rule, the BN baseline, the exact frozen-gate spectrum."""

import math

import pytest
import torch

from numerics.models.config import ModelConfig
from numerics.models.conv_resnet import PadShortcut, image_shape, resnet_spectrum
from numerics.models.networks import build_model
from numerics.probes.lesion import lesioned_forward, survival
from numerics.probes.stream import stream_summary

SCALINGS = ("constant", "inv-sqrt", "inv", "learnable", "fixup", "mup")


def _model(arch="resnet", depth=2, width=4, in_dim=64, **kw):
    return build_model(ModelConfig(arch=arch, depth=depth, width=width, **kw), in_dim, 10,
                       generator=torch.Generator().manual_seed(0))


def test_S7_resnet_has_three_stages_of_depth_blocks():
    model = _model(depth=3)
    assert model.config.n_blocks() == 9 and len(model.blocks) == 9
    shortcuts = [i for i, b in enumerate(model.blocks) if b.shortcut is not None]
    assert shortcuts == [3, 6]
    assert isinstance(model.blocks[3].shortcut, PadShortcut)
    x = torch.randn(5, 64)
    h = model.embed(x)
    assert h.shape == (5, 4, 8, 8)
    assert model.run_blocks(h).shape == (5, 16, 2, 2) and model(x).shape == (5, 10)
    # He's ResNet-20: 3 blocks per stage, 16 channels, 6 * 3 + 2 = 20 weighted layers
    he = _model(depth=3, width=16, in_dim=3 * 32 * 32)
    convs = [m for m in he.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) + 1 == 20 and he(torch.randn(2, 3072)).shape == (2, 10)


def test_S7_image_shape_reads_gray_and_colour():
    assert image_shape(784) == (1, 28) and image_shape(3072) == (3, 32)
    with pytest.raises(ValueError, match="square images"):
        image_shape(50)


@pytest.mark.parametrize("scaling", SCALINGS)
def test_S7_resnet_unnormalised_under_every_rule(scaling):
    model = _model(scaling=scaling)
    n = 6
    lams = [float(b.lam.detach()) for b in model.blocks]
    expected = {"constant": 1.0, "inv-sqrt": 1 / math.sqrt(n), "inv": 1 / n, "learnable": 0.0,
                "fixup": 1.0, "mup": 1 / math.sqrt(n)}[scaling]
    assert lams == pytest.approx([expected] * n)
    assert not any(isinstance(m, torch.nn.BatchNorm2d | torch.nn.LayerNorm)
                   for m in model.modules())
    out = model(torch.randn(3, 64))
    assert torch.isfinite(out).all()
    if scaling == "fixup":
        assert torch.count_nonzero(out) == 0  # zero classifier


def test_S7_resnet_batchnorm_baseline_is_he_basic_block():
    model = _model(arch="resnet-proj", norm="batch")
    branch = model.blocks[0].branch
    kinds = [type(m).__name__ for m in branch]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"]
    assert [type(m).__name__ for m in model.blocks[2].shortcut] == ["Conv2d", "BatchNorm2d"]
    with pytest.raises(ValueError, match="post-LN"):
        ModelConfig(arch="resnet", norm="post")


@pytest.mark.parametrize("arch,scaling", [("resnet", "inv-sqrt"), ("resnet-proj", "constant"),
                                          ("resnet", "fixup")])
def test_S7_resnet_frozen_gate_spectrum_sums_to_the_output(arch, scaling):
    model = _model(arch=arch, scaling=scaling, depth=2).double().eval()
    if scaling == "fixup":  # move off Fixup's zero initialisation
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1),
                                         dtype=p.dtype))
    x = torch.randn(4, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    spectrum = resnet_spectrum(model, x)
    assert spectrum.terms.shape[0] == 7
    assert spectrum.max_rel_error() < 1e-12
    assert sum(spectrum.signed_shares()) == pytest.approx(1.0, abs=1e-12)
    # a lesion of every block but the shortcuts keeps exactly the length-0 path
    _, h = lesioned_forward(model, x, range(6))
    assert torch.allclose(h, spectrum.terms[0], atol=1e-12)


def test_S7_resnet_stream_and_survival_fit_the_lesion_prediction():
    model = _model(depth=1).double().eval()
    summary = stream_summary(model, torch.randn(3, 64, dtype=torch.float64))
    assert len(summary["realised_scales"]) == 3 and all(
        math.isfinite(r) for r in summary["realised_scales"])
    assert survival(3, 1) == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])
