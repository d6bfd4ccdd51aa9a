"""D4 coverage and D5 joint scaling at small scale (planted teacher-student family)."""

import copy
import math

import pytest
import torch

from numerics.models.config import ModelConfig, TrainConfig
from numerics.models.networks import build_model
from numerics.probes.guarantee_coverage import clopper_pearson, coverage_runs, far_label_noise
from numerics.probes.joint_scaling import joint_scaling_point, t_interval
from numerics.probes.planted_teacher import PlantedTeacher
from theorems.guarantees import (
    hoeffding_slack,
    restricted_rademacher,
    restricted_route_e_slack,
)


def test_clopper_pearson_edges():
    lo, hi = clopper_pearson(0, 20, 0.05)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 20), rel=1e-9)
    lo, hi = clopper_pearson(20, 20, 0.05)
    assert hi == 1 and lo == pytest.approx(0.025 ** (1 / 20), rel=1e-9)
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)


@pytest.fixture(scope="module")
def old():
    cfg = ModelConfig(arch="mlp", depth=1, width=8, norm="post", bias=False)
    return build_model(cfg, 16, 1, generator=torch.Generator().manual_seed(0)).double().eval()


def test_D4_coverage_of_hoeffding_step_and_restricted_route_e(old):
    teacher = PlantedTeacher(old, 1, 4.0, noise_std=0.1, generator=torch.Generator().manual_seed(1))
    m, delta, clip = 512, 0.05, 0.5
    res = coverage_runs(old, teacher.sample, position=1, m=m, reps=20, clip=clip,
                        steps=[0.05, 0.1], n_pop=5000, generator=torch.Generator().manual_seed(2))
    assert res["beta"] == 0.1 and len(res["runs"]) == 20
    hoeff = hoeffding_slack(m, delta, clip)
    hits = sum(r["train_jump"] <= res["pop_jump"] + hoeff for r in res["runs"])
    assert clopper_pearson(hits, 20, delta)[1] >= 1 - delta
    for run in res["runs"]:
        rad = restricted_rademacher(run["q"], m, beta=0.1, lam=1.0, d=8)
        assert run["pop_sel"] <= run["train_sel"] + restricted_route_e_slack(
            rad, m, delta, loss_bound=clip)
        assert run["train_sel"] <= run["train_old"] and run["q"] > 0
    assert res["pop_old"] > res["pop_jump"]  # the planted signal gives a population margin


def test_D5_joint_scaling_point_records_everything(old):
    teacher = PlantedTeacher(old, 1, 2.0, noise_std=0.1, generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(5)
    data, held = teacher.dataset(64, 128, gen), teacher.sample(64, gen)
    point = joint_scaling_point(old.float(), data, held, TrainConfig(epochs=1, batch_size=64),
                                TrainConfig(epochs=1, batch_size=64), position=1, seed=0)
    assert point["depth"] == 1 and point["m"] == 64
    for key in ("expanded_test", "longer_test", "scratch_test", "z", "old_test"):
        assert math.isfinite(point[key])
    assert point["observed"] == (point["z"] < -1.6448536269514722)
    assert not any(point[f"{k}_diverged"] for k in ("expanded", "longer", "scratch"))


def test_D5_a_diverged_run_has_no_test_loss(old):
    """A learning rate that makes training blow up is reported as diverged, never as a number."""
    teacher = PlantedTeacher(old, 1, 2.0, noise_std=0.1, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(6)
    data, held = teacher.dataset(64, 64, gen), teacher.sample(64, gen)
    point = joint_scaling_point(old.float(), data, held, TrainConfig(epochs=1, batch_size=64),
                                TrainConfig(epochs=2, batch_size=8, lr=1e30, optimizer="sgd"),
                                position=1, seed=1)
    for name in ("expanded", "longer"):
        assert point[f"{name}_diverged"] and point[f"{name}_test"] is None


def test_D5_t_interval_exact_values():
    mean, lo, hi = t_interval([1.0, 2.0, 3.0], 0.95)
    assert mean == 2.0 and hi - mean == pytest.approx(4.302652729911275 / math.sqrt(3), rel=1e-9)
    assert lo == pytest.approx(2 * mean - hi, rel=1e-15)
    with pytest.raises(ValueError):
        t_interval([1.0])
    with pytest.raises(ValueError):
        t_interval([1.0, float("nan")])


def test_far_label_noise_moves_labels_with_probability_p_and_stratifies_the_population():
    def clean(n, generator):
        x = torch.randn(n, 3, generator=generator, dtype=torch.float64)
        return x, x[:, :1]

    shift = torch.tensor([100.0], dtype=torch.float64)
    noisy, population = far_label_noise(clean, shift, p=0.3)
    x, y = noisy(20000, torch.Generator().manual_seed(0))
    moved = (y - x[:, :1]).abs() > 50
    assert abs(moved.double().mean().item() - 0.3) < 0.015
    x, y = population(1000, torch.Generator().manual_seed(1))
    assert int(((y - x[:, :1]).abs() > 50).sum()) == 300  # exactly round(p n)
    with pytest.raises(ValueError):
        far_label_noise(clean, shift, p=1.0)


def test_D4_output_jump_is_the_old_model_shifted(old):
    """f_J = f_0 + shift: its risks are the old model's on y - shift (loss(f + s, y) =
    loss(f, y - s)), and f^ is chosen among F_beta and f_J by training risk."""
    old = copy.deepcopy(old).double()  # the D5 test above turns the shared fixture to float32
    teacher = PlantedTeacher(old, 1, 4.0, noise_std=0.1, generator=torch.Generator().manual_seed(1))
    shift = torch.tensor([0.3], dtype=torch.float64)
    res = coverage_runs(old, teacher.sample, position=1, m=64, reps=5, clip=0.5, steps=[0.05],
                        n_pop=2000, generator=torch.Generator().manual_seed(2), output_jump=shift)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        from numerics.probes.expansion import insert_block
        insert_block(old, 1, generator=gen)
        x2 = teacher.sample(2000, gen)  # population sample 1
        x2, y2 = teacher.sample(2000, gen)  # population sample 2: the risks
        out = old(x2)
    loss = torch.clamp(((out + shift - y2) ** 2).sum(-1), max=0.5).mean().item()
    assert res["pop_jump"] == pytest.approx(loss, rel=1e-5)  # the inserted LN: not bitwise
    for run in res["runs"]:
        assert run["train_sel"] <= min(run["train_old"], run["train_jump"])
