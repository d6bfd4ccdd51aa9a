"""The memory estimate: exact parameter counts, and a refusal before anything is built."""

import pytest
import torch

from numerics.models.config import ModelConfig
from numerics.models.memory import check_training_fits, parameter_count, training_bytes
from numerics.models.networks import build_model

IN = {"mlp": 7, "cnn": 16, "transformer": 9}


@pytest.mark.parametrize("arch", ["mlp", "cnn", "transformer"])
@pytest.mark.parametrize("extra", [dict(), dict(bias=False), dict(scaling="learnable"),
                                   dict(scaling="fixup"), dict(scaling="fixup", bias=False),
                                   dict(norm="pre", hidden=5)], ids=str)
def test_parameter_count_is_exact(arch, extra):
    cfg = ModelConfig(arch=arch, depth=3, width=4, heads=2, **extra)
    model = build_model(cfg, IN[arch], 3)
    assert parameter_count(cfg, IN[arch], 3) == sum(p.numel() for p in model.parameters())


def test_a_huge_depth_is_refused_in_one_line_before_building():
    cfg = ModelConfig(depth=100_000, width=64)
    assert training_bytes(cfg, 64, 10, 128) > 16 * 100_000 * 2 * 64 * 64
    with pytest.raises(ValueError, match="too large to train here") as info:
        check_training_fits(cfg, 64, 10, 128, torch.device("cpu"))
    assert "\n" not in str(info.value) and "--depth" in str(info.value)
    assert "cap" in str(info.value)  # refused whatever the machine's memory
    wide = ModelConfig(depth=2, width=1024, hidden=8192)  # under the cap, over any memory
    with pytest.raises(ValueError, match="GiB"):
        check_training_fits(wide, 64, 10, 2**20, torch.device("cpu"))
    assert check_training_fits(ModelConfig(depth=2, width=8), 64, 10, 32, torch.device("cpu")) > 0


def test_the_estimate_counts_activations_optimiser_state_and_per_block_objects():
    """depth 100000, width 16 (under the parameter cap) was observed at 5.5 GiB resident after
    one step; the estimate must not undercount it (the old 16 P count said 2.3 GiB)."""
    cfg = ModelConfig(depth=100_000, width=16)
    params = parameter_count(cfg, 64, 10)
    need = training_bytes(cfg, 64, 10, 32)
    assert need > 5.5 * 2**30
    assert need >= 28 * params + 4 * 32 * 100_000 * 4 * 32  # 7 copies of P, one batch saved
    assert training_bytes(cfg, 64, 10, 64) > need  # activations grow with the batch
