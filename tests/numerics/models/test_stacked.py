"""The stacked engine: the same function as the model's modules, trained to the same numbers."""

import pytest
import torch

from numerics.models.config import ModelConfig, TrainConfig
from numerics.models.networks import build_model
from numerics.models.stacked import StackedTower
from numerics.models.train import train_from_config

VARIANTS = [dict(), dict(norm="pre"), dict(norm="post"), dict(scaling="learnable"),
            dict(scaling="fixup"), dict(scaling="mup", lam=2.0), dict(activation="gelu", bias=False),
            dict(scaling="fixup", bias=False)]


@pytest.mark.parametrize("kwargs", VARIANTS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "plain")
def test_stacked_tower_computes_the_model(kwargs):
    model = build_model(ModelConfig(depth=5, width=6, hidden=4, **kwargs), 7, 3,
                        generator=torch.Generator().manual_seed(1)).double()
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    stacked = StackedTower(model)
    x = torch.randn(4, 7, dtype=torch.float64, generator=gen)
    torch.testing.assert_close(stacked(x), model(x), rtol=1e-13, atol=1e-13)


def test_write_back_puts_the_stacked_weights_into_the_model():
    model = build_model(ModelConfig(depth=3, width=4, scaling="fixup"), 5, 2).double()
    stacked = StackedTower(model)
    with torch.no_grad():
        for p in stacked.parameters():
            p.add_(0.25)
    x = torch.randn(3, 5, dtype=torch.float64)
    stacked.write_back(model)
    torch.testing.assert_close(model(x), stacked(x), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kwargs", [dict(), dict(scaling="learnable", norm="pre"),
                                    dict(scaling="mup")], ids=["plain", "learnable-pre", "mup"])
def test_stacked_engine_trains_to_the_modules_numbers(kwargs):
    cfg = ModelConfig(depth=3, width=8, **kwargs)
    runs = [train_from_config(cfg, "digits", TrainConfig(epochs=2, batch_size=256, lr=1e-2,
                                                         engine=engine), seed=3)
            for engine in ("modules", "stacked")]
    (m1, r1), (m2, r2) = runs
    for a, b in zip(r1.history, r2.history):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6)
    for (name, p1), (_, p2) in zip(m1.named_parameters(), m2.named_parameters()):
        torch.testing.assert_close(p1, p2, rtol=1e-4, atol=1e-5, msg=name)


def test_stacked_engine_refuses_batch_norm_and_other_architectures():
    for cfg in (ModelConfig(depth=2, width=4, norm="batch"), ModelConfig(arch="cnn", depth=1, width=2)):
        with pytest.raises(ValueError, match="stacked engine"):
            StackedTower(build_model(cfg, 16, 2))
