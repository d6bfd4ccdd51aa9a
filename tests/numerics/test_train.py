"""The training loop: each model learns its default task, seeds reproduce, divergence is recorded."""

import math

import pytest
import torch

from numerics.config import ModelConfig, TrainConfig
from numerics.data import load_dataset
from numerics.models import build_model
from numerics.train import _lr_at, fit, train_from_config

# Tiny settings that train in a few seconds on one CPU core, with the accuracy each must pass.
# Chance is 0.1 (digits) and 1/23 (modular addition); the Transformer memorises the training
# pairs quickly but generalises to unseen pairs only slowly (grokking), hence its test bar.
LEARNS = [
    (ModelConfig(depth=2, width=32), "digits", TrainConfig(epochs=4, lr=1e-2), 0.9, 0.85),
    (ModelConfig(arch="cnn", depth=2, width=8, norm="batch"), "digits",
     TrainConfig(epochs=4, lr=1e-2, batch_size=32), 0.8, 0.75),
    (ModelConfig(arch="transformer", depth=1, width=32, norm="pre"), "modular-addition",
     TrainConfig(epochs=60, lr=3e-3, batch_size=64, weight_decay=0.1), 0.9, 0.3),
]


@pytest.mark.parametrize("model_cfg, dataset, train_cfg, train_bar, test_bar", LEARNS,
                         ids=["mlp-digits", "cnn-digits", "transformer-modular-addition"])
def test_each_model_learns_its_default_task(model_cfg, dataset, train_cfg, train_bar, test_bar):
    _, result = train_from_config(model_cfg, dataset, train_cfg, seed=0, device="cpu")
    final = result.final()
    assert not result.diverged and len(result.history) == train_cfg.epochs
    assert final["train_acc"] > train_bar and final["test_acc"] > test_bar, final


def test_mlp_learns_mnist1d_well_above_chance():
    _, result = train_from_config(ModelConfig(depth=2, width=32), "mnist1d",
                                  TrainConfig(epochs=5, lr=3e-3), seed=0, n_train=1000)
    assert result.final()["test_acc"] > 0.5, result.final()  # chance is 0.1


def test_teacher_student_regression_beats_the_constant_predictor():
    _, result = train_from_config(ModelConfig(depth=2, width=32), "teacher-student",
                                  TrainConfig(epochs=20, lr=3e-3), seed=0)
    data = load_dataset("teacher-student", seed=0)
    baseline = float(((data.test_y - data.test_y.mean()) ** 2).mean())
    final = result.final()
    assert final["train_acc"] is None and final["test_loss"] < 0.5 * baseline, (final, baseline)


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
