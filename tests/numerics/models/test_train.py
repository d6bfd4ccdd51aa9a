"""The training loop: seeds reproduce, divergence is recorded, depth-muP's learning rates.

(Each model learning its default task under its recipe: tests/numerics/models/test_recipes.py.)"""

import math

import pytest
import torch
import torch.nn.functional as F

from numerics.models.config import ModelConfig, TrainConfig, mup_lr_scale
from numerics.models.data import load_dataset
from numerics.models.networks import build_model
from numerics.models.train import _lr_at, fit, param_groups, train_from_config


def test_same_seed_same_numbers_other_seed_other_numbers():
    cfg, train = ModelConfig(depth=2, width=16, norm="pre"), TrainConfig(epochs=2, batch_size=256)
    (m1, r1), (m2, r2) = (train_from_config(cfg, "digits", train, seed=5) for _ in range(2))
    _, r3 = train_from_config(cfg, "digits", train, seed=6)
    assert r1.history == r2.history and r1.history != r3.history
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)


def test_history_records_every_epoch():
    _, result = train_from_config(ModelConfig(depth=1, width=8), "digits",
                                  TrainConfig(epochs=3, batch_size=512), seed=0)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert set(result.history[0]) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc"}
    assert result.steps == 3 * math.ceil(1437 / 512) and result.device == "cpu"
    assert result.wall_time_s > 0


def test_a_huge_learning_rate_is_recorded_as_divergence():
    model_cfg = ModelConfig(depth=4, width=16)
    train_cfg = TrainConfig(epochs=5, lr=1e8, optimizer="sgd", schedule="constant")
    _, result = train_from_config(model_cfg, "teacher-student", train_cfg, seed=0)
    assert result.diverged and len(result.history) < train_cfg.epochs
    assert all(math.isfinite(r["train_loss"]) for r in result.history)


def test_cosine_schedule_decays_from_lr_to_zero():
    cfg = TrainConfig(lr=0.2)
    assert _lr_at(cfg, 0, 10) == 0.2 and _lr_at(cfg, 5, 10) == pytest.approx(0.1, rel=1e-15)
    assert _lr_at(cfg, 10, 10) == pytest.approx(0.0, abs=1e-17)
    assert _lr_at(TrainConfig(lr=0.2, schedule="constant"), 7, 10) == 0.2


def test_learnable_lam_moves_off_zero_during_training():
    """SkipInit/ReZero: lam starts at 0 (S5) and is trained like any other weight."""
    model, _ = train_from_config(ModelConfig(depth=2, width=16, scaling="learnable"), "digits",
                                 TrainConfig(epochs=1, batch_size=256), seed=0)
    assert all(abs(block.lam.item()) > 0 for block in model.blocks)


def test_fit_rejects_bad_arguments():
    data = load_dataset("teacher-student", seed=0, n_train=8, n_test=8)
    model = build_model(ModelConfig(depth=1, width=4), data.in_dim, data.out_dim)
    with pytest.raises(TypeError, match="TrainConfig"):
        fit(model, data, {"epochs": 1})
    with pytest.raises(ValueError, match="device"):
        fit(model, data, TrainConfig(epochs=1), device="tpu")
    with pytest.raises(ValueError, match="unknown dataset"):
        train_from_config(ModelConfig(), "cifar", TrainConfig())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        train_from_config(ModelConfig(depth=1, width=4), "digits", TrainConfig(epochs=1),
                          device="cuda")


@pytest.mark.gpu
def test_trains_on_cuda():
    model, result = train_from_config(ModelConfig(depth=2, width=32), "digits",
                                      TrainConfig(epochs=4, lr=1e-2), seed=0, device="cuda")
    assert result.device.startswith("cuda") and next(model.parameters()).is_cuda
    assert not result.diverged and result.final()["test_acc"] > 0.85


def test_progress_bar_reports_epochs(capsys):
    data = load_dataset("teacher-student", seed=0, n_train=64, n_test=64)
    model = build_model(ModelConfig(depth=1, width=8), data.in_dim, data.out_dim)
    fit(model, data, TrainConfig(epochs=2), seed=0, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "epoch" in err


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_S5_depth_mup_scales_the_blocks_learning_rate(optimizer):
    """Depth-muP: block parameters at lr n^(-1/2) (AdamW) or lr (SGD); embed and head at lr."""
    model = build_model(ModelConfig(depth=16, width=8, scaling="mup"), 5, 3)
    groups = param_groups(model, model.config, TrainConfig(optimizer=optimizer))
    blocks, others = groups
    assert {id(p) for p in blocks["params"]} == {id(p) for p in model.blocks.parameters()}
    assert {id(p) for p in others["params"]} == ({id(p) for p in model.parameters()}
                                                 - {id(p) for p in model.blocks.parameters()})
    assert blocks["lr_scale"] == (0.25 if optimizer == "adamw" else 1.0) and others["lr_scale"] == 1
    assert mup_lr_scale(16, optimizer) == blocks["lr_scale"]
    plain = build_model(ModelConfig(depth=16, width=8, scaling="inv-sqrt"), 5, 3)
    assert [g["lr_scale"] for g in param_groups(plain, plain.config, TrainConfig())] == [1.0]


def test_S5_depth_mup_first_adam_step_moves_block_weights_by_the_scaled_lr():
    """AdamW's first step moves each weight by lr_t |g| / (|g| + eps): lr n^(-1/2) in the blocks."""
    model = build_model(ModelConfig(depth=16, width=8, scaling="mup"), 40, 10)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    data = load_dataset("mnist1d", seed=0, n_train=64)
    fit(model, data, TrainConfig(epochs=1, batch_size=64, lr=1e-2, schedule="constant"), seed=0)
    for name, p in model.named_parameters():
        step = (p.detach() - before[name]).abs().max().item()
        expected = 1e-2 * (0.25 if name.startswith("blocks.") else 1.0)
        assert step == pytest.approx(expected, rel=1e-3), name


def _one_step_feature_change(scaling: str, depth: int) -> float:
    """||x_n(after one AdamW step) - x_n(before)|| / ||x_n(before)|| on 256 mnist1d inputs."""
    model = build_model(ModelConfig(depth=depth, width=32, scaling=scaling), 40, 10,
                        generator=torch.Generator().manual_seed(1)).double()
    data = load_dataset("mnist1d", seed=0, n_train=256)
    x, y = data.train_x.double(), data.train_y
    groups = param_groups(model, model.config, TrainConfig())
    for group in groups:
        group["lr"] = 1e-3 * group["lr_scale"]
    optimizer = torch.optim.AdamW(groups)
    with torch.no_grad():
        before = model.run_blocks(model.embed(x))
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
    with torch.no_grad():
        return float((model.run_blocks(model.embed(x)) - before).norm() / before.norm())


def test_S5_depth_mup_one_adam_step_changes_the_features_alike_at_every_depth():
    """Why the rule: the feature change of one step is O(lr) at every depth under depth-muP and
    grows like sqrt(n) for a/sqrt(n) with an unscaled lr (measured: x1.2 and x7.8 from n = 4 to
    256 at width 64). Here n = 4 -> 64: the predictions are x1 and x4."""
    mup = _one_step_feature_change("mup", 64) / _one_step_feature_change("mup", 4)
    plain = _one_step_feature_change("inv-sqrt", 64) / _one_step_feature_change("inv-sqrt", 4)
    assert abs(math.log2(mup)) < 0.6, mup
    assert abs(math.log2(plain / 4)) < 1, plain
